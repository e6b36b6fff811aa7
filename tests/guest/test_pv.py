#!/usr/bin/env python3
"""pv=on: the /hypervisor device-tree node (dumped with -machine dumpdtb=)
and the CONFIG_KVM_GUEST kernel under -accel kvm-bt,pv=on: Linux patches
itself, the workload output equals tcg's (also with -smp 2), and it exits
far less than the stock kernel under trap-and-emulate (same -icount run)."""
import json
import os
import subprocess
import sys
import tempfile

import guestlib as g

results = g.Results()
check = results.check

HCALL = ["0x3c004b56", "0x60004d21", "0x44000002", "0x60000000"]  # lis/ori r0,"KVM!"; sc; nop
ICOUNT = g.ICOUNT


def dump_dts(accel):
    with tempfile.TemporaryDirectory() as tmp:
        dtb = os.path.join(tmp, "board.dtb")
        args = [g.QEMU, "-M", f"ppce500,dumpdtb={dtb}", "-cpu", "e500mc", "-m", "256",
                "-nographic", "-nic", "none", "-accel", accel, "-kernel", g.kernel("pv")]
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if p.returncode != 0 or not os.path.exists(dtb):
            return None, p.stderr
        d = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", dtb], capture_output=True, text=True)
        return d.stdout, d.stderr


def hypervisor_node(dts):
    lines = dts.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "hypervisor {":
            body = []
            for inner in lines[i + 1:]:
                if inner.strip() == "};":
                    return "\n".join(body)
                body.append(inner.strip())
    return None


def test_device_tree():
    dts, err = dump_dts("kvm-bt,pv=on")
    check(dts is not None, "pv=on: dumpdtb", err)
    node = hypervisor_node(dts or "")
    check(node is not None, "pv=on: /hypervisor present", dts)
    node = node or ""
    check('compatible = "linux,kvm\\0epapr,hypervisor-1";' in node,
          "pv=on: /hypervisor compatible linux,kvm + epapr,hypervisor-1", node)
    check(f"hcall-instructions = <{' '.join(HCALL)}>;" in node,
          "pv=on: hcall-instructions = lis r0,0x4b56; ori r0,r0,0x4d21; sc; nop", node)
    check("has-idle;" in node, "pv=on: has-idle (ePAPR idle hypercall)", node)
    for accel in ("kvm-bt", "kvm-bt,pv=off", "tcg"):
        dts, err = dump_dts(accel)
        check(dts is not None and hypervisor_node(dts) is None, f"{accel}: no /hypervisor", err)


def run(accel, flavour, smp=1, extra=()):
    fd, stats = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    if accel.startswith("kvm-bt"):
        accel += ",stats-file=" + stats
    rc, out, _ = g.run_guest(g.qemu_args(accel, flavour, g.TEST_ITERS, smp, extra), 600)
    try:
        with open(stats) as f:
            data = json.load(f) if os.path.getsize(stats) else None
    finally:
        os.unlink(stats)
    return rc, out, data


def test_linux():
    rc, ref_out, _ = run("tcg", "pv")
    ref = g.deterministic(g.parse_workload(ref_out))
    check(rc == 0 and ref and ref[-1][0] == "DONE", "pv guest under tcg runs the workload",
          ref_out[-1500:])
    check("Live patching" not in ref_out, "tcg: no hypervisor, no patching")

    rc, out, pv = run("kvm-bt,bt=off,pv=on", "pv", extra=ICOUNT)
    check(rc == 0, "kvm-bt,pv=on: guest powers off", out[-1500:])
    check("KVM: Live patching for a fast VM worked" in out,
          "kvm-bt,pv=on: Linux reports its KVM paravirt patching worked",
          "\n".join(l for l in out.splitlines() if "KVM" in l)[:1500])
    check("No more space" not in out, "kvm-bt,pv=on: every patch site fitted")
    check(g.deterministic(g.parse_workload(out)) == ref, "kvm-bt,pv=on: workload output equals tcg",
          out[-1500:])

    rc, out, trap = run("kvm-bt,bt=off", "stock", extra=ICOUNT)
    check(rc == 0 and g.deterministic(g.parse_workload(out)) == ref,
          "kvm-bt (trap), stock guest: workload output equals tcg", out[-1500:])
    if pv and trap:
        p, t = g.exits(pv), g.exits(trap)
        pc, tc = p["by_class"], t["by_class"]
        print(f"INFO exits: pv {p['total']} trap {t['total']} ({p['total'] / t['total']:.2f}x)")
        # measured 99,015 vs 493,151 (0.20x) with TEST_ITERS
        check(p["total"] <= 0.3 * t["total"], "pv exits <= 0.3x trap",
              f"{p['total']} vs {t['total']}")
        check(pc.get("hypercall", 0) >= 2, "pv: features + map-magic-page hypercalls", pc)
        # what PV patches: left only before patching (early boot) -- measured <= 0.08x
        for cls in ("mfmsr", "mfspr", "wrtee", "wrteei"):
            check(pc.get(cls, 0) <= 0.1 * tc.get(cls, 1), f"pv: {cls} exits <= 0.1x trap",
                  f"{pc.get(cls, 0)} vs {tc.get(cls, 0)}")
        # what it cannot patch: same order of magnitude as trap
        for cls in ("rfi", "syscall"):
            check(0.8 * tc[cls] <= pc.get(cls, 0) <= 1.2 * tc[cls], f"pv: {cls} exits stay",
                  f"{pc.get(cls, 0)} vs {tc[cls]}")

    rc, out, _ = run("kvm-bt,bt=off,pv=on", "pv", smp=2)
    check(rc == 0 and "Live patching for a fast VM worked" in out and
          g.deterministic(g.parse_workload(out)) == ref,
          "kvm-bt,pv=on -smp 2: patched and workload output equals tcg", out[-1500:])


def main():
    test_device_tree()
    test_linux()
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
