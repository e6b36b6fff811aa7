#!/usr/bin/env python3
"""Cross-check kvm-bt's privileged-exit accounting against the independent
TCG plugin shared/tools/privcount.c, in the same run.

Run the stock guest under -accel kvm-bt with the plugin loaded (-icount,
exact per-instruction counts). The plugin sees every privileged instruction
twice when it exits: once in the translated block that leaves to the
monitor (its callback runs, the instruction does not) and once in the
one-instruction block that executes it. So every site the monitor reports
must appear in the plugin's report with exactly twice the count, and the
plugin may report only one kind of site the monitor does not: user-mode
reads of the PVR, which QEMU lets problem state execute (no exit)."""
import csv
import json
import os
import subprocess
import sys
import tempfile

import guestlib as g

SHARED = os.environ.get("KVM_BT_SHARED") or os.path.join(g.TOP, "..", "shared")
PLUGIN_SRC = os.path.join(SHARED, "tools", "privcount.c")
results = g.Results()
check = results.check



def build_plugin(tmp):
    inc = os.path.join(g.CACHE, "qemu", "stage", "include", "qemu")
    glib = subprocess.run(["pkg-config", "--cflags", "--libs", "glib-2.0"], check=True,
                          capture_output=True, text=True).stdout.split()
    out = os.path.join(tmp, "libprivcount.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-I", inc, "-o", out, PLUGIN_SRC, *glib],
                   check=True)
    return out


def main():
    if not os.path.exists(PLUGIN_SRC):
        sys.exit(f"{PLUGIN_SRC} missing: the shared/ folder must sit beside the clone "
                 "(or set KVM_BT_SHARED)")
    with tempfile.TemporaryDirectory() as tmp:
        plugin = build_plugin(tmp)
        stats_path, tsv, report = (os.path.join(tmp, n) for n in ("stats.json", "sites.tsv", "report.txt"))
        args = g.qemu_args(f"kvm-bt,bt=off,stats-file={stats_path},exit-cost-ns=0", iters=g.TEST_ITERS,
                           extra=[*g.ICOUNT,
                                  "-plugin", f"{plugin},out={report},sites={tsv},exact=on"])
        rc, out, _ = g.run_guest(args, 600)
        check(rc == 0, "guest runs to power-off with the plugin loaded", out[-1500:])
        with open(stats_path) as f:
            stats = json.load(f)
        with open(tsv) as f:
            plugin_sites = {int(r["vaddr"], 16): r for r in csv.DictReader(f, delimiter="\t")}

    ours = {}
    for s in stats["sites"]:
        ours[s["ea"]] = ours.get(s["ea"], 0) + s["count"]
    mismatched = [(hex(ea), n, plugin_sites.get(ea, {}).get("count"))
                  for ea, n in ours.items()
                  if ea not in plugin_sites or int(plugin_sites[ea]["count"]) != 2 * n]
    check(not mismatched, f"all {len(ours)} exit sites: plugin count == 2 x monitor exits",
          str(mismatched[:10]))
    extra = [(hex(ea), r["insn"], r["class"], r["spr"], r["count"]) for ea, r in plugin_sites.items()
             if ea not in ours]
    unexplained = [e for e in extra if not (int(e[0], 16) < 0xc0000000 and e[2] == "mfspr" and e[3] == "287")]
    check(not unexplained, "plugin-only sites are user-mode PVR reads only", str(unexplained[:10]))
    total_plugin = sum(int(r["count"]) for ea, r in plugin_sites.items() if ea in ours)
    print(f"  monitor: {stats['privileged']} privileged exits at {len(ours)} sites; "
          f"plugin: {total_plugin} executions there (2x), plus {sum(int(e[4]) for e in extra)} "
          f"user-mode PVR reads at {len(extra)} sites")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
