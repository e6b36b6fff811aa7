#!/usr/bin/env python3
"""Guest neutrality (issue 13): bt=on must cost no guest anything.

Deterministic, under -icount -seed 1 with the test workload:

- the stock guest booted with "nosmap" (Linux without user-access
  protection, so its system calls never write PID): bt=on never drops the
  CPU's PID at system calls (stats file: pid-drop false on every vCPU), so
  pid-sync exits per system call stay below PID_SYNC_PER_SYSCALL_MAX; its
  exits stay below NOSMAP_BT_VS_TRAP of trap-and-emulate's;
- the stock guest (KUAP on) keeps the drop: pid-drop true, and its exits
  stay below STOCK_BT_VS_TRAP of trap-and-emulate's (between the measured
  figures with and without the drop);
- SMP: -smp 2 under -icount (round-robin: it used to hang) with bt=on and
  bt=off, and -smp 2 without -icount under MTTCG and round-robin (where a
  kick hidden by the monitor's own exit request starved the other vCPU),
  run the workload with the
  lines the default workload skips (signal, fileio, poll, yield, mmap) to
  power-off, with every check value right.

Independent QEMUs run in parallel; checks are printed in a fixed order.
"""
import concurrent.futures
import os
import tempfile

import guestlib as g

# A Linux run with the test workload takes 3-20 s under -icount on this
# 2-core machine, alone or with another suite; -smp 2 under -icount runs the
# two vCPUs in turn on one thread (~2x). A hang is killed here, not retried.
TIMEOUT = 240
# yield under -icount -smp 2 spins through a round-robin time slice per
# round (~25,000 system calls): kept short
EXTRA_ITERS = {"signal": 200, "fileio": 200, "poll": 500, "yield": 20, "mmap": 100}
# Measured with these runs (test workload, -icount -seed 1, -smp 1):
# - nosmap bt=on: 0 pid-sync exits for 6,088 system calls, 35,543 exits
#   (trap 465,073: 0.0764x); with the PID dropped at every system call (the
#   policy before the adaptive one) 3,774 pid-sync (0.62 per system call),
#   35,739 exits. The pid-sync bound is what tells the two apart; the exit
#   ratio bound guards against a regression elsewhere.
# - stock bt=on: the drop turns on; 55,981 exits (trap 499,594: 0.112x);
#   never dropping the PID: 62,047 (0.124x). The bound lies between.
# - PID writes flush only the pages of QEMU's TLB a TID != 0 entry maps
#   (kvm-bt-pidtlb.c), all of it once a vCPU noted more than 64 such pages
#   since its last PID write: stock bt=on 37,367 flushes of noted pages and
#   1 full, nosmap bt=on (PID writes at context switches only, after a
#   process ran a while) 2,083 and 24 (1.1%). Every write flushing all was
#   the behaviour before.
PID_SYNC_PER_SYSCALL_MAX = 0.01
PID_FLUSH_FULL_MAX = 0.05
NOSMAP_BT_VS_TRAP = 0.08
STOCK_BT_VS_TRAP = 0.118

results = g.Results()
check = results.check


def run(tmp, tag, accel, smp=1, icount=True, append=(), iters=g.TEST_ITERS):
    """(exit code, output, workload rows, stats or None)."""
    stats = os.path.join(tmp, tag + ".json")
    args = g.qemu_args(f"{accel},stats-file={stats}", "stock", iters, smp,
                       g.ICOUNT if icount else (), append=append)
    rc, out, _ = g.run_guest(args, TIMEOUT)
    return rc, out, g.parse_workload(out), g.load_json(stats)


def bad_checks(rows):
    """RESULT lines whose check value is not the expected one."""
    return [f"{f['bench']} check={f['check']}" for w, f in rows
            if w == "RESULT" and int(f["check"]) != g.expected_check(f["bench"], int(f["iters"]))]


def completes(res, tag, want_lines):
    rc, out, rows, stats = res
    ran = [f["bench"] for w, f in rows if w == "RESULT"]
    tail = "\n".join(out.splitlines()[-8:])
    return check(rc == 0 and any(w == "DONE" for w, _ in rows) and ran == want_lines
                 and not bad_checks(rows) and stats is not None,
                 f"{tag}: the workload runs to power-off, every check value right",
                 f"exit code {rc} (None: killed after {TIMEOUT} s), lines {ran}, "
                 f"bad {bad_checks(rows)}\n{tail}")


def by_class(stats, cls):
    return g.by_class(stats or {}).get(cls, 0)


def pid_drops(stats):
    return [v.get("pid-drop") for v in (stats or {}).get("vcpus", [])]


