#!/usr/bin/env python3
"""bt=on, kvm-bt's adaptive binary translator:

- the bare-metal conformance payload under bt=on,hot-threshold=1: output
  identical to tcg, many translations of both kinds (in place and stub);
- the self-modifying-code payload (tests/conformance/smc.c): identical output
  and every check passing under tcg, bt=off and bt=on; under bt=on the sites
  the guest overwrote are "dropped" (and traced as such);
- the stock Linux guest under kvm-bt (bt=on by default): workload output as
  tcg's under -icount, and with -smp 2 / -smp 4 under MTTCG;
- through QMP after power-off: hot mfmsr and wrteei sites translated, every
  translated site's patch well formed (lwz/stw on the shared page, or a
  branch to its stub, which branches back to site+4) and present in guest
  memory (HMP xp);
- exit counts under -icount: bt=on far below trap-and-emulate and below the
  paravirtual guest;
- the hot-threshold option: bad values refused at startup, a huge threshold
  translates nothing; bt=off reports no translator;
- exit clusters: the TLB-miss handler's tlbwe steps on to its rfi in one
  exit (QMP, and the words in guest memory), the exits they avoid are what
  cluster=off has more, and a guest rewriting a word of a cluster makes that
  word exit on its own again (smc.c); cluster=on without bt=on is refused;
- a system reset (QMP, mid-workload) leaves no site, exit or translation
  behind, and the guest then runs the whole workload as under tcg.

Independent QEMUs run in parallel; checks are printed in a fixed order.
"""
import bisect
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import threading

import guestlib as g
from qmp import QMP

TIMEOUT = 150       # a Linux run takes 2-15 s with the suite's other runs alongside
MTTCG_TIMEOUT = 60  # MTTCG runs, alone on the host: 1.5-4 s
ICOUNT = g.ICOUNT
CONFORMANCE = os.path.join(g.GUESTS, "conformance.elf")
SMC = os.path.join(g.GUESTS, "smc.elf")
SMC_MAGIC_SLOT = 7      # smc.c SLOT_MAGIC: mfspr r3,SPRG1 while the guest maps 0xFFFFF000
SMC_CLUSTER_SLOT = 8    # smc.c SLOT_CLUSTER: tlbsx 0,r3; tlbre -> tlbsx 0,r3; mfspr r3,SPRG1
SMC_TC_REMAP_SLOT = 9   # smc.c SLOT_TC_REMAP: wrteei 1 while its stub's page is mapped elsewhere
SMC_LOOPS = 64
MFSPR_R3_SPRG1 = 0x7c7142a6
RFI = 0x4c000064
DEFAULT_HOT_THRESHOLD = 16
# smc.c's code page: slot index -> (what the site was, the kind of its first translation)
SMC_SLOTS = {0: ("mfspr SPRG0", "inplace"), 2: ("mfmsr", "inplace"), 3: ("wrteei", "stub"),
             4: ("wrtee", "stub"), 5: ("mfspr SPRG5 (toggled)", "inplace"),
             6: ("mfspr SPRG2 (written through an alias)", "inplace")}
# Measured with TEST_ITERS under -icount -seed 1: trap 493k, PV guest 99.3k, bt=on 55.4k
# (0.558x pv, 0.112x trap; 60.5k without the PID drop at system calls, 68.2k without
# deferred PID writes, 72.1k without clusters either), the same run after run. The
# issue's targets (0.8x, 0.25x, for the full workload) are met with room; these
# bounds catch a regression of any of them.
BT_VS_PV = 0.6
BT_VS_TRAP = 0.13
# exits(cluster=off) - exits(cluster=on) against the exits clusters report
# avoided, both at exit-cost-ns=0 so that fewer exits do not change the guest's
# timing: measured equal (61,506 + 4,241 = 65,747); the slack is for the
# power-off tail (test_kvm_bt.py, record/replay)
CLUSTER_ACCOUNT_SLACK = 2e-4

results = g.Results()
check = results.check


def tmpfile(tmp, name):
    return os.path.join(tmp, name)


# ---- bare-metal payloads ---------------------------------------------------

def run_payload(elf, accel, extra=()):
    """(exit code, PASS/FAIL/INFO/start/done lines, stdout, stderr)."""
    args = [g.QEMU, "-M", "ppce500", "-cpu", "e500mc", "-m", "256", "-nographic", "-nic", "none",
            "-no-reboot", "-accel", accel, "-kernel", elf, *extra]
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, [], out + "\n[timed out after 120s]", ""
    lines = [l.strip() for l in p.stdout.splitlines()
             if l.startswith(("PASS ", "FAIL ", "INFO ")) or re.match(r"^[A-Z]+ (start|done)", l)]
    return p.returncode, lines, p.stdout, p.stderr


def run_payload_stats(tmp, tag, elf, accel, extra=()):
    path = tmpfile(tmp, tag + ".json")
    rc, lines, out, err = run_payload(elf, f"{accel},stats-file={path}", extra)
    return rc, lines, out, err, g.load_json(path)


def done_ok(lines, prefix):
    m = re.match(rf"^{prefix} done passed=(\d+) failed=(\d+)$", lines[-1]) if lines else None
    return bool(m) and int(m.group(1)) > 0 and m.group(2) == "0"


def diff_lines(ref, got):
    bad = [f"  tcg: {a}\n  got: {b}" for a, b in zip(ref, got) if a != b]
    return "\n".join(bad[:5]) or f"{len(got)} vs {len(ref)} lines"


