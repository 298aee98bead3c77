#!/usr/bin/env python3
"""netdra stand-in Kubernetes API server. TEST EQUIPMENT, not a Kubernetes API server.

There is no kube-apiserver on our machines, so tests and the local demo talk to this. It keeps
the semantics our daemons rely on: resourceVersion per object and list, watch streams with
events and bookmarks, 409 on a stale update, 410 when a watch or continue token is older than
the retained history, field and label selectors, generateName, pagination, Status bodies for
every error, bearer-token auth and TLS. Every ResourceSlice, ResourceClaim(Template) and
DeviceClass written is checked against the upstream OpenAPI schema and the API's limits
(validation.py); invalid objects get 422 with the causes. docs/stand-in-apiserver.md lists
what is approximated (server-side apply, finalizers, admission).

Test-only admin API under /_netdra/ (faults, request log, connections accepted, history compaction,
dropped watches).
"""
import argparse
import base64
import bisect
import copy
import datetime
import json
import os
import random
import re
import select
import shutil
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

import validation

HERE = os.path.dirname(os.path.abspath(__file__))


class Resource:
    def __init__(self, group, version, plural, kind, namespaced, check=None, status=False, schema_kind=None):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.check, self.status, self.schema_kind = namespaced, check, status, schema_kind

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = [
    Resource("resource.k8s.io", "v1", "resourceslices", "ResourceSlice", False,
             validation.check_resourceslice, schema_kind="ResourceSlice"),
    Resource("resource.k8s.io", "v1", "resourceclaims", "ResourceClaim", True,
             validation.check_resourceclaim, status=True, schema_kind="ResourceClaim"),
    Resource("resource.k8s.io", "v1", "resourceclaimtemplates", "ResourceClaimTemplate", True,
             validation.check_resourceclaimtemplate, schema_kind="ResourceClaimTemplate"),
    Resource("resource.k8s.io", "v1", "deviceclasses", "DeviceClass", False,
             validation.check_deviceclass, schema_kind="DeviceClass"),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("", "v1", "nodes", "Node", False, status=True),
    Resource("", "v1", "namespaces", "Namespace", False, status=True),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("", "v1", "events", "Event", True),
    Resource("", "v1", "pods", "Pod", True, status=True),
]
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.headers = headers or {}

    def body(self):
        return status_body(self.code, self.reason, self.message, self.details)


def qualified(res, name):
    group = f".{res.group}" if res.group else ""
    return f'{res.plural}{group} "{name}"'


# ---------------------------------------------------------------- selectors

