#!/usr/bin/env python3
"""e500v2: the guests built from mpc85xx_smp_defconfig (vmlinux-e500v2-stock,
vmlinux-e500v2-pv) on -cpu e500v2, and the KVM e500v2 host kernel.

- the stock guest under -accel tcg (the reference), kvm-bt,bt=off,
  kvm-bt,bt=on and kvm-bt,bt=on,hot-threshold=1, and the PV guest under
  kvm-bt,bt=off,pv=on, all with TEST_ITERS under -icount: each run powers
  off after KVMBT-DONE, every check value is the expected one, and the
  workload output (timings removed) is tcg's;
- exits: bt=on fewer than bt=off, the PV guest (patched itself) fewer than
  the stock guest under bt=off;
- the bare-metal conformance and self-modifying-code payloads on -cpu e500v2
  under tcg, kvm-bt,bt=off and kvm-bt,bt=on,hot-threshold=1: every check
  passes and the output is tcg's;
- vmlinux-kvm-host under -accel tcg -cpu e500v2 -m 768 with a ~40 MiB
  uncompressed cpio initrd (the workload as /init, tiny counts): KVM's
  initcall returns 0, the initrd is unpacked, the workload runs and the
  machine powers off; its System.map holds KVM's handlers and tracepoints.

Independent QEMUs run in parallel; checks are printed in a fixed order.
"""
import concurrent.futures
import os
import re
import struct
import subprocess
import sys
import tempfile

import guestlib as g

TIMEOUT = 300           # an e500v2 guest run takes 5-40 s with the suite's other runs alongside
ICOUNT = g.ICOUNT
HOST_MEM = "768"
HOST_INITRD_PAD = 40 << 20
HOST_ITERS = {"null": 10, "fork": 2, "exec": 2, "pagefault": 8, "pipe": 2, "ctxsw": 2}
HOST_TIMEOUT = 300

results = g.Results()
check = results.check


def run_guest(tmp, tag, accel, flavour="e500v2-stock"):
    """(exit code, output, workload rows, stats or None) for @flavour on -cpu e500v2."""
    stats = None
    if accel.startswith("kvm-bt"):
        stats = os.path.join(tmp, tag + ".json")
        accel += ",stats-file=" + stats
    rc, out, _ = g.run_guest(g.qemu_args(accel, flavour, g.TEST_ITERS, cpu="e500v2",
                                         extra=ICOUNT), TIMEOUT)
    return rc, out, g.parse_workload(out), g.load_json(stats) if stats else None


# ---- bare-metal payloads (built for e500mc; they use nothing e500v2 lacks) ------

PAYLOADS = {"conformance": "CONFORMANCE", "smc": "SMC"}
PAYLOAD_ACCELS = ("tcg", "kvm-bt,bt=off", "kvm-bt,bt=on,hot-threshold=1")


def run_payload(name, accel):
    """(exit code, PASS/FAIL/done lines, output)"""
    args = [g.QEMU, "-M", "ppce500", "-cpu", "e500v2", "-m", "256", "-nographic", "-nic", "none",
            "-no-reboot", "-accel", accel, "-kernel", os.path.join(g.GUESTS, name + ".elf")]
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        return None, [], "[timed out after 120s]"
    lines = [l.strip() for l in p.stdout.splitlines()
             if l.startswith(("PASS ", "FAIL ")) or re.match(r"^[A-Z]+ done", l)]
    return p.returncode, lines, p.stdout + p.stderr


def check_payloads(r):
    for name, prefix in PAYLOADS.items():
        ref = None
        for accel in PAYLOAD_ACCELS:
            rc, lines, out = r[f"{name}:{accel}"]
            m = re.match(rf"^{prefix} done passed=(\d+) failed=(\d+)$", lines[-1]) if lines else None
            tag = f"{name} payload, -cpu e500v2, {accel}"
            check(rc == 0 and m and int(m.group(1)) > 0 and m.group(2) == "0",
                  f"{tag}: runs to power-off, every check passes",
                  "\n".join(l for l in lines if l.startswith("FAIL"))[:1500] or out[-1500:])
            if ref is None:
                ref = lines
            else:
                check(lines == ref, f"{tag}: output identical to tcg",
                      "\n".join(f"  tcg: {a}\n  got: {b}" for a, b in zip(ref, lines) if a != b)
                      or f"{len(lines)} vs {len(ref)} lines")


# ---- the host kernel ------------------------------------------------------------

def cpio_newc(entries):
    """An uncompressed newc cpio archive of (name, mode, data) entries."""
    out = bytearray()

    def member(ino, name, mode, data, nlink=1, rdev=(0, 0)):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
        out.extend(hdr.encode() + nb)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate(entries, 1):
        if isinstance(data, tuple):          # a device node: (major, minor)
            member(ino, name, mode, b"", rdev=data)
        else:
            member(ino, name, mode, data, nlink=2 if mode & 0o040000 else 1)
    member(0, "TRAILER!!!", 0, b"")
    out.extend(b"\0" * (-len(out) % 512))
    return bytes(out)


