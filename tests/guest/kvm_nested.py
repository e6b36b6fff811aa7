#!/usr/bin/env python3
"""make kvm-nested: the e500v2 guests under real Linux KVM on the nested host.

Boots the KVM host under the outer QEMU (-icount shift=0,sleep=off -seed 1),
runs the stock and the PV e500v2 guest under the inner QEMU's -accel kvm, and
prints KVM's own counters for each VM, by phase (boot, each workload line),
with the outer machine's executed instructions (the cost on the real KVM
code path). --quick uses the tests' small workload. --json writes the numbers.
"""
import argparse
import json
import sys

import guestlib
import nestedlib

# KVM's *_real_miss: the guest had no mapping, the miss is reflected to it;
# *_virt_miss: the guest had one and KVM refilled its shadow TLB.
COUNTERS = ["emulated_inst_exits", "syscall_exits", "dtlb_real_miss_exits",
            "dtlb_virt_miss_exits", "itlb_real_miss_exits", "itlb_virt_miss_exits",
            "isi_exits", "dsi_exits", "dec_exits", "mmio_exits", "signal_exits",
            "halt_wakeup", "ext_intr_exits"]


def run(flavours, iters, timeout, keep=None):
    runs = [nestedlib.InnerRun(fl.replace("e500v2-", ""), fl, iters=iters, timeout=timeout)
            for fl in flavours]
    return nestedlib.run_nested(runs, timeout * len(runs) + 300, keep=keep)


def summarize(n):
    out = {"host": n.host, "errors": n.errors, "outer_seconds": round(n.seconds, 1),
           "outer_total_insns": n.total_insns, "runs": {}}
    for name, r in n.results.items():
        phases = r.phase_insns() or []
        per_phase = {}
        for i, (ph, insns) in enumerate(phases):
            row = {"host_insns": insns}
            for c in COUNTERS:
                ex = r.phase_exits(c)
                if ex and i < len(ex):
                    row[c] = ex[i][1]
            per_phase[ph] = row
        guest_ns = {f["bench"]: int(f["total_ns"]) for what, f in r.rows if what == "RESULT"}
        boot = [int(f["uptime_ns"]) for what, f in r.rows if what == "BOOT"]
        out["runs"][name] = {
            "ok": r.ok, "errors": r.errors, "kvm": r.kvm or {}, "host_insns": r.host_insns,
            "phases": per_phase, "guest_ns": guest_ns, "guest_boot_ns": boot[0] if boot else None,
            "workload": guestlib.deterministic(r.rows),
        }
    return out


def print_report(s):
    print(f"host: Linux {s['host'].get('release', '?')}; outer QEMU ran {s['outer_seconds']} s, "
          f"{(s['outer_total_insns'] or 0) / 1e6:,.0f} M instructions in all")
    for e in s["errors"]:
        print(f"ERROR: {e}")
    for name, r in s["runs"].items():
        print(f"\n== {name}: {'ok' if r['ok'] else 'FAILED ' + str(r['errors'])}; "
              f"host instructions {r['host_insns'] or 0:,}")
        kvm = {k: v for k, v in r["kvm"].items() if v and k.endswith(("exits", "_wakeup"))}
        print("   KVM counters: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kvm.items())))
        cols = [c for c in COUNTERS if any(ph.get(c) for ph in r["phases"].values())]
        print(f"   {'phase':<10} {'host Minsns':>12} " + " ".join(f"{c[:16]:>16}" for c in cols))
        for ph, row in r["phases"].items():
            print(f"   {ph:<10} {row['host_insns'] / 1e6:>12.2f} "
                  + " ".join(f"{row.get(c, 0):>16,}" for c in cols))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the tests' small workload")
    ap.add_argument("--flavours", default="e500v2-stock,e500v2-pv")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--console", help="write the outer console here")
    a = ap.parse_args()
    missing = nestedlib.need_pieces()
    if missing:
        sys.exit(f"kvm-nested: missing {missing}: run 'make kvm-nested'")
    iters = guestlib.TEST_ITERS if a.quick else None
    n = run(a.flavours.split(","), iters, 600 if a.quick else 1800, keep=a.console)
    s = summarize(n)
    print_report(s)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1)
    return 0 if not s["errors"] and all(r["ok"] for r in s["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