def parse_field_selector(text):
    reqs = []
    for part in filter(None, (text or "").split(",")):
        m = re.match(r"^([\w.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise ApiError(400, "BadRequest", f'invalid field selector "{part}"')
        reqs.append((m.group(1), m.group(2), m.group(3)))
    return reqs


FIELD_PATHS = {"metadata.name", "metadata.namespace", "spec.driver", "spec.nodeName", "spec.pool.name"}


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        cur = cur.get(p) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def selector_view(obj):
    """What watch filtering reads of an object (FIELD_PATHS, namespace and labels), copied:
    field_value, field_match and label_match answer on it as on the whole object."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    pool = spec.get("pool") if isinstance(spec.get("pool"), dict) else {}
    labels = meta.get("labels")
    return {"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                         "labels": dict(labels) if isinstance(labels, dict) else labels},
            "spec": {"driver": spec.get("driver"), "nodeName": spec.get("nodeName"),
                     "pool": {"name": pool.get("name")}}}


def field_match(obj, reqs):
    for path, op, val in reqs:
        have = field_value(obj, path)
        if (op == "!=") == (have == val):
            return False
    return True


def parse_label_selector(text):
    reqs = []
    for part in re.findall(r"[^,(]+(?:\([^)]*\))?", text or ""):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", part)
        if m:
            reqs.append((m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|!=|=)\s*([\w.-]*)$", part)
        if m:
            reqs.append((m.group(1), "!=" if m.group(2) == "!=" else "=", {m.group(3)}))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", part)
        if m:
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", set()))
            continue
        raise ApiError(400, "BadRequest", f'unable to parse requirement "{part}"')
    return reqs


def label_match(obj, reqs):
    labels = obj.get("metadata", {}).get("labels") or {}
    for key, op, vals in reqs:
        have = labels.get(key)
        ok = {"=": have in vals, "in": have in vals, "!=": have not in vals, "notin": have not in vals,
              "exists": have is not None, "!exists": have is None}[op]
        if not ok:
            return False
    return True


# ---------------------------------------------------------------- patches

# ---------------------------------------------------------------- managed fields

# metadata the server sets, never a manager's field
SERVER_METADATA = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                   "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds")


def fields_v1(value):
    """The FieldsV1 set of a written value. A simplification of the API server's: every member
    of an object is a field ("f:<key>"), a list is one field as a whole (as the atomic lists of
    resource.k8s.io are; keyed lists would name their items there)."""
    if isinstance(value, dict):
        return {f"f:{k}": fields_v1(v) for k, v in value.items()}
    return {}


def managed_entry(res, obj, manager, operation, subresource):
    """The managedFields entry of one write of obj by manager."""
    if subresource == "status":
        owned = {"status": obj["status"]} if obj.get("status") is not None else {}
    else:
        owned = {k: v for k, v in obj.items()
                 if k not in ("apiVersion", "kind", "metadata") and not (k == "status" and res.status)}
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
        if meta:
            owned["metadata"] = meta
    entry = {"manager": manager, "operation": operation, "apiVersion": res.api_version,
             "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(owned)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def record_manager(res, obj, old_entries, manager, operation, subresource):
    """obj's managedFields after a write by manager: its entry for (manager, operation,
    subresource) replaced or added, the others kept."""
    mine = managed_entry(res, obj, manager, operation, subresource)
    kept = [e for e in old_entries or []
            if (e.get("manager"), e.get("operation"), e.get("subresource")) != (manager, operation, subresource)]
    obj["metadata"]["managedFields"] = kept + [mine]


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(target, ops):
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1] if parts else None
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op["value"]:
                raise ApiError(422, "Invalid", f"test operation failed at {op['path']}")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                idx = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(idx, op["value"])
                else:
                    parent[idx] = op["value"]
            else:
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last)
        else:
            raise ApiError(422, "Invalid", f"unsupported JSON patch operation {kind}")
    return doc


# ---------------------------------------------------------------- the store

class Store:
    def __init__(self, schemas, watch_window):
        self.lock = threading.Condition()
        self.objects = {}       # (plural-key, ns, name) -> obj
        self.rv = 1
        self.events = []        # (rv, res, type, obj, obj as JSON text), in rv order
        self.oldest_rv = 1      # events with rv > oldest_rv are retained
        self.watch_window = watch_window
        self.schemas = schemas
        self.watch_epoch = 0    # bumped by drop-watches

    def _key(self, res, ns, name):
        return (res.group, res.plural, ns or "", name)

    def _record(self, res, typ, obj):
        # serialised once here, not once per watcher; what selectors read of the object is
        # kept beside the text (a few small dicts: a copy of a 128-device slice per retained
        # event made every full garbage collection of a long run take ~100 ms)
        text = json.dumps(obj)
        self.events.append((int(obj["metadata"]["resourceVersion"]), res, typ, selector_view(obj), text))
        if len(self.events) > self.watch_window:
            drop = len(self.events) - self.watch_window
            self.oldest_rv = self.events[drop - 1][0]
            del self.events[:drop]
        self.lock.notify_all()

    def events_since(self, since):
        """Retained events with rv > since (the list is in rv order: bisect, not a scan)."""
        return self.events[bisect.bisect_right(self.events, since, key=lambda e: e[0]):]

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def compact(self):
        with self.lock:
            self.events.clear()
            self.oldest_rv = self.rv

    def validate(self, res, obj, old=None):
        if res.schema_kind and self.schemas is not None:
            self.schemas.check(res.schema_kind, obj)
        if res.check:
            res.check(obj, old)

    def get(self, res, ns, name):
        with self.lock:
            obj = self.objects.get(self._key(res, ns, name))
            if obj is None:
                raise ApiError(404, "NotFound", f"{qualified(res, name)} not found",
                               {"name": name, "group": res.group, "kind": res.plural})
            return copy.deepcopy(obj)

    def list(self, res, ns, fsel, lsel, start=0, limit=0):
        """The matching objects [start:start+limit] (limit 0: to the end), copied, the current
        resourceVersion and how many match in all (only the page is copied: a paged list of
        large objects costs its page, not the collection)."""
        with self.lock:
            matching = [o for (g, p, ons, _), o in sorted(self.objects.items())
                        if g == res.group and p == res.plural and (ns is None or ons == ns)
                        and field_match(o, fsel) and label_match(o, lsel)]
            page = matching[start:start + limit] if limit else matching[start:]
            return [copy.deepcopy(o) for o in page], str(self.rv), len(matching)

    def create(self, res, ns, obj, dry_run=False, manager=None, operation="Update"):
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                                                  "the namespace sent on the request")
            meta["namespace"] = ns
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789")
                                                          for _ in range(5))
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        try:
            self.validate(res, obj)
        except validation.Invalid as e:
            raise invalid(res, meta.get("name", ""), e)
        with self.lock:
            key = self._key(res, ns, meta["name"])
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f"{qualified(res, meta['name'])} already exists",
                               {"name": meta["name"], "group": res.group, "kind": res.plural})
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta.pop("resourceVersion", None)
            if manager and not meta.get("managedFields"):  # a client's own entries are kept
                record_manager(res, obj, [], manager, operation, None)
            if dry_run:
                return obj
            meta["resourceVersion"] = self._next_rv()
            self.objects[key] = copy.deepcopy(obj)
            self._record(res, "ADDED", obj)
            return obj

    def update(self, res, ns, name, obj, subresource=None, manager=None, operation="Update"):
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        with self.lock:
            key = self._key(res, ns, name)
            old = self.objects.get(key)
            if old is None:
                raise ApiError(404, "NotFound", f"{qualified(res, name)} not found",
                               {"name": name, "group": res.group, "kind": res.plural})
            rv = meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f"Operation cannot be fulfilled on {qualified(res, name)}: the object has been "
                               "modified; please apply your changes to the latest version and try again",
                               {"name": name, "group": res.group, "kind": res.plural})
            new = copy.deepcopy(old)
            if subresource == "status":
                new["status"] = obj.get("status")
            else:
                for k, v in obj.items():
                    if k not in ("metadata", "status") or not res.status:
                        new[k] = v
                for mk in ("labels", "annotations", "ownerReferences", "finalizers"):
                    if mk in meta:
                        new["metadata"][mk] = meta[mk]
                    else:
                        new["metadata"].pop(mk, None)
            new["apiVersion"], new["kind"] = res.api_version, res.kind
            for fixed in ("uid", "creationTimestamp", "namespace", "name"):
                if fixed in old["metadata"]:
                    new["metadata"][fixed] = old["metadata"][fixed]
            try:
                self.validate(res, new, old)
            except validation.Invalid as e:
                raise invalid(res, name, e)
            if new == old:
                return new  # a no-op write keeps the resourceVersion, like the real server
            if manager:
                record_manager(res, new, old["metadata"].get("managedFields"), manager, operation,
                               subresource)
            if new.get("spec") != old.get("spec"):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            new["metadata"]["resourceVersion"] = self._next_rv()
            self.objects[key] = copy.deepcopy(new)
            self._record(res, "MODIFIED", new)
            return new

    def delete(self, res, ns, name, preconditions=None):
        with self.lock:
            key = self._key(res, ns, name)
            old = self.objects.get(key)
            if old is None:
                raise ApiError(404, "NotFound", f"{qualified(res, name)} not found",
                               {"name": name, "group": res.group, "kind": res.plural})
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {pre['uid']}, "
                                                f"UID in object meta: {old['metadata']['uid']}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "Precondition failed: ResourceVersion in precondition: "
                                                f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                                f"{old['metadata']['resourceVersion']}")
            del self.objects[key]
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = self._next_rv()
            self._record(res, "DELETED", gone)
            return gone


def invalid(res, name, e):
    causes = [{"field": f, "reason": r, "message": m} for f, r, m in e.causes]
    msg = f"{res.kind} \"{name}\" is invalid: " + ", ".join(f"{f}: {m}" for f, _, m in e.causes)
    return ApiError(422, "Invalid", msg, {"name": name, "group": res.group, "kind": res.kind, "causes": causes})


# ---------------------------------------------------------------- faults and request log

class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.requests = []

    def add(self, rule):
        rule.setdefault("count", 1)
        rule["_re"] = re.compile(rule.get("path", ".*"))
        with self.lock:
            self.rules.append(rule)

    def clear(self):
        with self.lock:
            self.rules.clear()

    def match(self, method, path):
        with self.lock:
            for rule in self.rules:
                if rule.get("method", method) == method and rule["_re"].search(path) and rule["count"] != 0:
                    if rule["count"] > 0:
                        rule["count"] -= 1
                    return dict(rule)
        return None

    def log(self, method, path, status, user_agent=""):
        with self.lock:
            self.requests.append({"method": method, "path": path, "status": status, "ts": time.time(),
                                  "userAgent": user_agent})

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def reset(self):
        with self.lock:
            self.requests.clear()


# ---------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "netdra-stand-in-apiserver/0.1"

    def setup(self):
        super().setup()
        # like the real API server (Go sets TCP_NODELAY): headers and body are separate writes,
        # and with Nagle a kept-alive client would wait for a delayed ACK (40 ms) per response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections_accepted += 1

    def log_message(self, fmt, *args):
        if self.server.logfile:
            self.server.logfile.write("%s %s\n" % (self.address_string(), fmt % args))
            self.server.logfile.flush()

    # -- plumbing
    def send_json(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)
        self.status_sent = code

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 3 * 1024 * 1024:
            raise ApiError(413, "RequestEntityTooLarge", "request is too large")
        return self.rfile.read(n) if n else b""

    def parse_body(self, raw, content_type):
        if not raw:
            return None
        try:
            if "yaml" in (content_type or ""):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise ApiError(400, "BadRequest", f"the body of the request was in an unknown format: {e}")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        self.status_sent = 0
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        q = {k: v[-1] for k, v in query.items()}
        try:
            if path.startswith("/_netdra/"):
                return self.admin(method, path)
            token = self.server.token
            if token and self.headers.get("Authorization") != f"Bearer {token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            fault = self.server.faults.match(method, path)
            if fault:
                if fault.get("delay_ms"):
                    time.sleep(fault["delay_ms"] / 1000.0)
                if fault.get("status"):
                    code = fault["status"]
                    reason = {409: "Conflict", 410: "Expired", 429: "TooManyRequests",
                              500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}.get(code, "Unknown")
                    headers = {"Retry-After": fault["retry_after"]} if fault.get("retry_after") else {}
                    raise ApiError(code, reason, f"injected fault: {code} {reason}", headers=headers)
            self.route(method, path, q)
        except ApiError as e:
            if self.status_sent:
                return
            self.send_json(e.code, e.body(), e.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a bug in the stand-in must still answer like a server
            if not self.status_sent:
                self.send_json(500, status_body(500, "InternalError", f"stand-in error: {e!r}"))
        finally:
            if not path.startswith("/_netdra/"):
                self.server.faults.log(method, path + (("?" + url.query) if url.query else ""), self.status_sent,
                                       self.headers.get("User-Agent") or "")

    # -- admin API (test only)
    def admin(self, method, path):
        srv = self.server
        if path == "/_netdra/faults" and method == "POST":
            srv.faults.add(json.loads(self.read_body() or b"{}"))
            return self.send_json(200, {"ok": True})
        if path == "/_netdra/faults" and method == "DELETE":
            srv.faults.clear()
            return self.send_json(200, {"ok": True})
        if path == "/_netdra/requests" and method == "GET":
            return self.send_json(200, {"requests": srv.faults.snapshot()})
        if path == "/_netdra/requests" and method == "DELETE":
            srv.faults.reset()
            return self.send_json(200, {"ok": True})
        if path == "/_netdra/connections" and method == "GET":
            with srv.connections_lock:
                return self.send_json(200, {"accepted": srv.connections_accepted})
        if path == "/_netdra/compact" and method == "POST":
            srv.store.compact()
            return self.send_json(200, {"ok": True, "oldestResourceVersion": srv.store.oldest_rv})
        if path == "/_netdra/drop-watches" and method == "POST":
            with srv.store.lock:
                srv.store.watch_epoch += 1
                srv.store.lock.notify_all()
            return self.send_json(200, {"ok": True})
        raise ApiError(404, "NotFound", f"no admin endpoint {method} {path}")

    # -- discovery and resources
    def route(self, method, path, q):
        parts = [p for p in path.split("/") if p]
        if path in ("/version", "/version/"):
            return self.send_json(200, {"major": "1", "minor": "34", "gitVersion": "v1.34.0-netdra-stand-in"})
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            groups = {}
            for r in RESOURCES:
                if r.group:
                    groups.setdefault(r.group, set()).add(r.version)
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                self.group_doc(g, sorted(v)) for g, v in sorted(groups.items())]})
        if len(parts) == 2 and parts[0] == "apis":
            versions = sorted({r.version for r in RESOURCES if r.group == parts[1]})
            if not versions:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            doc = self.group_doc(parts[1], versions)
            doc.update({"kind": "APIGroup", "apiVersion": "v1"})
            return self.send_json(200, doc)
        if (len(parts) == 3 and parts[0] == "apis") or (len(parts) == 2 and parts[0] == "api"):
            group, version = (parts[1], parts[2]) if parts[0] == "apis" else ("", parts[1])
            res = [r for r in RESOURCES if r.group == group and r.version == version]
            if not res:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": res[0].api_version, "resources": [
                {"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}
                for r in res]})
        # /api/v1/... or /apis/g/v/...
        if parts and parts[0] == "api":
            group, version, rest = "", parts[1] if len(parts) > 1 else "", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) > 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
            ns, rest = rest[1], rest[2:]
        res = BY_PATH.get((group, version, rest[0] if rest else ""))
        if res is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if res.namespaced and ns is None and (len(rest) > 1 or method not in ("GET",)):
            raise ApiError(404, "NotFound", "the server could not find the requested resource "
                                            "(namespace required)")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and not (sub == "status" and res.status):
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({sub})")
        store = self.server.store
        if name is None:
            if method == "GET" and q.get("watch") in ("1", "true"):
                return self.watch(res, ns, q)
            if method == "GET":
                return self.list(res, ns, q)
            if method == "POST":
                obj = self.parse_body(self.read_body(), self.headers.get("Content-Type"))
                if not isinstance(obj, dict):
                    raise ApiError(400, "BadRequest", "the body of the request must be an object")
                return self.send_json(201, store.create(res, ns, obj, q.get("dryRun") == "All",
                                                        self.field_manager(q)))
            if method == "DELETE":
                items, _, _ = store.list(res, ns, parse_field_selector(q.get("fieldSelector")),
                                      parse_label_selector(q.get("labelSelector")))
                for it in items:
                    try:
                        store.delete(res, ns or it["metadata"].get("namespace"), it["metadata"]["name"])
                    except ApiError:
                        pass
                return self.send_json(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                                            "metadata": {}, "items": items})
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on collections")
        if method == "GET":
            return self.send_json(200, store.get(res, ns, name))
        if method == "PUT":
            obj = self.parse_body(self.read_body(), self.headers.get("Content-Type"))
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the body of the request must be an object")
            return self.send_json(200, store.update(res, ns, name, obj, sub, self.field_manager(q)))
        if method == "PATCH":
            return self.patch(res, ns, name, sub, q)
        if method == "DELETE":
            body = self.parse_body(self.read_body(), "application/json") or {}
            gone = store.delete(res, ns, name, body.get("preconditions"))
            return self.send_json(200, gone)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    @staticmethod
    def group_doc(group, versions):
        pref = "v1" if "v1" in versions else versions[-1]
        return {"name": group, "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{group}/{pref}", "version": pref}}

    def field_manager(self, q):
        """Who writes, for managedFields: ?fieldManager=, else the User-Agent up to its first '/'
        (as the API server names a client that gives none)."""
        return q.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0] or "unknown"

    def patch(self, res, ns, name, sub, q):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        raw = self.read_body()
        patch = self.parse_body(raw, ctype)
        store = self.server.store
        if ctype == "application/apply-patch+yaml":
            if not q.get("fieldManager"):
                raise ApiError(400, "BadRequest", "PATCH with apply requires fieldManager")
            try:
                cur = store.get(res, ns, name)
            except ApiError as e:
                if e.code != 404:
                    raise
                patch.setdefault("metadata", {})["name"] = name
                return self.send_json(201, store.create(res, ns, patch, manager=q["fieldManager"],
                                                        operation="Apply"))
            new = merge_patch(cur, patch)
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            return self.send_json(200, store.update(res, ns, name, new, sub, q["fieldManager"], "Apply"))
        for _ in range(5):
            cur = store.get(res, ns, name)
            if ctype == "application/merge-patch+json" or ctype == "application/strategic-merge-patch+json":
                new = merge_patch(cur, patch)
            elif ctype == "application/json-patch+json":
                new = json_patch(cur, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType", f'the media type "{ctype}" is not supported')
            want_rv = (patch or {}).get("metadata", {}).get("resourceVersion") if isinstance(patch, dict) else None
            new["metadata"]["resourceVersion"] = want_rv or cur["metadata"]["resourceVersion"]
            try:
                return self.send_json(200, store.update(res, ns, name, new, sub, self.field_manager(q)))
            except ApiError as e:
                if e.code != 409 or want_rv:
                    raise
        raise ApiError(409, "Conflict", "too many conflicts while patching")

    def list(self, res, ns, q):
        store = self.server.store
        fsel = parse_field_selector(q.get("fieldSelector"))
        for path, _, _ in fsel:
            if path not in FIELD_PATHS:
                raise ApiError(400, "BadRequest", f'"{path}" is not a known field selector: only '
                                                  f'"metadata.name", "metadata.namespace", "spec.driver", '
                                                  f'"spec.nodeName"')
        start = 0
        rv = None
        if q.get("continue"):
            try:
                tok = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
                start, rv = int(tok["start"]), tok["rv"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BadRequest", "invalid continue token")
            if int(rv) < store.oldest_rv:
                raise ApiError(410, "Expired", "The provided continue parameter is too old to display a "
                                               "consistent list result. You can start a new list without the "
                                               "continue parameter.")
        limit = int(q.get("limit") or 0)
        page, now_rv, total = store.list(res, ns, fsel, parse_label_selector(q.get("labelSelector")),
                                         start, limit)
        rv = rv or now_rv
        meta = {"resourceVersion": rv}
        if limit and total - start > limit:
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"start": start + limit, "rv": rv}).encode()).decode()
            meta["remainingItemCount"] = total - start - limit
        self.send_json(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                             "items": page})

    def client_gone(self):
        """Whether the client of a watch has closed its connection. A watch client sends nothing
        more on its connection, so a readable socket is its FIN (or, over TLS, its close_notify
        before the FIN): checked on the TCP socket itself, whatever TLS sits on top."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            if isinstance(self.connection, ssl.SSLSocket):
                return True
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def watch(self, res, ns, q):
        store = self.server.store
        fsel = parse_field_selector(q.get("fieldSelector"))
        lsel = parse_label_selector(q.get("labelSelector"))
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(q.get("timeoutSeconds") or 1800)
        rv_text = q.get("resourceVersion") or ""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.status_sent = 200

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def chunk_event(t, text):
            data = ('{"type": "%s", "object": %s}\n' % (t, text)).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def match(r, obj):
            return (r is res and (ns is None or obj["metadata"].get("namespace") == ns)
                    and field_match(obj, fsel) and label_match(obj, lsel))

        try:
            with store.lock:
                epoch = store.watch_epoch
                if rv_text in ("", "0"):
                    items, _, _ = store.list(res, ns, fsel, lsel)
                    pending = [("ADDED", json.dumps(o)) for o in items]
                    since = store.rv
                else:
                    since = int(rv_text)
                    if since < store.oldest_rv:
                        pending = None
                    else:
                        pending = [(t, text) for (erv, r, t, o, text) in store.events_since(since)
                                   if match(r, o)]
                        since = store.rv
            if pending is None:
                chunk({"type": "ERROR", "object": status_body(
                    410, "Expired", f"too old resource version: {rv_text} ({store.oldest_rv})")})
                self.wfile.write(b"0\r\n\r\n")
                return
            for t, text in pending:
                chunk_event(t, text)
            deadline = time.time() + timeout
            next_bookmark = time.time() + self.server.bookmark_interval
            while time.time() < deadline and not self.server.stopping:
                if self.client_gone():
                    return  # as the real server, whose request context ends with the connection
                with store.lock:
                    # wait only when nothing came while the last events were being sent: a
                    # notify given then is not waited for again (it would cost up to 0.2 s)
                    if store.rv == since and store.watch_epoch == epoch:
                        store.lock.wait(timeout=min(0.2, self.server.bookmark_interval))
                    if store.watch_epoch != epoch:
                        return  # dropped by the admin API: close the stream without a terminator
                    if since < store.oldest_rv and store.rv > since:
                        chunk({"type": "ERROR", "object": status_body(
                            410, "Expired", f"too old resource version: {since} ({store.oldest_rv})")})
                        break
                    new = [(t, text) for (erv, r, t, o, text) in store.events_since(since) if match(r, o)]
                    since = store.rv
                for t, text in new:
                    chunk_event(t, text)
                if bookmarks and time.time() >= next_bookmark:
                    chunk({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version,
                                                          "metadata": {"resourceVersion": str(since)}}})
                    next_bookmark = time.time() + self.server.bookmark_interval
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        finally:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    connections_accepted = 0  # connections a client opened (GET /_netdra/connections)
    connections_lock = threading.Lock()

    def handle_error(self, request, client_address):
        pass  # client went away: not our problem


