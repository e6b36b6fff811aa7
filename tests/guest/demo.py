#!/usr/bin/env python3
"""The main demo: boot the stock guest, run the workload with its default
repetition counts and print what it measured."""
import sys

import guestlib as g


def main():
    print(f"booting {g.kernel('stock')} under -accel tcg ...", flush=True)
    rc, out, secs = g.run_guest(g.qemu_args("tcg"), 900)
    rows = g.parse_workload(out)
    if rc != 0 or not any(w == "DONE" for w, _ in rows):
        print(out[-4000:])
        print(f"demo: guest did not finish (exit code {rc})")
        return 1
    boot = dict(rows)["BOOT"]
    print(f"\nguest reached init after {int(boot['uptime_ns']) / 1e9:.3f} s of guest time; "
          f"host wall time {secs:.1f} s\n")
    print(f"{'benchmark':<12}{'iterations':>12}{'per op (guest us)':>20}")
    for what, f in rows:
        if what == "RESULT":
            print(f"{f['bench']:<12}{f['iters']:>12}{int(f['per_op_ns']) / 1000:>20.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
