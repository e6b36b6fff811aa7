#!/usr/bin/env python3
"""Real Linux KVM e500v2, nested: the stock and PV e500v2 guests under the
cross-built QEMU's -accel kvm on the KVM host kernel, itself under this
machine's QEMU (TCG, -icount). Test workload sizes.

- the guests' workload output is identical to -accel tcg -cpu e500v2's;
- KVM counts emulated-instruction exits (and the PV guest has fewer);
- the outer machine's instruction counts per run and phase are there;
- bad input: an inner QEMU that fails and one that overruns its timeout
  each give one error line and the next run still goes; a host kernel
  without KVM is named as such and the host powers off.
"""
import os
import sys

import guestlib
import nestedlib
from guestlib import Results

ITERS = guestlib.TEST_ITERS
OUTER_TIMEOUT = 900


def main():
    res = Results()
    if not nestedlib.pieces_ready(res):
        return res.finish()

    ref = {fl: nestedlib.tcg_reference(res, fl, ITERS) for fl in ("e500v2-stock", "e500v2-pv")}
    runs = [
        nestedlib.InnerRun("stock", "e500v2-stock", iters=ITERS, timeout=300),
        # bad input: the inner QEMU refuses its command line at once
        nestedlib.InnerRun("bad-cpu", "e500v2-stock", iters=ITERS, timeout=60,
                           extra=["-cpu", "no-such-cpu"]),
        # bad input: the guest cannot finish within its timeout
        nestedlib.InnerRun("too-slow", "e500v2-stock", iters=ITERS, timeout=1),
        # bad input: the e500mc conformance payload sets IVOR36, which KVM
        # e500v2 cannot emulate: QEMU stops the VM, the runner says so at once
        nestedlib.InnerRun("kvm-cannot", payload=os.path.join(guestlib.GUESTS, "conformance.elf"),
                           timeout=300),
        nestedlib.InnerRun("pv", "e500v2-pv", iters=ITERS, timeout=300),
    ]
    n = nestedlib.run_nested(runs, OUTER_TIMEOUT)
    res.check(n.host.get("release", "").startswith("6.1"), "host.boots",
              f"host line {n.host}, errors {n.errors}, last console {n.console[-5:]}")
    res.check(n.alldone is not None and not n.errors, "host.runner_finishes",
              f"errors {n.errors}")

    stock, pv = n.results.get("stock"), n.results.get("pv")
    nestedlib.check_workload(res, "kvm.stock", stock, ref["e500v2-stock"])
    nestedlib.check_workload(res, "kvm.pv", pv, ref["e500v2-pv"])

    emu = {k: (r.kvm or {}).get("emulated_inst_exits", 0) for k, r in (("stock", stock),
                                                                      ("pv", pv)) if r}
    res.check(emu.get("stock", 0) > 0, "kvm.stock.emulated_inst_exits",
              f"KVM counters {stock.kvm if stock else None}")
    # The PV guest patches mfmsr/mtmsr/wrtee(i)/SPR accesses into magic-page
    # code: measured 0.18x of the stock guest's (test workload, -icount).
    res.check(0 < emu.get("pv", 0) <= 0.35 * emu.get("stock", 0), "kvm.pv.fewer_emulated_exits",
              f"pv {emu.get('pv')} vs stock {emu.get('stock')} (bound 0.35x)")
    for name, r in (("stock", stock), ("pv", pv)):
        kvm = (r.kvm or {}) if r else {}
        res.check(kvm.get("syscall_exits", 0) > 0 and kvm.get("dtlb_real_miss_exits", 0) > 0
                  and kvm.get("dtlb_virt_miss_exits", 0) > 0,
                  f"kvm.{name}.reflection_counters", f"{kvm}")
        phases = r.phase_insns() if r else None
        res.check(r is not None and r.host_insns and phases
                  and all(v > 0 for _, v in phases) and sum(v for _, v in phases) < r.host_insns,
                  f"kvm.{name}.host_insns", f"total {r.host_insns if r else None}, "
                  f"phases {phases}, marks {r.marks[:3] if r else None}")
        exits = r.phase_exits("emulated_inst_exits") if r else None
        res.check(exits and all(v >= 0 for _, v in exits)
                  and sum(v for _, v in exits) <= kvm.get("emulated_inst_exits", 0),
                  f"kvm.{name}.exits_per_phase", f"{exits}")

    bad = n.results.get("bad-cpu")
    res.check(bad is not None and not bad.ok
              and any(e.get("what") == "inner-qemu" for e in bad.errors),
              "bad.inner_qemu_fails", f"{bad.errors if bad else 'no run'}")
    stopped = n.results.get("kvm-cannot")
    res.check(stopped is not None and not stopped.ok
              and any(e.get("what") == "vm-stopped" for e in stopped.errors)
              and not any(e.get("what") == "timeout" for e in stopped.errors),
              "bad.vm_stopped_reported", f"{stopped.errors if stopped else 'no run'}")
    slow = n.results.get("too-slow")
    res.check(slow is not None and not slow.ok
              and any(e.get("what") == "timeout" for e in slow.errors),
              "bad.inner_timeout", f"{slow.errors if slow else 'no run'}")

    # A host kernel without KVM: the e500v2 guest kernel as the host.
    nokvm = nestedlib.run_nested([nestedlib.InnerRun("never", "e500v2-stock", iters=ITERS)],
                                 120, host_kernel=guestlib.kernel("e500v2-stock"))
    res.check(any(e.get("what") == "no-kvm" for e in nokvm.errors) and "never" not in
              nokvm.results and nokvm.rc == 0, "bad.host_without_kvm",
              f"errors {nokvm.errors}, rc {nokvm.rc}, last console {nokvm.console[-3:]}")
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
