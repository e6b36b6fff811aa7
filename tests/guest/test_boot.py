#!/usr/bin/env python3
"""Boot the stock guest under plain TCG (the bare-metal reference): the boot
marker, every workload line with its expected check value, and power-off."""
import sys

import guestlib as g

TIMEOUT = 300


def main():
    results = g.Results()
    check = results.check

    rc, out, secs = g.run_guest(g.qemu_args("tcg", iters=g.TEST_ITERS), TIMEOUT)
    rows = g.parse_workload(out)
    what = [w for w, _ in rows]
    check(rc is not None, "guest powers off before the timeout", f"killed after {TIMEOUT}s")
    check(rc == 0, "QEMU exits 0 on guest power-off", f"exit code {rc}")
    check("BOOT" in what and int(dict(rows)["BOOT"].get("uptime_ns", 0)) > 0,
          "boot marker with uptime")
    res = {f["bench"]: f for w, f in rows if w == "RESULT"}
    for b in g.BENCHES:
        f = res.get(b)
        n = g.TEST_ITERS[b]
        check(f is not None and int(f["iters"]) == n, f"workload {b}: ran {n} iterations", str(f))
        if f:
            want = g.expected_check(b, n)
            check(int(f["check"]) == want, f"workload {b}: check value", f"{f['check']} != {want}")
    check("DONE" in what and "ERROR" not in what, "workload done without errors")
    if not all(results.outcomes):
        print(out[-3000:])
    print(f"boot under tcg: {secs:.1f}s")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
