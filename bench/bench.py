#!/usr/bin/env python3
"""make bench: native vs trap vs pv vs bt, side by side, in one invocation.

For every mode: deterministic -icount runs (exits by class, guest-reported
microbenchmark and boot-to-init times at the default exit cost and at one
alternative) and plain runs for host wall time (median and spread). A mode
the accelerator does not offer yet is reported as missing, never faked; a
run that fails or hangs is killed at a timeout and recorded as failed.

Then the neutrality matrix (issue 13): the stock kernel, the stock kernel
with nosmap, the PV kernel and the stock kernel on a loaded host, each at
-smp 1, -smp 2 MTTCG and -smp 2 round-robin, under tcg, bt=off and bt=on,
with the workload's extra lines
on: guest-measured time per line from interleaved plain runs (median,
spread), bt/trap ratios, stalls, and -icount exits per kernel.

Writes results.json, results.csv, results.md, sites.md and exits.png to the
results folder and prints the table. See docs/kvm-bt-bench.rst.
"""
import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "guest"))
import guestlib as g  # noqa: E402
import nestedlib  # noqa: E402

MODES = [  # name, -accel, guest kernel
    ("native", "tcg", "stock"),
    ("trap", "kvm-bt,bt=off", "stock"),
    ("pv", "kvm-bt,bt=off,pv=on", "pv"),
    ("bt", "kvm-bt,bt=on", "stock"),
]
FULL_ITERS = {"null": 100000, "fork": 200, "exec": 200, "pagefault": 5120, "pipe": 10000,
              "ctxsw": 2500}
# Real KVM e500v2 on the nested host (tests/guest/nestedlib.py), and the model
# on the very same e500v2 guests for comparison.
# (mode, guest, inner accelerator): trap-and-emulate, the PV guest, our BT
REAL_KVM_MODES = [("kvm-trap", "e500v2-stock", "kvm"), ("kvm-pv", "e500v2-pv", "kvm"),
                  ("kvm-bt", "e500v2-stock", "kvm,bt=on"),
                  ("kvm-bt-pv", "e500v2-pv", "kvm,bt=on")]
MODEL_E500V2_MODES = [("model-trap", "kvm-bt,bt=off", "e500v2-stock"),
                      ("model-pv", "kvm-bt,bt=off,pv=on", "e500v2-pv"),
                      ("model-bt", "kvm-bt,bt=on", "e500v2-stock")]
KVM_COUNTERS = ["emulated_inst_exits", "syscall_exits", "dtlb_real_miss_exits",
                "itlb_real_miss_exits", "dtlb_virt_miss_exits", "itlb_virt_miss_exits",
                "dec_exits", "mmio_exits", "dsi_exits", "isi_exits", "signal_exits"]
# The neutrality matrix (issue 13): bt=on must never be slower than bt=off.
# Kernels: name, guest kernel, extra kernel parameters, -accel suffix under
# kvm-bt (the PV kernel gets its paravirtual interface in both modes).
MATRIX_KERNELS = [("stock", "stock", (), ""),
                  ("nosmap", "stock", ("nosmap",), ""),
                  ("pv", "pv", (), ",pv=on"),
                  ("stock+load", "stock", (), "")]
# Cells of these rows run while the bench keeps every host core busy (one
# spinning process per core): a loaded host. Their -icount exits are the
# unloaded row's, so they get no -icount run.
MATRIX_LOADED = {"stock+load"}
MATRIX_SMP = [("smp1", 1, ""), ("smp2-mttcg", 2, ",thread=multi"), ("smp2-rr", 2, ",thread=single")]
MATRIX_ACCELS = [("tcg", "tcg"), ("trap", "kvm-bt,bt=off"), ("bt", "kvm-bt,bt=on")]
# Sized so that one run is a few seconds of guest time under bt=off.
# (-smp 2 MTTCG: a pipe round trip or a yield round across vCPUs takes
# ~5-8 ms under tcg as under kvm-bt on this host)
MATRIX_ITERS = {"null": 10000, "fork": 50, "exec": 50, "pagefault": 1024, "pipe": 500,
                "ctxsw": 200, "signal": 3000, "fileio": 2000, "poll": 5000, "yield": 500,
                "mmap": 1000}
MATRIX_QUICK_ITERS = {**g.TEST_ITERS, "signal": 200, "fileio": 200, "poll": 500, "yield": 100,
                      "mmap": 100}
# Under round-robin a vCPU spinning in sched_yield() runs until the 100 ms
# time-slice kick before the other vCPU gets its turn: one round of the
# yield ping-pong takes a slice.
MATRIX_RR_ITERS = {"yield": 20}
MATRIX_BENCHES = g.BENCHES + g.EXTRA_BENCHES
STALL_FACTOR = 5        # a line this many times its configuration's median is a stall
EXITCOST_RUNS = 3
DEFAULT_COST = 400
ALT_COST = 1000
ICOUNT = "shift=0,sleep=off"


