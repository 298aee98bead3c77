"""devices.py: device announcements for the controller's integration tests, in one place.

The wire format (topics and payload) is the discovery module's (docs/announcements.md); this
file is the only place the controller tests depend on it:
  retained description  <prefix>/<pool>/<id>/config        JSON document
  availability          <prefix>/<pool>/<id>/availability  "online" | "offline" (last will)
"""
PREFIX = "netdra/v1"


def camera(pool, dev_id, model="x1"):
    return {"pool": pool, "id": dev_id,
            "doc": {"schemaVersion": 1, "id": dev_id, "type": "camera", "vendor": "acme",
                    "model": model, "attributes": {"resolution": "1080p"},
                    "attach": {"endpoint": f"rtsp://10.0.{len(dev_id)}.1/stream"}}}


def cxl(pool, dev_id):
    return {"pool": pool, "id": dev_id,
            "doc": {"schemaVersion": 1, "id": dev_id, "type": "cxl-memory", "vendor": "fabrikam",
                    "model": "cxl2", "capacities": {"memory": "64Gi"},
                    "attach": {"endpoint": "http://127.0.0.1:9/", "fabricRegion": "r0"}}}


def accelerator(pool, dev_id):
    return {"pool": pool, "id": dev_id,
            "doc": {"schemaVersion": 1, "id": dev_id, "type": "accelerator", "vendor": "initech",
                    "model": "npu1", "capacities": {"sessions": 4},
                    "attach": {"endpoint": "http://127.0.0.1:9/"}}}


def mixed(pool):
    return [camera(pool, "cam0"), cxl(pool, "cxl0"), accelerator(pool, "acc0")]


def topic(d):
    return f"{PREFIX}/{d['pool']}/{d['id']}"


def announce(broker, d):
    broker.publish(topic(d) + "/config", d["doc"], retain=True)


def announce_many(broker, devs):
    for d in devs:
        announce(broker, d)


def set_online(broker, d, online):
    broker.publish(topic(d) + "/availability", "online" if online else "offline", retain=True)


def controller_args(broker):
    return ["--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port),
            "--mqtt-topic-prefix", PREFIX]
