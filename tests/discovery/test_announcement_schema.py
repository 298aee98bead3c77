#!/usr/bin/env python3
"""The published JSON Schema (discovery/announcement.schema.json) is a valid draft-07 schema,
accepts the worked examples, and rejects documents the parser rejects for the same rule."""
import glob
import json
import os
import sys

import jsonschema

src = os.environ["NETDRA_SOURCE_DIR"]
schema = json.load(open(os.path.join(src, "discovery/announcement.schema.json")))
jsonschema.Draft7Validator.check_schema(schema)
v = jsonschema.Draft7Validator(schema)
passed = failed = 0
for f in sorted(glob.glob(os.path.join(src, "deploy/examples/announcements/*.json"))):
    errs = list(v.iter_errors(json.load(open(f))))
    print(("ok  " if not errs else "FAIL"), os.path.basename(f), [e.message for e in errs])
    passed, failed = (passed + 1, failed) if not errs else (passed, failed + 1)
bad = [{"type": "camera", "password": "x"}, {"type": "camera", "attributes": {"type": "x"}},
       {"type": "camera", "attach": {"endpoint": "file:///etc/passwd"}},
       {"type": "camera", "attach": {"endpoint": "rtsp://u:p@h/"}}, {"type": "camera", "ttl": -1},
       {"type": "camera", "reachability": {}}, {"vendor": "x"}, {"type": "camera", "schemaVersion": 2}]
for doc in bad:
    ok = not v.is_valid(doc)
    print(("ok  " if ok else "FAIL"), "rejects", json.dumps(doc))
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