def pid_flushes(stats):
    """(PID writes that flushed the noted pages, ... that flushed all), all vCPUs."""
    vcpus = (stats or {}).get("vcpus", [])
    return (sum(v.get("pid-flushes", 0) for v in vcpus),
            sum(v.get("pid-flushes-full", 0) for v in vcpus))


def main():
    extra = {**g.TEST_ITERS, **EXTRA_ITERS}
    all_lines = g.BENCHES + g.EXTRA_BENCHES
    runs = {
        "nosmap-bt": dict(accel="kvm-bt,bt=on", append=("nosmap",)),
        "nosmap-trap": dict(accel="kvm-bt,bt=off", append=("nosmap",)),
        "stock-bt": dict(accel="kvm-bt,bt=on"),
        "stock-trap": dict(accel="kvm-bt,bt=off"),
        "smp2-icount-bt": dict(accel="kvm-bt,bt=on", smp=2, iters=extra),
        "smp2-icount-trap": dict(accel="kvm-bt,bt=off", smp=2, iters=extra),
        "smp2-icount-nosmap-bt": dict(accel="kvm-bt,bt=on", smp=2, iters=extra, append=("nosmap",)),
        "smp2-mttcg-bt": dict(accel="kvm-bt,bt=on,thread=multi", smp=2, icount=False, iters=extra),
        "smp2-rr-bt": dict(accel="kvm-bt,bt=on,thread=single", smp=2, icount=False, iters=extra),
    }
    with tempfile.TemporaryDirectory() as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futs = {k: pool.submit(run, tmp, k, **kw) for k, kw in runs.items()}
        res = {k: f.result() for k, f in futs.items()}

    nb, nt, sb, st = res["nosmap-bt"], res["nosmap-trap"], res["stock-bt"], res["stock-trap"]
    for tag in ("nosmap-bt", "nosmap-trap", "stock-bt", "stock-trap"):
        completes(res[tag], tag, g.BENCHES)
    total = lambda r: (r[3] or {}).get("total")
    sync, sc = by_class(nb[3], "pid-sync"), by_class(nb[3], "syscall")
    print(f"  nosmap bt=on: {sync} pid-sync exits, {sc} system calls, {total(nb)} exits; "
          f"trap {total(nt)}")
    check(pid_drops(nb[3]) == [False], "nosmap bt=on: the PID is never dropped at system calls",
          str(pid_drops(nb[3])))
    check(sc > 0 and sync / sc <= PID_SYNC_PER_SYSCALL_MAX,
          f"nosmap bt=on: pid-sync exits per system call <= {PID_SYNC_PER_SYSCALL_MAX}",
          f"{sync} / {sc}")
    check(total(nb) and total(nt) and total(nb) / total(nt) <= NOSMAP_BT_VS_TRAP,
          f"nosmap: bt=on exits <= {NOSMAP_BT_VS_TRAP}x trap", f"{total(nb)} / {total(nt)}")
    print(f"  stock bt=on: {by_class(sb[3], 'pid-sync')} pid-sync exits, "
          f"{by_class(sb[3], 'syscall')} system calls, {total(sb)} exits; trap {total(st)}")
    check(pid_drops(sb[3]) == [True], "stock (KUAP) bt=on: the PID is dropped at system calls",
          str(pid_drops(sb[3])))
    check(total(sb) and total(st) and total(sb) / total(st) <= STOCK_BT_VS_TRAP,
          f"stock bt=on: exits <= {STOCK_BT_VS_TRAP}x trap (the drop still pays)",
          f"{total(sb)} / {total(st)}")

    for tag in ("stock-bt", "stock-trap", "nosmap-bt", "smp2-icount-bt"):
        part, full = pid_flushes(res[tag][3])
        print(f"  {tag}: PID writes flushed {part} times the noted pages, {full} times all")
        check(part > 0 and full <= PID_FLUSH_FULL_MAX * (part + full),
              f"{tag}: PID writes flush only what PID selects (full flushes <= "
              f"{PID_FLUSH_FULL_MAX:.0%})", f"{part} noted-page flushes, {full} full")

    for tag in ("smp2-icount-bt", "smp2-icount-trap", "smp2-icount-nosmap-bt", "smp2-mttcg-bt",
                "smp2-rr-bt"):
        completes(res[tag], tag, all_lines)
    sn = res["smp2-icount-nosmap-bt"][3]
    check(pid_drops(sn) == [False, False], "smp2 nosmap bt=on: no vCPU drops the PID",
          str(pid_drops(sn)))
    return results.finish()


if __name__ == "__main__":
    raise SystemExit(main())
