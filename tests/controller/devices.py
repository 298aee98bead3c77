"""devices.py: device announcements for the controller's integration tests, in one place.

The wire format (topics and payload) is the discovery module's (docs/announcements.md); this
file is the only place the controller tests depend on it:
  retained description  <prefix>/<pool>/<id>               JSON document
  availability          <prefix>/<pool>/<id>/availability  "online" | "offline" (last will)
"""
PREFIX = "netdra/v1"


def camera(pool, dev_id, model="x1"):
    return {"pool": pool, "id": dev_id,
            "doc": {"type": "camera", "vendor": "acme", "model": model,
                    "endpoint": f"rtsp://10.0.0.{abs(hash(dev_id)) % 250 + 1}/stream",
                    "attributes": {"resolution": "1080p"}}}


def cxl(pool, dev_id):
    return {"pool": pool, "id": dev_id,
            "doc": {"type": "cxl-memory", "vendor": "fabrikam", "model": "cxl2",
                    "endpoint": "http://127.0.0.1:9/", "fabricRegion": "r0",
                    "capacity": {"memory": "64Gi"}}}


def accelerator(pool, dev_id):
    return {"pool": pool, "id": dev_id,
            "doc": {"type": "accelerator", "vendor": "initech", "model": "npu1",
                    "endpoint": "http://127.0.0.1:9/", "capacity": {"sessions": "4"}}}


def mixed(pool):
    return [camera(pool, "cam0"), cxl(pool, "cxl0"), accelerator(pool, "acc0")]


def topic(d):
    return f"{PREFIX}/{d['pool']}/{d['id']}"


def announce(broker, d):
    broker.publish(topic(d), d["doc"], retain=True)


def announce_many(broker, devs):
    for d in devs:
        announce(broker, d)


def set_online(broker, d, online):
    broker.publish(topic(d) + "/availability", "online" if online else "offline", retain=True)


def controller_args(broker):
    return ["--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port),
            "--mqtt-topic-prefix", PREFIX]
