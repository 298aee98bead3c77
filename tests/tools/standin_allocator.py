#!/usr/bin/env python3
"""Stand-in allocator: TEST EQUIPMENT that plays kube-scheduler's DRA part for the local demo
and the end-to-end tests. It is NOT the scheduler and does not try to be complete.

What it does: for every pending ResourceClaim (no status.allocation) it picks devices from the
ResourceSlices for each request, honouring the request's deviceClassName (the class's CEL
selectors), the request's own CEL selectors, count, NoSchedule/NoExecute taints (unless
tolerated), devices already allocated to other claims, and the node: a device is usable on
node N when its slice has nodeName N, allNodes, or a nodeSelector that N's labels satisfy.
It then writes status.allocation (results, config from class and claim, nodeSelector) and
status.reservedFor through the /status subresource, like the scheduler does.

CEL: a subset big enough for DeviceClass and claim selectors: `device.driver`,
`device.attributes["domain"].name`, `device.capacity["domain"].name`, string/int/bool
literals, == != < <= > >=, && || !, parentheses, `quantity("64Gi")` with
`.compareTo(...)`, `.isGreaterThan(...)`, `.isLessThan(...)`, and `"x" in [..]`.
Anything else is an error that names the expression.

Usage: standin_allocator.py --kubeconfig K --node NODE [--claim ns/name ...] [--node-labels k=v,...]
"""
import argparse
import io
import json
import os
import re
import sys
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apiserver"))
import kubectl_lite  # noqa: E402

# ---------------------------------------------------------------- quantities

_BIN = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DEC = {"n": 10**-9, "u": 10**-6, "m": 10**-3, "": 1, "k": 10**3, "M": 10**6, "G": 10**9,
        "T": 10**12, "P": 10**15, "E": 10**18}


def parse_quantity(s):
    m = re.fullmatch(r"([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)", str(s))
    if not m:
        raise ValueError(f"bad quantity {s!r}")
    from fractions import Fraction
    num = Fraction(m.group(1))
    if m.group(2):
        return num * Fraction(10) ** int(m.group(2)[1:])
    suf = m.group(3) or ""
    return num * (_BIN[suf] if suf in _BIN else Fraction(_DEC[suf]).limit_denominator(10**9))


class Quantity:
    def __init__(self, v):
        self.v = parse_quantity(v) if not hasattr(v, "numerator") else v

    def compareTo(self, other):
        return (self.v > other.v) - (self.v < other.v)

    def isGreaterThan(self, other):
        return self.v > other.v

    def isLessThan(self, other):
        return self.v < other.v


# ---------------------------------------------------------------- CEL subset

_TOKEN = re.compile(r"\s*(?:(\d+)|(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(&&|\|\||==|!=|<=|>=|[<>!().\[\],])|([A-Za-z_][A-Za-z0-9_]*))")


class CelError(Exception):
    pass


def _tokens(expr):
    pos, out = 0, []
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise CelError(f"cannot parse CEL at {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        if m.group(1):
            out.append(("int", int(m.group(1))))
        elif m.group(2):
            out.append(("str", m.group(2)[1:-1]))
        elif m.group(3):
            out.append(("op", m.group(3)))
        else:
            out.append(("id", m.group(4)))
    return out


class _Parser:
    def __init__(self, expr, device):
        self.expr, self.t, self.i, self.device = expr, _tokens(expr), 0, device

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, val=None):
        tok = self.peek()
        if tok[0] is None or (val is not None and tok[1] != val):
            raise CelError(f"expected {val!r} in {self.expr!r}")
        self.i += 1
        return tok

    def parse(self):
        v = self.or_()
        if self.i != len(self.t):
            raise CelError(f"trailing input in {self.expr!r}")
        return v

    def or_(self):
        v = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            r = self.and_()
            v = bool(v) or bool(r)
        return v

    def and_(self):
        v = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            r = self.cmp()
            v = bool(v) and bool(r)
        return v

    def cmp(self):
        v = self.unary()
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            r = self.unary()
            if v is _MISSING or r is _MISSING:
                return False
            return {"==": v == r, "!=": v != r, "<": v < r, "<=": v <= r, ">": v > r, ">=": v >= r}[tok[1]]
        if tok == ("id", "in"):
            self.take()
            r = self.unary()
            return v in r
        return v

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return not self.unary()
        return self.postfix(self.primary())

    def primary(self):
        kind, val = self.take()
        if kind in ("int", "str"):
            return val
        if (kind, val) == ("op", "("):
            v = self.or_()
            self.take(")")
            return v
        if (kind, val) == ("op", "["):
            items = []
            while self.peek() != ("op", "]"):
                items.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take("]")
            return items
        if kind == "id":
            if val in ("true", "false"):
                return val == "true"
            if val == "device":
                return self.device
            if val == "quantity":
                self.take("(")
                q = self.or_()
                self.take(")")
                return Quantity(q)
        raise CelError(f"unsupported token {val!r} in {self.expr!r}")

    def postfix(self, v):
        while True:
            tok = self.peek()
            if tok == ("op", "."):
                self.take()
                _, name = self.take()
                if self.peek() == ("op", "("):
                    self.take()
                    arg = self.or_()
                    self.take(")")
                    if v is _MISSING:
                        return _MISSING
                    v = getattr(v, name)(arg)
                elif isinstance(v, dict):
                    v = v.get(name, _MISSING)
                else:
                    v = _MISSING
            elif tok == ("op", "["):
                self.take()
                key = self.or_()
                self.take("]")
                v = v.get(key, {}) if isinstance(v, dict) else _MISSING
            else:
                return v


