#!/usr/bin/env python3
"""kvm-bt under AddressSanitizer and UndefinedBehaviorSanitizer.

  tests/sanitize.py --unit   the core's unit tests, built with both
                             sanitizers ('make core-asan'); a suite of 'make check'
  tests/sanitize.py          those, then the bt suite, the fuzz smoke set and
                             the hostile guests with the sanitized QEMU
                             ('make qemu-asan'): 'make check-asan'

A check passes when its command succeeds and no sanitizer reported
anything: every report goes to a log file (log_path), and an ASan or
LeakSanitizer ERROR or a UBSan "runtime error" there or in the output
fails it (ASan's warning about swapcontext, once per QEMU process, is
not a report).
"""
import glob
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("KVM_BT_CACHE") or os.path.expanduser("~/.cache/kvm-bt")
CORE = os.path.join(CACHE, "core-asan-build")
QEMU = os.path.join(CACHE, "qemu-asan", "build", "qemu-system-ppc")
PY = sys.executable
UNIT = [["test-ppc-insn"], ["test-site-table"], ["test-bt"], ["test-cluster"],
        [PY, os.path.join(TOP, "tests", "unit", "ppc-insn-oracle.py"), "ppc-insn-tool"]]
# QEMU run under the sanitizers: the bt suite, the fuzz smoke set, the hostile guests
GUEST = [("bt", [PY, "tests/guest/test_bt.py"]),
         ("fuzz", [PY, "tests/fuzz/fuzz.py", "check"]),
         ("hostile", [PY, "tests/guest/test_hostile.py"])]

outcomes = []


def check(ok, name, detail=""):
    outcomes.append(bool(ok))
    print(("PASS " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""),
          flush=True)


def run(name, cmd, env_extra, timeout):
    with tempfile.TemporaryDirectory() as logs:
        env = dict(os.environ, **env_extra)
        # QEMU leaks by design at exit; the unit tests are checked for leaks too
        leaks = "1" if name.startswith("unit") else "0"
        env["ASAN_OPTIONS"] = f"detect_leaks={leaks}:log_path={logs}/asan"
        env["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={logs}/ubsan"
        try:
            p = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True,
                               timeout=timeout)
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = None, f"[timed out after {timeout}s] {e}"
        reports = sorted(glob.glob(os.path.join(logs, "*")))
        text = "".join(open(r, errors="replace").read() for r in reports)
    tail = out.strip().splitlines()[-1] if out.strip() else ""
    check(rc == 0, f"{name}: runs and passes ({tail})", out[-2000:])
    # ASan also logs a warning per QEMU process (coroutines use
    # swapcontext): a report is an ERROR (ASan, LeakSanitizer) or a UBSan
    # "runtime error"
    found = [t for t in (text, out) if "ERROR: " in t or "runtime error:" in t]
    check(not found, f"{name}: no sanitizer report", "".join(found)[-3000:])


def main():
    for cmd in UNIT:
        exe = os.path.join(CORE, cmd[-1])
        name = "unit " + cmd[-1]
        if not os.path.exists(exe):
            check(False, f"{name}: built", f"{exe} missing: run 'make core-asan'")
            continue
        run(name, cmd[:-1] + [exe], {}, 600)
    if "--unit" not in sys.argv[1:]:
        if not os.path.exists(QEMU):
            check(False, "qemu-asan built", f"{QEMU} missing: run 'make qemu-asan'")
        else:
            for name, cmd in GUEST:
                run(f"{name} (qemu-asan)", cmd, {"KVM_BT_QEMU": QEMU}, 3600)
    failed = outcomes.count(False)
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
