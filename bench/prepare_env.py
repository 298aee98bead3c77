"""prepare_env.py: the node plugin's bench environment, shared by run_all.py (prepare latency,
throughput, RSS) and instructions.py (instructions per prepare): the objects the stand-in API
server holds (a node, a slice of cameras, one claim per stream, with the metadata a cluster
gives a claim made from a pod's template: claim_metadata), a copy of the fake NVIDIA root
for the local GPUs, the plugin's command line, and allocation by the stand-in allocator (a
claim that finds no GPU left becomes a camera-only claim)."""
import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time

import yaml

PY = "/usr/bin/python3"
NODE = "bench-node"


def claim_spec(with_gpu):
    reqs = [{"name": "cam", "exactly": {"deviceClassName": "camera.netdra.dev"}}]
    if with_gpu:
        reqs.append({"name": "gpu", "exactly": {"deviceClassName": "gpu.netdra.dev"}})
    return {"devices": {"requests": reqs}}


def camera_slice(name, cameras):
    """A slice of pool "cams" (all nodes) holding cameras, given as (device name, endpoint)."""
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": name},
            "spec": {"driver": "netdra.dev", "pool": {"name": "cams", "generation": 0, "resourceSliceCount": 1},
                     "allNodes": True, "devices": [
                         {"name": dev, "attributes": {"type": {"string": "camera"}, "endpoint": {"string": url}}}
                         for dev, url in cameras]}}


def claim_metadata(i):
    """The metadata of claim bench-i as a cluster gives it to a node plugin: made from a pod's
    ResourceClaimTemplate by kube-controller-manager (generateName, the pod-claim-name
    annotation, the pod as controlling owner) and allocated by kube-scheduler, each with its
    managedFields entry (the API server returns them on every GET; the plugin parses them
    with the rest). The scheduler's entry is there from the start: what a prepare reads is the
    same."""
    pod, pod_uid = f"bench-pod-{i}", f"7c6b1d2e-0000-4000-8000-{i:012d}"
    owner_key = 'k:{"uid":"%s"}' % pod_uid
    return {
        "name": f"bench-{i}", "namespace": "default", "generateName": f"{pod}-devices-",
        "annotations": {"resource.kubernetes.io/pod-claim-name": "devices"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod, "uid": pod_uid,
                             "controller": True, "blockOwnerDeletion": True}],
        "managedFields": [
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "resource.k8s.io/v1",
             "time": "2026-12-02T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {
                 "f:metadata": {"f:annotations": {".": {}, "f:resource.kubernetes.io/pod-claim-name": {}},
                                "f:generateName": {}, "f:ownerReferences": {".": {}, owner_key: {}}},
                 "f:spec": {"f:devices": {"f:requests": {}}}}},
            {"manager": "kube-scheduler", "operation": "Update", "apiVersion": "resource.k8s.io/v1",
             "time": "2026-12-02T10:00:01Z", "fieldsType": "FieldsV1", "subresource": "status", "fieldsV1": {
                 "f:status": {"f:allocation": {".": {}, "f:devices": {".": {}, "f:results": {}},
                                               "f:nodeSelector": {}},
                              "f:reservedFor": {".": {}, owner_key: {".": {}, "f:name": {}, "f:resource": {},
                                                                     "f:uid": {}}}}}},
        ]}


def objects(n_claims):
    objs = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}},
            camera_slice("bench-cams", [(f"cam-{i}", f"rtsp://127.0.0.1:554/{i}") for i in range(n_claims)])]
    for i in range(n_claims):
        objs.append({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                     "metadata": claim_metadata(i), "spec": claim_spec(True)})
    return objs


def kubectl(S, kc, *args, stdin=None):
    return subprocess.run([PY, f"{S}/tests/apiserver/kubectl_lite.py", "--kubeconfig", kc, *args],
                          input=stdin, capture_output=True, text=True, check=True)