def translated_sites(stats):
    return [s for s in stats.get("sites", [])
            if s.get("translation", {}).get("state") == "translated"]


# ---- Linux ------------------------------------------------------------------

def workload(out):
    """Workload lines of @out. The guest waits for its console to drain
    before it powers off (guests/workload/workload.c), so a run that
    completed always shows its DONE line."""
    return g.parse_workload(out)


def trouble(out):
    """Guest lines that explain a failed run."""
    bad = [l for l in out.splitlines()
           if re.search(r"is stuck|BUG|Oops|panic|rcu.*stall|watchdog", l)]
    return "\n".join(bad[:8] + ["..."] + out.splitlines()[-6:])


def run_linux(tmp, tag, accel, flavour="stock", smp=1, extra=(), timeout=TIMEOUT):
    """(exit code, output, workload rows, stats or None)."""
    stats = None
    if accel.startswith("kvm-bt"):
        stats = tmpfile(tmp, tag + ".json")
        accel += ",stats-file=" + stats
    rc, out, _ = g.run_guest(g.qemu_args(accel, flavour, g.TEST_ITERS, smp, extra), timeout)
    return rc, out, workload(out), g.load_json(stats) if stats else None


def run_linux_reset(tmp, tag):
    """bt=on: once the workload printed its first result, stop the guest,
    system_reset it over QMP, read query-kvm-bt while it is still stopped,
    and let it boot again and run the whole workload to power-off.
    Returns (exit code, output, workload rows after the reset, query right
    after the reset, stats, QMP error or None)."""
    sock = tmpfile(tmp, tag + ".sock")
    stats = tmpfile(tmp, tag + ".json")
    # no -no-reboot: with it, QEMU turns system_reset into a shutdown
    args = [a for a in g.qemu_args(f"kvm-bt,stats-file={stats}", iters=g.TEST_ITERS,
                                   extra=["-qmp", f"unix:{sock},server=on,wait=off"])
            if a != "-no-reboot"]
    lines, after, error = [], None, None
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace")
    timed_out = []
    watchdog = threading.Timer(TIMEOUT, lambda: (timed_out.append(True), p.kill()))
    watchdog.start()
    try:
        q = QMP(sock)
        for line in p.stdout:
            lines.append(line)
            if after is None and line.startswith("KVMBT-RESULT"):
                q.cmd("stop")
                q.cmd("system_reset")
                q.wait_event("RESET", 30)
                after = q.cmd("query-kvm-bt", top=1000)
                q.cmd("cont")
        rc = p.wait(timeout=30)
        q.close()
    except Exception as e:     # reported through the checks
        error = repr(e)
        rc = None
    finally:
        watchdog.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
        if timed_out:
            rc, error = None, error or f"timed out after {TIMEOUT}s"
    out = "".join(lines)
    boots = [i for i, l in enumerate(lines) if l.startswith("KVMBT-BOOT")]
    rows = workload("".join(lines[boots[-1]:])) if len(boots) == 2 else []
    return rc, out, rows, after, g.load_json(stats), error


def hmp(q, command):
    return q.cmd("human-monitor-command", **{"command-line": command})


def xp_words(q, pa, n):
    """n guest-physical words from @pa, through HMP xp."""
    words = []
    for line in hmp(q, f"xp /{n}xw 0x{pa:x}").splitlines():
        if ":" in line:
            words += [int(w, 16) for w in line.split(":", 1)[1].split()]
    return words


def run_linux_qmp(tmp, tag, accel, iters=g.TEST_ITERS, extra=(), inspect=None):
    """Run the stock guest to power-off with -no-shutdown, then query-kvm-bt
    top=200, info kvm-bt and whatever inspect(q, query) reads; quit.
    Returns (rc, output, rows, query, hmp text, inspect's result, stats)."""
    sock = tmpfile(tmp, tag + ".sock")
    stats = tmpfile(tmp, tag + ".json")
    log = tmpfile(tmp, tag + ".out")
    args = g.qemu_args(f"{accel},stats-file={stats}", iters=iters,
                       extra=["-no-shutdown", "-qmp", f"unix:{sock},server=on,wait=off", *extra])
    query = info = seen = None
    with open(log, "wb") as f:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        try:
            q = QMP(sock)
            q.wait_event("SHUTDOWN", TIMEOUT)
            query = q.cmd("query-kvm-bt", top=200)
            info = hmp(q, "info kvm-bt")
            if inspect:
                seen = inspect(q, query)
            q.cmd("quit")
            rc = p.wait(timeout=30)
        except Exception as e:     # reported through the checks below
            print(f"  {tag}: QMP session failed: {e!r}")
            rc = None
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    with open(log, errors="replace") as f:
        out = f.read()
    return rc, out, workload(out), query, info, seen, g.load_json(stats)


# ---- decoding patches --------------------------------------------------------

def sext(v, bits):
    return v - (1 << bits) if v & (1 << (bits - 1)) else v


def decode_dform(word):
    """(opcode, RT/RS, RA, D)"""
    return word >> 26, (word >> 21) & 31, (word >> 16) & 31, sext(word & 0xffff, 16)


def branch_target(ea, word):
    """Target of an unconditional relative "b" (no AA, no LK) at @ea, else None."""
    if word >> 26 != 18 or word & 3:
        return None
    return (ea + sext(word & 0x03fffffc, 26)) & 0xffffffff