def make_tls(workdir):
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=workdir, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=netdra-stand-in-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(workdir, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return os.path.join(workdir, "server.crt"), os.path.join(workdir, "server.key"), os.path.join(workdir, "ca.crt")


def write_kubeconfig(path, url, token, ca_file):
    cluster = {"server": url}
    if ca_file:
        with open(ca_file, "rb") as f:
            cluster["certificate-authority-data"] = base64.b64encode(f.read()).decode()
    user = {"token": token} if token else {}
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
           "clusters": [{"name": "stand-in", "cluster": cluster}],
           "users": [{"name": "stand-in", "user": user}],
           "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "stand-in"}}]}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump(cfg, f)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


def default_openapi():
    name = "apis__resource.k8s.io__v1_openapi.json"
    env = os.environ.get("NETDRA_SHARED_DIR")
    for base in ([os.path.join(env, "k8s-openapi")] if env else []) + [
            os.path.join(HERE, "..", "..", "..", "shared", "k8s-openapi"), os.path.join(HERE, "openapi")]:
        if os.path.exists(os.path.join(base, name)):
            return os.path.join(base, name)
    return os.path.join(HERE, "openapi", name)


def main():
    ap = argparse.ArgumentParser(description="netdra stand-in Kubernetes API server (TEST EQUIPMENT)")
    ap.add_argument("--listen", default="127.0.0.1:0", help="host:port (port 0 picks a free one)")
    ap.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA")
    ap.add_argument("--token", help="require this bearer token")
    ap.add_argument("--kubeconfig", required=True, help="write a kubeconfig for clients here")
    ap.add_argument("--ready-file", help="write the base URL here once serving")
    ap.add_argument("--openapi", default=default_openapi(), help="upstream OpenAPI document")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    ap.add_argument("--watch-window", type=int, default=10000, help="watch events kept for resuming")
    ap.add_argument("--log", help="access log file")
    a = ap.parse_args()
    if a.listen.startswith("["):
        raise SystemExit("IPv6 listen addresses are not supported by the stand-in")
    host, _, port = a.listen.rpartition(":")
    if not host.startswith("127.") and host != "localhost":
        raise SystemExit("the stand-in API server listens on loopback only")
    schemas = validation.Schemas(a.openapi)
    srv = Server((host, int(port)), Handler)
    srv.store = Store(schemas, a.watch_window)
    srv.faults = Faults()
    srv.token = a.token
    srv.bookmark_interval = a.bookmark_interval
    srv.stopping = False
    srv.logfile = open(a.log, "a") if a.log else None
    workdir = tempfile.mkdtemp(prefix="netdra-apiserver-")
    ca_file = None
    scheme = "http"
    if a.tls:
        cert, key, ca_file = make_tls(workdir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    url = f"{scheme}://{host}:{srv.server_address[1]}"
    # a namespace for the examples, like a fresh cluster has
    for nsname in ("default", "kube-system"):
        srv.store.create(BY_PATH[("", "v1", "namespaces")], None, {"metadata": {"name": nsname}})
    write_kubeconfig(a.kubeconfig, url, a.token, ca_file)
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write(url + "\n")
        os.rename(a.ready_file + ".tmp", a.ready_file)
    print(f"READY {url}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stopping = True
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    main()