_MISSING = object()


def cel_device_view(driver, dev):
    """The CEL `device` variable: attributes and capacity grouped by domain."""
    attrs, caps = {}, {}
    for k, val in (dev.get("attributes") or {}).items():
        dom, _, name = k.rpartition("/")
        plain = next(iter(val.values()))
        attrs.setdefault(dom or driver, {})[name] = plain
    for k, val in (dev.get("capacity") or {}).items():
        dom, _, name = k.rpartition("/")
        caps.setdefault(dom or driver, {})[name] = Quantity(val["value"])
    return {"driver": driver, "attributes": attrs, "capacity": caps}


def cel_eval(expr, view):
    return bool(_Parser(expr, view).parse())


# ---------------------------------------------------------------- API access

class Api:
    """The API server through kubectl_lite's client (one kubeconfig reader for the test tools);
    errors raise urllib.error.HTTPError like urlopen does."""

    def __init__(self, kubeconfig):
        self.client = kubectl_lite.Client(kubeconfig)

    def call(self, method, path, body=None):
        code, out = self.client.call(method, path, body)
        if code >= 400:
            raise urllib.error.HTTPError(path, code, out.get("message", ""), None,
                                         io.BytesIO(json.dumps(out).encode()))
        return out


def node_matches(selector, labels):
    """core NodeSelector: terms are ORed, expressions in a term ANDed."""
    for term in selector.get("nodeSelectorTerms", []):
        ok = True
        for e in term.get("matchExpressions", []):
            have = labels.get(e["key"])
            op, vals = e["operator"], e.get("values", [])
            ok = ok and {"In": have in vals, "NotIn": have not in vals, "Exists": have is not None,
                         "DoesNotExist": have is None}.get(op, False)
        if ok:
            return True
    return False


