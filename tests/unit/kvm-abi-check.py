#!/usr/bin/env python3
"""Compile tests/unit/test-kvm-abi.c with the PowerPC cross compiler: each
ABI_CHECK is a static assertion of core/kvm-para.h or core/shared-page.h
against Linux's PowerPC UAPI headers, laid out by the guest's own ABI."""
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(TOP, "tests/unit/test-kvm-abi.c")
CC = "powerpc-linux-gnu-gcc"

checks = len(re.findall(r"^ABI_CHECK\(", open(SRC).read(), re.M))
p = subprocess.run([CC, "-std=gnu11", "-fsyntax-only", "-Wall", "-Werror",
                    "-I", os.path.join(TOP, "accel/kvm-bt/core"), SRC],
                   capture_output=True, text=True)
if p.returncode != 0 or checks == 0:
    sys.stdout.write(p.stderr)
    failed = max(1, len(re.findall(r"static assertion failed", p.stderr)))
    print(f"kvm ABI: {checks} checks, {CC} failed")
    print(f"{checks - failed if p.returncode else 0} passed, {failed} failed")
    sys.exit(1)
print(f"kvm ABI: {checks} static assertions against Linux's PowerPC UAPI headers hold")
print(f"{checks} passed, 0 failed")