def apply_objects(S, kc, work, name, objs, *more_files):
    """Writes objs to work/name as YAML and applies it (and more_files) to the stand-in."""
    path = os.path.join(work, name)
    with open(path, "w") as f:
        yaml.safe_dump_all(objs, f)
    kubectl(S, kc, "apply", "-f", path, *[a for m in more_files for a in ("-f", m)])


def load_objects(S, kc, work, n_claims):
    """Creates the node, the camera slice, the device classes and n_claims claims."""
    apply_objects(S, kc, work, "prepare-objects.yaml", objects(n_claims),
                  f"{S}/deploy/manifests/deviceclasses.yaml")


def gpu_root(S, work):
    root = os.path.join(work, "gpu-root")
    shutil.copytree(f"{S}/tests/node-plugin/fake-roots/nvidia", root, symlinks=True)
    shutil.rmtree(os.path.join(root, "etc", "cdi"), ignore_errors=True)
    return root


def cdi_dir(pdir):
    """Where the plugin writes CDI specs: on a node that is /var/run/cdi, a tmpfs, so the bench
    puts it on /dev/shm when that is a tmpfs (removed when the bench exits), else in pdir."""
    try:
        on_tmpfs = any(l.split()[1:3] == ["/dev/shm", "tmpfs"] for l in open("/proc/mounts"))
    except OSError:
        on_tmpfs = False
    if not on_tmpfs:
        return f"{pdir}/cdi"
    d = tempfile.mkdtemp(prefix="netdra-bench-cdi-", dir="/dev/shm")
    atexit.register(shutil.rmtree, d, True)
    return d


def plugin_command(B, kc, pdir, groot, workers, metrics_address=""):
    """The node plugin's command line; its DRA socket is f"{pdir}/plugins/dra.sock"; /metrics
    only with a metrics_address (host:port)."""
    return [f"{B}/node-plugin/netdra-node-plugin", "--node-name", NODE, "--kubeconfig", kc,
            "--plugin-dir", f"{pdir}/plugins", "--registry-dir", f"{pdir}/registry", "--cdi-dir", cdi_dir(pdir),
            "--state-dir", f"{pdir}/state", "--dev-root", groot, "--local-gpus", "--metrics-address", metrics_address,
            "--log-level", "warn", "--workers", str(workers)]


def wait_for(what, cond, secs, interval=0.05):
    """Polls cond() until it is true; exits naming `what` after secs (every bench loop is bounded)."""
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return
        time.sleep(interval)
    raise SystemExit(f"bench: {what} did not happen within {secs} s")


def wait_gpu_slice(S, kc, secs=120):
    """Waits until the plugin has published the slice of its local GPUs (allocation before that
    would find no GPU)."""
    def published():
        out = subprocess.run([PY, f"{S}/tests/apiserver/kubectl_lite.py", "--kubeconfig", kc, "get",
                              "/apis/resource.k8s.io/v1/resourceslices"], capture_output=True, text=True)
        return out.returncode == 0 and any(s.get("spec", {}).get("nodeName") == NODE
                                           for s in json.loads(out.stdout).get("items", []))
    wait_for("publication of the node plugin's GPU slice", published, secs, interval=0.2)


def allocate(S, kc, n_claims):
    """Allocates claims bench-0..n-1 (camera + GPU while GPUs last, then camera only); returns
    their UIDs by index. Waits for the plugin's GPU slice first."""
    wait_gpu_slice(S, kc)
    uids = {}
    for i in range(n_claims):
        cmd = [PY, f"{S}/tests/tools/standin_allocator.py", "--kubeconfig", kc, "--node", NODE,
               "--claim", f"default/bench-{i}", "-q"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:  # no GPU left: a camera-only claim
            claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": claim_metadata(i)}
            kubectl(S, kc, "delete", "-f", "/dev/stdin", stdin=yaml.safe_dump(claim))
            kubectl(S, kc, "apply", "-f", "/dev/stdin", stdin=yaml.safe_dump({**claim, "spec": claim_spec(False)}))
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        uids[i] = json.loads(out.stdout.splitlines()[-1])["uid"]
    return uids
