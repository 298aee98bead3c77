"""it_controller_leader.py: two controller replicas with leader election on the stand-in API
server: only the leader writes; kill -9 of the leader -> the follower takes over within the
lease duration and rewrites nothing unchanged; SIGTERM releases the Lease -> fast takeover."""
import sys
import time

from harness import ApiServer, Broker, Controller, holder, lease, log, wait_for
import devices

LEASE_S, RENEW_S, RETRY_S = 3, 2, 0.5

api = ApiServer()
broker = Broker()
for d in devices.mixed("lab"):
    devices.announce(broker, d)

args = devices.controller_args(broker) + [
    "--leader-election", "--lease-duration", f"{LEASE_S}s", "--renew-deadline", f"{RENEW_S}s",
    "--retry-period", f"{int(RETRY_S * 1000)}ms", "--startup-delay", "300ms"]
a = Controller(api, "replica-a", args)
b = Controller(api, "replica-b", args)

first = wait_for("a leader", lambda: holder(api) in ("replica-a", "replica-b") and holder(api), 20)
leader, follower = (a, b) if first == "replica-a" else (b, a)
log("leader", leader.name)
wait_for("3 devices published", lambda: sum(len(s["spec"]["devices"]) for s in api.slices("lab")) == 3, 20)
l0 = lease(api)
assert l0["spec"]["leaseDurationSeconds"] == LEASE_S, l0
rt = l0["spec"]["renewTime"]
assert len(rt) == 27 and rt[19] == "." and rt.endswith("Z"), rt

# only the leader writes: a new device shows up once, written by one replica (the request
# log cannot tell replicas apart, so count writes: one create/update per change)
api.clear_requests()
devices.announce(broker, devices.camera("lab", "cam-new"))
wait_for("the new device", lambda: sum(len(s["spec"]["devices"]) for s in api.slices("lab")) == 4, 10)
time.sleep(1.5)
writes = api.slice_writes()
assert len(writes) == 1, f"both replicas wrote? {writes}"
assert holder(api) == leader.name

# kill -9 of the leader: takeover within the lease duration (+ one retry), no rewrites
api.clear_requests()
t0 = time.monotonic()
leader.kill9()
wait_for("takeover", lambda: holder(api) == follower.name, LEASE_S + 3 * RETRY_S + 2)
took = time.monotonic() - t0
log(f"takeover after {took:.2f}s")
assert took <= LEASE_S + 2 * RETRY_S + 1.0, took
time.sleep(2)
assert api.slice_writes() == [], f"new leader rewrote slices: {api.slice_writes()}"
assert follower.alive(), follower.log()

# a third replica joins; SIGTERM on the leader releases the Lease: takeover well before expiry
c = Controller(api, "replica-c", args)
time.sleep(1.5)
assert holder(api) == follower.name
t0 = time.monotonic()
follower.sigterm()
assert follower.wait_exit(10) == 0, follower.log()
wait_for("takeover after release", lambda: holder(api) == "replica-c", LEASE_S + 2)
took = time.monotonic() - t0
log(f"takeover after release {took:.2f}s")
assert took < LEASE_S, took
time.sleep(1)
assert api.slice_writes() == [], api.slice_writes()
log("ok")
sys.exit(0)
