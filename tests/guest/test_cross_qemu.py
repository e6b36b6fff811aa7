#!/usr/bin/env python3
"""The cross-built qemu-system-ppc for a 32-bit PowerPC e500v2 host
(scripts/build-cross-qemu.sh, $KVM_BT_CACHE/cross/qemu-system-ppc): a
stripped, static, 32-bit big-endian PowerPC executable without lwsync, whose
key file names its bytes; run under qemu-ppc-static (Debian's
qemu-user-static) it is QEMU 7.2, offers the kvm, kvm-bt and tcg
accelerators, runs the bare-metal conformance payload under tcg and kvm-bt
with the native build's output, and boots the stock Linux guest under kvm-bt
through the test workload with its expected check values.

qemu-user runs it as an e500mc (-cpu e500mc): the binary uses isel, which
qemu-ppc's default CPU lacks, and classic floating point, which an e500v2
has not (its Linux kernel emulates it; qemu-user has no such emulation)."""
import hashlib
import os
import shutil
import struct
import subprocess
import sys

import guestlib as g

BIN = os.path.join(g.CACHE, "cross", "qemu-system-ppc")
QEMU_USER = shutil.which("qemu-ppc-static") or "/usr/bin/qemu-ppc-static"
USER_CPU = "e500mc"
PAYLOAD = os.path.join(g.GUESTS, "conformance.elf")
LWSYNC = 0x7C2004AC
BOOT_TIMEOUT = 600
EM_PPC, ET_EXEC, PT_LOAD, PT_DYNAMIC, PT_INTERP, PF_X, PF_W = 20, 2, 1, 2, 3, 1, 2

results = g.Results()
check = results.check


def elf_facts(data):
    """(class, data encoding, type, machine, program headers, section names)"""
    ei_class, ei_data = data[4], data[5]
    if ei_class != 1 or ei_data != 2:
        return ei_class, ei_data, None, None, [], []
    e_type, e_machine = struct.unpack(">HH", data[16:20])
    e_phoff, e_shoff = struct.unpack(">II", data[28:36])
    e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack(">HHHHH", data[42:52])
    phdrs = [struct.unpack(">8I", data[e_phoff + i * e_phentsize:][:32]) for i in range(e_phnum)]
    names = []
    if e_shnum and e_shstrndx < e_shnum:
        shdrs = [struct.unpack(">10I", data[e_shoff + i * e_shentsize:][:40]) for i in range(e_shnum)]
        stroff = shdrs[e_shstrndx][4]
        for sh in shdrs:
            name = data[stroff + sh[0]:].split(b"\0", 1)[0]
            names.append(name.decode(errors="replace"))
    return ei_class, ei_data, e_type, e_machine, phdrs, names