def progress(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def availability(accel, kernel):
    """None if the mode starts, else QEMU's reason."""
    try:
        p = subprocess.run([g.QEMU, "-M", "ppce500", "-cpu", "e500mc", "-m", "256", "-display",
                            "none", "-nic", "none", "-S", "-accel", accel, "-kernel", kernel,
                            "-qmp", "stdio"], input='{"execute":"qmp_capabilities"}\n'
                           '{"execute":"quit"}\n', capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "startup timed out"
    if p.returncode != 0:
        return (p.stderr.strip().splitlines() or ["exit code %d" % p.returncode])[0]
    return None


def one_run(accel, flavour, iters, timeout, icount_cost=None, cpu="e500mc", smp=1, append=()):
    """One guest run; returns a dict with ok, wall, workload rows, stats."""
    with tempfile.TemporaryDirectory() as tmp:
        extra = []
        acc = accel
        stats_path = os.path.join(tmp, "stats.json")
        if accel.startswith("kvm-bt"):
            acc += f",stats-file={stats_path}"
        if icount_cost is not None:
            extra = ["-icount", ICOUNT, "-seed", "1"]   # see guestlib.ICOUNT
            if accel.startswith("kvm-bt"):
                acc += f",exit-cost-ns={icount_cost}"
        rc, out, secs = g.run_guest(g.qemu_args(acc, flavour, iters, smp, cpu=cpu, extra=extra,
                                                append=append), timeout)
        rows = g.parse_workload(out)
        res = {"ok": rc == 0 and any(w == "DONE" for w, _ in rows), "exit_code": rc,
               "wall_s": secs}
        if not res["ok"]:
            res["error"] = "timeout" if rc is None else f"exit code {rc}"
            res["tail"] = out[-1500:]
            return res
        res["boot_ns"] = int(dict(rows)["BOOT"]["uptime_ns"])
        res["per_op_ns"] = {f["bench"]: int(f["per_op_ns"]) for w, f in rows if w == "RESULT"}
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                res["stats"] = json.load(f)
        return res


def measure(name, accel, flavour, iters, runs, timeout):
    m = {"mode": name, "accel": accel, "kernel": f"vmlinux-{flavour}"}
    for label, cost in (("icount", DEFAULT_COST), ("icount_alt", ALT_COST)):
        progress(f"{name}: -icount run, exit cost {cost} ns")
        r = one_run(accel, flavour, iters, timeout, cost)
        m[label] = {k: v for k, v in r.items() if k != "stats"}
        m[label]["exit_cost_ns"] = cost if accel.startswith("kvm-bt") else 0
        if label == "icount" and "stats" in r:
            # bench-results' own summary of the stats file's counts
            m["exits"] = g.exits(r["stats"])
            m["sites"] = r["stats"]["sites"][:30]
    walls = []
    for i in range(runs):
        progress(f"{name}: plain run {i + 1}/{runs}")
        r = one_run(accel, flavour, iters, timeout)
        if r["ok"]:
            walls.append(r["wall_s"])
        else:
            m.setdefault("failed_runs", []).append(r.get("error"))
    if walls:
        m["wall"] = {"median_s": statistics.median(walls), "min_s": min(walls),
                     "max_s": max(walls), "runs_s": walls}
    m["ok"] = m["icount"]["ok"] and m["icount_alt"]["ok"] and bool(walls)
    return m


def matrix_configs():
    """(kernel, smp, accel name, -accel, flavour, append, smp count) of every cell."""
    for kname, flavour, append, kv_suffix in MATRIX_KERNELS:
        for sname, smp, thread in MATRIX_SMP:
            for aname, accel in MATRIX_ACCELS:
                acc = accel + (kv_suffix if accel.startswith("kvm-bt") else "")
                if smp > 1:
                    acc += thread
                yield kname, sname, aname, acc, flavour, append, smp


class HostLoad:
    """While in use, one spinning process per host core (a loaded host)."""

    def __init__(self, on):
        self.on, self.procs = on, []

    def __enter__(self):
        if self.on:
            self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                          for _ in range(os.cpu_count() or 1)]
            time.sleep(0.5)         # let them reach the scheduler before QEMU starts
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def spread_of(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}


def measure_matrix(iters, runs, timeout, icount_iters):
    """The neutrality matrix: plain runs, interleaved (run r of every cell
    before run r + 1 of any), guest-measured time per line; and -icount runs
    at -smp 1 for the exits of bt=on against bt=off per kernel."""
    cells = {}
    for r in range(runs):
        for kname, sname, aname, acc, flavour, append, smp in matrix_configs():
            key = f"{kname}/{sname}/{aname}"
            progress(f"matrix {key}: plain run {r + 1}/{runs} (load {os.getloadavg()[0]:.2f})")
            load = os.getloadavg()[0]
            cell_iters = {**iters, **MATRIX_RR_ITERS} if "thread=single" in acc else iters
            with HostLoad(kname in MATRIX_LOADED):
                res = one_run(acc, flavour, cell_iters, timeout, smp=smp, append=append)
            c = cells.setdefault(key, {"kernel": kname, "smp": sname, "accel": aname,
                                       "qemu_accel": acc, "append": list(append), "runs": []})
            c["runs"].append({"ok": res["ok"], "wall_s": round(res["wall_s"], 2), "load": load,
                              "per_op_ns": res.get("per_op_ns"), "error": res.get("error"),
                              "tail": res.get("tail")})
    stalls, slower = [], []
    for key, c in cells.items():
        good = [x for x in c["runs"] if x["ok"]]
        c["ok"] = len(good) == len(c["runs"])
        c["lines"] = {}
        for b in MATRIX_BENCHES:
            vals = [x["per_op_ns"][b] for x in good if b in x["per_op_ns"]]
            if vals:
                c["lines"][b] = spread_of(vals)
                med = c["lines"][b]["median"]
                # which interleaved run: a stall of every cell in one run is the host's
                rounds = [i + 1 for i, x in enumerate(c["runs"]) if x["ok"] and
                          b in x["per_op_ns"] and x["per_op_ns"][b] > STALL_FACTOR * med]
                if rounds:
                    stalls.append(f"{key} {b}: {vals} (run {', '.join(map(str, rounds))})")
        walls = [x["wall_s"] for x in good]
        if walls:
            c["wall"] = spread_of(walls)
    for kname, _, _, _ in MATRIX_KERNELS:
        for sname, _, _ in MATRIX_SMP:
            trap = cells.get(f"{kname}/{sname}/trap", {}).get("lines", {})
            bt = cells.get(f"{kname}/{sname}/bt", {}).get("lines", {})
            tcg = cells.get(f"{kname}/{sname}/tcg", {}).get("lines", {})
            for b in MATRIX_BENCHES:
                if b in trap and b in bt:
                    # slower beyond what the two spreads allow (tcg's median beside it)
                    if bt[b]["median"] > trap[b]["median"] and bt[b]["min"] > trap[b]["max"]:
                        ref = f", tcg {tcg[b]['median'] / 1e3:.1f} us" if b in tcg else ""
                        slower.append(f"{kname}/{sname} {b}: bt {bt[b]['median'] / 1e3:.1f} us vs "
                                      f"trap {trap[b]['median'] / 1e3:.1f} us{ref}")
    icount = {}
    for kname, flavour, append, kv_suffix in MATRIX_KERNELS:
        if kname in MATRIX_LOADED:
            continue
        for aname, accel in MATRIX_ACCELS[1:]:
            progress(f"matrix {kname}/{aname}: -icount run, exit cost {DEFAULT_COST} ns")
            res = one_run(accel + kv_suffix, flavour, icount_iters, timeout, DEFAULT_COST,
                          append=append)
            ex = g.exits(res.get("stats"))
            icount[f"{kname}/{aname}"] = {
                "ok": res["ok"], "error": res.get("error"), "total": ex.get("total"),
                "pid_sync": (ex.get("by_class") or {}).get("pid-sync", 0),
                "syscall": (ex.get("by_class") or {}).get("syscall", 0),
                "pid_drop": [v.get("pid-drop") for v in (res.get("stats") or {}).get("vcpus", [])]}
    for kname, _, _, _ in MATRIX_KERNELS:
        t, b = icount.get(f"{kname}/trap", {}), icount.get(f"{kname}/bt", {})
        if t.get("total") and b.get("total"):
            b["vs_trap"] = round(b["total"] / t["total"], 4)
    ok = all(c["ok"] for c in cells.values()) and all(x["ok"] for x in icount.values())
    return {"iters": iters, "runs": runs, "icount_iters": icount_iters, "cells": cells,
            "icount": icount, "stalls": stalls, "bt_slower": slower, "ok": ok,
            "load": {"start": cells and next(iter(cells.values()))["runs"][0]["load"],
                     "max": max((x["load"] for c in cells.values() for x in c["runs"]), default=None)}}


def matrix_table(mx):
    """Markdown for the neutrality matrix."""
    lines = ["", "## Neutrality matrix", "",
             f"Plain runs (no -icount), {mx['runs']} per cell, interleaved; guest-measured "
             "time per operation in us, median (min-max); bt/trap is the ratio of medians. "
             "The stock+load rows run with one spinning process per host core. "
             f"Host load average during the runs: {mx['load']['start']:.2f} at the start, "
             f"{mx['load']['max']:.2f} at most.", ""]
    cells = mx["cells"]
    for kname, _, _, _ in MATRIX_KERNELS:
        for sname, _, _ in MATRIX_SMP:
            get = lambda a: cells.get(f"{kname}/{sname}/{a}", {})
            lines += [f"### {kname}, {sname}", "",
                      "| line | tcg us | trap us | bt us | bt/trap |", "|---|---|---|---|---|"]
            for b in MATRIX_BENCHES:
                vals = []
                for a in ("tcg", "trap", "bt"):
                    ln = get(a).get("lines", {}).get(b)
                    vals.append(f"{ln['median'] / 1e3:.2f} ({ln['min'] / 1e3:.2f}-"
                                f"{ln['max'] / 1e3:.2f})" if ln else "FAILED" if not get(a).get("ok")
                                else "-")
                t, bt = (get(a).get("lines", {}).get(b) for a in ("trap", "bt"))
                ratio = f"{bt['median'] / t['median']:.2f}" if t and bt and t["median"] else "-"
                lines.append(f"| {b} | " + " | ".join(vals) + f" | {ratio} |")
            walls = [get(a).get("wall") for a in ("tcg", "trap", "bt")]
            lines.append("| wall s | " + " | ".join(f"{w['median']:.2f} ({w['min']:.2f}-{w['max']:.2f})"
                                                   if w else "-" for w in walls) + " | |")
            lines.append("")
    lines += ["Exits under -icount (-smp 1, default exit cost):", "",
              "| kernel | trap exits | bt exits | bt/trap | bt pid-sync | bt syscall | bt PID drop |",
              "|---|---|---|---|---|---|---|"]
    for kname in (k for k, _, _, _ in MATRIX_KERNELS if k not in MATRIX_LOADED):
        t, b = mx["icount"].get(f"{kname}/trap", {}), mx["icount"].get(f"{kname}/bt", {})
        lines.append(f"| {kname} | {t.get('total') or 'FAILED'} | {b.get('total') or 'FAILED'} | "
                     f"{b.get('vs_trap', '-')} | {b.get('pid_sync', '-')} | {b.get('syscall', '-')} | "
                     f"{b.get('pid_drop', '-')} |")
    lines += ["", "bt=on slower than bt=off beyond the spread: " +
              ("; ".join(mx["bt_slower"]) or "none"),
              "", f"Stalls (a line over {STALL_FACTOR}x its cell's median): " +
              ("; ".join(mx["stalls"]) or "none")]
    return lines


def exit_costs(phases):
    """Outer instructions per exit by kind, from the exit-cost payload's
    phases (tests/conformance/exitcost.c): each phase's instructions per
    iteration less the bare loop's, less what the minimal handlers of the
    reflected kinds cost (their rfi; the DTLB handler's mfsrr0, mtsrr0, rfi
    and one addic)."""
    per = {name: insns / iters for name, iters, insns in phases}
    loop = per.pop("loop")
    cost = {k: per[k] - loop for k in ("mfmsr", "mtspr", "mfsrr0", "mtsrr0", "wrteei", "rfi",
                                       "tlbwe") if k in per}
    if "syscall" in per and "rfi" in cost:
        cost["syscall"] = per["syscall"] - loop - 1 - cost["rfi"]
    if "dtlb-miss" in per and {"mfsrr0", "mtsrr0", "rfi"} <= cost.keys():
        cost["dtlb-miss"] = (per["dtlb-miss"] - loop - 1 - cost["mfsrr0"] - cost["mtsrr0"]
                             - cost["rfi"])
    return {k: round(v) for k, v in cost.items()}


def measure_real_kvm(iters, timeout):
    """The e500v2 guests under real KVM on the nested host, the exit-cost
    payload there, and the same guests under the model (-icount, default
    exit cost), for the real-KVM tables."""
    missing = nestedlib.need_pieces()
    if missing:
        return {"missing": "nested KVM rig not built (make kvm-nested): " + ", ".join(missing)}
    runs = [nestedlib.InnerRun(name, fl, accel=accel, iters=iters, timeout=timeout,
                               stats="bt=on" in accel)
            for name, fl, accel in REAL_KVM_MODES]
    # Per-exit path lengths vary with the host's state (its own TLB and
    # caches): three runs of the payload, reported as median and range.
    runs += [nestedlib.InnerRun(f"exitcost{i}", payload=nestedlib.EXITCOST, timeout=300)
             for i in range(EXITCOST_RUNS)]
    progress("real KVM: booting the nested host (" + ", ".join(r.name for r in runs) + ")")
    n = nestedlib.run_nested(runs, timeout * len(runs) + 300)
    rk = {"host": n.host, "errors": n.errors, "outer_wall_s": round(n.seconds, 1), "modes": []}
    for name, fl, accel in REAL_KVM_MODES:
        r = n.results.get(name)
        m = {"mode": name, "kernel": f"vmlinux-{fl}", "accel": f"{accel} (inner QEMU, nested host)"}
        if r is None:
            m.update(ok=False, error="no run")
            rk["modes"].append(m)
            continue
        rows = r.rows
        m.update(ok=r.ok and any(w == "DONE" for w, _ in rows), errors=r.errors, kvm=r.kvm or {},
                 host_insns=r.host_insns,
                 phase_insns=dict(r.phase_insns() or []),
                 phase_emulated=dict(r.phase_exits("emulated_inst_exits") or []),
                 per_op_ns={f["bench"]: int(f["per_op_ns"]) for w, f in rows if w == "RESULT"},
                 workload=g.deterministic(rows))
        if "bt=on" in accel:
            st = r.stats or {}
            m["translator"] = st.get("translator")
            m["sampling"] = {k: v for k, v in (st.get("kvm") or {}).items()
                             if k != "kvm-counters"}
            if m["translator"] is None:
                m.update(ok=False, error="no kvm-bt stats file")
        rk["modes"].append(m)
    costs, errors = [], []
    for i in range(EXITCOST_RUNS):
        ec = n.results.get(f"exitcost{i}")
        phases = ec.exitcost_phases() if ec else None
        if phases:
            costs.append(exit_costs(phases))
        else:
            errors.append(str(ec.errors if ec else "no run"))
    rk["exit_cost"] = ({"runs": costs,
                        "insns_per_exit": {k: statistics.median(c[k] for c in costs)
                                           for k in costs[0]},
                        "range": {k: [min(c[k] for c in costs), max(c[k] for c in costs)]
                                  for k in costs[0]}}
                       if costs and not errors else
                       {"error": "exit-cost payload did not run: " + "; ".join(errors)})
    for name, accel, fl in MODEL_E500V2_MODES:
        progress(f"{name}: -icount run of the e500v2 guest under the model")
        # the nested runs' settle sleeps (a few system calls a line) too, so
        # that the two sides run the very same guest code
        r = one_run(accel, fl, {**(iters or FULL_ITERS), "settle_ms": nestedlib.SETTLE_MS},
                    timeout, DEFAULT_COST, cpu="e500v2")
        rk["modes"].append({"mode": name, "kernel": f"vmlinux-{fl}", "accel": accel,
                            "ok": r["ok"], "exits": g.exits(r.get("stats")) or None,
                            "boot_ns": r.get("boot_ns"), "per_op_ns": r.get("per_op_ns"),
                            "error": r.get("error")})
    rk["ok"] = not n.errors and all(m["ok"] for m in rk["modes"]) and "error" not in rk["exit_cost"]
    return rk


def real_kvm_table(rk, benches):
    """Markdown for the real-KVM section of results.md."""
    if rk.get("missing"):
        return ["", "## Real KVM e500v2 (nested)", "", f"missing: {rk['missing']}"]
    by = {m["mode"]: m for m in rk["modes"]}
    trap = by.get("kvm-trap", {})
    lines = ["", "## Real KVM e500v2 (nested)", "",
             f"Linux {rk['host'].get('release', '?')} KVM e500v2 host under this QEMU "
             f"(TCG, -icount {ICOUNT} -seed 1), inner QEMU -accel kvm; "
             f"outer wall {rk['outer_wall_s']} s. Host instructions are the outer machine's, "
             "counted by the phase-insns plugin (host kernel, KVM, inner QEMU and guest).", "",
             "| mode | " + " | ".join(c.replace("_exits", "") for c in KVM_COUNTERS)
             + " | emulated vs trap | host Minsns | boot Minsns | " + " | ".join(
                 f"{b} Minsns" for b in benches) + " |",
             "|---" * (4 + len(KVM_COUNTERS) + len(benches)) + "|"]
    for name, _, _ in REAL_KVM_MODES:
        m = by.get(name, {})
        if not m.get("kvm"):
            lines.append(f"| {name} (FAILED: {m.get('errors') or m.get('error')}) |")
            continue
        emu, temu = m["kvm"].get("emulated_inst_exits"), trap.get("kvm", {}).get("emulated_inst_exits")
        ph = m.get("phase_insns", {})
        lines.append("| " + " | ".join([name + ("" if m["ok"] else " (FAILED)")]
                                       + [f"{m['kvm'].get(c, 0):,}" for c in KVM_COUNTERS]
                                       + [f"{emu / temu:.2f}x" if emu and temu else "-",
                                          fmt(m.get("host_insns"), 1e6, 1),
                                          fmt(ph.get("boot"), 1e6, 1)]
                                       + [fmt(ph.get(b), 1e6, 1) for b in benches]) + " |")
    bt, pv = by.get("kvm-bt", {}), by.get("kvm-pv", {})

    def ratio(a, b, *path):
        for p in path:
            a, b = (a or {}).get(p), (b or {}).get(p)
        return f"{a / b:.2f}x" if a and b else "-"

    if bt.get("kvm"):
        t, sm = bt.get("translator") or {}, bt.get("sampling") or {}
        lines += ["", "kvm-bt (-accel kvm,bt=on) against the targets of issue 12: emulated "
                  f"exits {ratio(bt, trap, 'kvm', 'emulated_inst_exits')} of kvm-trap (target "
                  f"<= 0.3x), {ratio(bt, pv, 'kvm', 'emulated_inst_exits')} of the PV guest's "
                  f"(target <= 1.0x); boot-to-init host instructions "
                  f"{ratio(bt, trap, 'phase_insns', 'boot')} of kvm-trap (target <= 0.6x); whole "
                  f"run {ratio(bt, trap, 'host_insns')}. Translated sites {t.get('translated')}, "
                  f"refused {t.get('refused')}, dropped {t.get('dropped')}; TC slots "
                  f"{t.get('tc-used')}/{t.get('tc-total')}; tracepoint samples "
                  f"{sm.get('samples')} ({sm.get('samples-lost')} lost)."]
    ec = rk.get("exit_cost", {})
    if ec.get("insns_per_exit"):
        kinds = list(ec["insns_per_exit"])
        lines += ["", "Host instructions per exit under real KVM (bare-metal exit-cost payload, "
                  f"tests/conformance/exitcost.c; median of {len(ec['runs'])} runs, range below):",
                  "", "| " + " | ".join(kinds) + " |", "|---" * len(kinds) + "|",
                  "| " + " | ".join(f"{ec['insns_per_exit'][k]:,.0f}" for k in kinds) + " |",
                  "| " + " | ".join("{:,}-{:,}".format(*ec["range"][k]) for k in kinds) + " |"]
    else:
        lines += ["", f"exit cost: {ec.get('error')}"]
    # The model on the same guests: its classes against KVM's counters.
    pairs = [("privileged (model) / emulated_inst (KVM)", "privileged", "emulated_inst_exits"),
             ("syscall", "syscall", "syscall_exits"),
             # KVM's "real" misses are the guest's own, reflected to it; its
             # "virt" misses are shadow-TLB refills the model has no analogue of
             ("dtlb-miss / dtlb_real_miss", "dtlb-miss", "dtlb_real_miss_exits"),
             ("itlb-miss / itlb_real_miss", "itlb-miss", "itlb_real_miss_exits"),
             ("- / dtlb_virt_miss (shadow refill)", "-", "dtlb_virt_miss_exits"),
             ("- / itlb_virt_miss (shadow refill)", "-", "itlb_virt_miss_exits"),
             ("decrementer / dec", "decrementer", "dec_exits"),
             ("dsi", "dsi", "dsi_exits"), ("isi", "isi", "isi_exits")]
    lines += ["", "The model on the same e500v2 guests (-icount, exits) against real KVM's counters:",
              "", "| class | model-trap | kvm-trap | model-pv | kvm-pv | model-bt |",
              "|---|---|---|---|---|---|"]

    def model(mode, cls):
        if cls == "-":
            return "-"
        ex = by.get(mode, {}).get("exits") or {}
        return ex.get(cls) if cls == "privileged" else (ex.get("by_class") or {}).get(cls, 0)

    for label, cls, counter in pairs:
        lines.append(f"| {label} | {model('model-trap', cls)} | "
                     f"{by.get('kvm-trap', {}).get('kvm', {}).get(counter, '-')} | "
                     f"{model('model-pv', cls)} | {by.get('kvm-pv', {}).get('kvm', {}).get(counter, '-')}"
                     f" | {model('model-bt', cls)} |")
    return lines


def fmt(v, scale=1.0, digits=2):
    return "-" if v is None else f"{v / scale:.{digits}f}"


def write_outputs(out, results, benches):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    by = {m["mode"]: m for m in results["modes"]}
    native, trap = by.get("native"), by.get("trap")

    def metric(m, path):
        cur = m
        for p in path:
            if not isinstance(cur, dict) or p not in cur:
                return None
            cur = cur[p]
        return cur

    rows = []
    for key, c in (results.get("matrix") or {}).get("cells", {}).items():
        for b, ln in c.get("lines", {}).items():
            rows.append({"mode": "matrix/" + key, "metric": f"{b}_per_op_ns_median",
                         "value": ln["median"]})
    for m in results["modes"]:
        if m.get("missing"):
            rows.append({"mode": m["mode"], "metric": "status", "value": "missing: " + m["missing"]})
            continue
        rows.append({"mode": m["mode"], "metric": "exits_total", "value": metric(m, ["exits", "total"])})
        for cls, n in sorted((metric(m, ["exits", "by_class"]) or {}).items()):
            rows.append({"mode": m["mode"], "metric": f"exits_{cls}", "value": n})
        for lab in ("icount", "icount_alt"):
            rows.append({"mode": m["mode"], "metric": f"{lab}_boot_ns", "value": metric(m, [lab, "boot_ns"])})
            for b in benches:
                rows.append({"mode": m["mode"], "metric": f"{lab}_{b}_per_op_ns",
                             "value": metric(m, [lab, "per_op_ns", b])})
        rows.append({"mode": m["mode"], "metric": "wall_median_s", "value": metric(m, ["wall", "median_s"])})
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["mode", "metric", "value"])
        w.writeheader()
        w.writerows(rows)

    lines = [f"# kvm-bt benchmark ({results['when']}, {'quick' if results['quick'] else 'full'} workload)",
             "", f"Exit cost under -icount: {DEFAULT_COST} ns (default); alternative {ALT_COST} ns.",
             "", "| mode | exits | privileged | reflected | exits vs trap | boot ms (icount) | "
             "boot vs native | boot vs trap | " + " | ".join(f"{b} us" for b in benches) +
             " | wall s (median) | wall spread s | wall vs native | wall vs trap |",
             "|---" * (12 + len(benches)) + "|"]
    for m in results["modes"]:
        if m.get("missing"):
            lines.append(f"| {m['mode']} | missing: {m['missing']} |" + " |" * (11 + len(benches)))
            continue
        tot = metric(m, ["exits", "total"])
        ttot = metric(trap, ["exits", "total"]) if trap else None
        wall = metric(m, ["wall", "median_s"])
        nwall = metric(native, ["wall", "median_s"]) if native else None
        twall = metric(trap, ["wall", "median_s"]) if trap else None
        boot = metric(m, ["icount", "boot_ns"])
        nboot = metric(native, ["icount", "boot_ns"]) if native else None
        tboot = metric(trap, ["icount", "boot_ns"]) if trap else None
        ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
        spread = (f"{m['wall']['min_s']:.2f}-{m['wall']['max_s']:.2f}" if m.get("wall") else "-")
        lines.append("| " + " | ".join([
            m["mode"] + ("" if m["ok"] else " (FAILED)"),
            *(str(v) if v is not None else "n/a" for v in
              (tot, metric(m, ["exits", "privileged"]), metric(m, ["exits", "reflected"]))),
            f"{tot / ttot:.2f}x" if tot is not None and ttot else "-",
            fmt(boot, 1e6), ratio(boot, nboot), ratio(boot, tboot),
            *[fmt(metric(m, ["icount", "per_op_ns", b]), 1e3) for b in benches],
            fmt(wall), spread, ratio(wall, nwall), ratio(wall, twall)]) + " |")
    lines += ["", f"Guest-measured times at exit cost {ALT_COST} ns:", "",
              "| mode | boot ms | " + " | ".join(f"{b} us" for b in benches) + " |",
              "|---" * (2 + len(benches)) + "|"]
    for m in results["modes"]:
        if not m.get("missing"):
            lines.append(f"| {m['mode']} | {fmt(metric(m, ['icount_alt', 'boot_ns']), 1e6)} | " +
                         " | ".join(fmt(metric(m, ["icount_alt", "per_op_ns", b]), 1e3) for b in benches) + " |")
    classes = sorted({c for m in results["modes"] for c in (metric(m, ["exits", "by_class"]) or {})})
    lines += ["", "Exits by class (-icount, default exit cost):", "",
              "| class | " + " | ".join(m["mode"] for m in results["modes"]) + " |",
              "|---" * (1 + len(results["modes"])) + "|"]
    for c in classes:
        lines.append(f"| {c} | " + " | ".join(
            str(metric(m, ["exits", "by_class"]).get(c, 0)) if m.get("exits") else "-"
            for m in results["modes"]) + " |")
    if "real_kvm" in results:
        lines += real_kvm_table(results["real_kvm"], benches)
    if "matrix" in results:
        lines += matrix_table(results["matrix"])
    table = "\n".join(lines) + "\n"
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(table)

    site_mode = by.get("bt") if by.get("bt") and not by["bt"].get("missing") else trap
    with open(os.path.join(out, "sites.md"), "w") as f:
        f.write(f"# Hottest sites still exiting ({site_mode['mode'] if site_mode else 'none'})\n\n")
        if site_mode and site_mode.get("sites"):
            f.write("| ea | pa | instruction | class | exits |\n|---|---|---|---|---|\n")
            for s in site_mode["sites"]:
                f.write(f"| 0x{s['ea']:08x} | 0x{s['pa']:08x} | `{s['insn']}` | {s['class']} | {s['count']} |\n")
        if by.get("bt", {}).get("missing"):
            f.write(f"\nbt mode missing ({by['bt']['missing']}): sites shown are trap mode's.\n")
    plot(out, results, classes, metric)
    return table


