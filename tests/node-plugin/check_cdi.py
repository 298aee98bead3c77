#!/usr/bin/python3
"""check_cdi.py: validate CDI spec files written by netdra-node-plugin (test equipment).

Checks each file against cdi_spec.schema.json (strict) and the semantic CDI rules the schema
cannot express: unique device names, and a cdiVersion that is at least what the content needs
and at most 0.5.0 (podman 4.3 rejects 0.6.0 and later). Exit 0 when all files pass; otherwise
prints one line per fault naming the file and exits 1.
usage: check_cdi.py SPEC.json..."""
import json
import os
import sys

import jsonschema

VERSIONS = ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"]


def needed_version(spec):
    need = 0

    def bump(v):
        nonlocal need
        need = max(need, VERSIONS.index(v))

    edits = [spec.get("containerEdits", {})] + [d["containerEdits"] for d in spec["devices"]]
    for d in spec["devices"]:
        if d["name"][0].isdigit():
            bump("0.5.0")
        if "annotations" in d:
            bump("0.6.0")
    if "annotations" in spec:
        bump("0.6.0")
    if "." in spec["kind"].split("/", 1)[1]:
        bump("0.6.0")
    for e in edits:
        if any("type" in m for m in e.get("mounts", [])):
            bump("0.4.0")
        if any("hostPath" in n for n in e.get("deviceNodes", [])):
            bump("0.5.0")
        if e.get("additionalGids") or "intelRdt" in e:
            bump("0.7.0")
        if e.get("netDevices"):
            bump("1.1.0")
    return VERSIONS[need]


def check(path, schema):
    faults = []
    base = os.path.basename(path)
    if not (base.endswith(".json") or base.endswith(".yaml")):
        faults.append(f"{path}: CDI runtimes only read *.json and *.yaml")
    mode = os.stat(path).st_mode & 0o777
    if mode != 0o644:
        faults.append(f"{path}: mode {oct(mode)} (want 0644)")
    with open(path) as f:
        spec = json.load(f)
    for err in jsonschema.Draft7Validator(schema).iter_errors(spec):
        faults.append(f"{path}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
    if faults:
        return faults
    names = [d["name"] for d in spec["devices"]]
    if len(names) != len(set(names)):
        faults.append(f"{path}: duplicate device names {names}")
    need = needed_version(spec)
    have = spec["cdiVersion"]
    if VERSIONS.index(have) < VERSIONS.index(need):
        faults.append(f"{path}: cdiVersion {have} is lower than the {need} its content needs")
    if VERSIONS.index(have) > VERSIONS.index(need):
        faults.append(f"{path}: cdiVersion {have} is not the lowest sufficient ({need})")
    if VERSIONS.index(have) > VERSIONS.index("0.5.0"):
        faults.append(f"{path}: cdiVersion {have} is rejected by podman 4.3")
    return faults


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cdi_spec.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    faults = []
    for p in sys.argv[1:]:
        faults += check(p, schema)
    for line in faults:
        print(line)
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
