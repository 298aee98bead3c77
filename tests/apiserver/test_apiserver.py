#!/usr/bin/env python3
"""Tests of the stand-in API server (test equipment must behave like the real thing, or the
tests that rely on it prove nothing). Starts the server with TLS and a token on a free
loopback port and talks to it with http.client only."""
import base64
import copy
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "test-token-123"
SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def slice_obj(name, devices=None, **spec):
    s = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": name},
         "spec": {"driver": "netdra.dev", "pool": {"name": "pool-a", "generation": 0, "resourceSliceCount": 1},
                  "allNodes": True,
                  "devices": devices if devices is not None else [
                      {"name": "cam0", "attributes": {"type": {"string": "camera"}, "fps": {"int": 30},
                                                      "fw": {"version": "1.2.3"}, "ok": {"bool": True}},
                       "capacity": {"memory": {"value": "64Gi"}}}]}}
    s["spec"].update(spec)
    if "nodeName" in spec or "nodeSelector" in spec or "perDeviceNodeSelection" in spec:
        s["spec"].pop("allNodes", None)
    return s


class ApiServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        kc = os.path.join(cls.dir, "kubeconfig")
        ready = os.path.join(cls.dir, "ready")
        cls.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "netdra_apiserver.py"), "--tls",
                                     "--token", TOKEN, "--kubeconfig", kc, "--ready-file", ready,
                                     "--bookmark-interval", "0.3", "--watch-window", "50"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("stand-in API server did not start: " + cls.proc.stderr.read().decode())
        cfg = yaml.safe_load(open(kc))
        cluster = cfg["clusters"][0]["cluster"]
        cls.port = int(cluster["server"].rsplit(":", 1)[1])
        cls.ctx = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        assert cfg["users"][0]["user"]["token"] == TOKEN

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        cls.proc.wait(timeout=10)

    def call(self, method, path, body=None, token=TOKEN, ctype="application/json", raw=None,
             agent=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        headers = {"Content-Type": ctype}
        if agent:
            headers["User-Agent"] = agent
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        out = r.read()
        conn.close()
        return r.status, (json.loads(out) if out else None), r

    def admin(self, method, path, body=None):
        return self.call(method, "/_netdra/" + path, body, token=None)

    def create(self, obj, path=SLICES):
        code, body, _ = self.call("POST", path, obj)
        self.assertEqual(code, 201, body)
        return body

    # ---- basics
    def test_auth_required(self):
        code, body, _ = self.call("GET", SLICES, token=None)
        self.assertEqual(code, 401)
        self.assertEqual(body["kind"], "Status")
        code, _, _ = self.call("GET", SLICES, token="wrong")
        self.assertEqual(code, 401)

    def test_discovery(self):
        code, body, _ = self.call("GET", "/apis/resource.k8s.io")
        self.assertEqual(code, 200)
        self.assertEqual(body["preferredVersion"]["version"], "v1")
        code, body, _ = self.call("GET", "/apis/resource.k8s.io/v1")
        self.assertIn("resourceslices", [r["name"] for r in body["resources"]])

    def test_crud_and_status_bodies(self):
        s = self.create(slice_obj("crud-1"))
        self.assertTrue(s["metadata"]["uid"])
        rv = s["metadata"]["resourceVersion"]
        code, body, _ = self.call("POST", SLICES, slice_obj("crud-1"))
        self.assertEqual((code, body["reason"]), (409, "AlreadyExists"))
        self.assertIn('resourceslices.resource.k8s.io "crud-1" already exists', body["message"])
        s["spec"]["pool"]["generation"] = 1
        code, upd, _ = self.call("PUT", f"{SLICES}/crud-1", s)
        self.assertEqual(code, 200)
        self.assertNotEqual(upd["metadata"]["resourceVersion"], rv)
        self.assertEqual(upd["metadata"]["generation"], 2)
        s["metadata"]["resourceVersion"] = rv  # stale
        code, body, _ = self.call("PUT", f"{SLICES}/crud-1", s)
        self.assertEqual((code, body["reason"]), (409, "Conflict"))
        self.assertIn("the object has been modified", body["message"])
        code, same, _ = self.call("PUT", f"{SLICES}/crud-1", upd)
        self.assertEqual(same["metadata"]["resourceVersion"], upd["metadata"]["resourceVersion"],
                         "a no-op update keeps the resourceVersion")
        code, body, _ = self.call("DELETE", f"{SLICES}/crud-1", {"preconditions": {"uid": "nope"}})
        self.assertEqual(code, 409)
        code, _, _ = self.call("DELETE", f"{SLICES}/crud-1")
        self.assertEqual(code, 200)
        code, body, _ = self.call("GET", f"{SLICES}/crud-1")
        self.assertEqual((code, body["reason"], body["code"]), (404, "NotFound", 404))
        self.assertEqual(body["message"], 'resourceslices.resource.k8s.io "crud-1" not found')

    def test_generate_name_and_patch(self):
        obj = slice_obj("")
        obj["metadata"] = {"generateName": "gen-"}
        s = self.create(obj)
        name = s["metadata"]["name"]
        self.assertRegex(name, r"^gen-[a-z0-9]{5}$")
        code, p, _ = self.call("PATCH", f"{SLICES}/{name}", {"metadata": {"labels": {"a": "b"}}},
                               ctype="application/merge-patch+json")
        self.assertEqual((code, p["metadata"]["labels"]), (200, {"a": "b"}))
        code, p, _ = self.call("PATCH", f"{SLICES}/{name}",
                               [{"op": "replace", "path": "/spec/pool/generation", "value": 7}],
                               ctype="application/json-patch+json")
        self.assertEqual((code, p["spec"]["pool"]["generation"]), (200, 7))
        code, _, _ = self.call("PATCH", f"{SLICES}/{name}", raw="not json", ctype="application/merge-patch+json")
        self.assertEqual(code, 400)

    def test_invalid_slices_get_422(self):
        cases = {
            "too-many-devices": slice_obj("x", [{"name": f"d{i}"} for i in range(129)]),
            "tainted-over-64": slice_obj("x", [{"name": f"d{i}", "taints": [{"key": "k", "effect": "NoSchedule"}]}
                                               for i in range(65)]),
            "two-node-selections": dict(slice_obj("x"), spec=dict(slice_obj("x")["spec"], nodeName="n1")),
            "no-node-selection": dict(slice_obj("x"), spec={k: v for k, v in slice_obj("x")["spec"].items()
                                                             if k != "allNodes"}),
            "bad-device-name": slice_obj("x", [{"name": "Cam_0"}]),
            "duplicate-device": slice_obj("x", [{"name": "a"}, {"name": "a"}]),
            "two-attribute-values": slice_obj("x", [{"name": "a", "attributes": {"t": {"string": "x", "int": 1}}}]),
            "long-string": slice_obj("x", [{"name": "a", "attributes": {"t": {"string": "x" * 65}}}]),
            "bad-semver": slice_obj("x", [{"name": "a", "attributes": {"v": {"version": "1.2"}}}]),
            "bad-attribute-name": slice_obj("x", [{"name": "a", "attributes": {"not valid!": {"int": 1}}}]),
            "too-many-attributes": slice_obj("x", [{"name": "a", "attributes": {
                f"a{i}": {"int": i} for i in range(33)}}]),
            "bad-quantity": slice_obj("x", [{"name": "a", "capacity": {"mem": {"value": "12Qi"}}}]),
            "bad-taint-effect": slice_obj("x", [{"name": "a", "taints": [{"key": "k", "effect": "Sometimes"}]}]),
            "bad-driver": dict(slice_obj("x"), spec=dict(slice_obj("x")["spec"], driver="Not_A_Driver")),
            "unknown-field": dict(slice_obj("x"), spec=dict(slice_obj("x")["spec"], colour="blue")),
            "wrong-type": slice_obj("x", [{"name": "a", "attributes": {"n": {"int": "seven"}}}]),
            "two-selector-terms": slice_obj("x", nodeSelector={"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]},
                {"matchExpressions": [{"key": "c", "operator": "In", "values": ["d"]}]}]}),
            "too-many-binding-conditions": slice_obj("x", [{"name": "a", "bindsToNode": True,
                                                            "bindingConditions": list("abcde")}]),
        }
        for why, obj in cases.items():
            with self.subTest(why):
                code, body, _ = self.call("POST", SLICES, obj)
                self.assertEqual(code, 422, f"{why}: {body}")
                self.assertEqual(body["reason"], "Invalid")
                self.assertTrue(body["details"]["causes"], why)
        code, body, _ = self.call("GET", SLICES)
        self.assertFalse([s for s in body["items"] if s["metadata"]["name"] == "x"])

    def test_valid_slice_variants(self):
        variants = [
            slice_obj("v-all"),
            slice_obj("v-node", nodeName="node-1"),
            slice_obj("v-sel", nodeSelector={"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                       "values": ["a"]}]}]}),
            slice_obj("v-per", [{"name": "a", "allNodes": True}, {"name": "b", "nodeName": "n1"}],
                      perDeviceNodeSelection=True),
            slice_obj("v-taint", [{"name": "a", "taints": [{"key": "netdra.dev/unreachable", "value": "true",
                                                            "effect": "NoSchedule"}]}]),
            slice_obj("v-empty", []),
            slice_obj("v-128", [{"name": f"d{i}"} for i in range(128)]),
        ]
        for obj in variants:
            with self.subTest(obj["metadata"]["name"]):
                self.create(obj)

    def test_immutable_fields(self):
        s = self.create(slice_obj("immut"))
        s["spec"]["driver"] = "other.dev"
        code, body, _ = self.call("PUT", f"{SLICES}/immut", s)
        self.assertEqual(code, 422)
        self.assertIn("immutable", body["message"])

    def test_selectors_and_pagination(self):
        for i in range(7):
            obj = slice_obj(f"page-{i}", driver="pager.dev")
            obj["metadata"]["labels"] = {"idx": str(i % 2)}
            self.create(obj)
        self.create(slice_obj("page-node", driver="pager.dev", nodeName="n9"))
        code, body, _ = self.call("GET", f"{SLICES}?fieldSelector=spec.driver%3Dpager.dev")
        self.assertEqual(len(body["items"]), 8)
        code, body, _ = self.call("GET", f"{SLICES}?fieldSelector=spec.driver%3Dpager.dev,spec.nodeName%3D")
        self.assertEqual(len(body["items"]), 7, "empty spec.nodeName matches slices without a node")
        code, body, _ = self.call("GET", f"{SLICES}?fieldSelector=spec.nodeName%3Dn9")
        self.assertEqual([s["metadata"]["name"] for s in body["items"]], ["page-node"])
        code, body, _ = self.call("GET", f"{SLICES}?labelSelector=idx%3D1")
        self.assertEqual(len(body["items"]), 3)
        code, body, _ = self.call("GET", f"{SLICES}?labelSelector=idx%20in%20(0,1)")
        self.assertEqual(len(body["items"]), 7)
        code, body, _ = self.call("GET", f"{SLICES}?fieldSelector=spec.colour%3Dx")
        self.assertEqual(code, 400)
        names, cont = [], ""
        while True:
            code, body, _ = self.call("GET", f"{SLICES}?fieldSelector=spec.driver%3Dpager.dev&limit=3"
                                             + (f"&continue={cont}" if cont else ""))
            names += [s["metadata"]["name"] for s in body["items"]]
            cont = body["metadata"].get("continue")
            if not cont:
                break
        self.assertEqual(len(names), 8)
        self.assertEqual(len(set(names)), 8)

    def watch_lines(self, query, seconds):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=seconds + 5)
        conn.request("GET", f"{SLICES}?watch=1&{query}", headers={"Authorization": f"Bearer {TOKEN}"})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        return conn, r

    def test_watch_events_bookmarks_and_410(self):
        code, body, _ = self.call("GET", SLICES)
        rv = body["metadata"]["resourceVersion"]
        conn, r = self.watch_lines(f"resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=3", 3)
        self.create(slice_obj("watched"))
        self.call("DELETE", f"{SLICES}/watched")
        events = [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]
        conn.close()
        types = [e["type"] for e in events if e["type"] != "BOOKMARK"]
        self.assertEqual(types, ["ADDED", "DELETED"])
        self.assertIn("BOOKMARK", [e["type"] for e in events])
        bm = [e for e in events if e["type"] == "BOOKMARK"][-1]
        self.assertEqual(set(bm["object"]["metadata"]), {"resourceVersion"})
        self.admin("POST", "compact")
        conn, r = self.watch_lines(f"resourceVersion={rv}", 2)
        events = [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]
        conn.close()
        self.assertEqual(events[0]["type"], "ERROR")
        self.assertEqual(events[0]["object"]["code"], 410)
        self.assertEqual(events[0]["object"]["reason"], "Expired")

    def test_faults_and_request_log(self):
        self.admin("DELETE", "requests")
        self.admin("POST", "faults", {"method": "GET", "path": "resourceslices$", "status": 500, "count": 2})
        self.assertEqual(self.call("GET", SLICES)[0], 500)
        self.assertEqual(self.call("GET", SLICES)[0], 500)
        self.assertEqual(self.call("GET", SLICES)[0], 200)
        self.admin("POST", "faults", {"method": "GET", "path": "resourceslices$", "status": 429,
                                      "retry_after": 2})
        code, body, resp = self.call("GET", SLICES)
        self.assertEqual((code, resp.getheader("Retry-After"), body["reason"]), (429, "2", "TooManyRequests"))
        self.admin("POST", "faults", {"method": "GET", "path": "resourceslices$", "delay_ms": 300})
        t = time.time()
        self.assertEqual(self.call("GET", SLICES)[0], 200)
        self.assertGreaterEqual(time.time() - t, 0.3)
        _, log, _ = self.admin("GET", "requests")
        # this test's requests only: a watch of an earlier test is logged when it ends, which
        # can be after the reset above
        mine = [r["status"] for r in log["requests"] if r["path"] == SLICES and r["method"] == "GET"]
        self.assertEqual(mine, [500, 500, 200, 429, 200])

    def test_watch_ends_with_its_client(self):
        # a client that goes away ends its watch (as the real server's request context does):
        # the request is over, in the log, without waiting for timeoutSeconds or a bookmark
        self.admin("DELETE", "requests")
        conn, r = self.watch_lines("resourceVersion=0&timeoutSeconds=59", 60)  # 59: this watch
        r.close()
        conn.close()
        t = time.time()
        while time.time() - t < 5:
            _, log, _ = self.admin("GET", "requests")
            if any("timeoutSeconds=59" in q["path"] for q in log["requests"]):
                break
            time.sleep(0.05)
        self.assertTrue(any("timeoutSeconds=59" in q["path"] and q["status"] == 200 for q in log["requests"]))
        self.assertLess(time.time() - t, 2)

    def test_drop_watches(self):
        conn, r = self.watch_lines("resourceVersion=0&timeoutSeconds=20", 20)
        t = time.time()
        self.admin("POST", "drop-watches")
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        conn.close()
        self.assertLess(time.time() - t, 5)

    def test_claim_status_subresource(self):
        claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                 "metadata": {"name": "c1", "namespace": "default"},
                 "spec": {"devices": {"requests": [{"name": "cam", "exactly": {
                     "deviceClassName": "camera.netdra.dev"}}]}}}
        path = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims"
        c = self.create(claim, path)
        c2 = copy.deepcopy(c)
        c2["status"] = {"allocation": {"devices": {"results": [
            {"request": "cam", "driver": "netdra.dev", "pool": "p", "device": "d"}]}}}
        code, body, _ = self.call("PUT", f"{path}/c1", c2)
        self.assertEqual(code, 200)
        self.assertNotIn("status", body, "the main resource ignores status")
        code, body, _ = self.call("PUT", f"{path}/c1/status", c2)
        self.assertEqual((code, body["status"]["allocation"]["devices"]["results"][0]["device"]), (200, "d"))
        c3 = copy.deepcopy(body)
        c3["spec"]["devices"]["requests"][0]["name"] = "other"
        code, body, _ = self.call("PUT", f"{path}/c1", c3)
        self.assertEqual(code, 422, "claim spec is immutable")
        c4 = copy.deepcopy(c2)
        c4["metadata"]["resourceVersion"] = None
        c4["status"]["devices"] = [{"driver": "netdra.dev", "pool": "p", "device": "nope"}]
        code, body, _ = self.call("PUT", f"{path}/c1/status", c4)
        self.assertEqual(code, 422, "status.devices must match an allocated device")


    def test_managed_fields(self):
        """Every write records its manager (?fieldManager=, else the User-Agent up to '/'), the
        operation, the subresource and the fields it wrote, as the API server does; a no-op
        write changes nothing; entries a client gives at create are kept."""
        code, s, _ = self.call("POST", SLICES + "?fieldManager=maker", slice_obj("mf-1"))
        self.assertEqual(code, 201)
        (e,) = s["metadata"]["managedFields"]
        self.assertEqual((e["manager"], e["operation"], e["apiVersion"], e["fieldsType"]),
                         ("maker", "Update", "resource.k8s.io/v1", "FieldsV1"))
        self.assertEqual(e["fieldsV1"]["f:spec"]["f:devices"], {}, "a list is one field")
        self.assertIn("f:pool", e["fieldsV1"]["f:spec"])
        self.assertNotIn("f:metadata", e["fieldsV1"], "name and uid are the server's")
        s["spec"]["pool"]["generation"] = 1
        s["metadata"]["labels"] = {"a": "b"}
        code, u, _ = self.call("PUT", f"{SLICES}/mf-1", s, agent="netdra-controller/0.1 (linux)")
        self.assertEqual(code, 200)
        self.assertEqual([m["manager"] for m in u["metadata"]["managedFields"]],
                         ["maker", "netdra-controller"])
        self.assertEqual(u["metadata"]["managedFields"][1]["fieldsV1"]["f:metadata"],
                         {"f:labels": {"f:a": {}}})
        code, same, _ = self.call("PUT", f"{SLICES}/mf-1", u, agent="someone-else/1")
        self.assertEqual(same, u, "a no-op write changes nothing, managedFields included")
        code, a, _ = self.call("PATCH", f"{SLICES}/mf-1?fieldManager=applier&force=true",
                               {"metadata": {"labels": {"c": "d"}}}, ctype="application/apply-patch+yaml")
        self.assertEqual(code, 200, a)
        self.assertEqual((a["metadata"]["managedFields"][-1]["manager"],
                          a["metadata"]["managedFields"][-1]["operation"]), ("applier", "Apply"))
        claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                 "metadata": {"name": "mf-c", "namespace": "default", "managedFields": [
                     {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "resource.k8s.io/v1",
                      "time": "2026-12-02T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
                 "spec": {"devices": {"requests": [{"name": "cam", "exactly": {
                     "deviceClassName": "camera.netdra.dev"}}]}}}
        path = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims"
        c = self.create(claim, path)
        self.assertEqual(c["metadata"]["managedFields"], claim["metadata"]["managedFields"])
        c["status"] = {"allocation": {"devices": {"results": [
            {"request": "cam", "driver": "netdra.dev", "pool": "p", "device": "d"}]}}}
        code, st, _ = self.call("PUT", f"{path}/mf-c/status", c, agent="kube-scheduler/v1.34")
        self.assertEqual(code, 200)
        sched = st["metadata"]["managedFields"][-1]
        self.assertEqual((sched["manager"], sched["subresource"]), ("kube-scheduler", "status"))
        self.assertEqual(list(sched["fieldsV1"]), ["f:status"])


class CompiledSchemaTest(unittest.TestCase):
    """The stand-in's compiled fast path must accept exactly what jsonschema accepts: a
    differential test over valid objects and seeded random mutations of them (bounded)."""

    def test_fast_path_agrees_with_jsonschema(self):
        import glob
        import random
        import jsonschema
        sys.path.insert(0, HERE)
        import validation
        doc = glob.glob(os.path.join(HERE, "openapi", "*.json"))[0]
        schemas = validation.Schemas(doc)
        rnd = random.Random(20261201)
        claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                 "metadata": {"name": "c", "namespace": "default"},
                 "spec": {"devices": {"requests": [{"name": "r", "exactly": {
                     "deviceClassName": "camera.netdra.dev", "count": 1,
                     "selectors": [{"cel": {"expression": "true"}}]}}]}}}
        seeds = [("ResourceSlice", slice_obj("s")),
                 ("ResourceSlice", slice_obj("s", nodeSelector={"nodeSelectorTerms": [
                     {"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}]})),
                 ("ResourceClaim", claim)]
        junk = [None, 1, 1.5, 2.0, True, "x", [], {}, [1], {"a": 1}]

        def paths(v, prefix=()):
            yield prefix
            if isinstance(v, dict):
                for k, x in v.items():
                    yield from paths(x, prefix + (k,))
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    yield from paths(x, prefix + (i,))

        checked = disagreements = 0
        for kind, seed in seeds:
            name = "io.k8s.api.resource.v1." + kind
            validator = jsonschema.Draft7Validator(schemas.schemas[name], resolver=schemas.resolver)
            all_paths = [p for p in paths(seed) if p]
            for _ in range(700):
                obj = copy.deepcopy(seed)
                for _ in range(rnd.randint(1, 3)):
                    path = rnd.choice(all_paths)
                    parent = obj
                    try:
                        for k in path[:-1]:
                            parent = parent[k]
                        if rnd.random() < 0.3 and isinstance(parent, dict):
                            parent.pop(path[-1], None)
                        else:
                            parent[path[-1]] = copy.deepcopy(rnd.choice(junk))
                    except (KeyError, IndexError, TypeError):
                        pass
                fast = schemas.fast_valid(name, obj)
                self.assertIsNotNone(fast, f"{kind} is compiled")
                slow = not any(True for _ in validator.iter_errors(obj))
                checked += 1
                if fast != slow:
                    disagreements += 1
                    self.fail(f"fast={fast} jsonschema={slow} for {json.dumps(obj)[:300]}")
        self.assertGreaterEqual(checked, 2100)
        self.assertEqual(disagreements, 0)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    print(f"{result.testsRun - len(result.failures) - len(result.errors)} passed, "
          f"{len(result.failures) + len(result.errors)} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