def plot(out, results, classes, metric):
    """exits.png: exits by class per mode (stacked) and modeled null syscall time."""
    modes = [m for m in results["modes"] if not m.get("missing") and m["icount"].get("ok")]
    if not modes:
        return
    dat = os.path.join(out, "exits.dat")
    top = sorted(classes, key=lambda c: -sum((metric(m, ["exits", "by_class"]) or {}).get(c, 0)
                                              for m in modes))[:7]
    # native has no monitor: no exits to stack
    with open(dat, "w") as f:
        f.write("mode " + " ".join(top) + " other null_us\n")
        for m in modes:
            bc = metric(m, ["exits", "by_class"]) or {}
            other = sum(v for c, v in bc.items() if c not in top)
            null = (metric(m, ["icount", "per_op_ns", "null"]) or 0) / 1e3
            f.write(f"{m['mode']} " + " ".join(str(bc.get(c, 0)) for c in top) + f" {other} {null}\n")
    n = len(top) + 1
    script = f"""set terminal pngcairo size 1000,480 noenhanced
set output '{os.path.join(out, "exits.png")}'
set multiplot layout 1,2 title 'kvm-bt: exits by class and modeled null-syscall time per mode'
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
set key outside right top
set ylabel 'exits (-icount)'
plot for [i=2:{n + 1}] '{dat}' using i:xtic(1) title columnheader(i)
set style histogram clustered
unset key
set ylabel 'null syscall, guest us'
plot '{dat}' using {n + 2}:xtic(1) title 'null us' lc rgb '#4060c0'
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True,
                       timeout=60)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"bench: no chart ({e}); install gnuplot-nox (scripts/setup.sh does)")


def main():
    ap = argparse.ArgumentParser(description="native vs trap vs pv vs bt")
    ap.add_argument("--quick", action="store_true", help="small repetition counts (CI smoke test)")
    ap.add_argument("--runs", type=int, help="plain runs per mode for wall time (default 3, quick 1)")
    ap.add_argument("--out", default=os.path.join(g.TOP, "bench-results"))
    ap.add_argument("--timeout", type=float, default=900, help="seconds before a run is killed")
    ap.add_argument("--no-real-kvm", action="store_true",
                    help="skip the nested real-KVM columns (kvm-trap, kvm-pv)")
    ap.add_argument("--no-matrix", action="store_true", help="skip the neutrality matrix")
    ap.add_argument("--matrix-only", action="store_true",
                    help="only the neutrality matrix (no modes, no real KVM)")
    ap.add_argument("--matrix-runs", type=int,
                    help="plain runs per matrix cell (default 5, quick 1)")
    args = ap.parse_args()
    iters = g.TEST_ITERS if args.quick else FULL_ITERS
    runs = args.runs or (1 if args.quick else 3)
    os.makedirs(args.out, exist_ok=True)
    results = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "iters": iters,
               "runs": runs, "icount": ICOUNT, "exit_cost_ns": DEFAULT_COST,
               "alt_exit_cost_ns": ALT_COST, "modes": []}
    for name, accel, flavour in ([] if args.matrix_only else MODES):
        try:
            kernel = g.kernel(flavour)
        except FileNotFoundError as e:
            results["modes"].append({"mode": name, "accel": accel, "missing": str(e)})
            continue
        why = availability(accel, kernel)
        if why:
            progress(f"{name}: missing ({why})")
            results["modes"].append({"mode": name, "accel": accel, "missing": why})
            continue
        results["modes"].append(measure(name, accel, flavour, iters, runs, args.timeout))
    if not args.no_real_kvm and not args.matrix_only:
        results["real_kvm"] = measure_real_kvm(iters, math.ceil(args.timeout))  # the runner takes whole seconds
    if not args.no_matrix:
        results["matrix"] = measure_matrix(MATRIX_QUICK_ITERS if args.quick else MATRIX_ITERS,
                                           args.matrix_runs or (1 if args.quick else 5),
                                           args.timeout, iters)
    table = write_outputs(args.out, results, g.BENCHES)
    print("\n" + table)
    print(f"results in {args.out}: results.json results.csv results.md sites.md exits.png")
    failed = [m["mode"] for m in results["modes"] if not m.get("missing") and not m["ok"]]
    rk = results.get("real_kvm", {})
    if rk and not rk.get("missing") and not rk["ok"]:
        failed.append("real-kvm")
    if "matrix" in results and not results["matrix"]["ok"]:
        failed.append("matrix")
    if failed:
        print("failed modes: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
