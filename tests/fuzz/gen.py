"""Random bare-metal e500mc programs for differential fuzzing (tests/fuzz).

A program is a list of self-contained operations ("ops"), each a few lines
of assembly, run in a loop of K iterations so that its privileged
instructions become hot sites under bt=on. Any subset of the ops, in order,
is itself a valid program: that is what delta debugging shrinks.

generate(seed) is reproducible: the same seed gives the same program.
render() turns programs into one assembly file for fuzzrt.c.

Register use: r1 is the stack, r30 the save area (fuzzcall.S), r31 the loop
counter and cr7 the loop's compare; ops use r0 and r2-r29 and cr0-cr6.
"""
import random

# sc r0 values the runtime acts on (fuzzrt.c)
FUZZ_END = 0x7E57
FUZZ_SUPER = 0x5A5A
# With pv=on an sc with r0 = "KVM!" is a hypercall, not a system call: the
# paravirtual ABI's by design, so the generator never makes that value.
KVM_SC_MAGIC = 0x4B564D21

MSR_EE, MSR_PR, MSR_ME, MSR_CE = 0x8000, 0x4000, 0x1000, 0x20000
TCR_DIE = 0x04000000
TSR_DIS = 0x08000000

SPR = dict(SRR0=26, SRR1=27, CSRR0=58, CSRR1=59, DEAR=61, ESR=62, IVPR=63, PID=48, DEC=22,
           USPRG0=256, SPRG3R=259, SPRG4R=260, SPRG5R=261, SPRG6R=262, SPRG7R=263,
           SPRG0=272, SPRG1=273, SPRG2=274, SPRG3=275, SPRG4=276, SPRG5=277, SPRG6=278,
           SPRG7=279, PIR=286, PVR=287, TSR=336, TCR=340, L1CFG0=515, L1CFG1=516,
           MAS0=624, MAS1=625, MAS2=626, MAS3=627, MAS4=628, MAS6=630, MAS7=944,
           TLB0CFG=688, TLB1CFG=689, HID0=1008, HID1=1009, L1CSR0=1010, L1CSR1=1011,
           MMUCSR0=1012, BUCSR=1013, MMUCFG=1015, SVR=1023)
# every SPR the monitor mirrors or emulates, and the ones next to them
# Not DEC: QEMU's e500 decrementer reads below 0 after it expired, a
# time-dependent value.
READ_SPRS = ["SRR0", "SRR1", "CSRR0", "CSRR1", "DEAR", "ESR", "IVPR", "PID", "USPRG0",
             "SPRG3R", "SPRG4R", "SPRG5R", "SPRG6R", "SPRG7R", "SPRG0", "SPRG1", "SPRG2",
             "SPRG3", "SPRG4", "SPRG5", "SPRG6", "SPRG7", "PIR", "PVR", "TSR", "TCR",
             "L1CFG0", "L1CFG1", "MAS0", "MAS1", "MAS2", "MAS3", "MAS4", "MAS6", "MAS7",
             "TLB0CFG", "TLB1CFG", "HID0", "HID1", "L1CSR0", "L1CSR1", "MMUCSR0", "BUCSR",
             "MMUCFG", "SVR"] + [f"IVOR{n}" for n in range(16)]
# Writable with any value. Not here: DEC (only in the decrementer ops:
# a running decrementer fires at a time-dependent point), IVPR/IVORs (the
# runtime's vectors), TCR (only 0 or DIE: the watchdog and fixed-interval
# timers fire at time-dependent points and WRC cannot be cleared).
WRITE_ANY = ["SRR0", "SRR1", "CSRR0", "CSRR1", "DEAR", "ESR", "USPRG0", "SPRG0", "SPRG1",
             "SPRG2", "SPRG3", "SPRG4", "SPRG5", "SPRG6", "SPRG7", "MAS0", "MAS1", "MAS2",
             "MAS3", "MAS4", "MAS6", "MAS7", "TSR", "BUCSR", "L1CSR0", "L1CSR1", "PIR"]
