"""Validation of resource.k8s.io/v1 objects for the stand-in API server (TEST EQUIPMENT).

Two layers, like the real kube-apiserver:
1. structural: the upstream OpenAPI v3 document (../shared/k8s-openapi/...), with $refs
   resolved, types and required fields checked by python3-jsonschema, and unknown fields
   rejected (the real server's `fieldValidation=Strict`, kubectl's default);
2. semantic: the API's validation rules and limits (k8s-dra-facts.md section 3): names,
   counts, exactly-one-of node selection, attribute values, quantities, taints, immutability.

Each problem is a (field path, reason, message) cause; the server answers 422 with them.
"""
import json
import re

import jsonschema

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")
QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")

MAX_DEVICES = 128
MAX_DEVICES_WITH_TAINTS = 64
MAX_ATTRS_AND_CAPS = 32
MAX_ATTR_STRING = 64
MAX_TAINTS = 16
MAX_BINDING_CONDITIONS = 4
MAX_REQUESTS = 32
MAX_SELECTORS = 32
MAX_CONFIG = 32
MAX_CEL = 10 * 1024
MAX_OPAQUE = 10 * 1024
TAINT_EFFECTS = ("NoSchedule", "NoExecute", "None")


class Invalid(Exception):
    def __init__(self, causes):
        super().__init__("; ".join(f"{c[0]}: {c[2]}" for c in causes))
        self.causes = causes


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: not isinstance(v, bool) and (
        isinstance(v, int) or isinstance(v, float) and v.is_integer()),
    "number": lambda v: not isinstance(v, bool) and isinstance(v, (int, float)),
}
_KNOWN_KEYWORDS = {"$ref", "additionalProperties", "allOf", "oneOf", "items", "properties",
                   "required", "type"}


class _Compiler:
    """Compiles the document's schemas into predicates (value -> bool) that accept exactly what
    Draft7Validator accepts for the keywords the document uses (formats are not asserted by
    either). It is only a fast path: when a predicate says no, jsonschema runs and names the
    problems. A schema with any other assertion keyword is not compiled (always jsonschema)."""

    def __init__(self, schemas):
        self.schemas = schemas
        self.cache = {}

    def ref(self, ref):
        name = ref.split("/")[-1]
        if name not in self.cache:
            self.cache[name] = None  # a cycle: filled in below, looked up late
            fn = self.compile(self.schemas[name])
            self.cache[name] = fn
        return lambda v, n=name: self.cache[n](v)

    def compile(self, schema):
        if schema is True or schema == {}:
            return lambda v: True
        for key in schema:
            if key not in _KNOWN_KEYWORDS and not key.startswith("x-") and key not in (
                    "description", "default", "format"):
                raise ValueError(f"keyword {key} not compiled")
        checks = []
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            preds = [_TYPES[t] for t in types]
            checks.append(lambda v, preds=preds: any(p(v) for p in preds))
        for sub in schema.get("allOf", []):
            checks.append(self.compile(sub))
        if "oneOf" in schema:
            subs = [self.compile(x) for x in schema["oneOf"]]
            checks.append(lambda v, subs=subs: sum(1 for f in subs if f(v)) == 1)
        if "required" in schema:
            req = list(schema["required"])
            checks.append(lambda v, req=req: not isinstance(v, dict) or all(k in v for k in req))
        if "properties" in schema or "additionalProperties" in schema:
            props = {k: self.compile(x) for k, x in schema.get("properties", {}).items()}
            extra = schema.get("additionalProperties", True)
            extra_fn = None if extra is True else (lambda v: False) if extra is False else \
                self.compile(extra)

            def obj(v, props=props, extra_fn=extra_fn):
                if not isinstance(v, dict):
                    return True
                for k, x in v.items():
                    f = props.get(k)
                    if f is not None:
                        if not f(x):
                            return False
                    elif extra_fn is not None and not extra_fn(x):
                        return False
                return True
            checks.append(obj)
        if isinstance(schema.get("items"), dict):
            item = self.compile(schema["items"])
            checks.append(lambda v, item=item: not isinstance(v, list) or all(item(x) for x in v))
        if len(checks) == 1:
            return checks[0]
        return lambda v, checks=checks: all(c(v) for c in checks)


