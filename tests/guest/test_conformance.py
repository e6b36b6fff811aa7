#!/usr/bin/env python3
"""Bare-metal conformance payload (tests/conformance) under -accel tcg and
-accel kvm-bt: every check passes, the output is identical, and under
kvm-bt every privileged class and reflection the payload exercises was an
exit to the monitor."""
import json
import os
import subprocess
import sys
import tempfile

import guestlib as g

PAYLOAD = os.path.join(g.GUESTS, "conformance.elf")
results = g.Results()
check = results.check

# what the payload executes in supervisor state, each in a loop
EXPECTED_EXITS = ["mfmsr", "mtmsr", "wrtee", "wrteei", "mfspr", "mtspr", "rfi", "rfci",
                  "tlbwe", "tlbre", "tlbsx", "tlbivax", "tlbilx", "tlbsync",
                  "syscall", "decrementer", "program", "dtlb-miss", "itlb-miss", "dsi",
                  "alignment"]



def run(accel):
    args = [g.QEMU, "-M", "ppce500", "-cpu", "e500mc", "-m", "256", "-nographic", "-nic", "none",
            "-no-reboot", "-accel", accel, "-kernel", PAYLOAD]
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    lines = [l.strip() for l in p.stdout.splitlines()
             if l.startswith(("PASS ", "FAIL ", "INFO ", "CONFORMANCE"))]
    return p.returncode, lines, p.stdout + p.stderr, p.stderr


def main():
    if not os.path.exists(PAYLOAD):
        sys.exit(f"{PAYLOAD} missing: run 'make guests'")
    rc, ref, out, _ = run("tcg")
    check(rc == 0 and ref and ref[-1].startswith("CONFORMANCE done"), "tcg: payload runs to power-off",
          out[-1500:])
    for line in ref:
        if line.startswith(("PASS", "FAIL")):
            check(line.startswith("PASS"), f"tcg: {line[5:]}")
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        rc, lines, out, err = run(f"kvm-bt,bt=off,stats-file={stats_path}")
        check(rc == 0, "kvm-bt: payload runs to power-off", out[-1500:])
        check(lines == ref, "kvm-bt: output identical to tcg",
              "\n".join(f"  tcg: {a}\n  kvm-bt: {b}" for a, b in zip(ref, lines) if a != b)
              or f"{len(lines)} vs {len(ref)} lines")
        for line in lines:
            if line.startswith(("PASS", "FAIL")):
                check(line.startswith("PASS"), f"kvm-bt: {line[5:]}")
        with open(stats_path) as f:
            stats = json.load(f)
        by_class = g.by_class(stats)
    warnings = [l for l in err.splitlines() if "cannot classify privileged instruction" in l]
    other = [s for s in stats["sites"] if s["class"] == "priv-other"]
    check(other and len(warnings) == len(other) and
          all(any(f"at 0x{s['ea']:08x}" in w for w in warnings) for s in other),
          "kvm-bt: one warning per unclassified site", f"{warnings} for {other}")
    check(by_class.get("priv-other", 0) == 64, "kvm-bt: unclassified instruction exits and runs",
          f"{by_class.get('priv-other', 0)} priv-other exits")
    for cls in EXPECTED_EXITS:
        check(by_class.get(cls, 0) >= 32, f"kvm-bt: '{cls}' exits to the monitor",
              f"{by_class.get(cls, 0)} exits")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