def run_user(args, timeout=120):
    try:
        p = subprocess.run([QEMU_USER, "-cpu", USER_CPU, BIN, *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout}s"


def conformance(cmd, accel):
    args = ["-M", "ppce500", "-cpu", "e500mc", "-m", "256", "-nographic", "-nic", "none",
            "-no-reboot", "-accel", accel, "-kernel", PAYLOAD]
    try:
        p = subprocess.run(cmd + args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=300)
    except subprocess.TimeoutExpired:
        return None, [], "timed out after 300s"
    lines = [l.strip() for l in p.stdout.splitlines()
             if l.startswith(("PASS ", "FAIL ", "INFO ", "CONFORMANCE"))]
    return p.returncode, lines, (p.stdout + p.stderr)[-1500:]


def main():
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} missing: run 'make cross-qemu'")
    with open(BIN, "rb") as f:
        data = f.read()
    check(data[:4] == b"\x7fELF", "cross: an ELF file")
    ei_class, ei_data, e_type, e_machine, phdrs, sections = elf_facts(data)
    check(ei_class == 1 and ei_data == 2, "cross: 32-bit big-endian (ELFCLASS32, ELFDATA2MSB)",
          f"class {ei_class}, data {ei_data}")
    check(e_machine == EM_PPC and e_type == ET_EXEC, "cross: PowerPC executable (EM_PPC, ET_EXEC)",
          f"machine {e_machine}, type {e_type}")
    kinds = {ph[0] for ph in phdrs}
    check(phdrs and PT_INTERP not in kinds and PT_DYNAMIC not in kinds,
          "cross: statically linked (no PT_INTERP, no PT_DYNAMIC)")
    check(sections and ".symtab" not in sections, "cross: stripped (no .symtab)")
    # e500v2 has no lwsync: -mcpu=8548 keeps the compiler from emitting it
    text = [ph for ph in phdrs if ph[0] == PT_LOAD and ph[6] & PF_X and not ph[6] & PF_W]
    lwsync = 0
    for ph in text:
        seg = data[ph[1]:ph[1] + ph[4]]
        lwsync += sum(1 for (w,) in struct.iter_unpack(">I", seg[:len(seg) // 4 * 4]) if w == LWSYNC)
    check(text and lwsync == 0, "cross: no lwsync in its code", f"{lwsync} lwsync words")
    if shutil.which("file"):
        out = subprocess.run(["file", "-b", BIN], capture_output=True, text=True).stdout
        check(out.startswith("ELF 32-bit MSB executable, PowerPC") and "statically linked" in out,
              "cross: file(1) says ELF 32-bit MSB executable, PowerPC, statically linked", out)
    try:
        with open(BIN + ".key") as f:
            key = f.read()
    except OSError as e:
        key = str(e)
    check(f"sha256={hashlib.sha256(data).hexdigest()}" in key.splitlines(),
          "cross: key file names the binary's bytes", key[-300:])

    if not check(os.path.exists(QEMU_USER), f"qemu-user: {QEMU_USER} present",
                 "install qemu-user-static (scripts/setup.sh)"):
        return results.finish()
    rc, out, err = run_user(["--version"])
    check(rc == 0 and out.startswith("QEMU emulator version 7.2."),
          f"qemu-user -cpu {USER_CPU}: --version says QEMU 7.2", (out + err)[-500:])
    rc, out, err = run_user(["-accel", "help"])
    accels = [l.strip() for l in out.splitlines()[1:]]
    check(rc == 0 and "kvm" in accels and "kvm-bt" in accels and "tcg" in accels,
          "qemu-user: -accel help lists kvm, kvm-bt and tcg", (out + err)[-500:])

    # The 32-bit PowerPC TCG backend (patch 0009) and the monitor on a
    # big-endian 32-bit host: the same output as the native build.
    if not check(os.path.exists(PAYLOAD), "conformance payload present", "run 'make guests'"):
        return results.finish()
    ref = None
    if os.path.exists(g.QEMU):
        rc, ref, out = conformance([g.QEMU], "tcg")
        check(rc == 0 and ref and ref[-1].startswith("CONFORMANCE done"),
              "native: conformance payload runs to power-off", out)
    for accel in ("tcg", "kvm-bt,bt=off", "kvm-bt"):
        rc, lines, out = conformance([QEMU_USER, "-cpu", USER_CPU, BIN], accel)
        done = lines[-1] if lines else ""
        check(rc == 0 and done.startswith("CONFORMANCE done") and done.endswith("failed=0"),
              f"qemu-user, -accel {accel}: conformance payload passes", out)
        if ref:
            check(lines == ref, f"qemu-user, -accel {accel}: output identical to the native tcg run",
                  "\n".join(f"  native: {a}\n  cross: {b}" for a, b in zip(ref, lines) if a != b)
                  or f"{len(lines)} vs {len(ref)} lines")

    # The stock guest under kvm-bt (bt=on) on the emulated 32-bit host.
    try:
        kernel = g.kernel("stock")
    except FileNotFoundError as e:
        check(False, "stock guest present", str(e))
        return results.finish()
    args = g.qemu_args("kvm-bt", iters=g.TEST_ITERS)
    args[args.index("-kernel") + 1] = kernel
    rc, out, secs = g.run_guest([QEMU_USER, "-cpu", USER_CPU, BIN, *args[1:]], BOOT_TIMEOUT)
    rows = g.parse_workload(out)
    res = {f["bench"]: f for w, f in rows if w == "RESULT"}
    check(rc == 0, "qemu-user, -accel kvm-bt: stock guest powers off, QEMU exits 0",
          f"exit code {rc} after {secs:.0f}s\n{out[-1500:]}")
    bad = [b for b in g.BENCHES
           if b not in res or int(res[b]["check"]) != g.expected_check(b, g.TEST_ITERS[b])]
    check(not bad and any(w == "DONE" for w, _ in rows),
          "qemu-user, -accel kvm-bt: every workload line with its expected check value",
          f"wrong or missing: {bad}")
    print(f"stock guest under kvm-bt on the emulated host: {secs:.1f}s")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
