"""it_controller_health.py: a device whose MQTT last will fires (availability -> offline) gets
the netdra.dev/unreachable NoSchedule taint within 1 s, the pool's slice limit drops to 64;
when it comes back the taint stays for the hysteresis period and is then removed; a device
that stays offline is removed after the grace period."""
import sys
import time

from harness import ApiServer, Broker, Controller, log, wait_for
import devices

HYSTERESIS_S = 3
GRACE_S = 6

api = ApiServer()
broker = Broker()
cams = [devices.camera("yard", f"cam{i}") for i in range(3)]
for d in cams:
    devices.announce(broker, d)
    devices.set_online(broker, d, True)

ctl = Controller(api, "solo", devices.controller_args(broker) + [
    "--leader-election=false", "--startup-delay", "300ms",
    "--recovery-hysteresis", f"{HYSTERESIS_S}s", "--taint-grace-period", f"{GRACE_S}s"])


def device(dev_id):
    for s in api.slices("yard"):
        for d in s["spec"]["devices"]:
            if d["attributes"].get("id", {}).get("string") == dev_id:
                return d
    return None


def tainted(dev_id):
    d = device(dev_id)
    return d is not None and any(t["key"] == "netdra.dev/unreachable" and t["effect"] == "NoSchedule"
                                 for t in d.get("taints", []))


wait_for("3 devices", lambda: all(device(d["id"]) for d in cams), 20)
assert not tainted("cam1")

# the device goes away: its last will marks it offline -> taint within 1 s
t0 = time.monotonic()
devices.set_online(broker, cams[1], False)
wait_for("the taint", lambda: tainted("cam1"), 5, interval=0.02)
took = time.monotonic() - t0
log(f"taint after {took:.2f}s")
assert took <= 1.0 + 0.3, took  # 0.3 s for mosquitto_pub start-up
taint = [t for t in device("cam1")["taints"] if t["key"] == "netdra.dev/unreachable"][0]
assert taint["value"] == "true" and "timeAdded" in taint, taint
assert not tainted("cam0") and not tainted("cam2")

# back online: the taint stays for the hysteresis period, then goes
t1 = time.monotonic()
devices.set_online(broker, cams[1], True)
time.sleep(HYSTERESIS_S * 0.5)
assert tainted("cam1"), "taint lifted before the hysteresis period"
wait_for("the taint lifted", lambda: not tainted("cam1"), HYSTERESIS_S + 5)
lifted = time.monotonic() - t1
log(f"taint lifted after {lifted:.2f}s")
assert lifted >= HYSTERESIS_S - 0.2, lifted

# offline for good: tainted at once, removed after the grace period
t2 = time.monotonic()
devices.set_online(broker, cams[2], False)
wait_for("the taint on cam2", lambda: tainted("cam2"), 5)
wait_for("cam2 removed", lambda: device("cam2") is None, GRACE_S + 40)
gone = time.monotonic() - t2
log(f"cam2 removed after {gone:.2f}s")
assert gone >= GRACE_S - 0.5, gone
assert ctl.alive(), ctl.log()
log("ok")
sys.exit(0)
