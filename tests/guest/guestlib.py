"""Helpers for tests and tools that run kvm-bt guests: paths, QEMU command
lines, workload output parsing and the workload's expected check values."""
import json
import os
import re
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("KVM_BT_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kvm-bt")
# KVM_BT_QEMU: another build of it (tests/sanitize.py runs the ASan one)
QEMU = os.environ.get("KVM_BT_QEMU") or os.path.join(CACHE, "qemu", "build", "qemu-system-ppc")
GUESTS = os.path.join(CACHE, "guests")

BENCHES = ["null", "fork", "exec", "pagefault", "pipe", "ctxsw"]
# Lines the workload skips unless asked for (wl.<name>=N): the neutrality
# matrix's system-call-heavy lines (bench/bench.py).
EXTRA_BENCHES = ["signal", "fileio", "poll", "yield", "mmap"]
# Deterministic runs: instruction counting, and a fixed guest random seed.
# Without -seed QEMU puts fresh host random bytes into the device tree's
# /chosen/rng-seed at every boot, Linux seeds its RNG from them, and exit
# counts differ by 0.5-6% from run to run (docs/kvm-bt.rst, Determinism).
ICOUNT = ["-icount", "shift=0,sleep=off", "-seed", "1"]
# Small repetition counts for tests; the benchmark uses the workload's defaults.
TEST_ITERS = {"null": 2000, "fork": 20, "exec": 20, "pagefault": 512, "pipe": 500, "ctxsw": 200}


# Kernel flavours (guests/vmlinux-<flavour>) and the CPU each is built for:
# stock and pv for e500mc (corenet32), e500v2-stock and e500v2-pv for e500v2
# (mpc85xx); kvm-host is Linux with KVM e500v2, not a workload guest.
FLAVOUR_CPU = {"stock": "e500mc", "pv": "e500mc", "e500v2-stock": "e500v2",
               "e500v2-pv": "e500v2", "kvm-host": "e500v2"}


def kernel(flavour="stock"):
    path = os.path.join(GUESTS, "vmlinux-" + flavour)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} missing: run 'make guests'")
    return path


def cmdline(iters=None, append=()):
    args = ["console=ttyS0", *append]
    for name, n in (iters or {}).items():
        args.append(f"wl.{name}={n}")
    return " ".join(args)


def qemu_args(accel="tcg", flavour="stock", iters=None, smp=1, extra=(), cpu=None, append=()):
    """QEMU running kernel @flavour; @cpu defaults to the CPU the flavour is
    built for (e500mc for stock and pv, e500v2 for e500v2-*); @append: more
    kernel parameters (e.g. "nosmap": Linux without user-access protection)."""
    cpu = cpu or FLAVOUR_CPU.get(flavour, "e500mc")
    return [QEMU, "-M", "ppce500", "-cpu", cpu, "-m", "256", "-smp", str(smp),
            "-nographic", "-no-reboot", "-nic", "none", "-accel", accel,
            "-kernel", kernel(flavour), "-append", cmdline(iters, append), *extra]


def run_guest(args, timeout):
    """Run QEMU until it exits; returns (exit code or None on timeout, output, seconds)."""
    start = time.monotonic()
    with subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as p:
        try:
            out, _ = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            rc = None
    return rc, out.decode(errors="replace"), time.monotonic() - start


def load_json(path):
    """A stats file or other JSON output; None if missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def by_class(counts):
    """A "by-class" list of the stats file or query-kvm-bt ([{"class", "count"}],
    or the object holding it) as {class: count}."""
    if isinstance(counts, dict):
        counts = counts.get("by-class") or []
    return {e["class"]: e["count"] for e in counts}


def exits(stats):
    """The exit counts of a stats file or query-kvm-bt answer (KvmBtInfo):
    total, privileged, reflected, handled and by_class as {class: count};
    {} without one."""
    if not stats:
        return {}
    return {"total": stats["total"], "privileged": stats["privileged"],
            "reflected": stats["reflected"], "handled": stats["handled"],
            "by_class": by_class(stats)}


LINE_RE = re.compile(r"^KVMBT-(\w+)((?: \w+=\S+)*)\s*$")


def parse_workload(output):
    """KVMBT-* lines as (what, {key: value}) in output order."""
    rows = []
    for line in output.splitlines():
        m = LINE_RE.match(line.strip())
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(2).split())
            rows.append((m.group(1), fields))
    return rows


def deterministic(rows):
    """The workload lines without timing fields: equal across accelerators."""
    return [(what, {k: v for k, v in f.items() if not k.endswith("_ns")}) for what, f in rows]


def expected_check(bench, iters):
    """The workload's check value for a bench run with @iters repetitions."""
    if bench in ("null", "exec"):
        return 0                      # getppid() of init; children exit 0
    if bench in ("signal", "poll", "yield"):
        return iters                  # one per round (the yield child exits 0)
    if bench in ("fileio", "mmap"):
        return sum(i & 0xff for i in range(iters))
    if bench == "fork":
        return 7 * iters              # children _exit(7)
    if bench == "pagefault":
        return sum(i & 0xff for i in range(iters))
    hops = {"pipe": 1, "ctxsw": 3}[bench]   # children in the token ring
    return sum((hops * r) & 0xff for r in range(1, iters + 1))


class Results:
    """PASS/FAIL lines and the closing "N passed, N failed" tally."""

    def __init__(self):
        self.outcomes = []

    def check(self, ok, name, detail=""):
        self.outcomes.append(bool(ok))
        print(("PASS " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""),
              flush=True)
        return ok

    def finish(self):
        failed = self.outcomes.count(False)
        print(f"{len(self.outcomes) - failed} passed, {failed} failed")
        return 1 if failed else 0