for _n in range(16):
    SPR[f"IVOR{_n}"] = 400 + _n

# The window: 16 slots of 1 MiB at EA 0x40000000, each with one fixed TLB
# location, so no two valid entries ever translate one address: a TLB
# multi-hit is undefined by the architecture. Slots 0-7 are TLB1 entries
# 8-15 (4-64 KiB), slots 8-15 TLB0 entries (4 KiB, way 0-3 of the EPN's set).
WIN_EA = 0x40000000
BACKING_PA = 0x04000000      # fuzzrt.c's 1 MiB backing, 64 KiB per slot
NSLOTS = 16
# 0xFFFFF000 (the monitor's shared page under bt=on, pv=on): TLB1 entry 24
PAGE_EA = 0xFFFFF000
PAGE_ESEL = 24
# an alias of a code page (stores over code from another mapping): TLB1 entry 25
ALIAS_EA = 0x50000000
ALIAS_ESEL = 25


def slot_loc(k):
    """(MAS0, MAS2 EPN) of window slot k's one TLB location."""
    ea = WIN_EA + k * 0x100000
    if k < 8:
        return 0x10000000 | ((8 + k) << 16), ea
    return (k % 4) << 16, ea


TLB_SLOTS = [slot_loc(k) for k in range(NSLOTS)] + [
    (0x10000000 | (PAGE_ESEL << 16), PAGE_EA), (0x10000000 | (ALIAS_ESEL << 16), ALIAS_EA)]

# Registers an op may write.
REGS = [0] + list(range(2, 30))
BASE_REGS = list(range(3, 30))      # as RA: not r0 (reads as 0)


class Op:
    """One operation: lines of assembly. A line starting with '!' is a
    privileged instruction (labelled; like every word it is in the code
    checksum, which reads it as data: a word the translator patched must
    read back as the guest's own). An op with site=True is that one
    instruction, which smc, smc-narrow and ld-code ops may target."""

    def __init__(self, kind, lines, site=False, target=None, word=None):
        self.kind = kind
        self.lines = lines
        self.site = site
        self.target = target        # smc: index (in the original list) of the site op
        self.word = word            # smc: the word stored

    def to_json(self):
        return {"kind": self.kind, "lines": self.lines, "site": self.site,
                "target": self.target, "word": self.word}

    @staticmethod
    def from_json(d):
        return Op(d["kind"], d["lines"], d["site"], d["target"], d["word"])


