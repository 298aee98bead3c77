"""harness.py: test equipment for the controller's integration tests.

Starts the real peers on free loopback ports (the stand-in API server, mosquitto, the
simulated fabric manager) and netdra-controller processes, and stops everything on exit.
Every wait is bounded; a peer that cannot start raises (the test fails, never skips)."""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SRC = os.environ.get("NETDRA_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("NETDRA_BUILD_DIR", os.path.join(SRC, "build", "gcc"))
PY = os.environ.get("PYTHON", "/usr/bin/python3")
CONTROLLER = os.path.join(BUILD, "controller", "netdra-controller")
SLICES = "/apis/resource.k8s.io/v1/resourceslices"

_procs = []
_tmp = tempfile.mkdtemp(prefix="netdra-ctl-it-")


def _cleanup():
    for p in reversed(_procs):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    if os.environ.get("NETDRA_KEEP_TMP"):
        print("kept", _tmp, file=sys.stderr)
    else:
        shutil.rmtree(_tmp, ignore_errors=True)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def tmpdir():
    return _tmp


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def wait_for(what, cond, timeout, interval=0.05):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = cond()
        except Exception as e:  # a peer not answering yet
            last = e
            if isinstance(e, AssertionError):
                raise
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def spawn(args, name, env=None):
    out = open(os.path.join(_tmp, name + ".log"), "ab")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env or os.environ.copy())
    p.log_path = out.name
    _procs.append(p)
    return p


def tail(p, n=40):
    try:
        with open(p.log_path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---- stand-in API server ------------------------------------------------------------------

class ApiServer:
    def __init__(self):
        script = os.path.join(SRC, "tests", "apiserver", "netdra_apiserver.py")
        if not os.path.exists(script):
            raise AssertionError("stand-in API server missing: " + script)
        self.kubeconfig = os.path.join(_tmp, "kubeconfig")
        ready = os.path.join(_tmp, "apiserver.ready")
        self.proc = spawn([PY, script, "--listen", "127.0.0.1:0", "--kubeconfig", self.kubeconfig,
                           "--ready-file", ready], "apiserver")
        def up():
            if self.proc.poll() is not None:
                raise AssertionError("API server exited:\n" + tail(self.proc))
            return os.path.exists(ready) and open(ready).read().strip()
        self.url = wait_for("the stand-in API server", up, 20).rstrip("/")

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def get(self, path):
        st, body = self.call("GET", path)
        assert st == 200, f"GET {path}: {st} {body}"
        return body

    def slices(self, pool=None):
        items = self.get(SLICES)["items"]
        if pool is not None:
            items = [s for s in items if s["spec"]["pool"]["name"] == pool]
        return sorted(items, key=lambda s: s["metadata"]["name"])

    def requests(self):
        return self.get("/_netdra/requests")["requests"]

    def clear_requests(self):
        self.call("DELETE", "/_netdra/requests")

    def slice_writes(self):
        return [r for r in self.requests()
                if r["method"] in ("POST", "PUT", "PATCH", "DELETE") and "/resourceslices" in r["path"]]

    def fault(self, **kw):
        st, body = self.call("POST", "/_netdra/faults", kw)
        assert st in (200, 201, 204), f"fault injection refused: {st} {body}"

    def clear_faults(self):
        self.call("DELETE", "/_netdra/faults")


# ---- mosquitto ----------------------------------------------------------------------------

class Broker:
    def __init__(self):
        if shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
            raise AssertionError("mosquitto is not installed (scripts/install-deps.sh)")
        self.port = free_port()
        conf = os.path.join(_tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = spawn([exe, "-c", conf], "mosquitto")
        def up():
            if self.proc.poll() is not None:
                raise AssertionError("mosquitto exited:\n" + tail(self.proc))
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        wait_for("mosquitto", up, 10)

    def publish(self, topic, payload, retain=True):
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-q", "1", "-t", topic]
        if retain:
            args.append("-r")
        if payload is None:
            args += ["-n"]
        else:
            args += ["-m", payload if isinstance(payload, str) else json.dumps(payload)]
        subprocess.run(args, check=True, timeout=10)


# ---- the controller -----------------------------------------------------------------------

class Controller:
    def __init__(self, api, name, args):
        if not os.path.exists(CONTROLLER):
            raise AssertionError("netdra-controller not built: " + CONTROLLER)
        self.name = name
        self.metrics_port = free_port()
        env = os.environ.copy()
        env.pop("KUBECONFIG", None)
        self.proc = spawn([CONTROLLER, "--kubeconfig", api.kubeconfig, "--identity", name,
                           "--metrics-address", f"127.0.0.1:{self.metrics_port}",
                           "--lease-namespace", "netdra", "--lease-name", "netdra-controller"]
                          + args, "controller-" + name, env)

    def alive(self):
        return self.proc.poll() is None

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name):
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def sigterm(self):
        self.proc.send_signal(signal.SIGTERM)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=5)

    def wait_exit(self, timeout=10):
        return self.proc.wait(timeout=timeout)

    def log(self):
        return tail(self.proc, 200)


def lease(api):
    st, body = api.call("GET", "/apis/coordination.k8s.io/v1/namespaces/netdra/leases/netdra-controller")
    return body if st == 200 else None


def holder(api):
    l = lease(api)
    return l["spec"].get("holderIdentity") if l else None