def inplace_patch_ok(site):
    """A translated in-place site: lwz (reads) / stw (writes) on the shared page
    with RA=0, D in [-4096, -1], same GPR as the original instruction."""
    op, rt, ra, d = decode_dform(site["translation"]["patch"])
    want_op = 36 if site["class"] == "mtspr" else 32
    return op == want_op and ra == 0 and -4096 <= d <= -1 and rt == (site["word"] >> 21) & 31


def kernel_symbols(flavour="stock"):
    """Text symbols of the kernel, sorted, and its permanent text range [_stext, _etext)."""
    path = g.kernel(flavour) + ".map"
    syms, marks = [], {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue
                if parts[2] in ("_stext", "_etext"):
                    marks[parts[2]] = int(parts[0], 16)
                if parts[1] in "tTwW":
                    syms.append((int(parts[0], 16), parts[2]))
    except OSError:
        return None, range(0)
    syms.sort()
    return syms, range(marks.get("_stext", 0), marks.get("_etext", 0))


def symbolize(syms, ea):
    if not syms:
        return "?"
    i = bisect.bisect_right(syms, (ea, "\xff")) - 1
    return f"{syms[i][1]}+0x{ea - syms[i][0]:x}" if i >= 0 else "?"


TC_RE = re.compile(r"TC (\d+)/(\d+) slots at 0x([0-9a-f]+) \(pa 0x([0-9a-f]+)\)")
TC_SLOT_WORDS = 32      # KVM_BT_STUB_MAX_WORDS: 2048 slots in 256 KiB


def inspect_memory(q, query):
    """Guest memory after power-off: the word at every top-200 site and the
    used part of the translation cache (located through info kvm-bt)."""
    words, runs = {}, {}
    for s in query.get("sites", []):
        if s["pa"] not in words:
            got = xp_words(q, s["pa"], 1)
            words[s["pa"]] = got[0] if got else None
        n = (s.get("cluster") or {}).get("words", 0)
        if n and s["pa"] not in runs:
            runs[s["pa"]] = xp_words(q, s["pa"], n)
    tc = None
    m = TC_RE.search(hmp(q, "info kvm-bt"))
    if m:
        used, tc_ea, tc_pa = int(m.group(1)), int(m.group(3), 16), int(m.group(4), 16)
        tcw = []
        for off in range(0, used * TC_SLOT_WORDS, 256):
            tcw += xp_words(q, tc_pa + 4 * off, min(256, used * TC_SLOT_WORDS - off))
        tc = (tc_ea, tc_pa, tcw)
    return {"site": words, "tc": tc, "runs": runs}


# ---- the jobs ------------------------------------------------------------------

def jobs(tmp):
    """name -> (function, args): every QEMU run of the suite, all independent."""
    return {
        # payloads
        "conf-tcg": (run_payload, (CONFORMANCE, "tcg")),
        "conf-bt1": (run_payload_stats, (tmp, "conf-bt1", CONFORMANCE,
                                         "kvm-bt,bt=on,hot-threshold=1")),
        "conf-huge": (run_payload_stats, (tmp, "conf-huge", CONFORMANCE,
                                          "kvm-bt,hot-threshold=1000000")),
        "smc-tcg": (run_payload, (SMC, "tcg")),
        "smc-off": (run_payload, (SMC, "kvm-bt,bt=off")),
        "smc-bt1": (run_payload_stats, (tmp, "smc-bt1", SMC, "kvm-bt,bt=on,hot-threshold=1",
                                        ["-trace", "kvm_bt_translate", "-trace", "kvm_bt_drop",
                                         "-trace", "kvm_bt_undo",
                                         "-trace", "kvm_bt_page_blocked"])),
        "smc-bt": (run_payload_stats, (tmp, "smc-bt", SMC, "kvm-bt")),
        # Linux: the tcg reference, bt=on with QMP (-icount), MTTCG, and the exit-count baselines
        "linux-tcg": (run_linux, (tmp, "linux-tcg", "tcg")),
        "linux-bt": (run_linux_qmp, (tmp, "linux-bt", "kvm-bt", g.TEST_ITERS, ICOUNT,
                                     inspect_memory)),
        "linux-off-qmp": (run_linux_qmp, (tmp, "linux-off-qmp", "kvm-bt,bt=off",
                                          {b: 0 for b in g.BENCHES})),
        "linux-trap": (run_linux, (tmp, "linux-trap", "kvm-bt,bt=off", "stock", 1, ICOUNT)),
        "linux-cl0": (run_linux, (tmp, "linux-cl0", "kvm-bt,exit-cost-ns=0", "stock", 1, ICOUNT)),
        "linux-nocl0": (run_linux, (tmp, "linux-nocl0", "kvm-bt,cluster=off,exit-cost-ns=0", "stock",
                                    1, ICOUNT)),
        "linux-pv": (run_linux, (tmp, "linux-pv", "kvm-bt,bt=off,pv=on", "pv", 1, ICOUNT)),
        "linux-reset": (run_linux_reset, (tmp, "linux-reset")),
    }


def mttcg_jobs(tmp):
    """MTTCG runs: one at a time, each with the host to itself (an oversubscribed
    host slows the guest's cross-CPU wakeups enough to lose console output)."""
    return {
        "linux-smp2": (run_linux, (tmp, "linux-smp2", "kvm-bt,thread=multi", "stock", 2, (),
                                   MTTCG_TIMEOUT)),
        # two runs, each checked on its own (not a retry): bt=on -smp 4 under
        # MTTCG used to hang intermittently ("Processor N is stuck" at bring-up,
        # cross-CPU wakeups stalling). The cause found since, the vCPU loop
        # losing a kick that arrived while its own exit_request was set, was
        # fixed in b33ab0e; no hang has been seen after it. A second run
        # doubles the chance of catching one.
        "linux-smp4": (run_linux, (tmp, "linux-smp4", "kvm-bt,thread=multi", "stock", 4, (),
                                   MTTCG_TIMEOUT)),
        "linux-smp4b": (run_linux, (tmp, "linux-smp4b", "kvm-bt,thread=multi", "stock", 4, (),
                                    MTTCG_TIMEOUT)),
    }


def run_all(tmp):
    workers = max(2, min(4, os.cpu_count() or 2))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {name: pool.submit(fn, *args) for name, (fn, args) in jobs(tmp).items()}
        done = {name: f.result() for name, f in futures.items()}
    for name, (fn, args) in mttcg_jobs(tmp).items():
        done[name] = fn(*args)
    return done


# ---- checks --------------------------------------------------------------------------

def check_conformance(r):
    rc, ref, out, _ = r["conf-tcg"]
    check(rc == 0 and done_ok(ref, "CONFORMANCE"), "conformance, tcg: runs to power-off, all pass",
          out[-1500:])
    rc, lines, out, err, stats = r["conf-bt1"]
    tag = "conformance, bt=on,hot-threshold=1"
    check(rc == 0 and done_ok(lines, "CONFORMANCE"), f"{tag}: runs to power-off, all pass",
          (out + err)[-1500:])
    check(lines == ref, f"{tag}: output identical to tcg", diff_lines(ref, lines))
    stats = stats or {}
    tr = stats.get("translator", {})
    kinds = {s["translation"]["kind"] for s in translated_sites(stats)}
    print(f"  {tag}: translator {tr}")
    check(stats.get("bt") is True and tr.get("hot-threshold") == 1,
          f"{tag}: stats report bt on, hot-threshold 1", str(stats.get("bt")) + str(tr))
    check(tr.get("translated", 0) >= 20, f"{tag}: many translations (translator.translated)",
          str(tr))
    check(kinds >= {"inplace", "stub"}, f"{tag}: both inplace and stub translations", str(kinds))
    check(tr.get("translated") == len(translated_sites(stats)),
          f"{tag}: translator.translated == translated sites in the stats",
          f"{tr.get('translated')} vs {len(translated_sites(stats))}")
    bad = [s for s in translated_sites(stats)
           if s["translation"]["kind"] == "inplace" and not inplace_patch_ok(s)]
    check(not bad, f"{tag}: every in-place patch is lwz/stw rX,D(0) into the shared page",
          str(bad[:3]))

    rc, lines, out, err, stats = r["conf-huge"]
    tag = "conformance, hot-threshold=1000000"
    check(rc == 0 and lines == ref, f"{tag}: output identical to tcg",
          diff_lines(ref, lines) + (out + err)[-500:])
    tr = (stats or {}).get("translator", {})
    states = {s["translation"]["state"] for s in (stats or {}).get("sites", [])
              if "translation" in s}
    check(tr.get("hot-threshold") == 1000000 and tr.get("translated") == 0 and
          tr.get("tc-used") == 0 and "translated" not in states,
          f"{tag}: nothing translated", f"{tr} {states}")


def check_smc(r):
    rc, ref, out, _ = r["smc-tcg"]
    check(rc == 0 and done_ok(ref, "SMC"), "smc, tcg: runs to power-off, all pass", out[-1500:])
    for line in ref:
        if line.startswith("FAIL"):
            check(False, f"smc, tcg: {line[5:]}")
    code_page = next((int(l.split("=")[1], 16) for l in ref if l.startswith("INFO smc.code_page=")),
                     None)
    slot_words = next((int(l.split("=")[1], 16) for l in ref
                       if l.startswith("INFO smc.slot_words=")), None)
    check(code_page is not None and slot_words, "smc: payload reports its code page", str(ref[:4]))
    for key, tag in (("smc-off", "smc, kvm-bt,bt=off"), ("smc-bt1", "smc, bt=on,hot-threshold=1"),
                     ("smc-bt", "smc, bt=on (default threshold)")):
        rc, lines, out, err = r[key][:4]
        check(rc == 0 and done_ok(lines, "SMC"), f"{tag}: runs to power-off, all pass",
              "\n".join(l for l in lines if l.startswith("FAIL")) or (out + err)[-1500:])
        check(lines == ref, f"{tag}: output identical to tcg", diff_lines(ref, lines))
    if code_page is None or not slot_words:
        return

    _, _, _, err, stats = r["smc-bt1"]
    tag = "smc, bt=on,hot-threshold=1"
    stats = stats or {}
    tr = stats.get("translator", {})
    page = range(code_page, code_page + 4096)
    dropped = [s for s in stats.get("sites", [])
               if s.get("translation", {}).get("state") == "dropped"]
    check(tr.get("dropped", 0) >= 1, f"{tag}: translator.dropped >= 1", str(tr))
    check(dropped and all(s["pa"] in page for s in dropped),
          f"{tag}: the dropped translations are all in the payload's code page",
          str([(hex(s["pa"]), s["insn"]) for s in dropped]))
    for slot, (what, kind) in sorted(SMC_SLOTS.items()):
        pa = code_page + 4 * slot_words * slot
        here = [s for s in dropped if s["pa"] == pa]
        check(any(s["translation"]["kind"] == kind and s["translation"]["exits-before"] >= 1
                  for s in here),
              f"{tag}: the overwritten {what} site (slot {slot}) was translated "
              f"({kind}), then dropped",
              f"pa 0x{pa:x}: " + str([s for s in stats.get("sites", []) if s["pa"] == pa]))
    # the trace shows translate, then drop, for the first site
    pa0 = f"pa 0x{code_page:x}"
    ev = [l for l in err.splitlines() if pa0 + " " in l or l.endswith(pa0) or pa0 + ":" in l]
    first_t = next((i for i, l in enumerate(ev) if l.startswith("kvm_bt_translate")), None)
    first_d = next((i for i, l in enumerate(ev) if l.startswith("kvm_bt_drop")), None)
    check(first_t is not None and first_d is not None and first_t < first_d,
          f"{tag}: trace: kvm_bt_translate, then kvm_bt_drop at the first site", "\n".join(ev[:6]))
    # the payload maps 0xFFFFF000 itself for a while (test_magic_mapping)
    blocked = [l.split(": ")[-1] for l in err.splitlines() if l.startswith("kvm_bt_page_blocked")]
    undone = [l for l in err.splitlines()
              if l.startswith("kvm_bt_undo") and l.endswith("guest maps 0xFFFFF000")]
    check(blocked == ["1", "0"], f"{tag}: the guest's own 0xFFFFF000 mapping blocks the page, "
          "its removal unblocks it", str(blocked))
    check(len(undone) >= 10, f"{tag}: every translation undone while the guest maps 0xFFFFF000",
          f"{len(undone)} undo events")
    magic_pa = code_page + 4 * slot_words * SMC_MAGIC_SLOT
    again = [s for s in stats.get("sites", []) if s["pa"] == magic_pa]
    check(any(s.get("translation", {}).get("state") == "translated" for s in again),
          f"{tag}: translated again once the guest's mapping is gone", str(again))
    print(f"  {tag}: {len(dropped)} dropped site records; translator {tr}")
    # the guest maps the stub's page elsewhere for a while (test_tc_remap)
    pa = f"pa 0x{code_page + 4 * slot_words * SMC_TC_REMAP_SLOT:x}"
    ev = [("translate" if l.startswith("kvm_bt_translate") else l.split(": ", 1)[-1])
          for l in err.splitlines() if (pa + " " in l or pa + ":" in l) and
          l.startswith(("kvm_bt_translate", "kvm_bt_undo"))]
    check(ev == ["translate", "TC mapping changed", "translate"],
          f"{tag}: a stub is undone while the guest maps its page elsewhere, and made again "
          "(in a new slot) once the mapping is back", str(ev))

    cl_pa = code_page + 4 * slot_words * SMC_CLUSTER_SLOT
    for key, tag, threshold in (("smc-bt1", "smc, bt=on,hot-threshold=1", 1),
                                ("smc-bt", "smc, bt=on (default threshold)",
                                 DEFAULT_HOT_THRESHOLD)):
        sites = (r[key][4] or {}).get("sites", [])
        head = [s for s in sites if s["pa"] == cl_pa and s["class"] == "tlbsx"]
        absorbed = sum((s.get("cluster") or {}).get("absorbed", 0) for s in head)
        check(absorbed == SMC_LOOPS - threshold + 1,
              f"{tag}: tlbsx; tlbre is one exit from its {threshold}th exit on",
              str(head))
        new = [s for s in sites if s["pa"] == cl_pa + 4 and s["word"] == MFSPR_R3_SPRG1]
        check(any(s["count"] >= threshold and
                  s.get("translation", {}).get("state") == "translated" for s in new),
              f"{tag}: the word the guest wrote into the cluster exits on its own and is "
              "translated", str(new))


def check_linux(r, syms, text):
    rc, out, ref_rows, _ = r["linux-tcg"]
    ref = g.deterministic(ref_rows)
    check(rc == 0 and ref and ref[-1][0] == "DONE", "Linux, tcg: the workload completes",
          out[-1500:])

    rc, out, rows, query, info, mem, stats = r["linux-bt"]
    tag = "Linux, kvm-bt (bt=on default), -icount"
    check(rc == 0, f"{tag}: guest powers off, QMP session completes", out[-1500:])
    check(g.deterministic(rows) == ref, f"{tag}: workload output identical to tcg",
          f"{g.deterministic(rows)} != {ref}")
    for key, tag in (("linux-smp2", "Linux, kvm-bt,thread=multi -smp 2"),
                     ("linux-smp4", "Linux, kvm-bt,thread=multi -smp 4"),
                     ("linux-smp4b", "Linux, kvm-bt,thread=multi -smp 4 (again)")):
        rc, out, rows, st = r[key]
        check(rc == 0 and g.deterministic(rows) == ref, f"{tag}: workload output identical to tcg",
              f"exit code {rc} ({'timed out' if rc is None else 'exited'}); "
              f"{len(rows)} workload lines\n{trouble(out)}")
        if rc != 0:
            continue
        tr = (st or {}).get("translator", {})
        check(tr.get("translated", 0) > 0 and len((st or {}).get("vcpus", [])) == int(key[9]),
              f"{tag}: translations made with every vCPU running", str(tr))

    # ---- QMP / HMP after power-off -----------------------------------------------------
    tag = "query-kvm-bt (bt=on)"
    query, stats, mem = query or {}, stats or {}, mem or {"site": {}, "tc": None, "runs": {}}
    tr = query.get("translator")
    st = stats.get("translator") or {}
    check(query.get("bt") is True and tr is not None, f"{tag}: bt on, translator present",
          str({k: v for k, v in query.items() if k not in ("sites", "vcpus")})[:600])
    sites = query.get("sites", [])
    check(len(sites) == 200 and any("translation" in s for s in sites),
          f"{tag}: top=200 sites carry their translation", str(sites[:2]))
    if tr is None or not any("translation" in s for s in sites):
        # same run: the stats file (written at quit) has the same records
        print(f"  NOTE {tag}: no translation data over QMP; the site checks below use the "
              "stats file of the same run")
        tr = st
        top = {(s["cpu"], s["ea"], s["word"]) for s in sites}
        sites = [s for s in stats.get("sites", []) if (s["cpu"], s["ea"], s["word"]) in top]
    else:
        check(st == tr, "stats-file: translator as query-kvm-bt", f"{st} vs {tr}")
    check(tr.get("hot-threshold") == DEFAULT_HOT_THRESHOLD and tr.get("page-blocked") is False,
          f"{tag}: default hot-threshold {DEFAULT_HOT_THRESHOLD}, page not blocked", str(tr))
    check(tr.get("translated", 0) > 100 and 0 < tr.get("tc-used", 0) <= tr.get("tc-total", 0),
          f"{tag}: translator totals (translated, TC use)", str(tr))
    xl = [s for s in sites if (s.get("translation") or {}).get("state") == "translated"]
    by_cls = {}
    for s in xl:
        by_cls.setdefault(s["class"], []).append(s)
    for cls in ("mfmsr", "wrteei"):
        hot = by_cls.get(cls, [])
        check(hot, f"{tag}: a hot {cls} site is translated",
              str([(s["class"], s.get("translation")) for s in sites if s["class"] == cls][:5]))
        if hot:
            s = hot[0]
            print(f"  INFO hottest translated {cls} site: 0x{s['ea']:08x} "
                  f"{symbolize(syms, s['ea'])} ({s['insn']}, {s['count']} exits, "
                  f"{s['translation']['kind']})")
    inplace = [s for s in xl if s["translation"]["kind"] == "inplace"]
    stubs = [s for s in xl if s["translation"]["kind"] == "stub"]
    check(inplace and stubs, f"{tag}: translated sites of both kinds in the top 200",
          f"{len(inplace)} inplace, {len(stubs)} stub")
    bad = [s for s in inplace if not inplace_patch_ok(s)]
    check(not bad, f"{tag}: in-place patches are lwz/stw rX,D(0), D in [-4096,-1], same GPR "
          f"({len(inplace)} sites)", str(bad[:3]))
    example = [s for s in inplace if s["ea"] in text] or inplace
    if example:
        s = example[0]
        d = sext(s["translation"]["patch"] & 0xffff, 16)
        print(f"  INFO e.g. 0x{s['ea']:08x} {s['insn']} -> 0x{s['translation']['patch']:08x} "
              f"(at 0x{d & 0xffffffff:08x}: shared page +{d + 4096})")
    bad = [s for s in stubs if branch_target(s["ea"], s["translation"]["patch"]) !=
           s["translation"].get("stub")]
    check(not bad, f"{tag}: stub patches are a 'b' to the reported stub ({len(stubs)} sites)",
          str(bad[:3]))
    tc_lo = tr.get("tc-ea", 0)
    tc_hi = tc_lo + tr.get("tc-used", 0) * 4 * TC_SLOT_WORDS
    check(all(tc_lo <= s["translation"]["stub"] < tc_hi for s in stubs),
          f"{tag}: stubs lie in the used part of the translation cache",
          f"TC 0x{tc_lo:x}-0x{tc_hi:x}")
    bad = [(hex(s["pa"]), mem["site"].get(s["pa"]), hex(s["translation"]["patch"])) for s in xl
           if mem["site"].get(s["pa"]) != s["translation"]["patch"]]
    check(xl and not bad, f"{tag}: guest memory (xp) holds the patch of every translated site "
          f"({len(xl)} sites)", str(bad[:5]))
    # (init text is freed and reused after boot: only the kernel's permanent text)
    kept = [s for s in sites if (s.get("translation") or {}).get("state") in ("refused", None)
            and s["ea"] in text and sum(o["pa"] == s["pa"] for o in sites) == 1]
    bad = [(hex(s["ea"]), s["insn"], mem["site"].get(s["pa"])) for s in kept
           if mem["site"].get(s["pa"]) != s["word"]]
    check(kept and not bad, f"{tag}: untranslated sites in kernel text still hold their "
          f"original word ({len(kept)} sites)", str(bad[:5]))
    tc = mem["tc"]
    check(tc is not None and tc[0] == tr.get("tc-ea") and tc[1] == tr.get("tc-pa"),
          "info kvm-bt: TC line agrees with the translator", f"{tc and tc[:2]} vs {tr}")
    bad = []
    for s in stubs:
        stub = s["translation"]["stub"]
        words = tc[2][(stub - tc[0]) // 4:][:TC_SLOT_WORDS] if tc else []
        if not any(branch_target(stub + 4 * i, w) == (s["ea"] + 4) & 0xffffffff
                   for i, w in enumerate(words)):
            bad.append((hex(s["ea"]), [hex(w) for w in words[:12]]))
    check(stubs and not bad, f"{tag}: every stub (read with xp) branches back to site+4",
          str(bad[:3]))
    bad = [s for s in xl if s["translation"]["exits-before"] < DEFAULT_HOT_THRESHOLD or
           s["translation"]["exits-before"] + s["translation"]["exits-after"] != s["count"]]
    check(not bad, f"{tag}: translated after >= {DEFAULT_HOT_THRESHOLD} exits; "
          "exits-before + exits-after == count", str(bad[:3]))
    info = info or ""
    check("translator:" in info and "translation" in info,
          "info kvm-bt: translator line and translation column", info[:600])

    # ---- exit clusters ------------------------------------------------------------
    tag = "exit clusters (bt=on)"
    check(tr.get("cluster") is True and tr.get("cluster-runs", 0) > 0 and
          tr.get("absorbed", 0) >= tr.get("cluster-runs", 0),
          f"{tag}: on, run, and each run took along at least one exit", str(tr))
    tlbwe = [s for s in sites if s["class"] == "tlbwe" and s.get("cluster")]
    check(tlbwe and tlbwe[0]["cluster"]["words"] >= 2 and
          tlbwe[0]["cluster"]["absorbed"] >= tlbwe[0]["count"] // 2,
          f"{tag}: the hottest tlbwe steps a cluster and takes most of its exits along",
          str([(hex(s["ea"]), s["count"], s.get("cluster")) for s in sites
               if s["class"] == "tlbwe"][:3]))
    if tlbwe:
        s = tlbwe[0]
        run = mem["runs"].get(s["pa"], [])
        check(len(run) == s["cluster"]["words"] and run[0] == s["word"] and run[-1] == RFI,
              f"{tag}: guest memory (xp) holds the run from the tlbwe to its rfi",
              str([hex(w) for w in run]))
        print(f"  INFO cluster at 0x{s['ea']:08x} {symbolize(syms, s['ea'])}: "
              f"{s['cluster']['words']} words, {s['cluster']['absorbed']} exits avoided of "
              f"{s['count'] + s['cluster']['absorbed']}")
    listed = sum((s.get("cluster") or {}).get("absorbed", 0) for s in sites)
    check(0 < listed <= tr.get("absorbed", 0), f"{tag}: top sites' absorbed within the total",
          f"{listed} vs {tr.get('absorbed')}")
    check("exit clusters:" in info and "cluster of" in info,
          "info kvm-bt: cluster line and column", info[:800])
    rc, out, rows, cl0 = r["linux-cl0"]
    rc2, out2, rows2, nocl0 = r["linux-nocl0"]
    check(rc2 == 0 and g.deterministic(rows2) == ref, "Linux, kvm-bt,cluster=off -icount: "
          "workload output identical to tcg", trouble(out2))
    if cl0 and nocl0:
        on, off = cl0["total"], nocl0["total"]
        saved = (cl0.get("translator") or {}).get("absorbed", 0)
        diff = {c: n - g.by_class(cl0).get(c, 0)
                for c, n in g.by_class(nocl0).items()
                if n != g.by_class(cl0).get(c, 0)}
        check(saved > 0 and (nocl0.get("translator") or {}).get("absorbed") == 0 and
              abs(off - on - saved) <= CLUSTER_ACCOUNT_SLACK * off,
              f"{tag}: at exit-cost-ns=0, cluster=off exits = cluster=on exits + absorbed",
              f"off {off}, on {on}, absorbed {saved}, by class {diff}")
        print(f"  INFO exit-cost-ns=0: cluster=off {off} exits, cluster=on {on} + {saved} "
              f"absorbed; classes that differ: {diff}")
    else:
        check(False, f"{tag}: the exit-cost-ns=0 runs have stats", f"{out[-500:]}{out2[-500:]}")

    # ---- bt=off: no translator ------------------------------------------------------
    rc, out, _, q_off, info_off, _, st_off = r["linux-off-qmp"]
    check(q_off is not None and q_off.get("bt") is False and "translator" not in q_off and
          not any("translation" in s for s in q_off.get("sites", [])),
          "query-kvm-bt (bt=off): no translator, no translation on sites",
          str({k: v for k, v in (q_off or {}).items() if k not in ("sites", "vcpus")})[:600])
    check(st_off is not None and "translator" not in st_off,
          "stats-file (bt=off): no translator", str((st_off or {}).keys()))
    return stats


def check_reset(r):
    """A system reset clears every table: no site, exit or translation
    survives it (not even a vCPU's own count, which would make a site hot
    before the reset ask for translation at its first exit after it), and the
    guest booted again runs the whole workload as under tcg."""
    rc, out, rows, after, stats, error = r["linux-reset"]
    ref = r["linux-tcg"][2]
    check(rc == 0 and error is None, "reset: the guest reset mid-workload runs to power-off",
          f"rc {rc}, {error}; " + trouble(out))
    check(out.count("KVMBT-BOOT") == 2, "reset: the guest booted twice",
          f"{out.count('KVMBT-BOOT')} boots")
    check(rows and g.deterministic(rows) == g.deterministic(ref),
          "reset: the whole workload after the reset gives tcg's output",
          diff_lines(g.deterministic(ref), g.deterministic(rows)))
    if not after:
        check(False, "reset: query-kvm-bt right after the reset", "no answer")
    else:
        tr = after.get("translator") or {}
        check(after["total"] == 0 and not after["sites"] and not after["by-class"],
              "reset: no exit or site is left right after the reset",
              f"total {after['total']}, {len(after['sites'])} sites")
        check(tr.get("translated") == 0 and tr.get("translations") == 0 and
              tr.get("tc-used") == 0 and not tr.get("page-blocked"),
              "reset: no translation, TC slot or blocker is left right after the reset", str(tr))
    if not stats:
        check(False, "reset: stats file written", "missing")
        return
    sites = stats.get("sites", [])
    check(sum(s["count"] for s in sites) == stats["privileged"],
          "reset: the sites add up to the privileged exits since the reset",
          f"{sum(s['count'] for s in sites)} vs {stats['privileged']}")
    early = [s for s in sites if s.get("translation") and
             s["translation"]["state"] != "counting" and s["count"] < DEFAULT_HOT_THRESHOLD]
    check(stats["translator"]["translated"] > 0 and not early,
          "reset: sites are translated again after the reset, each once hot since it",
          f"{stats['translator']['translated']} translated; early: {early[:3]}")


def class_table(runs):
    classes = []
    for _, st in runs:
        for c in g.by_class(st):
            if c not in classes:
                classes.append(c)
    print("  INFO exits by class under -icount, TEST_ITERS:")
    print("  INFO   " + f"{'class':<16}" + "".join(f"{name:>12}" for name, _ in runs))
    for c in classes:
        print("  INFO   " + f"{c:<16}" +
              "".join(f"{g.by_class(st).get(c, 0):>12}" for _, st in runs))
    print("  INFO   " + f"{'total':<16}" + "".join(f"{st['total']:>12}" for _, st in runs))


def check_exit_counts(r, bt_stats):
    rc_t, out_t, rows_t, trap = r["linux-trap"]
    rc_p, out_p, rows_p, pv = r["linux-pv"]
    check(rc_t == 0 and trap and any(w == "DONE" for w, _ in rows_t),
          "Linux, kvm-bt,bt=off -icount: completes", out_t[-800:])
    check(rc_p == 0 and pv and any(w == "DONE" for w, _ in rows_p),
          "PV Linux, kvm-bt,bt=off,pv=on -icount: completes", out_p[-800:])
    if not (trap and pv and bt_stats.get("by-class")):
        check(False, "exit counts: all three runs have stats")
        return
    runs = [("trap", trap), ("pv", pv), ("bt", bt_stats)]
    class_table(runs)
    t, p, b = (st["total"] for _, st in runs)
    print(f"  INFO bt/pv = {b / p:.3f}, bt/trap = {b / t:.3f}")
    check(b <= BT_VS_PV * p, f"exits: bt=on <= {BT_VS_PV} x PV guest", f"bt {b}, pv {p}")
    check(b <= BT_VS_TRAP * t, f"exits: bt=on <= {BT_VS_TRAP} x trap-and-emulate",
          f"bt {b}, trap {t}")
    # deferred PID writes: the user-access unlock on the way back to user mode
    # (Linux's kuap_user_restore) stops exiting; unlocks followed by a user
    # access come back as pid-sync exits
    pid_t = sorted((s for s in trap["sites"] if s["insn"].startswith("mtspr   48,")),
                   key=lambda s: -s["count"])
    bt_count = {(s["ea"], s["word"]): s["count"] for s in bt_stats["sites"]}
    quiet = [s for s in pid_t[:10] if bt_count.get((s["ea"], s["word"]), 0) * 100 < s["count"]]
    check(quiet and g.by_class(bt_stats).get("pid-sync", 0) > 0,
          "deferred PID writes: a hot mtspr PID of trap mode exits < 1% as often under bt=on; "
          "pid-sync exits happen", str([(hex(s["ea"]), s["count"],
                                         bt_count.get((s["ea"], s["word"]))) for s in pid_t[:10]]))


# (options, what the error must name): each must stop QEMU before the guest runs
BAD_OPTIONS = [("hot-threshold=0", "hot-threshold"), ("hot-threshold=-1", "hot-threshold"),
               ("hot-threshold=x", "hot-threshold"), ("bt=off,cluster=on", "cluster=on needs bt=on")]


def check_bad_options():
    """The payload powers off by itself if it does run."""
    for opts, msg in BAD_OPTIONS:
        with tempfile.TemporaryDirectory() as tmp:
            stats = os.path.join(tmp, "stats.json")
            try:
                p = subprocess.run([g.QEMU, "-nographic", "-nic", "none", "-M", "ppce500",
                                    "-cpu", "e500mc", "-accel",
                                    f"kvm-bt,{opts},stats-file={stats}",
                                    "-kernel", CONFORMANCE], stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                check(False, f"{opts}: rejected at startup", "QEMU kept running")
                continue
            ran = "CONFORMANCE start" in p.stdout
            check(p.returncode == 1 and msg in p.stderr and not ran,
                  f"{opts}: rejected at startup",
                  f"rc {p.returncode}, guest ran: {ran}; stderr: {p.stderr.strip()[:200]}")
        if p.returncode == 1:
            print(f"  {p.stderr.strip().splitlines()[-1]}")


def main():
    for path in (CONFORMANCE, SMC):
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run 'make guests'")
    syms, text = kernel_symbols()
    check_bad_options()
    with tempfile.TemporaryDirectory() as tmp:
        r = run_all(tmp)
    check_conformance(r)
    check_smc(r)
    bt_stats = check_linux(r, syms, text)
    check_exit_counts(r, bt_stats)
    check_reset(r)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
