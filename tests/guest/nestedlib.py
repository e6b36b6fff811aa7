"""The nested KVM rig: real Linux KVM e500v2 as a host inside QEMU TCG.

The outer qemu-system-ppc (this machine's, TCG, -cpu e500v2, under -icount so
counts repeat closely) boots the KVM host kernel with an initrd holding the
runner (/init, guests/kvm-host/runner.c), the cross-built static QEMU and the
e500v2 guests. The runner starts each inner "qemu-system-ppc -accel kvm ..."
listed in /runs, streams the guest's console out and reports KVM's debugfs
counters; the phase-insns plugin (tools/phase-insns.c) records how many
instructions the outer machine executed at each phase marker. Everything here
is parsed from the outer console and the plugin's file.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import guestlib

NESTED = os.path.join(guestlib.CACHE, "nested")
HOST_KERNEL = os.path.join(guestlib.GUESTS, "vmlinux-kvm-host")
INNER_QEMU = os.path.join(guestlib.CACHE, "cross", "qemu-system-ppc")
RUNNER = os.path.join(NESTED, "runner")
PLUGIN = os.path.join(NESTED, "phase-insns.so")
GEN_INIT_CPIO = os.path.join(NESTED, "gen_init_cpio")
EXITCOST = os.path.join(NESTED, "exitcost.elf")
HOST_MEM_MB = 768
RUNNER_MARK = 0x68210000     # xori r1,r1,0: the runner, around each inner QEMU
GUEST_MARK = 0x68000000      # xori r0,r0,0: the workload, before each phase
# The guest sleeps this long after each workload line so the runner reads
# KVM's counters at a quiet boundary (wl.settle_ms in guests/workload).
SETTLE_MS = 20

KVMNEST_RE = re.compile(r"KVMNEST-(\w+)(.*)$")
FIELD_RE = re.compile(r'(\w+)=("[^"]*"|\S+)')
PLUGIN_RE = re.compile(r"marker=0x([0-9a-f]+) pc=0x([0-9a-f]+) insns=(\d+)")


class InnerRun:
    """One inner QEMU under -accel kvm on the nested host."""

    def __init__(self, name, flavour="e500v2-stock", accel="kvm", iters=None,
                 extra=(), timeout=600, settle_ms=SETTLE_MS, payload=None, stats=False,
                 qmp=(), user=0, no_tracefs=False):
        """@flavour: a guest kernel (vmlinux-FLAVOUR, the workload's /init);
        or @payload: a bare-metal ELF on this machine to boot instead.
        @stats: accel is kvm,bt=on: its stats file comes back as RunResult.stats."""
        self.name, self.flavour, self.accel = name, flavour, accel
        self.dump = None
        self.qmp = list(qmp)    # QMP commands (JSON text) after power-off: RunResult.qmp
        self.user = user        # a uid: the inner QEMU runs unprivileged
        self.no_tracefs = no_tracefs    # the inner QEMU sees no tracefs
        if stats:
            self.dump = f"/tmp/kvmbt-{name}.json"
            self.accel += f",stats-file={self.dump}"
        self.iters, self.extra, self.timeout = iters, list(extra), timeout
        self.settle_ms = settle_ms
        if payload:
            self.kernel, self.append = "/guests/" + os.path.basename(payload), ""
            self.files = {self.kernel: payload}
        else:
            self.kernel, self.append = f"/guests/vmlinux-{flavour}", None
            self.files = {self.kernel: os.path.join(NESTED, f"vmlinux-{flavour}")}

    def args(self):
        append = self.append
        if append is None:
            append = guestlib.cmdline(self.iters)
            if self.settle_ms:
                append += f" wl.settle_ms={self.settle_ms}"
        return ["-M", "ppce500", "-cpu", "e500v2", "-m", "256", "-nographic", "-nodefaults",
                "-no-reboot", "-serial", "stdio", "-accel", self.accel,
                "-kernel", self.kernel, "-append", append, *self.extra]


class RunResult:
    """What one inner run produced, parsed."""

    def __init__(self, name):
        self.name = name
        self.lines = []          # the guest's console, as the runner forwarded it
        self.kvm = None          # KVM's debugfs counters after the guest powered off
        self.snaps = []          # counters after each KVMBT- line
        self.errors = []         # KVMNEST-ERROR fields
        self.ok = False
        self.ended = False       # the runner marked the guest's power-off
        self.marks = []          # plugin: (marker word, insns) from start to end
        self.dump_lines = []     # the file the run asked the runner to print
        self.qmp = {}            # index -> the answer (parsed JSON) to InnerRun.qmp[index]

    @property
    def stats(self):
        """kvm-bt's stats file (InnerRun(stats=True)), parsed; None if absent or cut."""
        try:
            return json.loads("\n".join(self.dump_lines)) if self.dump_lines else None
        except ValueError:
            return None

    @property
    def output(self):
        return "\n".join(self.lines)

    @property
    def rows(self):
        return guestlib.parse_workload(self.output)

    @property
    def host_insns(self):
        """Outer instructions from the runner's start marker to its end marker."""
        ends = [i for w, i in self.marks if w == RUNNER_MARK]
        return ends[-1] - ends[0] if len(ends) == 2 else None

    def _by_phase(self, points):
        """[("boot", n), (bench, n)...] from running totals at the run's start
        and at each phase boundary (boot's end, then each bench's end)."""
        benches = [f["bench"] for what, f in self.rows if what == "RESULT"]
        if len(points) < len(benches) + 2:
            return None
        return [(name, points[i + 1] - points[i]) for i, name in enumerate(["boot", *benches])]

    def phase_insns(self):
        """Outer instructions per phase. Boot runs from the inner QEMU's start
        to the workload's first marker; each bench from its marker to the
        next (its own line and settle sleep included)."""
        if not self.marks:
            return None
        guest = [i for w, i in self.marks if w == GUEST_MARK]
        benches = [f for what, f in self.rows if what == "RESULT"]
        if len(guest) != len(benches) + 1:
            return None
        return self._by_phase([self.marks[0][1], *guest])

    def exitcost_phases(self):
        """The exit-cost payload's phases: [(name, iters, outer insns)]."""
        names = [(f["phase"], int(f["iters"])) for f in
                 (fields(l.split("EXITCOST", 1)[1]) for l in self.lines if "EXITCOST phase=" in l)]
        guest = [i for w, i in self.marks if w == GUEST_MARK]
        if len(guest) != len(names) + 1:
            return None
        return [(nm, it, guest[k + 1] - guest[k]) for k, (nm, it) in enumerate(names)]

    def phase_exits(self, counter):
        """One KVM counter per phase, from the snapshots taken at each
        workload line (BOOT, each RESULT)."""
        return self._by_phase([0, *(int(s.get(counter, 0)) for s in self.snaps)])


def fields(rest):
    return {k: v.strip('"') for k, v in FIELD_RE.findall(rest)}


def build_initrd(runs, path):
    """The host's initrd: runner as /init, inner QEMU, guests, and /runs."""
    tmp = os.path.dirname(path)
    runs_file = os.path.join(tmp, "runs")
    with open(runs_file, "w") as f:
        for r in runs:
            f.write(f"run {r.name}\ntimeout {r.timeout}\n")
            if r.dump:
                f.write(f"dump {r.dump}\n")
            for q in r.qmp:
                f.write(f"qmp {q}\n")
            if r.user:
                f.write(f"user {r.user}\n")
            if r.no_tracefs:
                f.write("no-tracefs\n")
            for a in r.args():
                f.write(f"arg {a}\n")
            f.write("end\n")
    listing = os.path.join(tmp, "initrd.list")
    files = {}
    for r in runs:
        files.update(r.files)
    with open(listing, "w") as f:
        f.write("dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n"
                "dir /proc 0555 0 0\ndir /sys 0555 0 0\ndir /tmp 01777 0 0\n"
                "dir /guests 0755 0 0\n")
        f.write(f"file /init {RUNNER} 0755 0 0\n")
        f.write(f"file /qemu-system-ppc {INNER_QEMU} 0755 0 0\n")
        f.write(f"file /runs {runs_file} 0644 0 0\n")
        for dest, src in sorted(files.items()):
            f.write(f"file {dest} {src} 0644 0 0\n")
    with open(path, "wb") as out:
        # -t: one fixed mtime, so the same runs give the same initrd, byte for byte
        subprocess.run([GEN_INIT_CPIO, "-t", "0", listing], stdout=out, check=True)


def outer_args(initrd, plugin_out, console, host_kernel=HOST_KERNEL):
    # The console goes to a file: a pipe that fills up makes the outer UART
    # wait on the host, and the run is no longer the same from run to run.
    return [guestlib.QEMU, "-M", "ppce500", "-cpu", "e500v2", "-m", str(HOST_MEM_MB),
            "-display", "none", "-monitor", "none", "-serial", f"file:{console}",
            "-no-reboot", "-nic", "none", "-accel", "tcg", *guestlib.ICOUNT,
            "-kernel", host_kernel, "-initrd", initrd,
            "-append", "console=ttyS0 quiet",
            "-plugin", f"{PLUGIN},out={plugin_out}"]


class Nested:
    """One boot of the nested host running @runs; results by run name."""

    def __init__(self):
        self.host = {}
        self.errors = []
        self.results = {}
        self.alldone = None
        self.console = []
        self.rc = None
        self.seconds = 0.0
        self.total_insns = None


def follow(f, proc):
    """The lines of file @f as process @proc writes them, until it exits."""
    part = b""
    while True:
        chunk = f.read()
        if chunk:
            part += chunk
            *lines, part = part.split(b"\n")
            yield from lines
        elif proc.poll() is not None:
            rest = f.read()
            if not rest:
                if part:
                    yield part
                return
            part += rest
        else:
            time.sleep(0.05)


def run_nested(runs, timeout, host_kernel=HOST_KERNEL, progress=True, keep=None):
    """Boot the KVM host under the outer QEMU with @runs; kill it at @timeout
    seconds (wall). Progress lines go to stderr as the runner reports."""
    n = Nested()
    with tempfile.TemporaryDirectory(prefix="kvm-nested-") as tmp:
        initrd = os.path.join(tmp, "initrd.cpio")
        build_initrd(runs, initrd)
        plugin_out = os.path.join(tmp, "insns.txt")
        console = os.path.join(tmp, "console.txt")
        open(console, "wb").close()
        args = outer_args(initrd, plugin_out, console, host_kernel)
        cur = None
        start = time.monotonic()
        with subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as p, open(console, "rb") as con:
            timer = threading.Timer(timeout, p.kill)
            timer.start()
            try:
                for raw in follow(con, p):
                    line = raw.decode(errors="replace").rstrip("\r\n").replace("\r", "")
                    n.console.append(line)
                    m = KVMNEST_RE.search(line)
                    if not m:
                        if cur is not None:
                            cur.lines.append(line)
                        continue
                    if m.group(1) == "QMP" and cur is not None:
                        _, _, idx, answer = (m.group(2).split(" ", 3) + [""])[:4]
                        try:
                            cur.qmp[int(idx.split("=")[1])] = json.loads(answer)
                        except (ValueError, IndexError):
                            cur.errors.append({"what": "qmp", "detail": answer[:200]})
                        continue
                    if m.group(1) == "DUMP" and cur is not None:
                        cur.dump_lines.append(m.group(2).split(" ", 2)[2] if
                                              m.group(2).count(" ") >= 2 else "")
                        continue
                    what, f = m.group(1), fields(m.group(2))
                    if progress and what in ("HOST", "RUN", "EXIT", "ERROR", "ALLDONE"):
                        print(f"  [{time.monotonic() - start:6.1f}s] nested: {what.lower()} "
                              + " ".join(f"{k}={v}" for k, v in f.items()),
                              file=sys.stderr, flush=True)
                    if what == "HOST":
                        n.host = f
                    elif what == "RUN":
                        cur = n.results[f["run"]] = RunResult(f["run"])
                    elif what == "SNAP" and cur:
                        cur.snaps.append(f)
                    elif what == "MARK" and cur:
                        cur.ended = f.get("at") == "end"
                    elif what == "KVM" and cur:
                        cur.kvm = {k: int(v) for k, v in f.items() if k != "run"}
                    elif what == "EXIT" and cur:
                        cur.ok = f.get("ok") == "1"
                        cur = None
                    elif what == "ERROR":
                        (n.results[f["run"]].errors if f.get("run") in n.results
                         else n.errors).append(f)
                    elif what == "ALLDONE":
                        n.alldone = f
                n.rc = p.wait()
                n.console += [l.rstrip() for l in p.stdout.read().decode(errors="replace")
                              .splitlines()]      # QEMU's own messages, if any
            finally:
                timer.cancel()
                if p.poll() is None:
                    p.kill()
        n.seconds = time.monotonic() - start
        if n.alldone is None and not n.errors:
            n.errors.append({"what": "timeout" if n.rc in (None, -9) else "host",
                             "detail": f"outer QEMU ended (rc {n.rc}) after {n.seconds:.0f}s "
                                       "without the runner's final line"})
        marks = []
        if os.path.exists(plugin_out):
            with open(plugin_out) as f:
                for line in f:
                    m = PLUGIN_RE.match(line)
                    if m:
                        marks.append((int(m.group(1), 16), int(m.group(3))))
                    elif line.startswith("total insns="):
                        n.total_insns = int(line.split("=")[1])
        if keep:
            with open(keep, "w") as f:
                f.write("\n".join(n.console) + "\n")
    # Markers in order: runner start, the guest's phase markers, runner end.
    names = [r.name for r in runs if r.name in n.results]
    i = 0
    for name in names:
        res = n.results[name]
        while i < len(marks) and marks[i][0] != RUNNER_MARK:
            i += 1
        if i >= len(marks):
            break
        res.marks.append(marks[i])
        i += 1
        while i < len(marks) and marks[i][0] == GUEST_MARK:
            res.marks.append(marks[i])
            i += 1
        if res.ended and i < len(marks) and marks[i][0] == RUNNER_MARK:
            res.marks.append(marks[i])
            i += 1
    return n


def need_pieces():
    """Missing rig pieces, as a list of paths."""
    want = [guestlib.QEMU, HOST_KERNEL, INNER_QEMU, RUNNER, PLUGIN, GEN_INIT_CPIO, EXITCOST]
    return [p for p in want if not os.path.exists(p)]


def tcg_reference(res, flavour, iters):
    """The workload rows of @flavour under -accel tcg -cpu e500v2 (-icount),
    what every nested run of that guest must print."""
    rc, out, _ = guestlib.run_guest(
        guestlib.qemu_args("tcg", flavour, iters, cpu="e500v2", extra=guestlib.ICOUNT), 300)
    rows = guestlib.parse_workload(out)
    res.check(rc == 0 and rows and rows[-1][0] == "DONE", f"tcg.{flavour}.completes",
              f"rc {rc}, last lines: {out.splitlines()[-3:]}")
    return guestlib.deterministic(rows)


def check_workload(res, name, run, ref):
    """A nested run completed, its workload checks hold, and it printed @ref."""
    rows = run.rows if run else []
    res.check(run is not None and run.ok and rows and rows[-1][0] == "DONE",
              f"{name}.completes", f"errors {run.errors if run else 'no run'}, "
              f"last lines {run.lines[-5:] if run else []}")
    bad = [f for what, f in rows if what == "RESULT"
           and int(f["check"]) != guestlib.expected_check(f["bench"], int(f["iters"]))]
    res.check(rows and not bad, f"{name}.checks", f"wrong check values: {bad}")
    res.check(guestlib.deterministic(rows) == ref, f"{name}.same_as_tcg",
              f"nested {guestlib.deterministic(rows)} vs tcg {ref}")


def pieces_ready(res):
    """False (and one failed check) if the rig is not built."""
    missing = need_pieces()
    res.check(not missing, "rig.pieces", f"missing: {missing} (make kvm-nested builds them)")
    return not missing
