#!/usr/bin/env python3
"""Run every kvm-bt test suite and print one closing tally.

Each suite is a command that prints its own "N passed, N failed" line last;
a suite that crashes or prints no tally counts as one failure. Select suites
by name: tests/run.py unit boot.
"""
import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("KVM_BT_CACHE") or os.path.expanduser("~/.cache/kvm-bt")
CORE = os.path.join(CACHE, "core-build")
PY = sys.executable

SUITES = [
    ("unit-ppc-insn", [os.path.join(CORE, "test-ppc-insn")]),
    ("unit-site-table", [os.path.join(CORE, "test-site-table")]),
    ("unit-bt", [os.path.join(CORE, "test-bt")]),
    ("unit-cluster", [os.path.join(CORE, "test-cluster")]),
    ("unit-kvm-abi", [PY, "tests/unit/kvm-abi-check.py"]),
    ("oracle", [PY, "tests/unit/ppc-insn-oracle.py", os.path.join(CORE, "ppc-insn-tool")]),
    ("unit-sanitize", [PY, "tests/sanitize.py", "--unit"]),
    ("qtest", [PY, "tests/qtests.py"]),
    ("boot", [PY, "tests/guest/test_boot.py"]),
    ("kvm-bt", [PY, "tests/guest/test_kvm_bt.py"]),
    ("conformance", [PY, "tests/guest/test_conformance.py"]),
    ("pv-payload", [PY, "tests/guest/test_pv_payload.py"]),
    ("pv", [PY, "tests/guest/test_pv.py"]),
    ("bt", [PY, "tests/guest/test_bt.py"]),
    ("neutral", [PY, "tests/guest/test_neutral.py"]),
    ("fuzz", [PY, "tests/fuzz/fuzz.py", "check"]),
    ("hostile", [PY, "tests/guest/test_hostile.py"]),
    ("e500v2", [PY, "tests/guest/test_e500v2.py"]),
    ("privcount", [PY, "tests/guest/test_privcount.py"]),
    ("kvm-bt-stat", [PY, "tests/guest/test_kvm_bt_stat.py"]),
    ("kvm-nested", [PY, "tests/guest/test_kvm_nested.py"]),
    ("kvm-bt-real", [PY, "tests/guest/test_kvm_bt_real.py"]),
    ("bench-quick", [PY, "tests/guest/test_bench_quick.py"]),
    ("cross-qemu", [PY, "tests/guest/test_cross_qemu.py"]),
]
TALLY = re.compile(r"(\d+) passed, (\d+) failed")


def run_suite(name, cmd):
    print(f"=== {name}: {' '.join(os.path.relpath(c, TOP) if c.startswith(TOP) else c for c in cmd)}",
          flush=True)
    start = time.monotonic()
    p = subprocess.Popen(cmd, cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tally = None
    for line in p.stdout:
        sys.stdout.write("  " + line)
        sys.stdout.flush()
        m = TALLY.search(line)
        if m:
            tally = (int(m.group(1)), int(m.group(2)))
    rc = p.wait()
    secs = time.monotonic() - start
    if tally is None or (rc != 0 and tally[1] == 0):
        print(f"=== {name}: exit code {rc} without a failure tally: counted as failed")
        tally = (tally[0] if tally else 0, max(1, tally[1] if tally else 1))
    elif tally == (0, 0):
        # a suite that checked nothing tested nothing
        print(f"=== {name}: ran no check: counted as failed")
        tally = (0, 1)
    print(f"=== {name}: {tally[0]} passed, {tally[1]} failed ({secs:.0f}s)", flush=True)
    return tally


def main():
    want = sys.argv[1:]
    unknown = set(want) - {n for n, _ in SUITES}
    if unknown:
        sys.exit(f"unknown suite(s): {', '.join(sorted(unknown))}")
    passed = failed = 0
    failed_suites = []
    for name, cmd in SUITES:
        if want and name not in want:
            continue
        p, f = run_suite(name, cmd)
        passed += p
        failed += f
        if f:
            failed_suites.append(name)
    if failed_suites:
        print("failed suites: " + ", ".join(failed_suites))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
