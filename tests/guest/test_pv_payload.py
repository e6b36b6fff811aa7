#!/usr/bin/env python3
"""Bare-metal PV payload (tests/conformance/pv.c): under -accel kvm-bt,pv=on
every hypercall and magic-page check passes and the monitor counted at least
as many hypercall exits as the payload made; under -accel tcg and -accel
kvm-bt without pv the payload finds no PV interface ("INFO pv=absent"), its
remaining checks pass and the two outputs are identical."""
import json
import os
import re
import subprocess
import sys
import tempfile

import guestlib as g

PAYLOAD = os.path.join(g.GUESTS, "pv.elf")
results = g.Results()
check = results.check

DONE_RE = re.compile(r"^PV done passed=(\d+) failed=(\d+)$")
HCALLS_RE = re.compile(r"^INFO pv\.hypercalls=0x([0-9a-f]+)$")
# hypercalls the payload makes with PV present, at the least (pv.c's loops)
MIN_HYPERCALLS = 64


def run(accel):
    args = [g.QEMU, "-M", "ppce500", "-cpu", "e500mc", "-m", "256", "-nographic", "-nic", "none",
            "-no-reboot", "-accel", accel, "-kernel", PAYLOAD]
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        return None, [], out + "\n[timed out after 120s]", ""
    lines = [l.strip() for l in p.stdout.splitlines()
             if l.startswith(("PASS ", "FAIL ", "INFO ", "PV "))]
    return p.returncode, lines, p.stdout + p.stderr, p.stderr


def check_run(tag, rc, lines, out):
    """Power-off, the done line, every check PASS; returns the done line's counts."""
    check(rc == 0, f"{tag}: payload runs to power-off", out[-1500:])
    done = DONE_RE.match(lines[-1]) if lines else None
    check(done is not None, f"{tag}: done line", out[-1500:])
    for line in lines:
        if line.startswith(("PASS", "FAIL")):
            check(line.startswith("PASS"), f"{tag}: {line[5:]}")
    if done:
        check(done.group(2) == "0" and int(done.group(1)) > 0,
              f"{tag}: done line reports no failures", lines[-1])


def main():
    if not os.path.exists(PAYLOAD):
        sys.exit(f"{PAYLOAD} missing: run 'make guests'")

    # without PV: tcg, and kvm-bt with pv off
    rc, ref, out, _ = run("tcg")
    check_run("tcg", rc, ref, out)
    check("INFO pv=absent" in ref, "tcg: payload finds no PV interface", out[-1500:])
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        rc, lines, out, _ = run(f"kvm-bt,bt=off,stats-file={stats_path}")
        check_run("kvm-bt", rc, lines, out)
        check("INFO pv=absent" in lines, "kvm-bt: payload finds no PV interface (pv off)",
              out[-1500:])
        check(lines == ref, "kvm-bt: output identical to tcg",
              "\n".join(f"  tcg: {a}\n  kvm-bt: {b}" for a, b in zip(ref, lines) if a != b)
              or f"{len(lines)} vs {len(ref)} lines")
        by_class = {}
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                by_class = g.by_class(json.load(f))
        check(by_class.get("hypercall", 0) == 0 and by_class.get("syscall", 0) >= 64,
              "kvm-bt: the hypercall sequence is an ordinary syscall with pv off",
              f"{by_class.get('hypercall', 0)} hypercall, {by_class.get('syscall', 0)} syscall exits")

    # with PV
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        rc, lines, out, _ = run(f"kvm-bt,bt=off,pv=on,stats-file={stats_path}")
        check_run("kvm-bt,pv=on", rc, lines, out)
        check("INFO pv=present" in lines, "kvm-bt,pv=on: payload finds the PV interface",
              out[-1500:])
        made = [int(m.group(1), 16) for m in map(HCALLS_RE.match, lines) if m]
        check(made and made[0] >= MIN_HYPERCALLS, "kvm-bt,pv=on: payload reports its hypercalls",
              f"{made}")
        by_class = None
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                by_class = g.by_class(json.load(f))
        check(by_class is not None, "kvm-bt,pv=on: stats-file written", out[-1500:])
        if by_class is not None and made:
            check(by_class.get("hypercall", 0) >= made[0],
                  "kvm-bt,pv=on: every hypercall is a 'hypercall' exit",
                  f"{by_class.get('hypercall', 0)} hypercall exits for {made[0]} hypercalls")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
