#!/usr/bin/env python3
"""Run QEMU's ppc qtests (meson suite qtest-ppc: upstream's and our kvm-bt-test)
against the kvm-bt build of qemu-system-ppc, and print one tally.

The list, each test's environment and its timeout come from meson itself
(meson introspect --tests), so this runs what "make check-qtest-ppc" runs.
Every TAP "ok" is a passed check and every "not ok" a failed one; a binary
that dies or times out is a failure; a binary that registers no case for
ppc is listed with the reason. scripts/build-qtests.sh builds them.
"""
import json
import os
import re
import subprocess
import sys
import time

CACHE = os.environ.get("KVM_BT_CACHE") or os.path.expanduser("~/.cache/kvm-bt")
BUILD = os.path.join(CACHE, "qemu", "build")
# meson's timeouts assume an idle many-core host; ours has two cores, shared
TIMEOUT_FACTOR = 4

# Binaries of the suite that register no test case for qemu-system-ppc.
NO_CASES = {
    "cdrom-test": "its ppc cases are for ppc64 (pseries, powernv) only",
    "qos-test": "libqos has no 32-bit ppc machine (its ppc driver is ppc64 pseries)",
}
# Upstream's ppc qtests that QEMU 7.2 does not build at all, and why.
NOT_BUILT = {
    "prom-env-test": "tests/qtest/meson.build tests config_all_devices for CONFIG_TCG, "
                     "which is never set there",
    "boot-serial-test": "same condition as prom-env-test",
}

TAP_OK = re.compile(r"^ok \d+ (\S+)(.*)$")
TAP_NOT_OK = re.compile(r"^not ok \d+ (\S+)")
TAP_PLAN = re.compile(r"^1\.\.(\d+)")


def meson_tests():
    out = subprocess.run(["meson", "introspect", "--tests"], cwd=BUILD, check=True,
                         capture_output=True, text=True,
                         env=dict(os.environ, PATH="/usr/bin:" + os.environ["PATH"])).stdout
    return [t for t in json.loads(out) if "qemu:qtest-ppc" in t["suite"]]


def run(test):
    name = os.path.basename(test["cmd"][0])
    env = dict(os.environ, **test.get("env", {}))
    timeout = test.get("timeout", 30) * TIMEOUT_FACTOR
    start = time.monotonic()
    try:
        p = subprocess.run(test["cmd"], cwd=BUILD, env=env, capture_output=True, text=True,
                           timeout=timeout)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        out, rc = out + f"\nkilled after {timeout} s", None
    secs = time.monotonic() - start
    passed = failed = skipped = 0
    plan = None
    for line in out.splitlines():
        m = TAP_OK.match(line)
        if m:
            if "# SKIP" in m.group(2):
                skipped += 1
                print(f"  SKIP {m.group(1)}{m.group(2)}")
            else:
                passed += 1
            continue
        m = TAP_NOT_OK.match(line)
        if m:
            failed += 1
            print(f"  FAIL {m.group(1)}")
            continue
        m = TAP_PLAN.match(line)
        if m:
            plan = int(m.group(1))
    if rc != 0 or (plan is not None and passed + failed + skipped != plan):
        # died, timed out or stopped short of its plan: whatever it printed last says why
        failed += 1
        tail = [ln for ln in out.splitlines() if not ln.startswith("# starting QEMU")][-6:]
        print(f"  FAIL {name}: exit {rc}, {passed + failed - 1 + skipped} of {plan} cases reported")
        for ln in tail:
            print(f"       {ln}")
    return name, passed, failed, skipped, plan, secs


def main():
    tests = meson_tests()
    if not tests:
        print("no qtest-ppc tests in the QEMU build (run scripts/build-qtests.sh)")
        print("0 passed, 1 failed")
        return 1
    total_p = total_f = 0
    for t in tests:
        name, p, f, s, plan, secs = run(t)
        if plan == 0 and f == 0:
            reason = NO_CASES.get(name)
            if reason is None:
                # a test we expected to run cases ran none: that hides a broken build
                print(f"FAIL {name}: registered no case for ppc")
                total_f += 1
            else:
                print(f"skipped {name}: {reason}")
            continue
        total_p += p
        total_f += f
        print(f"{'PASS' if f == 0 else 'FAIL'} {name}: {p} passed, {f} failed, "
              f"{s} skipped ({secs:.1f}s)", flush=True)
    for name, reason in NOT_BUILT.items():
        print(f"not built {name}: {reason}")
    print(f"qtest-ppc: {total_p} passed, {total_f} failed")
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
