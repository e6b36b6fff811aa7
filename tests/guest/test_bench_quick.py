#!/usr/bin/env python3
"""make bench QUICK=1 as a smoke test: the harness runs every available mode,
reports the missing ones as missing, and writes all its files. Not speed."""
import csv
import json
import os
import subprocess
import sys
import tempfile

import guestlib as g

results = g.Results()
check = results.check


def main():
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run([sys.executable, os.path.join(g.TOP, "bench", "bench.py"), "--quick",
                            "--runs", "1", "--out", out], capture_output=True, text=True,
                           timeout=1800)
        check(p.returncode == 0, "bench --quick exits 0", p.stdout[-2000:] + p.stderr[-1000:])
        for name in ("results.json", "results.csv", "results.md", "sites.md", "exits.png"):
            path = os.path.join(out, name)
            check(os.path.exists(path) and os.path.getsize(path) > 0, f"writes {name}")
        with open(os.path.join(out, "results.json")) as f:
            res = json.load(f)
        modes = {m["mode"]: m for m in res["modes"]}
        check(list(modes) == ["native", "trap", "pv", "bt"], "every mode reported", str(list(modes)))
        for name in ("native", "trap"):
            m = modes.get(name, {})
            check(m.get("ok") and m["icount"]["per_op_ns"].get("null", 0) > 0 and
                  m["wall"]["median_s"] > 0, f"{name}: measured", json.dumps(m)[:500])
        check(modes["trap"].get("exits", {}).get("total", 0) > 0 and "exits" not in modes["native"],
              "exits counted for trap, not applicable to native")
        # every mode exists in this tree: a missing one is a failure, not a pass
        for name in ("pv", "bt"):
            m = modes[name]
            check(not m.get("missing") and m.get("ok") and m.get("exits", {}).get("total", 0) > 0,
                  f"{name}: measured", json.dumps(m)[:300])
        with open(os.path.join(out, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        check(any(r["mode"] == "trap" and r["metric"] == "exits_total" for r in rows),
              "CSV has trap's exit total")
        with open(os.path.join(out, "results.md")) as f:
            md = f.read()
        check(all(f"| {m} |" in md for m in modes), "Markdown table has every mode")
        check("| trap |" in p.stdout, "table printed at the end")
        # the real-KVM columns: the nested host's guests, exit costs, the model beside them
        rk = res.get("real_kvm", {})
        rkm = {m["mode"]: m for m in rk.get("modes", [])}
        for name in ("kvm-trap", "kvm-pv", "kvm-bt", "kvm-bt-pv"):
            m = rkm.get(name, {})
            check(m.get("ok") and m["kvm"].get("emulated_inst_exits", 0) > 0
                  and m.get("host_insns", 0) > 0 and m["phase_insns"].get("boot", 0) > 0,
                  f"{name}: measured on the nested host", json.dumps(m)[:500])
        for name in ("model-trap", "model-pv", "model-bt"):
            m = rkm.get(name, {})
            check(m.get("ok") and m["exits"]["total"] > 0, f"{name}: the model on the same guest",
                  json.dumps(m)[:300])
        costs = rk.get("exit_cost", {}).get("insns_per_exit", {})
        check(set(costs) == {"mfmsr", "mtspr", "mfsrr0", "mtsrr0", "wrteei", "rfi", "tlbwe",
                             "syscall", "dtlb-miss"} and all(v > 0 for v in costs.values()),
              "real KVM: host instructions per exit for every kind", json.dumps(rk.get("exit_cost"))[:500])
        for name in ("kvm-bt", "kvm-bt-pv"):
            t = rkm.get(name, {}).get("translator") or {}
            check(t.get("translated", 0) > 0, f"{name}: the translator's figures are there",
                  json.dumps(t)[:300])
        check(all(f"| {m} |" in md for m in ("kvm-trap", "kvm-pv", "kvm-bt", "kvm-bt-pv"))
              and "against the targets of issue 12" in md, "Markdown has the real-KVM modes")
        # the neutrality matrix: every cell ran every line, exits per kernel
        mx = res.get("matrix", {})
        cells = mx.get("cells", {})
        want = {f"{k}/{sm}/{a}" for k in ("stock", "nosmap", "pv", "stock+load")
                for sm in ("smp1", "smp2-mttcg", "smp2-rr") for a in ("tcg", "trap", "bt")}
        check(set(cells) == want and all(c["ok"] for c in cells.values()),
              "matrix: every kernel, SMP setting and accelerator ran",
              str(sorted(k for k, c in cells.items() if not c["ok"]) or sorted(want ^ set(cells))))
        lines = g.BENCHES + g.EXTRA_BENCHES
        check(all(set(c["lines"]) == set(lines) for c in cells.values()),
              "matrix: every workload line measured in every cell")
        check(all(mx.get("icount", {}).get(f"{k}/{a}", {}).get("total", 0) > 0
                  for k in ("stock", "nosmap", "pv") for a in ("trap", "bt")),
              "matrix: -icount exits of every kernel under trap and bt", json.dumps(mx.get("icount"))[:500])
        check("## Neutrality matrix" in md and "### nosmap, smp2-mttcg" in md and "| yield |" in md
              and "### stock+load, smp2-rr" in md,
              "Markdown has the neutrality matrix")
    # runs that exceed the timeout are killed and recorded, the rest still measured;
    # 10 ms is less than QEMU takes to start, so every mode times out (with 1 s, a
    # quick bt=on run once finished in 0.90 s)
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run([sys.executable, os.path.join(g.TOP, "bench", "bench.py"), "--quick",
                            "--runs", "1", "--timeout", "0.01", "--no-real-kvm", "--no-matrix",
                            "--out", out],
                           capture_output=True,
                           text=True, timeout=600)
        check(p.returncode == 1 and "failed modes: native, trap, pv, bt" in p.stdout,
              "timed-out runs: bench fails and names the modes", p.stdout[-800:])
        with open(os.path.join(out, "results.json")) as f:
            modes = {m["mode"]: m for m in json.load(f)["modes"]}
        check(modes["trap"]["icount"].get("error") == "timeout" and not modes["trap"]["ok"],
              "a killed run is recorded as failed with the reason", json.dumps(modes["trap"])[:400])
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
