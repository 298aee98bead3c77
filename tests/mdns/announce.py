#!/usr/bin/env python3
"""mDNS announcer for tests (a real DNS-SD responder: python3-zeroconf), run inside a network
namespace the test created. Commands on stdin, one per line:
  register <type> <instance> <port> <ttl> [key=value ...]
  unregister <instance>        (sends a goodbye)
  exit                         (unregisters all, then exits)
Prints "ok <command>" after each command. SIGKILL leaves records to expire by TTL."""
import sys

from zeroconf import IPVersion, ServiceInfo, Zeroconf


def main():
    ip = sys.argv[1]
    zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
    services = {}
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd = parts[0]
        if cmd == "register":
            stype, inst, port, ttl = parts[1], parts[2], int(parts[3]), int(parts[4])
            props = dict(kv.split("=", 1) if "=" in kv else (kv, None) for kv in parts[5:])
            info = ServiceInfo(f"{stype}.local.", f"{inst}.{stype}.local.", port=port,
                               properties=props, addresses=[bytes(map(int, ip.split(".")))],
                               server=f"{inst}.local.", host_ttl=ttl, other_ttl=ttl)
            zc.register_service(info)
            services[inst] = info
        elif cmd == "unregister":
            zc.unregister_service(services.pop(parts[1]))
        elif cmd == "exit":
            zc.unregister_all_services()
            zc.close()
            print("ok exit", flush=True)
            return
        print(f"ok {cmd}", flush=True)


if __name__ == "__main__":
    main()