def allocate(api, claim, node, node_labels, log):
    ns, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
    slices = api.call("GET", "/apis/resource.k8s.io/v1/resourceslices")["items"]
    claims = api.call("GET", "/apis/resource.k8s.io/v1/resourceclaims")["items"]
    taken = {(r["driver"], r["pool"], r["device"])
             for c in claims for r in (((c.get("status") or {}).get("allocation") or {})
                                       .get("devices", {}).get("results", []))}
    # newest generation per pool only
    gen = {}
    for s in slices:
        key = (s["spec"]["driver"], s["spec"]["pool"]["name"])
        gen[key] = max(gen.get(key, -1), s["spec"]["pool"]["generation"])
    results, configs, node_selector = [], [], None
    for req in claim["spec"]["devices"].get("requests", []):
        ex = req.get("exactly")
        if ex is None:
            raise RuntimeError(f"request {req['name']}: only `exactly` requests are supported by the stand-in")
        cls = api.call("GET", f"/apis/resource.k8s.io/v1/deviceclasses/{ex['deviceClassName']}")
        exprs = [s["cel"]["expression"] for s in cls["spec"].get("selectors", [])]
        exprs += [s["cel"]["expression"] for s in ex.get("selectors", [])]
        tolerations = ex.get("tolerations", [])
        want = ex.get("count", 1)
        got = 0
        for s in sorted(slices, key=lambda x: x["metadata"]["name"]):
            spec = s["spec"]
            if spec["pool"]["generation"] != gen[(spec["driver"], spec["pool"]["name"])]:
                continue
            for dev in spec.get("devices", []):
                if got == want:
                    break
                key = (spec["driver"], spec["pool"]["name"], dev["name"])
                if key in taken:
                    continue
                where = dev if spec.get("perDeviceNodeSelection") else spec
                if where.get("nodeName"):
                    if where["nodeName"] != node:
                        continue
                    sel = {"nodeSelectorTerms": [{"matchFields": [
                        {"key": "metadata.name", "operator": "In", "values": [node]}]}]}
                elif where.get("allNodes"):
                    sel = None
                elif where.get("nodeSelector"):
                    if not node_matches(where["nodeSelector"], node_labels):
                        continue
                    sel = where["nodeSelector"]
                else:
                    continue
                blocked = [t for t in dev.get("taints", []) if t["effect"] in ("NoSchedule", "NoExecute")
                           and not any(tol.get("operator") == "Exists" and tol.get("key") in (None, t["key"])
                                       or tol.get("key") == t["key"] and tol.get("value") == t.get("value")
                                       for tol in tolerations)]
                if blocked:
                    continue
                view = cel_device_view(spec["driver"], dev)
                if not all(cel_eval(e, view) for e in exprs):
                    continue
                taken.add(key)
                got += 1
                results.append({"request": req["name"], "driver": spec["driver"],
                                "pool": spec["pool"]["name"], "device": dev["name"]})
                if sel is not None and "matchFields" not in sel["nodeSelectorTerms"][0]:
                    node_selector = sel
                elif sel is not None and node_selector is None:
                    node_selector = sel
                log(f"  request {req['name']}: {spec['pool']['name']}/{dev['name']}")
        if got < want:
            raise RuntimeError(f"request {req['name']}: {got} of {want} devices of class "
                               f"{ex['deviceClassName']} available for node {node}")
        for c in cls["spec"].get("config", []):
            configs.append({"source": "FromClass", "requests": [req["name"]], "opaque": c["opaque"]})
    for c in claim["spec"]["devices"].get("config", []):
        configs.append({"source": "FromClaim", "requests": c.get("requests", []), "opaque": c["opaque"]})
    allocation = {"devices": {"results": results}}
    if configs:
        allocation["devices"]["config"] = configs
    if node_selector is not None:
        allocation["nodeSelector"] = node_selector
    claim.setdefault("status", {})["allocation"] = allocation
    claim["status"]["reservedFor"] = [{"resource": "pods", "name": f"{name}-pod",
                                       "uid": "00000000-0000-4000-8000-" + claim["metadata"]["uid"][-12:]}]
    return api.call("PUT", f"/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims/{name}/status", claim)


def main():
    ap = argparse.ArgumentParser(description="stand-in allocator (test equipment, not kube-scheduler)")
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--node-labels", default="")
    ap.add_argument("--claim", action="append", default=[], help="ns/name; default: every pending claim")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args()
    labels = dict(kv.split("=", 1) for kv in a.node_labels.split(",") if kv)
    labels.setdefault("kubernetes.io/hostname", a.node)
    api = Api(a.kubeconfig)
    log = (lambda m: None) if a.quiet else (lambda m: print(m, flush=True))
    claims = api.call("GET", "/apis/resource.k8s.io/v1/resourceclaims")["items"]
    wanted = {tuple(c.split("/", 1)) for c in a.claim}
    failed = 0
    for c in claims:
        ident = (c["metadata"]["namespace"], c["metadata"]["name"])
        if wanted and ident not in wanted:
            continue
        if (c.get("status") or {}).get("allocation"):
            continue
        log(f"stand-in allocator: claim {ident[0]}/{ident[1]} on node {a.node}")
        try:
            out = allocate(api, c, a.node, labels, log)
            print(json.dumps({"claim": f"{ident[0]}/{ident[1]}", "uid": out["metadata"]["uid"],
                              "allocation": out["status"]["allocation"]}))
        except (RuntimeError, CelError, urllib.error.HTTPError) as e:
            detail = e.read().decode() if isinstance(e, urllib.error.HTTPError) else str(e)
            print(f"stand-in allocator: claim {ident[0]}/{ident[1]}: {detail}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