class Schemas:
    """The OpenAPI document, with a validator per kind."""

    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        self.schemas = self.doc["components"]["schemas"]
        self.resolver = jsonschema.RefResolver.from_schema(self.doc)
        self.compiler = _Compiler(self.schemas)
        self.fast = {}
        self.unknown_ok = {}

    def fast_valid(self, name, obj):
        """The compiled predicate of a kind, or None when the kind could not be compiled."""
        if name not in self.fast:
            try:
                self.fast[name] = self.compiler.compile(self.schemas[name])
            except (ValueError, KeyError):
                self.fast[name] = None
        f = self.fast[name]
        return None if f is None else f(obj)

    def _resolve(self, schema):
        while "$ref" in schema:
            schema = self.resolver.resolve(schema["$ref"])[1]
        if "allOf" in schema and len(schema["allOf"]) == 1 and "properties" not in schema:
            merged = dict(self._resolve(schema["allOf"][0]))
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            return merged
        return schema

    def check(self, kind, obj):
        name = "io.k8s.api.resource.v1." + kind
        causes = []
        if self.fast_valid(name, obj) is True:
            self._unknown_fields(self.schemas[name], obj, "", causes)
            if causes:
                raise Invalid(causes)
            return
        validator = jsonschema.Draft7Validator(self.schemas[name], resolver=self.resolver)
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in e.path) or "<root>"
            causes.append((path, "FieldValueInvalid", e.message))
        self._unknown_fields(self.schemas[name], obj, "", causes)
        if causes:
            raise Invalid(causes)

    def _unknown_fields(self, schema, value, path, causes):
        schema = self._resolve(schema)
        if isinstance(value, dict) and "properties" in schema:
            for key, sub in value.items():
                if key not in schema["properties"]:
                    if path.startswith("metadata") or path == "" and key in ("apiVersion", "kind"):
                        continue
                    causes.append((f"{path}{key}", "FieldValueNotSupported", f'unknown field "{path}{key}"'))
                    continue
                if path == "" and key == "metadata":
                    continue
                self._unknown_fields(schema["properties"][key], sub, f"{path}{key}.", causes)
        elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
            for key, sub in value.items():
                self._unknown_fields(schema["additionalProperties"], sub, f"{path}{key}.", causes)
        elif isinstance(value, list) and "items" in schema:
            for i, sub in enumerate(value):
                self._unknown_fields(schema["items"], sub, f"{path[:-1]}[{i}].", causes)


def _name_causes(meta, causes, cluster_scoped_subdomain=True):
    name = meta.get("name", "")
    if not name:
        causes.append(("metadata.name", "FieldValueRequired", "name or generateName is required"))
    elif len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        causes.append(("metadata.name", "FieldValueInvalid",
                       f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                       "alphanumeric characters, '-' or '.'"))


def _attribute_key_ok(key):
    if "/" in key:
        domain, _, ident = key.partition("/")
        return (len(domain) <= 63 and DNS_SUBDOMAIN.match(domain) is not None
                and len(ident) <= 32 and C_IDENTIFIER.match(ident) is not None)
    return len(key) <= 32 and C_IDENTIFIER.match(key) is not None


def _node_selector_causes(sel, path, causes):
    terms = sel.get("nodeSelectorTerms") or []
    if len(terms) != 1:
        causes.append((f"{path}.nodeSelectorTerms", "FieldValueInvalid",
                       f"must have exactly one node selector term, got {len(terms)}"))
    for ti, term in enumerate(terms):
        for ei, e in enumerate(term.get("matchExpressions") or []):
            p = f"{path}.nodeSelectorTerms[{ti}].matchExpressions[{ei}]"
            if e.get("operator") not in ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"):
                causes.append((f"{p}.operator", "FieldValueNotSupported", f'"{e.get("operator")}"'))
            if e.get("operator") in ("In", "NotIn") and not e.get("values"):
                causes.append((f"{p}.values", "FieldValueRequired", "must be specified for In/NotIn"))


