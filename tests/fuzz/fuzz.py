#!/usr/bin/env python3
"""Differential fuzzing of kvm-bt against TCG (tests/fuzz).

  fuzz.py run --n N --seed S      N generated programs, seeds S..S+N-1
  fuzz.py check                   the fixed smoke set and every saved regression
  fuzz.py show SEED               print one program's assembly

Every program runs under -accel tcg (the reference) and each kvm-bt mode
(MODES); a program whose final-state line differs from tcg's, or that is
missing (a hang killed at the timeout, a crash), is a divergence. Programs
run BATCH to one boot, each from the same reset state (fuzzrt.c); a
divergent program is run again on its own, shrunk by delta debugging over
its ops and saved in tests/fuzz/regressions/, which 'check' runs forever
after.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "guest"))
import gen  # noqa: E402
import guestlib as g  # noqa: E402

QEMU = os.environ.get("KVM_BT_QEMU") or g.QEMU
CROSS = "powerpc-linux-gnu-gcc"
CONF = os.path.join(TOP, "tests", "conformance")
REGRESSIONS = os.path.join(HERE, "regressions")
WORK = os.path.join(g.CACHE, "fuzz")
CFLAGS = ["-mcpu=e500mc", "-m32", "-mbig-endian", "-msoft-float", "-ffreestanding",
          "-fno-builtin", "-fno-stack-protector", "-nostdlib", "-fno-pic", "-mno-sdata", "-G0",
          "-O2", "-Wall", "-Wextra", "-Werror"]

MODES = [
    ("bt=off", "kvm-bt,bt=off"),
    ("bt=on,hot-threshold=1", "kvm-bt,bt=on,hot-threshold=1"),
    ("bt=on", "kvm-bt,bt=on"),
    ("cluster=off", "kvm-bt,bt=on,cluster=off"),
    ("pv=on", "kvm-bt,pv=on"),
]
# the smoke set 'check' runs: seeds CHECK_SEED .. CHECK_SEED + CHECK_N - 1
CHECK_SEED = 1
CHECK_N = 200
BATCH = 25
# seconds per boot: generous, a program takes milliseconds
TIMEOUT = 60


def runtime_objs():
    """start.S, baremetal.c, fuzzrt.c, fuzzcall.S compiled once (keyed by content)."""
    srcs = [os.path.join(CONF, "start.S"), os.path.join(CONF, "baremetal.c"),
            os.path.join(CONF, "baremetal.h"), os.path.join(HERE, "fuzzrt.c"),
            os.path.join(HERE, "fuzzcall.S"), os.path.join(CONF, "conformance.ld")]
    h = hashlib.sha256()
    for s in srcs:
        with open(s, "rb") as f:
            h.update(f.read())
    d = os.path.join(WORK, "rt-" + h.hexdigest()[:16])
    objs = [os.path.join(d, n) for n in ("start.o", "baremetal.o", "fuzzrt.o", "fuzzcall.o")]
    if all(os.path.exists(o) for o in objs):
        return objs
    os.makedirs(d, exist_ok=True)
    for src, obj in zip((srcs[0], srcs[1], srcs[3], srcs[4]), objs):
        subprocess.run([CROSS, *CFLAGS, "-c", src, "-o", obj + ".tmp"], check=True)
        os.replace(obj + ".tmp", obj)
    return objs


def build(progs, path):
    """Link programs @progs (gen.py dicts) into the payload @path."""
    src = path + ".S"
    with open(src, "w") as f:
        f.write(gen.render(progs))
    obj = path + ".o"
    subprocess.run([CROSS, *CFLAGS, "-Wa,-mregnames", "-c", src, "-o", obj], check=True)
    subprocess.run([CROSS, *CFLAGS, "-static", "-Wl,-T," + os.path.join(CONF, "conformance.ld"),
                    "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments", "-Wl,-z,noexecstack",
                    "-o", path, *runtime_objs(), obj, "-lgcc"], check=True)
    return path


def boot(elf, accel, timeout=TIMEOUT, extra=()):
    """Run the payload; (lines by program id, status, full output)."""
    args = [QEMU, "-M", "ppce500", "-cpu", "e500mc", "-m", "256", "-nographic", "-nic", "none",
            "-no-reboot", "-accel", accel, "-kernel", elf, *extra]
    rc, out, _ = g.run_guest(args, timeout)
    lines = {}
    done = False
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("FUZZ ") and line[5:6].isdigit():
            pid, rest = line[5:].split(" ", 1)
            lines[int(pid)] = rest
        elif line == "FUZZ done":
            done = True
    status = "timeout" if rc is None else ("ok" if rc == 0 and done else f"exit {rc}")
    return lines, status, out


def field_diff(a, b):
    if a is None or b is None:
        return "missing" if b is None else "missing in tcg"
    fa = dict(x.split("=", 1) for x in a.split() if "=" in x)
    fb = dict(x.split("=", 1) for x in b.split() if "=" in x)
    keys = sorted(set(fa) | set(fb), key=lambda k: (k not in fa, list(fa).index(k) if k in fa else 0))
    return " ".join(f"{k}:{fa.get(k)}->{fb.get(k)}" for k in keys if fa.get(k) != fb.get(k))


def compare(progs, tmp, modes=MODES, tag="b"):
    """Boot @progs under tcg and @modes; returns {index: [(mode, diff)]}
    and the tcg status. A program missing from a mode's output diverges."""
    elf = build(progs, os.path.join(tmp, tag + ".elf"))
    ref, st, out = boot(elf, "tcg")
    bad = {}
    if st != "ok":
        for i, p in enumerate(progs):
            if p["id"] not in ref:
                bad.setdefault(i, []).append(("tcg", f"tcg {st}"))
        return bad, st, out
    for name, accel in modes:
        got, st, out = boot(elf, accel)
        for i, p in enumerate(progs):
            a, b = ref.get(p["id"]), got.get(p["id"])
            if a != b:
                why = field_diff(a, b) if b is not None else f"{st} (no final state)"
                bad.setdefault(i, []).append((name, why))
    return bad, "ok", ""


