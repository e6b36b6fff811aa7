#!/usr/bin/env python3
"""tools/kvm-bt-stat --once against a running guest: rates by class and the
busiest sites come out of the live QMP accounting."""
import os
import re
import subprocess
import sys
import tempfile
import time

import guestlib as g

results = g.Results()
check = results.check
TOOL = os.path.join(g.TOP, "tools", "kvm-bt-stat")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        # the default workload runs long enough to be sampled mid-run
        args = g.qemu_args("kvm-bt", extra=["-qmp", f"unix:{sock},server=on,wait=off"])
        qemu = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            p = subprocess.run([sys.executable, TOOL, "--once", "--interval", "0.5", sock],
                               capture_output=True, text=True, timeout=60)
        finally:
            qemu.kill()
            qemu.wait()
    out = p.stdout
    check(p.returncode == 0, "kvm-bt-stat --once exits 0", p.stderr)
    m = re.search(r"exits (\d+) +\(([\d,]+)/s\)", out)
    check(m and int(m.group(1)) > 0 and int(m.group(2).replace(",", "")) > 0,
          "header: total exits and a positive rate", out[:300])
    classes = re.findall(r"^(\S+) +([\d,]+) +(\d+)$", out, re.M)
    check(any(c == "mfmsr" for c, _, _ in classes), "per-class rows include mfmsr", out[:600])
    sites = re.findall(r"^ +\d+ 0x[0-9a-f]{8} ", out, re.M)
    check(len(sites) >= 5, "top sites listed", out[-800:])
    p = subprocess.run([sys.executable, TOOL, "--once", os.path.join(tmp, "nope.sock")],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and "cannot connect" in p.stderr, "clear error without QEMU", p.stderr)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