def _device_causes(dev, path, names, causes, per_device):
    name = dev.get("name", "")
    if not DNS_LABEL.match(name) or len(name) > 63:
        causes.append((f"{path}.name", "FieldValueInvalid", f'"{name}": must be a DNS label'))
    elif name in names:
        causes.append((f"{path}.name", "FieldValueDuplicate", f'"{name}"'))
    names.add(name)
    attrs, caps = dev.get("attributes") or {}, dev.get("capacity") or {}
    if len(attrs) + len(caps) > MAX_ATTRS_AND_CAPS:
        causes.append((path, "FieldValueTooMany",
                       f"the total number of attributes and capacities must not exceed {MAX_ATTRS_AND_CAPS}, "
                       f"got {len(attrs) + len(caps)}"))
    for key, val in attrs.items():
        p = f"{path}.attributes[{key}]"
        if not _attribute_key_ok(key):
            causes.append((p, "FieldValueInvalid", f'"{key}": must be a C identifier or <domain>/<identifier>'))
        kinds = [k for k in ("int", "bool", "string", "version") if k in val]
        if len(kinds) != 1:
            causes.append((p, "FieldValueInvalid", f"exactly one value must be specified, got {len(kinds)}"))
            continue
        if kinds[0] in ("string", "version") and len(val[kinds[0]]) > MAX_ATTR_STRING:
            causes.append((f"{p}.{kinds[0]}", "FieldValueTooLong",
                           f"may not be more than {MAX_ATTR_STRING} bytes"))
        if kinds[0] == "version" and not SEMVER.match(val["version"]):
            causes.append((f"{p}.version", "FieldValueInvalid", f'"{val["version"]}": must be semver 2.0.0'))
    for key, val in caps.items():
        p = f"{path}.capacity[{key}]"
        if not _attribute_key_ok(key):
            causes.append((p, "FieldValueInvalid", f'"{key}": must be a C identifier or <domain>/<identifier>'))
        if not QUANTITY.match(str(val.get("value", ""))):
            causes.append((f"{p}.value", "FieldValueInvalid", f'"{val.get("value")}": not a quantity'))
        if val.get("requestPolicy") and not dev.get("allowMultipleAllocations"):
            causes.append((f"{p}.requestPolicy", "FieldValueForbidden", "requires allowMultipleAllocations"))
    taints = dev.get("taints") or []
    if len(taints) > MAX_TAINTS:
        causes.append((f"{path}.taints", "FieldValueTooMany", f"must have at most {MAX_TAINTS} items"))
    for i, t in enumerate(taints):
        if t.get("effect") not in TAINT_EFFECTS:
            causes.append((f"{path}.taints[{i}].effect", "FieldValueNotSupported",
                           f'"{t.get("effect")}": supported values: "NoSchedule", "NoExecute", "None"'))
        key = t.get("key", "")
        if not key or not all(QUALIFIED_NAME.match(part) for part in key.split("/")[-1:]):
            causes.append((f"{path}.taints[{i}].key", "FieldValueInvalid", f'"{key}": must be a qualified name'))
        if not LABEL_VALUE.match(t.get("value", "")) or len(t.get("value", "")) > 63:
            causes.append((f"{path}.taints[{i}].value", "FieldValueInvalid", "must be a label value"))
    for field in ("bindingConditions", "bindingFailureConditions"):
        if len(dev.get(field) or []) > MAX_BINDING_CONDITIONS:
            causes.append((f"{path}.{field}", "FieldValueTooMany",
                           f"must have at most {MAX_BINDING_CONDITIONS} items"))
    if (dev.get("bindingConditions") or dev.get("bindingFailureConditions")) and not dev.get("bindsToNode") \
            and not dev.get("bindingConditions"):
        causes.append((f"{path}.bindingFailureConditions", "FieldValueForbidden",
                       "requires bindingConditions"))
    selections = [k for k in ("nodeName", "nodeSelector", "allNodes") if dev.get(k)]
    if per_device and len(selections) != 1:
        causes.append((path, "FieldValueInvalid",
                       "exactly one of nodeName, nodeSelector, allNodes is required with perDeviceNodeSelection"))
    if not per_device and selections:
        causes.append((f"{path}.{selections[0]}", "FieldValueForbidden",
                       "only allowed when perDeviceNodeSelection is set in the slice"))
    if dev.get("nodeSelector"):
        _node_selector_causes(dev["nodeSelector"], f"{path}.nodeSelector", causes)


