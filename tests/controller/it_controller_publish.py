"""it_controller_publish.py: devices announced over a real mosquitto -> valid slices on the
stand-in API server; 300 devices -> 3 slices of one generation; a change -> generation rule;
restart -> zero writes; steady state -> zero writes; a slice deleted behind our back -> put
back; injected 409/500/429 -> converges."""
import sys
import time

from harness import ApiServer, Broker, Controller, SLICES, log, wait_for
import devices

api = ApiServer()
broker = Broker()
log("api", api.url, "broker", broker.port)

# three device types in pool "lab", 300 cameras in pool "hall"
for d in devices.mixed("lab"):
    devices.announce(broker, d)
hall = [devices.camera("hall", f"cam{i:03d}") for i in range(300)]
devices.announce_many(broker, hall)

args = devices.controller_args(broker) + ["--leader-election=false", "--startup-delay", "500ms"]
ctl = Controller(api, "solo", args)


def published():
    lab, h = api.slices("lab"), api.slices("hall")
    n_hall = sum(len(s["spec"]["devices"]) for s in h)
    n_lab = sum(len(s["spec"]["devices"]) for s in lab)
    return n_lab == 3 and n_hall == 300 and len(h) == 3 and (lab, h)


lab, hall_slices = wait_for("slices of 3 + 300 devices", published, 60)
assert ctl.alive(), ctl.log()
# every write was accepted by the validating stand-in
bad = [r for r in api.requests() if "/resourceslices" in r["path"] and r["status"] >= 400]
assert not bad, f"rejected writes: {bad}\n{ctl.log()}"
gens = {s["spec"]["pool"]["generation"] for s in hall_slices}
assert len(gens) == 1, gens
assert all(s["spec"]["pool"]["resourceSliceCount"] == 3 for s in hall_slices)
assert sorted(len(s["spec"]["devices"]) for s in hall_slices) == [44, 128, 128]
types = sorted(d["attributes"]["type"]["string"] for s in lab for d in s["spec"]["devices"])
assert types == ["accelerator", "camera", "cxl-memory"], types
log("published", [s["metadata"]["name"] for s in lab + hall_slices])

# steady state: no write over 3 s
api.clear_requests()
time.sleep(3)
assert api.slice_writes() == [], api.slice_writes()

# one device changes: one slice rewritten, generation kept (fact-sheet rule)
api.clear_requests()
changed = devices.camera("hall", "cam250", model="x2")
devices.announce(broker, changed)
def model_changed():
    for s in api.slices("hall"):
        for d in s["spec"]["devices"]:
            if d["attributes"].get("id", {}).get("string") == "cam250":
                return d["attributes"]["model"]["string"] == "x2"
    return False
wait_for("the changed model", model_changed, 10)
time.sleep(0.5)
writes = api.slice_writes()
assert [w["method"] for w in writes] == ["PUT"], writes
assert {s["spec"]["pool"]["generation"] for s in api.slices("hall")} == gens

# restart: zero writes
ctl.sigterm()
assert ctl.wait_exit(10) == 0, ctl.log()
api.clear_requests()
ctl = Controller(api, "solo2", args)
wait_for("the restarted controller's list", lambda: any("/resourceslices" in r["path"] and r["method"] == "GET"
                                                        for r in api.requests()), 20)
time.sleep(3)
assert ctl.alive(), ctl.log()
assert api.slice_writes() == [], f"writes after restart: {api.slice_writes()}"

# someone deletes a slice: put back
victim = api.slices("hall")[1]["metadata"]["name"]
st, _ = api.call("DELETE", f"{SLICES}/{victim}")
assert st == 200, st
wait_for("the deleted slice back", lambda: any(s["metadata"]["name"] == victim for s in api.slices("hall")), 10)
assert sum(len(s["spec"]["devices"]) for s in api.slices("hall")) == 300

# faults: 409, 500, 429 on slice writes while a device changes -> converges
api.fault(method="PUT", path="/resourceslices/", status=409, count=1)
api.fault(method="PUT", path="/resourceslices/", status=500, count=2)
api.fault(method="PUT", path="/resourceslices/", status=429, count=1, retry_after=1)
devices.announce(broker, devices.camera("hall", "cam250", model="x3"))
def converged():
    for s in api.slices("hall"):
        for d in s["spec"]["devices"]:
            if d["attributes"].get("id", {}).get("string") == "cam250":
                return d["attributes"]["model"]["string"] == "x3"
    return False
wait_for("convergence under 409/500/429", converged, 30)
api.clear_faults()
assert ctl.alive(), ctl.log()
log("ok")
sys.exit(0)
