#!/usr/bin/env python3
"""make bench: native vs trap vs pv vs bt, side by side, in one invocation.

For every mode: deterministic -icount runs (exits by class, guest-reported
microbenchmark and boot-to-init times at the default exit cost and at one
alternative) and plain runs for host wall time (median and spread). A mode
the accelerator does not offer yet is reported as missing, never faked; a
run that fails or hangs is killed at a timeout and recorded as failed.

Writes results.json, results.csv, results.md, sites.md and exits.png to the
results folder and prints the table. See docs/kvm-bt-bench.rst.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "guest"))
import guestlib as g  # noqa: E402

MODES = [  # name, -accel, guest kernel
    ("native", "tcg", "stock"),
    ("trap", "kvm-bt,bt=off", "stock"),
    ("pv", "kvm-bt,bt=off,pv=on", "pv"),
    ("bt", "kvm-bt,bt=on", "stock"),
]
FULL_ITERS = {"null": 100000, "fork": 200, "exec": 200, "pagefault": 5120, "pipe": 10000,
              "ctxsw": 2500}
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


def one_run(accel, flavour, iters, timeout, icount_cost=None):
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
        rc, out, secs = g.run_guest(g.qemu_args(acc, flavour, iters, extra=extra), timeout)
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
            m["exits"] = r["stats"]["exits"]
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
    ap.add_argument("--timeout", type=int, default=900, help="seconds before a run is killed")
    args = ap.parse_args()
    iters = g.TEST_ITERS if args.quick else FULL_ITERS
    runs = args.runs or (1 if args.quick else 3)
    os.makedirs(args.out, exist_ok=True)
    results = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "iters": iters,
               "runs": runs, "icount": ICOUNT, "exit_cost_ns": DEFAULT_COST,
               "alt_exit_cost_ns": ALT_COST, "modes": []}
    for name, accel, flavour in MODES:
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
    table = write_outputs(args.out, results, g.BENCHES)
    print("\n" + table)
    print(f"results in {args.out}: results.json results.csv results.md sites.md exits.png")
    failed = [m["mode"] for m in results["modes"] if not m.get("missing") and not m["ok"]]
    if failed:
        print("failed modes: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