def check_resourceslice(obj, old=None):
    causes = []
    _name_causes(obj.get("metadata", {}), causes)
    spec = obj.get("spec", {})
    driver = spec.get("driver", "")
    if len(driver) > 63 or not DNS_SUBDOMAIN.match(driver):
        causes.append(("spec.driver", "FieldValueInvalid",
                       f'"{driver}": must be a lowercase DNS subdomain of at most 63 characters'))
    pool = spec.get("pool", {})
    pname = pool.get("name", "")
    if not pname or len(pname) > 253 or not all(DNS_SUBDOMAIN.match(p) for p in pname.split("/")):
        causes.append(("spec.pool.name", "FieldValueInvalid",
                       f'"{pname}": must be one or more DNS subdomains separated by "/"'))
    if pool.get("generation", 0) < 0:
        causes.append(("spec.pool.generation", "FieldValueInvalid", "must be greater than or equal to 0"))
    if pool.get("resourceSliceCount", 0) <= 0:
        causes.append(("spec.pool.resourceSliceCount", "FieldValueInvalid", "must be greater than zero"))
    selections = [k for k in ("nodeName", "nodeSelector", "allNodes", "perDeviceNodeSelection") if spec.get(k)]
    if len(selections) != 1:
        causes.append(("spec", "FieldValueInvalid",
                       "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` "
                       f"is required, got {len(selections)}"))
    if spec.get("nodeName") and (len(spec["nodeName"]) > 253 or not DNS_SUBDOMAIN.match(spec["nodeName"])):
        causes.append(("spec.nodeName", "FieldValueInvalid", "must be a DNS subdomain"))
    if spec.get("nodeSelector"):
        _node_selector_causes(spec["nodeSelector"], "spec.nodeSelector", causes)
    devices = spec.get("devices") or []
    tainted = any(d.get("taints") or d.get("consumesCounters") for d in devices)
    limit = MAX_DEVICES_WITH_TAINTS if tainted else MAX_DEVICES
    if len(devices) > limit:
        causes.append(("spec.devices", "FieldValueTooMany",
                       f"must have at most {limit} items{' when devices use taints or counters' if tainted else ''}, "
                       f"got {len(devices)}"))
    if devices and spec.get("sharedCounters"):
        causes.append(("spec", "FieldValueInvalid", "a slice holds either devices or sharedCounters"))
    names = set()
    for i, dev in enumerate(devices):
        _device_causes(dev, f"spec.devices[{i}]", names, causes, bool(spec.get("perDeviceNodeSelection")))
    if old is not None:
        ospec = old.get("spec", {})
        for field, path in (("driver", "spec.driver"), ("nodeName", "spec.nodeName")):
            if ospec.get(field) != spec.get(field):
                causes.append((path, "FieldValueInvalid", "field is immutable"))
        if ospec.get("pool", {}).get("name") != pname:
            causes.append(("spec.pool.name", "FieldValueInvalid", "field is immutable"))
    if causes:
        raise Invalid(causes)