def host_initrd(tmp):
    """The workload as /init plus HOST_INITRD_PAD bytes of data, uncompressed."""
    with open(os.path.join(g.GUESTS, "workload"), "rb") as f:
        init = f.read()
    pad = struct.pack(">I", 0x6b766d21) * (HOST_INITRD_PAD // 4)
    path = os.path.join(tmp, "host-initrd.cpio")
    with open(path, "wb") as f:
        f.write(cpio_newc([("dev", 0o040755, b""), ("dev/console", 0o020600, (5, 1)),
                           ("proc", 0o040555, b""), ("init", 0o100755, init),
                           ("pad", 0o100644, pad)]))
    return path


def run_host(tmp):
    initrd = host_initrd(tmp)
    args = [g.QEMU, "-M", "ppce500", "-cpu", "e500v2", "-m", HOST_MEM, "-nographic",
            "-no-reboot", "-nic", "none", "-accel", "tcg", "-kernel", g.kernel("kvm-host"),
            "-initrd", initrd,
            "-append", g.cmdline(HOST_ITERS) + " initcall_debug ignore_loglevel"]
    rc, out, secs = g.run_guest(args, HOST_TIMEOUT)
    return rc, out, secs, os.path.getsize(initrd)


def host_symbols():
    names = set()
    try:
        with open(g.kernel("kvm-host") + ".map") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    names.add(parts[2])
    except (OSError, FileNotFoundError):
        pass
    return names


# ---- running and checking ---------------------------------------------------------

def jobs(tmp):
    return {
        "tcg": (run_guest, (tmp, "tcg", "tcg")),
        "off": (run_guest, (tmp, "off", "kvm-bt,bt=off")),
        "bt": (run_guest, (tmp, "bt", "kvm-bt,bt=on")),
        "bt1": (run_guest, (tmp, "bt1", "kvm-bt,bt=on,hot-threshold=1")),
        "pv": (run_guest, (tmp, "pv", "kvm-bt,bt=off,pv=on", "e500v2-pv")),
        "host": (run_host, (tmp,)),
        **{f"{name}:{accel}": (run_payload, (name, accel))
           for name in PAYLOADS for accel in PAYLOAD_ACCELS},
    }


def trouble(out):
    bad = [l for l in out.splitlines()
           if re.search(r"is stuck|BUG|Oops|panic|rcu.*stall|watchdog|Illegal|SIG", l)]
    return "\n".join(bad[:8] + ["..."] + out.splitlines()[-8:])


def check_workload(tag, rc, out, rows, ref=None):
    what = [w for w, _ in rows]
    check(rc == 0 and "DONE" in what and "ERROR" not in what,
          f"{tag}: the workload completes (KVMBT-DONE) and the guest powers off",
          f"exit code {rc}\n{trouble(out)}")
    res = {f["bench"]: f for w, f in rows if w == "RESULT"}
    bad = []
    for b in g.BENCHES:
        n, f = g.TEST_ITERS[b], res.get(b)
        if f is None or int(f["iters"]) != n or int(f["check"]) != g.expected_check(b, n):
            bad.append(f"{b}: {f}")
    check(not bad, f"{tag}: every bench ran its iterations with the expected check value",
          "; ".join(bad))
    if ref is not None:
        got = g.deterministic(rows)
        check(got == ref, f"{tag}: workload output identical to tcg",
              "\n".join(f"  tcg: {a}\n  got: {b}" for a, b in zip(ref, got) if a != b)[:1500]
              or f"{len(got)} vs {len(ref)} lines")


def total(stats):
    return (stats or {}).get("total")


def check_guests(r):
    rc, out, rows, _ = r["tcg"]
    check_workload("e500v2 stock, tcg", rc, out, rows)
    ref = g.deterministic(rows)
    tags = {"off": "e500v2 stock, kvm-bt,bt=off", "bt": "e500v2 stock, kvm-bt,bt=on",
            "bt1": "e500v2 stock, kvm-bt,bt=on,hot-threshold=1",
            "pv": "e500v2 PV, kvm-bt,bt=off,pv=on"}
    for key, tag in tags.items():
        rc, out, rows, stats = r[key]
        check_workload(tag, rc, out, rows, ref)
        check(stats is not None and (total(stats) or 0) > 0, f"{tag}: stats file with exits",
              str(stats)[:300])
    _, out, _, pv = r["pv"]
    check("KVM: Live patching for a fast VM worked" in out,
          "e500v2 PV, pv=on: Linux reports its KVM paravirt patching worked",
          "\n".join(l for l in out.splitlines() if "KVM" in l)[:1500])

    off, bt, bt1 = (r[k][3] for k in ("off", "bt", "bt1"))
    t_off, t_bt, t_bt1, t_pv = total(off), total(bt), total(bt1), total(pv)
    print(f"INFO e500v2 exits with TEST_ITERS under -icount: bt=off {t_off}, bt=on {t_bt}, "
          f"bt=on,hot-threshold=1 {t_bt1}, pv (bt=off,pv=on) {t_pv}")
    if off and bt and pv:
        classes = sorted(set(g.by_class(off)) | set(g.by_class(bt)) | set(g.by_class(pv)))
        print("INFO   " + f"{'class':<16}{'bt=off':>10}{'bt=on':>10}{'pv':>10}")
        for c in classes:
            print("INFO   " + f"{c:<16}" + "".join(f"{g.by_class(st).get(c, 0):>10}"
                                                   for st in (off, bt, pv)))
    ok = None not in (t_off, t_bt, t_bt1)
    check(ok and t_bt < t_off and t_bt1 < t_off, "exits: bt=on (also hot-threshold=1) < bt=off",
          f"bt=on {t_bt}, hot-threshold=1 {t_bt1}, bt=off {t_off}")
    check(None not in (t_pv, t_off) and t_pv < t_off, "exits: PV guest (pv=on) < stock (bt=off)",
          f"pv {t_pv}, stock {t_off}")
    tr = (bt or {}).get("translator", {})
    check(tr.get("translated", 0) > 0, "bt=on: sites translated on e500v2", str(tr))


def check_host(r, syms):
    rc, out, secs, size = r["host"]
    tag = "vmlinux-kvm-host, tcg -cpu e500v2 -m " + HOST_MEM
    print(f"INFO {tag}: {secs:.1f}s with a {size / (1 << 20):.1f} MiB initrd")
    m = re.search(r"initcall kvmppc_e500_init\+\S+ returned (-?\d+)", out)
    check(m is not None and m.group(1) == "0", f"{tag}: KVM e500v2 initializes "
          "(initcall kvmppc_e500_init returned 0)",
          "\n".join(l for l in out.splitlines() if "kvm" in l.lower())[:1500] or out[-1500:])
    check(not re.search(r"kvm: exit handler .* overlaps", out),
          f"{tag}: no exit handler overlaps a host vector")
    check(re.search(r"Trying to unpack rootfs image as initramfs", out) and
          not re.search(r"Initramfs unpacking failed|initrd overlaps|too big", out),
          f"{tag}: the initrd is unpacked as initramfs",
          "\n".join(l for l in out.splitlines() if re.search("initr|rootfs|RAMDISK", l, re.I)))
    check("Run /init as init process" in out, f"{tag}: runs /init from the initrd", trouble(out))
    rows = g.parse_workload(out)
    what = [w for w, _ in rows]
    check(rc == 0 and "DONE" in what and "ERROR" not in what,
          f"{tag}: the workload completes on the host kernel and it powers off",
          f"exit code {rc}\n{trouble(out)}")
    want = {"kvmppc_e500_init", "kvmppc_booke_handler_addr", "kvmppc_handler_8",
            "kvmppc_handlers_end", "event_kvm_ppc_instr", "event_kvm_exit",
            "__tracepoint_kvm_ppc_instr"}
    check(want <= syms, f"{tag}: System.map has KVM e500v2 and its tracepoints",
          str(sorted(want - syms)))
    # patches/linux-6.1/0003: the SystemCall vector leaves room for KVM's 0x44-byte handler
    addr = {}
    try:
        with open(g.kernel("kvm-host") + ".map") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] in ("SystemCall", "AuxillaryProcessorUnavailable",
                                                    "kvmppc_handler_8", "kvmppc_handler_9"):
                    addr[parts[2]] = int(parts[0], 16)
    except OSError:
        pass
    if len(addr) == 4:
        room = addr["AuxillaryProcessorUnavailable"] - addr["SystemCall"]
        need = addr["kvmppc_handler_9"] - addr["kvmppc_handler_8"]
        print(f"INFO SystemCall vector 0x{addr['SystemCall'] & 0xffff:x}: 0x{room:x} bytes "
              f"to the next vector, KVM's handler 0x{need:x}")
        check(room >= need, f"{tag}: SystemCall vector holds KVM's exit handler",
              f"0x{room:x} < 0x{need:x}")
    else:
        check(False, f"{tag}: SystemCall vector symbols in System.map", str(addr))


def main():
    for flavour in ("e500v2-stock", "e500v2-pv", "kvm-host"):
        try:
            g.kernel(flavour)
        except FileNotFoundError as e:
            check(False, f"vmlinux-{flavour} built", str(e))
            return results.finish()
    with tempfile.TemporaryDirectory() as tmp:
        workers = max(2, min(4, os.cpu_count() or 2))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {name: pool.submit(fn, *args) for name, (fn, args) in jobs(tmp).items()}
            r = {name: f.result() for name, f in futures.items()}
    check_guests(r)
    check_payloads(r)
    check_host(r, host_symbols())
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
