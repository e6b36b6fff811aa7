#!/usr/bin/env python3
"""Exit profile of the stock guest under -accel kvm-bt (a first piece of the
benchmark): exits by class for boot and for each workload line (-icount,
each benchmark run alone minus a boot-only run), host wall time of the full
workload under tcg and kvm-bt (median of N), and the top sites.

Usage: exit_profile.py [--runs N] [--out FILE.md]"""
import argparse
import os
import statistics
import sys

import guestlib as g

sys.path.insert(0, os.path.join(g.TOP, "bench"))
import bench  # noqa: E402

DEFAULTS = bench.FULL_ITERS


def kvm_bt_run(iters, icount=True):
    """One kvm-bt run of the stock guest through the benchmark's runner."""
    r = bench.one_run("kvm-bt,bt=off", "stock", iters, 1200, bench.DEFAULT_COST if icount else None)
    if not r["ok"]:
        sys.exit(f"kvm-bt run failed ({r['error']}):\n{r['tail']}")
    return r["stats"], r["wall_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out")
    args = ap.parse_args()
    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))

    zero = {b: 0 for b in g.BENCHES}
    boot, _ = kvm_bt_run(zero)
    boot = dict(boot, exits=g.exits(boot))
    rows = [("boot (to init)", boot["exits"])]
    for b in g.BENCHES:
        st, _ = kvm_bt_run(dict(zero, **{b: DEFAULTS[b]}))
        st = dict(st, exits=g.exits(st))
        delta = {k: st["exits"]["by_class"].get(k, 0) - boot["exits"]["by_class"].get(k, 0)
                 for k in set(st["exits"]["by_class"]) | set(boot["exits"]["by_class"])}
        rows.append((f"{b} x{DEFAULTS[b]}",
                     {"total": st["exits"]["total"] - boot["exits"]["total"],
                      "privileged": st["exits"]["privileged"] - boot["exits"]["privileged"],
                      "reflected": st["exits"]["reflected"] - boot["exits"]["reflected"],
                      "by_class": delta}))
    classes = sorted({k for _, e in rows for k, v in e["by_class"].items() if v},
                     key=lambda k: -sum(e["by_class"].get(k, 0) for _, e in rows))
    say("### Exits by class (-icount shift=0,sleep=off, exit-cost-ns default)\n")
    say("| phase | total | privileged | reflected | " + " | ".join(classes) + " |")
    say("|---" * (4 + len(classes)) + "|")
    for name, e in rows:
        say(f"| {name} | {e['total']} | {e['privileged']} | {e['reflected']} | " +
            " | ".join(str(e["by_class"].get(k, 0)) for k in classes) + " |")

    walls = {"tcg": [], "kvm-bt": []}
    full = None
    for _ in range(args.runs):
        for accel in ("tcg", "kvm-bt"):
            if accel == "tcg":
                r = bench.one_run("tcg", "stock", DEFAULTS, 1200)
                if not r["ok"]:
                    sys.exit(f"tcg run failed ({r['error']}):\n{r['tail']}")
                secs = r["wall_s"]
            else:
                full, secs = kvm_bt_run(DEFAULTS, icount=False)
            walls[accel].append(secs)
    say(f"\n### Host wall time, full workload (median of {args.runs}, back to back)\n")
    say("| accel | median s | runs |")
    say("|---|---|---|")
    for accel, w in walls.items():
        say(f"| {accel} | {statistics.median(w):.2f} | {', '.join(f'{x:.2f}' for x in w)} |")
    ratio = statistics.median(walls["kvm-bt"]) / statistics.median(walls["tcg"])
    per_exit = ((statistics.median(walls["kvm-bt"]) - statistics.median(walls["tcg"])) /
                full["total"] * 1e6)
    say(f"\nkvm-bt / tcg = {ratio:.2f}x; {full['total']} exits; "
        f"~{per_exit:.2f} us host time per exit")
    say("\n### Top 20 exit sites (full workload, last kvm-bt run)\n")
    say("| ea | pa | instruction | class | exits |")
    say("|---|---|---|---|---|")
    for s in full["sites"][:20]:
        say(f"| 0x{s['ea']:08x} | 0x{s['pa']:08x} | `{s['insn']}` | {s['class']} | {s['count']} |")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
