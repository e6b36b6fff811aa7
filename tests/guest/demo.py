#!/usr/bin/env python3
"""The main demo: boot the stock guest under -accel tcg (bare-metal
reference) and -accel kvm-bt (trap-and-emulate), run the workload in both,
and print the workload side by side and kvm-bt's exit table."""
import json
import os
import sys
import tempfile

import guestlib as g


def boot(accel, extra=()):
    print(f"booting the stock guest under -accel {accel} ...", flush=True)
    rc, out, secs = g.run_guest(g.qemu_args(accel, extra=extra), 900)
    rows = g.parse_workload(out)
    if rc != 0 or not any(w == "DONE" for w, _ in rows):
        print(out[-4000:])
        sys.exit(f"demo: guest under {accel} did not finish (exit code {rc})")
    return rows, secs


def results(rows):
    return {f["bench"]: f for w, f in rows if w == "RESULT"}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        native, native_secs = boot("tcg")
        trap, trap_secs = boot(f"kvm-bt,stats-file={stats_path}")
        with open(stats_path) as f:
            stats = json.load(f)

    n, t = results(native), results(trap)
    print(f"\n{'workload':<12}{'iterations':>11}{'tcg us/op':>12}{'kvm-bt us/op':>14}")
    for bench in g.BENCHES:
        if bench in n and bench in t:
            print(f"{bench:<12}{n[bench]['iters']:>11}{int(n[bench]['per_op_ns']) / 1000:>12.2f}"
                  f"{int(t[bench]['per_op_ns']) / 1000:>14.2f}")
    boot_n = int(dict(native)["BOOT"]["uptime_ns"]) / 1e9
    boot_t = int(dict(trap)["BOOT"]["uptime_ns"]) / 1e9
    print(f"{'boot->init':<12}{'':>11}{boot_n * 1e6:>12.0f}{boot_t * 1e6:>14.0f}")
    print(f"host wall time: tcg {native_secs:.1f} s, kvm-bt {trap_secs:.1f} s")

    ex = g.exits(stats)
    print(f"\nkvm-bt exits: {ex['total']} total = {ex['privileged']} privileged instructions"
          f" + {ex['reflected']} reflected interrupts")
    for cls, count in sorted(ex["by_class"].items(), key=lambda kv: -kv[1]):
        print(f"  {cls:<18}{count:>10}{100 * count / ex['total']:>8.1f}%")
    print("\nhottest exit sites:")
    print(f"  {'ea':<12}{'instruction':<22}{'exits':>10}")
    for s in stats["sites"][:10]:
        print(f"  0x{s['ea']:08x}  {s['insn']:<22}{s['count']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