def diverges(prog, mode, tmp):
    bad, _, _ = compare([dict(prog, id=0)], tmp, [m for m in MODES if m[0] == mode], "s")
    return bool(bad)


def shrink(prog, mode, tmp, log):
    """ddmin over the ops (Zeller): the smallest op list that still diverges
    under @mode, then the fewest loop iterations."""
    ops = list(range(len(prog["ops"])))

    def variant(keep):
        p = dict(prog)
        p["ops"] = [prog["ops"][i] for i in keep]
        # smc/ld-code targets are indexes into the op list
        remap = {old: new for new, old in enumerate(keep)}
        p["ops"] = [dict(o, target=remap.get(o["target"], -1)) if o["target"] is not None else o
                    for o in p["ops"]]
        return p

    tests = [0]

    def test(keep):
        tests[0] += 1
        return diverges(variant(keep), mode, tmp)

    n = 2
    while len(ops) >= 2:
        chunk = max(1, len(ops) // n)
        subsets = [ops[i:i + chunk] for i in range(0, len(ops), chunk)]
        reduced = False
        for s in subsets:
            comp = [o for o in ops if o not in s]
            if comp and test(comp):
                ops, n, reduced = comp, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(ops):
                break
            n = min(len(ops), 2 * n)
    best = variant(ops)
    for loops in (1, 2, 3, 8, 17):
        if loops < best["loops"] and diverges(dict(best, loops=loops), mode, tmp):
            best = dict(best, loops=loops)
            break
    log(f"  shrunk to {len(best['ops'])} ops, {best['loops']} loops in {tests[0]} tests")
    return best


def save_regression(prog, mode, why, context=()):
    """Save @prog (and the programs @context that ran before it in the same
    boot, when it diverges only after them) as a regression."""
    os.makedirs(REGRESSIONS, exist_ok=True)
    name = f"seed{prog['seed']}-{mode.replace('=', '').replace(',', '-')}.json"
    path = os.path.join(REGRESSIONS, name)
    progs = [dict(p, id=i) for i, p in enumerate(list(context) + [prog])]
    for p in progs:
        p.pop("name", None)
        p.pop("regression", None)
    with open(path, "w") as f:
        json.dump({"mode": mode, "why": why, "programs": progs}, f, indent=1)
        f.write("\n")
    return path


def run_programs(progs, log, do_shrink=True, batch=BATCH):
    """Run @progs in batches; returns the list of divergences
    (program, [(mode, why)])."""
    found = []
    queue = [progs[i:i + batch] for i in range(0, len(progs), batch)]
    done = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        while queue:
            b = queue.pop(0)
            bad, st, out = compare(b, tmp)
            # a boot that hung or died: its first missing program is the
            # culprit, the ones after it did not run and go round again
            missing = [i for i, why in bad.items() if any("no final state" in w for _, w in why)]
            if missing and len(b) > 1:
                first = min(missing)
                rest = [b[i] for i in sorted(missing) if i > first]
                bad = {i: w for i, w in bad.items() if i not in missing or i == first}
                if rest:
                    queue.insert(0, rest)
            for i, why in sorted(bad.items()):
                p = b[i]
                log(f"DIVERGENCE {p.get('name', 'seed ' + str(p['seed']))}: " +
                    "; ".join(f"{m}: {w[:300]}" for m, w in why))
                found.append((p, why))
                if do_shrink and "regression" not in p:
                    mode = why[0][0]
                    if mode == "tcg":
                        continue
                    if diverges(p, mode, tmp):
                        small = shrink(p, mode, tmp, log)
                        path = save_regression(small, mode, why[0][1])
                    else:
                        # state the earlier programs of the boot left behind
                        # (e.g. TLB0's next victim) matters: keep them all
                        log("  does not diverge on its own: saved with the programs before it")
                        path = save_regression(p, mode, why[0][1], b[:i])
                    log(f"  saved {os.path.relpath(path, TOP)}")
            if st != "ok":
                log(f"tcg {st} in batch from seed {b[0]['seed']}: " + out[-500:])
            done += len(b) - (len(rest) if missing and len(b) > 1 else 0)
            log(f"[{time.monotonic() - start:6.1f}s] {done}/{len(progs)} programs, "
                f"{len(found)} divergences")
    return found


def load_regressions():
    """[(file name, [programs])]: each file is one boot."""
    regs = []
    if not os.path.isdir(REGRESSIONS):
        return regs
    for n in sorted(os.listdir(REGRESSIONS)):
        if n.endswith(".json"):
            with open(os.path.join(REGRESSIONS, n)) as f:
                d = json.load(f)
            regs.append((n, [dict(p, name=f"{n} #{i}", regression=True)
                             for i, p in enumerate(d["programs"])]))
    return regs


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, default=100)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--batch", type=int, default=BATCH)
    r.add_argument("--no-shrink", action="store_true")
    sub.add_parser("check")
    s = sub.add_parser("show")
    s.add_argument("seed", type=int)
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    if not os.path.exists(QEMU):
        sys.exit(f"{QEMU} missing: run 'make qemu'")

    def log(msg):
        print(msg, flush=True)

    if a.cmd == "show":
        sys.stdout.write(gen.render([dict(gen.generate(a.seed), id=0)]))
        return 0
    if a.cmd == "run":
        progs = [dict(gen.generate(s), id=i) for i, s in enumerate(range(a.seed, a.seed + a.n))]
        t = time.monotonic()
        found = run_programs(progs, log, not a.no_shrink, a.batch)
        secs = time.monotonic() - t
        log(f"seeds {a.seed}..{a.seed + a.n - 1}: {secs:.0f}s, "
            f"{secs / max(1, a.n) * 1000:.0f} ms per program in {len(MODES) + 1} boots' share")
        print(f"{a.n} programs, {len(found)} divergences")
        return 1 if found else 0
    # check: the smoke set (one check per program) and the regressions (one
    # check per file; single-program files share boots, the others boot alone)
    progs = [dict(gen.generate(s), id=i)
             for i, s in enumerate(range(CHECK_SEED, CHECK_SEED + CHECK_N))]
    t = time.monotonic()
    found = run_programs(progs, log, do_shrink=False)
    bad = {id(p) for p, _ in found}
    results = [(f"seed {p['seed']}", id(p) not in bad) for p in progs]
    regs = load_regressions()
    single = [ps[0] for _, ps in regs if len(ps) == 1]
    single = [dict(p, id=i) for i, p in enumerate(single)]
    bad = {p["name"] for p, _ in run_programs(single, log, do_shrink=False)} if single else set()
    for n, ps in regs:
        if len(ps) == 1:
            results.append((n, ps[0]["name"] not in bad))
        else:
            results.append((n, not run_programs(ps, log, do_shrink=False, batch=len(ps))))
    for name, ok in results:
        print(f"{'PASS' if ok else 'FAIL'} fuzz {name}: identical under tcg and {len(MODES)} kvm-bt modes")
    failed = sum(1 for _, ok in results if not ok)
    print(f"{len(progs)} programs and {len(regs)} regressions in {time.monotonic() - t:.0f}s, "
          f"{failed} divergent")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