def li32(reg, v):
    v &= 0xFFFFFFFF
    return [f"lis {reg}, 0x{v >> 16:x}", f"ori {reg}, {reg}, 0x{v & 0xffff:x}"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        # per program: what each window slot's PA is (backing or the TC)
        self.slot_tc = [self.r.random() < 0.1 for _ in range(NSLOTS)]

    def reg(self):
        return f"r{self.r.choice(REGS)}"

    def base(self):
        return f"r{self.r.choice(BASE_REGS)}"

    def rand32(self):
        r = self.r
        return r.choice([0, 0xFFFFFFFF, 1, 0x80000000, r.getrandbits(32), r.getrandbits(32),
                         r.getrandbits(8), r.getrandbits(16) << 16])

    def ensure_super(self):
        return [f"li r0, 0x{FUZZ_SUPER:x}", "sc"]

    # ---- the ops ----------------------------------------------------------
    def op_mfmsr(self):
        return Op("mfmsr", [f"!mfmsr {self.reg()}"], site=True)

    def op_mtmsr(self):
        t = self.reg()
        m = self.msr_toggle()
        lines = [f"!mfmsr {t}"]
        if m & 0xFFFF:
            lines.append(f"xori {t}, {t}, 0x{m & 0xffff:x}")
        if m >> 16:
            lines.append(f"xoris {t}, {t}, 0x{m >> 16:x}")
        lines.append(f"!mtmsr {t}")
        return Op("mtmsr", lines)

    def msr_toggle(self):
        m = 0
        for bit, p in ((MSR_EE, 0.5), (MSR_CE, 0.3), (MSR_ME, 0.1), (MSR_PR, 0.15)):
            if self.r.random() < p:
                m |= bit
        return m

    def op_wrtee(self):
        if self.r.random() < 0.5:
            return Op("wrteei", [f"!wrteei {self.r.randint(0, 1)}"], site=True)
        return Op("wrtee", [f"!wrtee {self.reg()}"], site=True)

    def op_mfspr(self):
        return Op("mfspr", [f"!mfspr {self.reg()}, {SPR[self.r.choice(READ_SPRS)]}"], site=True)

    def op_mtspr(self):
        r = self.r
        name = r.choice(WRITE_ANY + ["PID", "TCR", "HID0", "MMUCSR0"])
        if name == "PID":
            v = r.choice([0, 1, 2, 5, 0xFF, r.getrandbits(8), r.getrandbits(32)])
        elif name == "TCR":
            v = r.choice([0, TCR_DIE])
        elif name == "MMUCSR0":
            # flash-invalidate TLB0 and/or TLB1 (IPROT entries stay)
            v = r.choice([0, 2, 4, 6])
        elif name == "HID0":
            # HID0[EMCP] (machine check pin) and the cache/power bits QEMU keeps as storage
            v = r.getrandbits(32) & 0x80000000
        else:
            v = self.rand32()
        t = self.reg()
        if name == "TCR":
            # Setting DIE with a decrementer interrupt pending and EE on: the
            # architecture does not say after which instruction it is taken
            # (tcg takes it at the end of the block, kvm-bt right after the
            # exit). With EE off around the write it is taken after the
            # wrtee that puts EE back, exactly, in both.
            e = self.reg()
            while e == t:
                e = self.reg()
            return Op("mtspr", [f"!mfmsr {e}", "!wrteei 0"] + li32(t, v) +
                      [f"!mtspr {SPR[name]}, {t}", f"!wrtee {e}"])
        return Op("mtspr", li32(t, v) + [f"!mtspr {SPR[name]}, {t}"])

    def op_rfi(self):
        r = self.r
        crit = r.random() < 0.3
        a, m = self.base(), self.reg()
        while m == a:
            m = self.reg()
        lbl = "%=%"
        s0, s1, ret = ("CSRR0", "CSRR1", "rfci") if crit else ("SRR0", "SRR1", "rfi")
        lines = [f"lis {a}, {lbl}@ha", f"addi {a}, {a}, {lbl}@l", f"!mtspr {SPR[s0]}, {a}",
                 f"!mfmsr {m}"]
        tog = self.msr_toggle() | (MSR_PR if r.random() < 0.4 else 0)
        if tog & 0xFFFF:
            lines.append(f"xori {m}, {m}, 0x{tog & 0xffff:x}")
        if tog >> 16:
            lines.append(f"xoris {m}, {m}, 0x{tog >> 16:x}")
        lines += [f"!mtspr {SPR[s1]}, {m}", f"!{ret}", f"{lbl}:"]
        return Op(ret, lines)

    def op_sc(self):
        v = self.r.getrandbits(15)
        while v in (FUZZ_END, FUZZ_SUPER):
            v = self.r.getrandbits(15)
        return Op("sc", [f"li r0, 0x{v:x}", "sc"])

    def op_super(self):
        return Op("super", self.ensure_super())

    def mas_for_slot(self, k):
        r = self.r
        mas0, epn = TLB_SLOTS[k]
        size = r.choice([2, 2, 4, 6]) if k < 8 else 2     # log2 KiB: 4-64 KiB
        mas1 = (0x80000000 if r.random() < 0.85 else 0) | (0x40000000 if r.random() < 0.2 else 0)
        mas1 |= r.choice([0, 0, 0, 1, 2, 5, 0xFF]) << 16         # TID
        mas1 |= (0x1000 if r.random() < 0.1 else 0) | (size << 7)   # TS, TSIZE
        mas2 = epn | (r.getrandbits(5) if r.random() < 0.3 else 0)  # WIMGE
        perms = r.getrandbits(6) if r.random() < 0.3 else 0x3F
        if k < NSLOTS and self.slot_tc[k]:
            pa = "tc"
        else:
            pa = BACKING_PA + (k % NSLOTS) * 0x10000
        return mas0, mas1, mas2, pa, perms

    def tlbwe_lines(self, mas0, mas1, mas2, pa, perms):
        t = self.base()
        lines = li32(t, mas0) + [f"!mtspr {SPR['MAS0']}, {t}"]
        lines += li32(t, mas1) + [f"!mtspr {SPR['MAS1']}, {t}"]
        lines += li32(t, mas2) + [f"!mtspr {SPR['MAS2']}, {t}"]
        if pa == "tc":
            lines += [f"lis {t}, fuzz_tc_pa@ha", f"lwz {t}, fuzz_tc_pa@l({t})",
                      f"ori {t}, {t}, 0x{perms:x}"]
        else:
            lines += li32(t, pa | perms)
        lines += [f"!mtspr {SPR['MAS3']}, {t}", f"li {t}, 0", f"!mtspr {SPR['MAS7']}, {t}",
                  "isync", "!tlbwe", "isync"]
        return lines

    def op_tlbwe(self):
        k = self.r.randrange(NSLOTS)
        return Op("tlbwe", self.tlbwe_lines(*self.mas_for_slot(k)))

    def op_tlbwe_page(self):
        """Map or unmap 0xFFFFF000 (backing memory)."""
        r = self.r
        mas0, epn = TLB_SLOTS[NSLOTS]
        mas1 = (0x80000000 if r.random() < 0.7 else 0) | (2 << 7)
        perms = r.choice([0x3F, 0x3F, 0x15, 0x2A, 0x03])
        return Op("tlbwe-page", self.tlbwe_lines(mas0, mas1, epn, BACKING_PA + 0xF000, perms))

    def op_tlbre(self):
        r = self.r
        if r.random() < 0.5:
            mas0 = 0x10000000 | (r.randrange(64) << 16)
            mas2 = 0
        else:
            mas0 = r.randrange(4) << 16
            mas2 = r.choice([s[1] for s in TLB_SLOTS[8:NSLOTS]] + [r.getrandbits(20) << 12])
        t = self.reg()
        return Op("tlbre", li32(t, mas0) + [f"!mtspr {SPR['MAS0']}, {t}"] + li32(t, mas2) +
                  [f"!mtspr {SPR['MAS2']}, {t}", "!tlbre"])

    def rand_ea(self):
        r = self.r
        return r.choice([WIN_EA + r.randrange(NSLOTS) * 0x100000 + r.randrange(0, 0x10000, 4),
                         PAGE_EA, ALIAS_EA, 0x00100000, r.getrandbits(20) << 12])

    def op_tlbsx(self):
        r = self.r
        t, b = self.reg(), self.base()
        mas6 = (r.choice([0, 1, 2, 5, 0xFF]) << 16) | (1 if r.random() < 0.1 else 0)
        return Op("tlbsx", li32(t, mas6) + [f"!mtspr {SPR['MAS6']}, {t}"] + li32(b, self.rand_ea())
                  + [f"!tlbsx 0, {b}"])

    def op_tlbivax(self):
        r = self.r
        b = self.base()
        ea = self.rand_ea() & ~0xFFF
        ea |= r.choice([0, 0, 8, 4, 12])        # TLB1 select, invalidate all
        return Op("tlbivax", li32(b, ea) + [f"!tlbivax 0, {b}", "!tlbsync" if r.random() < 0.3
                                            else "isync"])

    def op_tlbilx(self):
        """tlbilx T=0 (all), T=1 (by MAS6[SPID]), T=3 (by address): the
        runtime's own entries are IPROT, which QEMU's tlbilx honours."""
        r = self.r
        b, t = self.base(), self.reg()
        mas6 = (r.choice([0, 0, 1, 2, 5, 0xFF]) << 16) | (1 if r.random() < 0.1 else 0)
        return Op("tlbilx", li32(t, mas6) + [f"!mtspr {SPR['MAS6']}, {t}"] + li32(b, self.rand_ea())
                  + [f"!tlbilx {r.choice([0, 1, 3, 3])}, 0, {b}", "isync"])

    def op_dec_pend(self):
        """Let the decrementer expire with EE off: it is then delivered at
        exactly the next instruction that enables EE."""
        r = self.r
        t = self.reg()
        lines = self.ensure_super() + ["!wrteei 0"]
        lines += self.dec_arm(TCR_DIE if r.random() < 0.8 else 0, r.randint(1, 300))
        lines += [f"lis {t}, 0x{TSR_DIS >> 16:x}", "%=%:", f"!mfspr {t}, {SPR['TSR']}",
                  f"andis. {t}, {t}, 0x{TSR_DIS >> 16:x}", "beq %=%"]
        return Op("dec-pend", lines)

    def op_dec_wait(self):
        """A decrementer interrupt at a small random interval with EE on:
        where it hits depends on time, so the handler resumes at a fixed
        place (fuzz_dec_resume) and leaves SRR0 out of its record."""
        r = self.r
        lines = self.ensure_super() + [
            "!wrteei 0", "lis r3, fuzz_dec_resume@ha", "lis r2, %=%r@ha", "addi r2, r2, %=%r@l",
            "stw r2, fuzz_dec_resume@l(r3)", "li r0, 1", "lis r3, fuzz_dec_flag@ha",
            "stw r0, fuzz_dec_flag@l(r3)"]
        lines += self.dec_arm(TCR_DIE, r.randint(1, 2000))
        lines += ["li r0, 0", "cmpwi r0, 0", "!wrteei 1",
                  "%=%:", "lwz r0, fuzz_dec_flag@l(r3)", "cmpwi r0, 1", "beq %=%",
                  "%=%r:", "li r0, 0", "stw r0, fuzz_dec_flag@l(r3)"]
        return Op("dec-wait", lines)

    def dec_arm(self, tcr, n):
        """TSR[DIS] cleared first: a stale DIS would end a wait while the
        decrementer still runs, to expire at a time-dependent point."""
        return (li32("r0", TSR_DIS) + [f"!mtspr {SPR['TSR']}, r0"] + li32("r0", tcr)
                + [f"!mtspr {SPR['TCR']}, r0", f"li r0, {n}", f"!mtspr {SPR['DEC']}, r0"])

    def op_progchk(self):
        r = self.r
        w = r.choice(["tw 31, 0, 0", ".long 0", f"twi 4, {self.base()}, 0"])
        return Op("program", [w])

    def op_page_ldst(self):
        """Loads and stores to 0xFFFFF000 (RA = 0, negative displacement),
        after mapping it ourselves (TID 0, AS 0, random permissions) or
        unmapping it: then the guest's access takes a DTLB miss (in either
        state), however the monitor uses that address (bt=on: only its own
        code reaches its page there)."""
        r = self.r
        mas0, epn = TLB_SLOTS[NSLOTS]
        valid = r.random() >= 0.3
        mas1 = (0x80000000 if valid else 0) | (2 << 7)
        perms = r.choice([0x3F, 0x3F, 0x15, 0x2A, 0x03])
        lines = self.tlbwe_lines(mas0, mas1, epn, BACKING_PA + 0xF000, perms)
        for _ in range(r.randint(1, 4)):
            ins, size = r.choice([("lwz", 4), ("stw", 4), ("lwz", 4), ("stw", 4), ("lhz", 2),
                                  ("sth", 2), ("lbz", 1), ("stb", 1)])
            off = r.randrange(0, 0x1000, size) - 0x1000
            d = self.reg()
            lines.append(f"{ins} {d}, {off}(0)")
        return Op("page-ldst", lines)

    def op_win_ldst(self):
        r = self.r
        k = r.randrange(NSLOTS)
        off = r.randrange(0, 0x10000, 4)
        a, d = self.base(), self.reg()
        ea = WIN_EA + k * 0x100000 + off
        lo = ea & 0xFFFF
        if lo >= 0x8000:
            lo -= 0x10000
        ha = ((ea - lo) >> 16) & 0xFFFF
        if self.slot_tc[k]:
            # The TC is guest RAM the device tree reserves: what a load
            # there returns is the monitor's business, so only stores.
            ins = r.choice(["stw", "sth", "stb"])
        else:
            ins = r.choice(["lwz", "lhz", "lbz", "stw", "sth", "stb", "lwz", "stw"])
        return Op("win-ldst", [f"lis {a}, 0x{ha:x}", f"{ins} {d}, {lo}({a})"])

    def op_alu(self):
        r = self.r
        d, a, b = self.reg(), self.reg(), self.reg()
        return Op("alu", [r.choice([f"add {d}, {a}, {b}", f"xor {d}, {a}, {b}",
                                    f"rlwinm {d}, {a}, {r.randrange(32)}, 0, 31",
                                    f"cmpw cr{r.randrange(7)}, {a}, {b}", f"mullw {d}, {a}, {b}",
                                    f"addic {d}, {a}, {r.randint(-100, 100)}"])])

    def smc_word(self):
        """A word that is not privileged: li rD, imm or nop."""
        r = self.r
        if r.random() < 0.2:
            return 0x60000000
        return (14 << 26) | (r.choice(REGS) << 21) | r.getrandbits(16)

    def op_smc(self, target, alias):
        """Store a non-privileged word over site op @target and synchronize."""
        word = self.smc_word()
        return Op("smc-alias" if alias else "smc", [], target=target, word=word)

    # loads of a site's word, any width and form: a translated site must
    # read back as the guest's own word (kvm-bt-textview.c)
    LD_CODE_FORMS = ["lwz 0", "lwz 0", "lhz 0", "lhz 2", "lha 0", "lbz 0", "lbz 1", "lbz 2",
                     "lbz 3", "lwbrx 0", "lhbrx 2", "lwarx 0"]

    def op_ld_code(self, target):
        """Load (part of) a site's word into a register."""
        return Op("ld-code", [self.r.choice(self.LD_CODE_FORMS)], target=target,
                  word=self.r.choice(REGS))

    def op_smc_narrow(self, target):
        """Store a halfword or byte over the top of a site's word and
        synchronize: the word becomes the site's word with the store merged
        in, which must run as such. What is stored makes that an addi
        whatever the rest of the word (opcode 14; a byte store keeps rD's
        low bits but sets it to r8-r23), never a privileged word."""
        r = self.r
        if r.random() < 0.5:
            v = 0x3800 | (r.choice(REGS) << 5) | r.getrandbits(5)
            return Op("smc-narrow", ["sth"], target=target, word=v)
        return Op("smc-narrow", ["stb"], target=target, word=r.choice([0x39, 0x3A]))

    WEIGHTS = [("mfmsr", 6), ("mtmsr", 5), ("wrtee", 6), ("mfspr", 14), ("mtspr", 12),
               ("rfi", 4), ("sc", 3), ("super", 2), ("tlbwe", 5), ("tlbre", 2), ("tlbsx", 2),
               ("tlbivax", 2), ("tlbilx", 2), ("dec_pend", 2), ("dec_wait", 1), ("progchk", 2),
               ("page_ldst", 3), ("tlbwe_page", 1), ("win_ldst", 6), ("alu", 5), ("smc", 3), ("smc_alias", 2),
               ("ld_code", 3), ("smc_narrow", 2)]

    def program(self, nops=None):
        r = self.r
        nops = nops or r.randint(4, 40)
        ops = []
        names = [n for n, _ in self.WEIGHTS]
        weights = [w for _, w in self.WEIGHTS]
        for _ in range(nops):
            kind = r.choices(names, weights)[0]
            sites = [i for i, o in enumerate(ops) if o.site]
            if kind in ("smc", "smc_alias", "ld_code", "smc_narrow"):
                if not sites:
                    kind = "mfspr"
                elif kind == "ld_code":
                    ops.append(self.op_ld_code(r.choice(sites)))
                    continue
                elif kind == "smc_narrow":
                    ops.append(self.op_smc_narrow(r.choice(sites)))
                    continue
                else:
                    ops.append(self.op_smc(r.choice(sites), kind == "smc_alias"))
                    continue
            ops.append(getattr(self, "op_" + kind)())
        init = {f"r{n}": self.rand32() for n in REGS}
        init.update(cr=self.rand32(), lr=self.rand32(), ctr=self.rand32(),
                    xer=self.r.getrandbits(32) & 0xE000007F)
        return {"loops": r.choice([1, 2, 3, 8, 17, 20, 33]), "init": init,
                "ops": [o.to_json() for o in ops]}


def generate(seed):
    p = Gen(seed).program()
    p["seed"] = seed
    return p


EPI_SPRS = ["SRR0", "SRR1", "CSRR0", "CSRR1", "SPRG0", "SPRG1", "SPRG2", "SPRG3", "SPRG4",
            "SPRG5", "SPRG6", "SPRG7", "MAS0", "MAS1", "MAS2", "MAS3", "MAS4", "MAS6", "MAS7",
            "PID", "DEAR", "ESR", "TSR", "TCR"]


def render_prog(idx, prog, out):
    """Append program @prog as fuzz_prog_<idx> to @out (list of lines);
    returns the labels of words left out of its code sum: none (fuzzrt.c
    still takes a list)."""
    ops = [Op.from_json(o) for o in prog["ops"]]
    P = f"fp{idx}"

    def emit(line, opi):
        out.append(line[1:] if line.startswith("!") else line)

    present = set(range(len(ops)))
    out.append(f"    .globl fuzz_prog_{idx}")
    out.append(f"fuzz_prog_{idx}:")
    init = prog["init"]
    for name in ("cr", "lr", "ctr", "xer"):
        out.extend(li32("r3", init[name]))
        out.append({"cr": "mtcr r3", "lr": "mtlr r3", "ctr": "mtctr r3", "xer": "mtxer r3"}[name])
    for r in REGS:
        out.extend(li32(f"r{r}", init[f"r{r}"]))
    out.append(f"li r31, {prog['loops']}")
    out.append(f".L{P}_loop:")
    for i, o in enumerate(ops):
        site_lbl = f".L{P}_s{i}"
        if o.kind in ("smc", "smc-alias"):
            if o.target not in present:
                continue
            tl = f".L{P}_s{o.target}"
            if o.kind == "smc":
                lines = [f"lis r2, {tl}@ha", f"addi r2, r2, {tl}@l"]
            else:
                # map the site's page at ALIAS_EA (4 KiB, supervisor read/write) and
                # store there; in supervisor state, so that the store happens
                # (the site's final word is what the checksum expects)
                lines = [f"li r0, 0x{FUZZ_SUPER:x}", "sc"]
                lines += li32("r0", TLB_SLOTS[NSLOTS + 1][0]) + [f"!mtspr {SPR['MAS0']}, r0"]
                lines += li32("r0", 0x80000000 | (2 << 7)) + [f"!mtspr {SPR['MAS1']}, r0"]
                lines += li32("r0", ALIAS_EA) + [f"!mtspr {SPR['MAS2']}, r0"]
                lines += [f"lis r2, {tl}@ha", f"addi r2, r2, {tl}@l", "rlwinm r0, r2, 0, 0, 19",
                          "ori r0, r0, 0x3f", f"!mtspr {SPR['MAS3']}, r0", "li r0, 0",
                          f"!mtspr {SPR['MAS7']}, r0", "isync", "!tlbwe", "isync",
                          "rlwinm r2, r2, 0, 20, 31", f"oris r2, r2, 0x{ALIAS_EA >> 16:x}"]
            lines += li32("r0", o.word) + ["stw r0, 0(r2)", "dcbst 0, r2", "sync", "icbi 0, r2",
                                           "sync", "isync"]
            if o.kind == "smc-alias":
                lines += [f"lis r2, {tl}@ha", f"addi r2, r2, {tl}@l", "dcbst 0, r2", "sync",
                          "icbi 0, r2", "sync", "isync"]
        elif o.kind == "ld-code":
            if o.target not in present:
                continue
            tl = f".L{P}_s{o.target}"
            d = f"r{o.word or 2}"
            ins, off = (o.lines[0] if o.lines else "lwz 0").split()
            if ins in ("lwz", "lhz", "lha", "lbz"):
                lines = [f"lis {d}, ({tl}+{off})@ha", f"{ins} {d}, ({tl}+{off})@l({d})"]
            else:
                # X-form: the address in a register (lwarx leaves a
                # reservation nobody uses)
                lines = [f"lis {d}, ({tl}+{off})@ha", f"addi {d}, {d}, ({tl}+{off})@l",
                         f"{ins} {d}, 0, {d}"]
        elif o.kind == "smc-narrow":
            if o.target not in present:
                continue
            tl = f".L{P}_s{o.target}"
            lines = [f"lis r2, {tl}@ha", f"addi r2, r2, {tl}@l"] + li32("r0", o.word)
            lines += [f"{o.lines[0]} r0, 0(r2)", "dcbst 0, r2", "sync", "icbi 0, r2", "sync",
                      "isync"]
        else:
            lines = o.lines
        for line in lines:
            line = line.replace("%=%", f".L{P}_o{i}")
            if o.site and line.startswith("!"):
                out.append(f"{site_lbl}:")
            emit(line, i)
    out += [f"addi r31, r31, -1", "cmpwi cr7, r31, 0", f"bne cr7, .L{P}_loop"]
    # epilogue: GPRs and CR, LR, CTR, XER as the program left them, then
    # the SPRs (each read is 0 where it traps in problem state)
    for r in range(32):
        if r != 1:
            out.append(f"stw r{r}, {4 * r}(r30)")
    out.append("stw r1, 4(r30)")
    for i, name in enumerate(("mfcr", "mflr", "mfctr", "mfxer")):
        out += [f"{name} r3", f"stw r3, {128 + 4 * i}(r30)"]
    for i, name in enumerate(EPI_SPRS):
        out.append("li r3, 0")
        emit(f"!mfspr r3, {SPR[name]}", -1)
        out.append(f"stw r3, {144 + 4 * i}(r30)")
    out += [f"li r0, 0x{FUZZ_END:x}", "sc", "b ."]
    out.append(f".L{P}_end:")
    # every word is in the code sum, privileged ones too (fuzzrt.c reads
    # them as data: patched words must read back as the guest's)
    return []


def render(progs):
    """One assembly file: every program and the table fuzzrt.c runs."""
    out = ["    .section .text.fuzz, \"ax\"", "    .align 6"]
    skips = []
    for i, p in enumerate(progs):
        skips.append(render_prog(i, p, out))
    out.append("    .section .rodata")
    out.append("    .align 2")
    for i, sk in enumerate(skips):
        out.append(f".Lskip{i}:")
        for lbl in sk:
            out.append(f"    .long {lbl} - fuzz_prog_{i}")
    out.append("    .globl fuzz_progs")
    out.append("fuzz_progs:")
    for i, p in enumerate(progs):
        out.append(f"    .long fuzz_prog_{i}, fuzz_prog_{i}, .Lfp{i}_end, .Lskip{i}, "
                   f"{len(skips[i])}, {p.get('id', i)}, {p['seed'] & 0xffffffff}")
    out.append("    .globl fuzz_nprogs")
    out.append(f"fuzz_nprogs: .long {len(progs)}")
    out.append("    .globl fuzz_tlb_slots")
    out.append("fuzz_tlb_slots:")
    for mas0, epn in TLB_SLOTS:
        out.append(f"    .long 0x{mas0:x}, 0x{epn:x}")
    out.append("    .globl fuzz_ntlb_slots")
    out.append(f"fuzz_ntlb_slots: .long {len(TLB_SLOTS)}")
    out.append("    .section .note.GNU-stack, \"\", @progbits")
    return "\n".join(out) + "\n"