def _requests_causes(devices, path, causes):
    requests = devices.get("requests") or []
    if len(requests) > MAX_REQUESTS:
        causes.append((f"{path}.requests", "FieldValueTooMany", f"must have at most {MAX_REQUESTS} items"))
    seen = set()
    for i, r in enumerate(requests):
        p = f"{path}.requests[{i}]"
        if not DNS_LABEL.match(r.get("name", "")):
            causes.append((f"{p}.name", "FieldValueInvalid", f'"{r.get("name")}": must be a DNS label'))
        if r.get("name") in seen:
            causes.append((f"{p}.name", "FieldValueDuplicate", f'"{r.get("name")}"'))
        seen.add(r.get("name"))
        if ("exactly" in r) == ("firstAvailable" in r):
            causes.append((p, "FieldValueInvalid", "exactly one of `exactly` or `firstAvailable` is required"))
        for sub in ([r["exactly"]] if "exactly" in r else []) + list(r.get("firstAvailable") or []):
            if not sub.get("deviceClassName"):
                causes.append((f"{p}.deviceClassName", "FieldValueRequired", "Required value"))
            sels = sub.get("selectors") or []
            if len(sels) > MAX_SELECTORS:
                causes.append((f"{p}.selectors", "FieldValueTooMany", f"must have at most {MAX_SELECTORS} items"))
            for si, s in enumerate(sels):
                expr = (s.get("cel") or {}).get("expression", "")
                if not expr or len(expr) > MAX_CEL:
                    causes.append((f"{p}.selectors[{si}].cel.expression", "FieldValueInvalid",
                                   f"must be non-empty and at most {MAX_CEL} bytes"))
            if sub.get("count") is not None and sub.get("count") <= 0:
                causes.append((f"{p}.count", "FieldValueInvalid", "must be greater than zero"))
    configs = devices.get("config") or []
    if len(configs) > MAX_CONFIG:
        causes.append((f"{path}.config", "FieldValueTooMany", f"must have at most {MAX_CONFIG} items"))
    for i, c in enumerate(configs):
        opaque = c.get("opaque") or {}
        if len(json.dumps(opaque.get("parameters"))) > MAX_OPAQUE:
            causes.append((f"{path}.config[{i}].opaque.parameters", "FieldValueTooLong",
                           f"must not be larger than {MAX_OPAQUE} bytes"))
        for rn in c.get("requests") or []:
            if rn.split("/")[0] not in seen:
                causes.append((f"{path}.config[{i}].requests", "FieldValueInvalid",
                               f'"{rn}": must be the name of a request in the claim'))


def check_resourceclaim(obj, old=None):
    causes = []
    _name_causes(obj.get("metadata", {}), causes)
    _requests_causes(obj.get("spec", {}).get("devices") or {}, "spec.devices", causes)
    if old is not None and old.get("spec") != obj.get("spec"):
        causes.append(("spec", "FieldValueInvalid", "field is immutable"))
    status = obj.get("status") or {}
    results = ((status.get("allocation") or {}).get("devices") or {}).get("results") or []
    if len(results) > 32:
        causes.append(("status.allocation.devices.results", "FieldValueTooMany", "must have at most 32 items"))
    allocated = {(r.get("driver"), r.get("pool"), r.get("device")) for r in results}
    for i, d in enumerate(status.get("devices") or []):
        if (d.get("driver"), d.get("pool"), d.get("device")) not in allocated:
            causes.append((f"status.devices[{i}]", "FieldValueInvalid",
                           "must match a device in status.allocation.devices.results"))
        if len(d.get("conditions") or []) > 8:
            causes.append((f"status.devices[{i}].conditions", "FieldValueTooMany", "must have at most 8 items"))
    if len(status.get("reservedFor") or []) > 256:
        causes.append(("status.reservedFor", "FieldValueTooMany", "must have at most 256 items"))
    if causes:
        raise Invalid(causes)


def check_resourceclaimtemplate(obj, old=None):
    causes = []
    _name_causes(obj.get("metadata", {}), causes)
    _requests_causes(((obj.get("spec") or {}).get("spec") or {}).get("devices") or {}, "spec.spec.devices", causes)
    if causes:
        raise Invalid(causes)


def check_deviceclass(obj, old=None):
    causes = []
    _name_causes(obj.get("metadata", {}), causes)
    spec = obj.get("spec") or {}
    if len(spec.get("selectors") or []) > MAX_SELECTORS:
        causes.append(("spec.selectors", "FieldValueTooMany", f"must have at most {MAX_SELECTORS} items"))
    for i, s in enumerate(spec.get("selectors") or []):
        expr = (s.get("cel") or {}).get("expression", "")
        if not expr or len(expr) > MAX_CEL:
            causes.append((f"spec.selectors[{i}].cel.expression", "FieldValueInvalid",
                           f"must be non-empty and at most {MAX_CEL} bytes"))
    if len(spec.get("config") or []) > MAX_CONFIG:
        causes.append(("spec.config", "FieldValueTooMany", f"must have at most {MAX_CONFIG} items"))
    if causes:
        raise Invalid(causes)
