/*
 * Unit tests for the binary translator (bt-translate), the BT site table
 * and TC allocator (bt-sites) and the shared-page layout.
 *
 * Stubs are checked by running them: a tiny interpreter for the handful of
 * instructions the stubs use executes from the patched site until it
 * returns to site+4 or reaches the fallback (the original privileged word,
 * which would trap), and the result is compared with the instruction's
 * reference semantics over thousands of random register files, for each
 * host (the TCG monitor and real KVM, see KvmBtHostCaps). For KVM the
 * interpreter also checks that a stub holds the page's `critical` (== r1)
 * whenever it changes anything, and records the order of its MSR store
 * and int_pending load.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bt-sites.h"
#include "site-table.h"
#include "bt-translate.h"
#include "ppc-insn.h"
#include "shared-page.h"
#include "tc-place.h"
#include "test-harness.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic random numbers (xorshift64*) ---- */

static uint64_t rng_state = 0x6b766d2d62742d31ull;

static uint32_t rnd(void)
{
    return test_rnd(&rng_state);
}

static bool coin(void)
{
    return rnd() & 1;
}

/* ---- a tiny PowerPC interpreter, just what the stubs need ---- */

/* What a run did, beyond its result */
typedef struct Trace {
    int steps;              /* instructions executed */
    int msr_store;          /* step of the first store to msr, -1: none */
    int pending_load;       /* step of the first load of int_pending, -1: none */
    unsigned page_end;      /* highest page offset accessed + 4 */
} Trace;

typedef struct Cpu {
    uint32_t gpr[32];
    uint32_t cr;
    bool so;                /* XER[SO], copied into CR0 by compares */
    uint8_t page[KVM_BT_SHARED_SIZE];
    Trace tr;
} Cpu;

typedef enum RunEnd {
    RUN_RESUME,             /* reached site + 4 */
    RUN_FALLBACK,           /* about to execute the fallback word */
    RUN_ERROR,
} RunEnd;

typedef struct Code {
    uint32_t site, site_word;
    uint32_t tc_ea;
    const uint32_t *stub;
    unsigned stub_words;
    uint32_t fallback_ea;   /* 0: none */
    /*
     * Every instruction but a branch or a store to critical must run while
     * page[critical] == r1 (its value at entry): KVM may deliver otherwise.
     */
    bool critical;
} Code;

static uint32_t page_rd(const Cpu *c, unsigned off)
{
    return (uint32_t)c->page[off] << 24 | c->page[off + 1] << 16 | c->page[off + 2] << 8 |
           c->page[off + 3];
}

static void page_wr(Cpu *c, unsigned off, uint32_t v)
{
    c->page[off] = v >> 24;
    c->page[off + 1] = v >> 16;
    c->page[off + 2] = v >> 8;
    c->page[off + 3] = v;
}

static uint32_t rotl(uint32_t v, unsigned n)
{
    return n ? (v << n) | (v >> (32 - n)) : v;
}

/* rlwinm/rlwimi mask, Power ISA bit numbering, wrapping when mb > me */
static uint32_t mask32(unsigned mb, unsigned me)
{
    uint32_t m1 = 0xffffffffu >> mb, m2 = 0xffffffffu << (31 - me);

    return mb <= me ? m1 & m2 : m1 | m2;
}

static void set_crf(Cpu *c, unsigned crf, unsigned lt_gt_eq)
{
    unsigned shift = 28 - 4 * crf;

    c->cr = (c->cr & ~(0xfu << shift)) | ((lt_gt_eq | c->so) << shift);
}

static void set_cr0(Cpu *c, uint32_t v)
{
    set_crf(c, 0, (int32_t)v < 0 ? 8 : (int32_t)v > 0 ? 4 : 2);
}

/* Only RA = 0 addressing into the shared page: the stubs have no base register. */
static bool page_ea(const PPCInsn *in, unsigned *off, const char **err)
{
    uint32_t ea = (uint32_t)in->imm;

    if (in->ra != 0 || ea < KVM_BT_SHARED_EA || (ea & 3)) {
        *err = "load/store outside the shared page";
        return false;
    }
    *off = ea - KVM_BT_SHARED_EA;
    return true;
}

static bool fetch(const Code *code, uint32_t pc, uint32_t *w)
{
    if (pc == code->site) {
        *w = code->site_word;
        return true;
    }
    if (code->stub && pc >= code->tc_ea && pc < code->tc_ea + 4 * code->stub_words) {
        *w = code->stub[(pc - code->tc_ea) / 4];
        return true;
    }
    return false;
}

static void page_access(Cpu *c, unsigned off, bool store)
{
    if (off + 4 > c->tr.page_end) {
        c->tr.page_end = off + 4;
    }
    if (store && off == KVM_BT_SH_MSR && c->tr.msr_store < 0) {
        c->tr.msr_store = c->tr.steps;
    }
    if (!store && off == KVM_BT_SH_INT_PENDING && c->tr.pending_load < 0) {
        c->tr.pending_load = c->tr.steps;
    }
}

static bool is_critical_store(const PPCInsn *in)
{
    return in->kind == PPC_INSN_STW && in->ra == 0 &&
           (uint32_t)in->imm == KVM_BT_SHARED_EA + KVM_BT_SH_CRITICAL;
}

static RunEnd run(Cpu *c, const Code *code, const char **err)
{
    uint32_t pc = code->site, r1 = c->gpr[1];

    *err = NULL;
    c->tr = (Trace){ .msr_store = -1, .pending_load = -1 };
    for (int steps = 0; steps < 200; steps++, c->tr.steps++) {
        PPCInsn in;
        uint32_t w, *rt, *ra;
        unsigned off;

        if (pc == code->site + 4) {
            return RUN_RESUME;
        }
        if (code->fallback_ea && pc == code->fallback_ea) {
            return RUN_FALLBACK;
        }
        if (!fetch(code, pc, &w)) {
            *err = "jumped outside the code";
            return RUN_ERROR;
        }
        if (!ppc_insn_decode(w, &in)) {
            *err = "undecodable word";
            return RUN_ERROR;
        }
        if (code->critical && in.kind != PPC_INSN_B && in.kind != PPC_INSN_BC &&
            !is_critical_store(&in) && page_rd(c, KVM_BT_SH_CRITICAL) != r1) {
            *err = "register, CR or page changed outside the critical section";
            return RUN_ERROR;
        }
        rt = &c->gpr[in.rt];
        ra = &c->gpr[in.ra];
        pc += 4;
        switch (in.kind) {
        case PPC_INSN_LWZ:
            if (!page_ea(&in, &off, err)) {
                return RUN_ERROR;
            }
            page_access(c, off, false);
            *rt = page_rd(c, off);
            break;
        case PPC_INSN_STW:
            if (!page_ea(&in, &off, err)) {
                return RUN_ERROR;
            }
            page_access(c, off, true);
            page_wr(c, off, *rt);
            break;
        case PPC_INSN_ADDI:
            *rt = (in.ra ? *ra : 0) + (uint32_t)in.imm;
            break;
        case PPC_INSN_ADDIS:
            *rt = (in.ra ? *ra : 0) + ((uint32_t)in.imm << 16);
            break;
        case PPC_INSN_ORI:
            *ra = *rt | (uint32_t)in.imm;
            break;
        case PPC_INSN_ORIS:
            *ra = *rt | ((uint32_t)in.imm << 16);
            break;
        case PPC_INSN_XORI:
            *ra = *rt ^ (uint32_t)in.imm;
            break;
        case PPC_INSN_ANDI_:
            *ra = *rt & (uint32_t)in.imm;
            set_cr0(c, *ra);
            break;
        case PPC_INSN_RLWINM:
            *ra = rotl(*rt, in.sh) & mask32(in.mb, in.me);
            if (in.rc) {
                set_cr0(c, *ra);
            }
            break;
        case PPC_INSN_RLWIMI: {
            uint32_t m = mask32(in.mb, in.me);

            *ra = (rotl(*rt, in.sh) & m) | (*ra & ~m);
            if (in.rc) {
                set_cr0(c, *ra);
            }
            break;
        }
        case PPC_INSN_CMPI:
            if (in.l) {
                *err = "64-bit compare";
                return RUN_ERROR;
            }
            set_crf(c, in.crf, (int32_t)*ra < in.imm ? 8 : (int32_t)*ra > in.imm ? 4 : 2);
            break;
        case PPC_INSN_CMPL:
            if (in.l) {
                *err = "64-bit compare";
                return RUN_ERROR;
            }
            set_crf(c, in.crf, *ra < c->gpr[in.rb] ? 8 : *ra > c->gpr[in.rb] ? 4 : 2);
            break;
        case PPC_INSN_OR:
            *ra = *rt | c->gpr[in.rb];
            if (in.rc) {
                set_cr0(c, *ra);
            }
            break;
        case PPC_INSN_XOR:
            *ra = *rt ^ c->gpr[in.rb];
            if (in.rc) {
                set_cr0(c, *ra);
            }
            break;
        case PPC_INSN_MFCR:
            *rt = c->cr;
            break;
        case PPC_INSN_MTCRF:
            for (unsigned f = 0; f < 8; f++) {
                if (in.crm & (0x80 >> f)) {
                    uint32_t m = 0xf0000000u >> (4 * f);

                    c->cr = (c->cr & ~m) | (*rt & m);
                }
            }
            break;
        case PPC_INSN_B:
            if (in.aa || in.lk) {
                *err = "absolute or linking branch";
                return RUN_ERROR;
            }
            pc = pc - 4 + in.imm;
            break;
        case PPC_INSN_BC: {
            unsigned bo = in.rt, bit = (c->cr >> (31 - in.ra)) & 1;

            if (in.aa || in.lk || !(bo & 4)) {
                *err = "unsupported bc form (CTR, AA or LK)";
                return RUN_ERROR;
            }
            if ((bo & 0x10) || bit == ((bo >> 3) & 1)) {
                pc = pc - 4 + in.imm;
            }
            break;
        }
        default:
            *err = "instruction outside the interpreter's subset";
            return RUN_ERROR;
        }
    }
    *err = "runaway";
    return RUN_ERROR;
}

/* ---- helpers ---- */

#define SITE        0xc0012340u
#define TC_EA       0xc0400000u

/* The hosts the translator emits code for */
#define MON         (&kvm_bt_host_monitor)
#define KVM         (&kvm_bt_host_kvm)

#define ARRAY_LEN(a)    (sizeof(a) / sizeof((a)[0]))
/* Displacement of page offset @off for "lwz/stw r,D(0)" */
#define PAGE_D(off)     ((int16_t)((int)(off) - 4096))

static PPCInsn decode(uint32_t w)
{
    PPCInsn in;

    ppc_insn_decode(w, &in);
    return in;
}

static void random_cpu(Cpu *c)
{
    for (int i = 0; i < 32; i++) {
        c->gpr[i] = rnd();
    }
    c->cr = rnd();
    c->so = coin();
    /* SO in every CR field agrees with nothing in particular: random CR is fine */
    for (unsigned off = 0; off < KVM_BT_SHARED_SIZE; off += 4) {
        page_wr(c, off, rnd());
    }
}

/* Differences outside scratch1-3 (the stubs' save area), @ex1 and @ex2 (-1: none) */
static bool page_same2(const Cpu *a, const Cpu *b, int ex1, int ex2)
{
    for (unsigned off = 0; off < KVM_BT_SHARED_SIZE; off += 4) {
        bool scratch = off < KVM_BT_SH_SCRATCH3 + 4;

        if (!scratch && (int)off != ex1 && (int)off != ex2 &&
            page_rd(a, off) != page_rd(b, off)) {
            return false;
        }
    }
    return true;
}

static bool page_same(const Cpu *a, const Cpu *b, int except)
{
    return page_same2(a, b, except, -1);
}

static bool regs_same(const Cpu *a, const Cpu *b)
{
    return !memcmp(a->gpr, b->gpr, sizeof(a->gpr)) && a->cr == b->cr && a->so == b->so;
}

static Code code_of(const KvmBtHostCaps *host, const KvmBtXlat *x, uint32_t site,
                    uint32_t tc_ea)
{
    return (Code){
        .site = site, .site_word = x->patch, .tc_ea = tc_ea,
        .stub = x->kind == KVM_BT_XLAT_STUB ? x->stub : NULL,
        .stub_words = x->stub_words,
        .fallback_ea = x->kind == KVM_BT_XLAT_STUB ? x->fallback_ea : 0,
        .critical = x->kind == KVM_BT_XLAT_STUB && !host->holds_async_in_tc,
    };
}

/* ---- shared page ---- */

static void test_shared_page(void)
{
    const KvmBtSprMirror *m;
    KvmBtPrivField priv[KVM_BT_PRIV_FIELDS_MAX];
    size_t n, np;
    const KvmBtSprMirror *all = kvm_bt_spr_mirrors(&n);
    bool ok = true;

    /* the KVM part of the layout is checked against Linux's struct: unit-kvm-abi */
    CHECK(KVM_BT_SHARED_D(KVM_BT_SH_MSR) == -4004, "D(msr) %d", KVM_BT_SHARED_D(KVM_BT_SH_MSR));
    /* with RA = 0 the EA is the sign-extended displacement itself */
    CHECK((uint32_t)(int32_t)KVM_BT_SHARED_D(KVM_BT_SH_PRIV_BUCSR) ==
          KVM_BT_SHARED_EA + KVM_BT_SH_PRIV_BUCSR, "sign-extended D reaches the private area");

    m = kvm_bt_spr_mirror(KVM_BT_SPR_SPRG3);
    CHECK(m && m->read == KVM_BT_SPR_KVM && m->write == KVM_BT_SPR_KVM && m->offset == 60,
          "SPRG3 read and write");
    for (unsigned k = 0; k < 5; k++) {
        /* SPRG3 is SPR 275, SPRG4-7 are 276-279: SPRGnR is SPRGn - 16 */
        const KvmBtSprMirror *reg = kvm_bt_spr_mirror(KVM_BT_SPR_SPRG3 + k);
        const KvmBtSprMirror *alias = kvm_bt_spr_mirror(KVM_BT_SPR_SPRG3R + k);

        CHECK(reg && alias && alias->offset == reg->offset && alias->read == KVM_BT_SPR_KVM &&
              alias->write == KVM_BT_SPR_EXIT, "SPRG%uR reads SPRG%u's field", k + 3, k + 3);
    }
    m = kvm_bt_spr_mirror(KVM_BT_SPR_MAS7);
    CHECK(m && m->write == KVM_BT_SPR_KVM && m->offset == 176, "MAS7 high word");
    m = kvm_bt_spr_mirror(KVM_BT_SPR_PIR);
    CHECK(m && m->offset == KVM_BT_SH_PIR && m->write == KVM_BT_SPR_EXIT, "PIR");
    m = kvm_bt_spr_mirror(KVM_BT_SPR_BUCSR);
    CHECK(m && m->read == KVM_BT_SPR_PRIVATE && m->write == KVM_BT_SPR_PRIVATE, "BUCSR sink");
    CHECK(!kvm_bt_spr_mirror(22) && !kvm_bt_spr_mirror(336) && !kvm_bt_spr_mirror(702) &&
          !kvm_bt_spr_mirror(268) && !kvm_bt_spr_mirror(572), "DEC/TSR/EPR/TBL/MCSR not mirrored");
    CHECK(n == 39, "%zu mirrors", n);

    for (size_t i = 0; i < n; i++) {
        bool alias = all[i].spr >= KVM_BT_SPR_SPRG3R && all[i].spr <= KVM_BT_SPR_SPRG7R;

        ok &= (all[i].offset & 3) == 0 && all[i].offset < KVM_BT_SHARED_SIZE;
        ok &= all[i].offset >= KVM_BT_SH_PRIV_BASE
              ? all[i].read == KVM_BT_SPR_PRIVATE && all[i].offset < KVM_BT_SH_PRIV_END
              : all[i].read == KVM_BT_SPR_KVM && all[i].offset < KVM_BT_SH_KVM_END;
        for (size_t j = 0; j < i; j++) {
            /* only an alias shares its register's field */
            ok &= all[j].spr != all[i].spr && (alias || all[j].offset != all[i].offset);
        }
    }
    CHECK(ok, "mirror offsets aligned, distinct but for aliases, in their area");

    np = kvm_bt_priv_fields(priv, KVM_BT_PRIV_FIELDS_MAX);
    CHECK(np == 14 && np <= KVM_BT_PRIV_FIELDS_MAX, "%zu private fields", np);
    ok = true;
    for (size_t i = 0; i < np; i++) {
        ok &= priv[i].offset == KVM_BT_SH_PRIV_BASE + 4 * i;
        ok &= priv[i].pull == (priv[i].spr == KVM_BT_SPR_BUCSR || priv[i].spr == KVM_BT_SPR_PID);
    }
    CHECK(ok, "private fields in page order, only BUCSR and PID pulled");
    CHECK(priv[0].spr == KVM_BT_SPR_PID, "PID first");
}

/* ---- in-place translations ---- */

/*
 * Whether @host lets a page access stand for this access to @m (the
 * mirror's policy aside): its private fields, and for a write SPRG4-7.
 */
static bool host_keeps(const KvmBtHostCaps *host, const KvmBtSprMirror *m, bool write)
{
    if ((write ? m->write : m->read) == KVM_BT_SPR_PRIVATE && !host->private_fields) {
        return false;
    }
    return !write || host->sprg4_7_writes ||
           m->spr < KVM_BT_SPR_SPRG4 || m->spr > KVM_BT_SPR_SPRG7;
}

static void test_inplace(const KvmBtHostCaps *host)
{
    size_t n;
    const KvmBtSprMirror *all = kvm_bt_spr_mirrors(&n);
    KvmBtXlat x;
    bool ok_read = true, ok_write = true, ok_none = true;

    /* mfmsr rD, for every rD, run */
    for (unsigned rd = 0; rd < 32; rd++) {
        Cpu c, before;
        const char *err;
        PPCInsn in;

        random_cpu(&c);
        before = c;
        kvm_bt_xlat(host, SITE, 0x7c0000a6 | rd << 21, 0, 0, &x);
        in = decode(x.patch);
        CHECK(x.kind == KVM_BT_XLAT_INPLACE && in.kind == PPC_INSN_LWZ && in.rt == rd &&
              in.ra == 0 && in.imm == KVM_BT_SH_MSR - 4096, "%s: mfmsr r%u -> %08x",
              host->name, rd, x.patch);
        CHECK(run(&c, &(Code){ .site = SITE, .site_word = x.patch }, &err) == RUN_RESUME &&
              c.gpr[rd] == page_rd(&before, KVM_BT_SH_MSR), "%s: mfmsr r%u runs",
              host->name, rd);
        before.gpr[rd] = c.gpr[rd];
        CHECK(regs_same(&c, &before) && page_same(&c, &before, -1),
              "%s: mfmsr r%u side effects", host->name, rd);
    }

    /* every mirror, read and write, with random registers */
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++) {
            unsigned r = rnd() % 32;
            Cpu c, before;
            const char *err;
            Code code;

            /* mfspr r,X */
            random_cpu(&c);
            before = c;
            kvm_bt_xlat(host, SITE, ppc_enc_mfspr(r, all[i].spr), 0, 0, &x);
            if (all[i].read == KVM_BT_SPR_EXIT) {
                ok_read &= x.kind == KVM_BT_XLAT_NONE;
            } else if (!host_keeps(host, &all[i], false)) {
                ok_read &= x.kind == KVM_BT_XLAT_NONE &&
                           strstr(x.reason, "not kept by this host");
            } else {
                code = code_of(host, &x, SITE, 0);
                ok_read &= x.kind == KVM_BT_XLAT_INPLACE && run(&c, &code, &err) == RUN_RESUME;
                ok_read &= c.gpr[r] == page_rd(&before, all[i].offset);
                before.gpr[r] = c.gpr[r];
                ok_read &= regs_same(&c, &before) && page_same(&c, &before, -1);
            }

            /* mtspr X,r (PID is a stub, tested below) */
            if (all[i].spr == KVM_BT_SPR_PID) {
                continue;
            }
            random_cpu(&c);
            before = c;
            kvm_bt_xlat(host, SITE, ppc_enc_mtspr(all[i].spr, r), 0, 0, &x);
            if (all[i].write == KVM_BT_SPR_EXIT) {
                ok_write &= x.kind == KVM_BT_XLAT_NONE && x.reason;
            } else if (all[i].spr == KVM_BT_SPR_BUCSR && host->bucsr_write_ignored) {
                ok_write &= x.kind == KVM_BT_XLAT_INPLACE && x.patch == 0x60000000;
            } else if (!host_keeps(host, &all[i], true)) {
                ok_write &= x.kind == KVM_BT_XLAT_NONE && x.reason && x.reason[0];
            } else {
                code = code_of(host, &x, SITE, 0);
                ok_write &= x.kind == KVM_BT_XLAT_INPLACE && run(&c, &code, &err) == RUN_RESUME;
                ok_write &= page_rd(&c, all[i].offset) == before.gpr[r];
                ok_write &= regs_same(&c, &before) && page_same(&c, &before, all[i].offset);
            }
        }
    }
    CHECK(ok_read, "%s: mfspr of every mirror", host->name);
    CHECK(ok_write, "%s: mtspr of every mirror", host->name);

    /* named cases from a real guest */
    kvm_bt_xlat(host, SITE, 0x7d5342a6, 0, 0, &x);      /* mfspr r10,SPRG3 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_lwz(10, 60 - 4096, 0), "SPRG3");
    kvm_bt_xlat(host, SITE, ppc_enc_mfspr(10, KVM_BT_SPR_SPRG3R), 0, 0, &x);
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_lwz(10, 60 - 4096, 0), "SPRG3R");
    kvm_bt_xlat(host, SITE, 0x7d5343a6, 0, 0, &x);      /* mtspr SPRG3,r10 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_stw(10, 60 - 4096, 0),
          "mtspr SPRG3");
    kvm_bt_xlat(host, SITE, 0x7d75fba6, 0, 0, &x);      /* mtspr BUCSR,r11 */
    if (host->private_fields) {
        CHECK(x.kind == KVM_BT_XLAT_INPLACE &&
              x.patch == ppc_enc_stw(11, KVM_BT_SH_PRIV_BUCSR - 4096, 0), "BUCSR sink");
    } else {
        CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == 0x60000000,
              "%s: BUCSR write ignored by the host: a nop", host->name);
    }
    kvm_bt_xlat(host, SITE, 0x7d50eba6, 0, 0, &x);      /* mtspr MAS7,r10 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_stw(10, 176 - 4096, 0), "MAS7");
    kvm_bt_xlat(host, SITE, 0x7cfa03a6, 0, 0, &x);      /* mtspr SRR0,r7 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_stw(7, 68 - 4096, 0), "SRR0");

    /* never translated */
    {
        static const uint32_t words[] = {
            0x4c000064,                 /* rfi */
            0x7c0007a4,                 /* tlbwe */
            0x7c00007c,                 /* wait */
            0x7c002724,                 /* tlbsx 0,r4 */
            0x7c000000 | 0x2a6 | (3 << 21) | (22 << 16),    /* mfspr r3,DEC */
            0x7c000000 | 0x3a6 | (3 << 21) | (22 << 16),    /* mtspr DEC,r3 */
            0x7c000000 | 0x3a6 | (3 << 21) | (16 << 16) | (10 << 11),  /* mtspr TSR,r3 */
            0x7c000000 | 0x3a6 | (3 << 21) | (31 << 16) | (8 << 11),   /* mtspr PVR,r3 */
            0x7c010124,                 /* mtmsr r0,1 (L=1) */
            0x38600001,                 /* li r3,1: not privileged */
            0x00000000,                 /* not an instruction */
        };

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            KvmBtXlatKind k = kvm_bt_xlat(host, SITE, words[i], TC_EA, 32, &x);

            ok_none &= k == KVM_BT_XLAT_NONE && x.kind == k && x.reason && x.reason[0];
            ok_none &= !kvm_bt_xlat_needs_stub(host, words[i]);
        }
        CHECK(ok_none, "%s: privileged instructions that keep exiting", host->name);
        kvm_bt_xlat(host, SITE, 0x7c000000 | 0x3a6 | (3 << 21) | (31 << 16) | (8 << 11),
                    TC_EA, 32, &x);
        CHECK(strstr(x.reason, "beyond"), "mtspr PVR reason '%s'", x.reason);
        kvm_bt_xlat(host, SITE, 0x4c000064, TC_EA, 32, &x);
        CHECK(strstr(x.reason, "interrupt return") != NULL, "rfi reason '%s'", x.reason);
    }
}

/* ---- stubs ---- */

typedef enum StubOp { OP_WRTEE, OP_WRTEEI, OP_MTMSR, OP_MTPID } StubOp;

static const char *const op_names[] = { "wrtee", "wrteei", "mtmsr", "mtspr PID" };

static uint32_t op_word(StubOp op, unsigned r)
{
    switch (op) {
    case OP_WRTEE:  return 0x7c000106 | r << 21;
    case OP_WRTEEI: return 0x7c000146 | (r & 1) << 15;
    case OP_MTMSR:  return 0x7c000124 | r << 21;
    default:        return ppc_enc_mtspr(KVM_BT_SPR_PID, r);
    }
}

/*
 * Reference semantics: true if the shortcut applies (and the page field at
 * *field becomes *msr: the MSR, or for mtspr PID the PID), false if the
 * original instruction must trap.
 */
static bool reference(const KvmBtHostCaps *host, StubOp op, unsigned r, const Cpu *c,
                      unsigned *field, uint32_t *msr)
{
    uint32_t writable = host->msr_page_writable;
    uint32_t old = page_rd(c, KVM_BT_SH_MSR), rs = c->gpr[r];
    bool pending = page_rd(c, KVM_BT_SH_INT_PENDING) != 0;
    uint32_t ee;

    *field = KVM_BT_SH_MSR;
    switch (op) {
    case OP_WRTEE:
    case OP_WRTEEI:
        ee = op == OP_WRTEE ? rs & KVM_BT_MSR_EE : (r & 1) ? KVM_BT_MSR_EE : 0;
        *msr = (old & ~KVM_BT_MSR_EE) | ee;
        return !(ee && pending);
    case OP_MTMSR:
        *msr = rs;
        /* the host's page-writable bits only; a writable enabling bit set waits */
        return !((rs ^ old) & ~writable) &&
               !((rs & writable & (KVM_BT_MSR_CE | KVM_BT_MSR_EE)) && pending);
    default:
        /* the same PID: skipped; the CPU on PID 0: deferred into the page; else trap */
        *field = KVM_BT_SH_PRIV_PID;
        *msr = rs;
        return rs == page_rd(c, KVM_BT_SH_PRIV_PID) || page_rd(c, KVM_BT_SH_PID_CPU) == 0;
    }
}

/* Random state biased so both outcomes and every branch of the stub occur. */
static void random_case(const KvmBtHostCaps *host, Cpu *c, StubOp op, unsigned r)
{
    random_cpu(c);
    if (coin()) {
        page_wr(c, KVM_BT_SH_INT_PENDING, 0);
    } else if (coin()) {
        page_wr(c, KVM_BT_SH_INT_PENDING, 1u << (rnd() % 32));
    }
    if (op == OP_MTMSR && coin()) {
        /* change page-writable bits only, or one more random bit */
        uint32_t v = page_rd(c, KVM_BT_SH_MSR) ^ (rnd() & host->msr_page_writable);

        if (coin() && coin()) {
            v ^= 1u << (rnd() % 32);
        }
        c->gpr[r] = v;
    }
    if (op == OP_MTPID && coin()) {
        page_wr(c, KVM_BT_SH_PRIV_PID, coin() ? c->gpr[r] : 0);
    }
    if (op == OP_MTPID && coin()) {
        page_wr(c, KVM_BT_SH_PID_CPU, 0);
    }
    if (coin()) {
        /* EE ends up set or clear in rS as often as not */
        c->gpr[r] ^= KVM_BT_MSR_EE;
    }
    /* Linux's r1 (stack) and r2 (current) differ; critical is not held yet */
    if (c->gpr[2] == c->gpr[1]) {
        c->gpr[2] ^= 0x10;
    }
    if (page_rd(c, KVM_BT_SH_CRITICAL) == c->gpr[1]) {
        page_wr(c, KVM_BT_SH_CRITICAL, c->gpr[1] ^ 0x10);
    }
}

/*
 * Run the stub for @op on random register files and compare with the
 * reference. For a host that may deliver in the TC also: critical held
 * (the interpreter), released (r2) at both ends, the MSR stored before
 * int_pending is loaded, nothing at or past KVM_BT_SH_KVM_END touched; on
 * the fallback path the page MSR may already hold the new value (the
 * original word then sets the same MSR), but not if the MSR change itself
 * needs the host.
 */
static void test_stub_property(const KvmBtHostCaps *host, StubOp op)
{
    unsigned nregs = op == OP_WRTEEI ? 2 : 32;
    unsigned cases = 0, fast = 0, slow = 0, bad = 0, stored_early = 0;
    bool hold = !host->holds_async_in_tc;
    int crit = hold ? KVM_BT_SH_CRITICAL : -1;

    for (unsigned r = 0; r < nregs; r++) {
        KvmBtXlat x;
        uint32_t word = op_word(op, r);
        Code code;
        PPCInsn in;

        CHECK(kvm_bt_xlat(host, SITE, word, TC_EA, 32, &x) == KVM_BT_XLAT_STUB,
              "%s: %s r%u: %s", host->name, op_names[op], r, x.reason ? x.reason : "");
        if (x.kind != KVM_BT_XLAT_STUB) {
            continue;
        }
        CHECK(kvm_bt_xlat_needs_stub(host, word), "%s needs a stub", op_names[op]);
        in = decode(x.patch);
        CHECK(in.kind == PPC_INSN_B && !in.lk && !in.aa && SITE + in.imm == TC_EA,
              "%s: patch is b TC", op_names[op]);
        CHECK(x.stub[x.fallback] == word && x.fallback_ea == TC_EA + 4 * x.fallback &&
              x.resume_ea == SITE + 4, "%s: fallback", op_names[op]);
        in = decode(x.stub[x.fallback + 1]);
        CHECK(x.fallback + 2 == x.stub_words && in.kind == PPC_INSN_B &&
              TC_EA + 4 * (x.fallback + 1) + in.imm == SITE + 4, "%s: b site+4 after fallback",
              op_names[op]);
        code = code_of(host, &x, SITE, TC_EA);

        for (int k = 0; k < 600; k++) {
            Cpu c, before;
            const char *err;
            uint32_t msr, old;
            unsigned field;
            bool shortcut, ok;
            RunEnd end;

            random_case(host, &c, op, r);
            before = c;
            old = page_rd(&before, KVM_BT_SH_MSR);
            shortcut = reference(host, op, r, &c, &field, &msr);
            end = run(&c, &code, &err);
            cases++;
            if (shortcut) {
                fast++;
                ok = end == RUN_RESUME && regs_same(&c, &before) &&
                     page_rd(&c, field) == msr && page_same2(&c, &before, field, crit);
            } else {
                slow++;
                ok = end == RUN_FALLBACK && regs_same(&c, &before);
                if (hold && field == KVM_BT_SH_MSR) {
                    uint32_t now = page_rd(&c, KVM_BT_SH_MSR);
                    bool host_bits = (before.gpr[r] ^ old) & ~host->msr_page_writable;

                    ok &= page_same2(&c, &before, KVM_BT_SH_MSR, crit);
                    ok &= now == old || (now == msr && !(op == OP_MTMSR && host_bits));
                    stored_early += now != old;
                } else {
                    ok &= page_same2(&c, &before, -1, crit);
                }
            }
            if (hold) {
                ok &= page_rd(&c, KVM_BT_SH_CRITICAL) == before.gpr[2];
                ok &= c.tr.pending_load < 0 ||
                      (c.tr.msr_store >= 0 && c.tr.msr_store < c.tr.pending_load);
                ok &= c.tr.page_end <= KVM_BT_SH_KVM_END;
            } else {
                /* the monitor's order: test, then store */
                ok &= c.tr.pending_load < 0 || c.tr.msr_store < 0 ||
                      c.tr.pending_load < c.tr.msr_store;
            }
            if (!ok && bad++ < 5) {
                printf("  %s: %s r%u: end %d (%s), %s expected; field %u: %08x want %08x; "
                       "critical %08x r2 %08x; msr store %d, pending load %d\n",
                       host->name, op_names[op], r, end, err ? err : "",
                       shortcut ? "resume" : "fallback", field, page_rd(&c, field), msr,
                       page_rd(&c, KVM_BT_SH_CRITICAL), before.gpr[2], c.tr.msr_store,
                       c.tr.pending_load);
            }
        }
    }
    CHECK(bad == 0, "%s: %s: %u of %u random cases wrong", host->name, op_names[op], bad,
          cases);
    /* wrteei 0 never needs the host */
    CHECK(fast > cases / 8 && (slow > cases / 8 || (op == OP_WRTEEI && slow > 0)),
          "%s: %s: both outcomes exercised (%u fast, %u fallback)", host->name, op_names[op],
          fast, slow);
    if (hold && op != OP_MTPID) {
        /* the store-first path was taken: fallbacks after the MSR store */
        CHECK(stored_early > 0, "%s: %s: %u fallbacks after the MSR store", host->name,
              op_names[op], stored_early);
    }
}

/* The exact layout of the wrtee stub, word by word */
static void test_wrtee_layout(void)
{
    static const PPCInsnKind want[] = {
        PPC_INSN_STW,       /* stw r0,scratch1 */
        PPC_INSN_MFCR,      /* mfcr r0 */
        PPC_INSN_STW,       /* stw r0,scratch3 */
        PPC_INSN_ANDI_,     /* andi. r0,r4,0x8000 */
        PPC_INSN_BC,        /* beq store */
        PPC_INSN_LWZ,       /* lwz r0,int_pending */
        PPC_INSN_CMPI,      /* cmpwi r0,0 */
        PPC_INSN_BC,        /* bne fallback */
        PPC_INSN_LWZ,       /* store: lwz r0,msr */
        PPC_INSN_RLWIMI,    /* rlwimi r0,r4,0,16,16 */
        PPC_INSN_STW,       /* stw r0,msr */
        PPC_INSN_LWZ,       /* lwz r0,scratch3 */
        PPC_INSN_MTCRF,     /* mtcrf 0x80,r0 */
        PPC_INSN_LWZ,       /* lwz r0,scratch1 */
        PPC_INSN_B,         /* b site+4 */
        PPC_INSN_LWZ,       /* fallback: lwz r0,scratch3 */
        PPC_INSN_MTCRF,     /* mtcrf 0x80,r0 */
        PPC_INSN_LWZ,       /* lwz r0,scratch1 */
        PPC_INSN_WRTEE,     /* wrtee r4 (traps) */
        PPC_INSN_B,         /* b site+4 */
    };
    KvmBtXlat x;
    bool ok = true;

    kvm_bt_xlat(MON, SITE, 0x7c800106, TC_EA, 32, &x);
    CHECK(x.stub_words == sizeof(want) / sizeof(want[0]), "wrtee stub %u words", x.stub_words);
    for (unsigned i = 0; i < x.stub_words && i < sizeof(want) / sizeof(want[0]); i++) {
        ok &= decode(x.stub[i]).kind == want[i];
    }
    CHECK(ok, "wrtee stub layout");
    CHECK(x.fallback == 18, "fallback index %u", x.fallback);
    CHECK(decode(x.stub[0]).rt == 0 && decode(x.stub[0]).imm == 4 - 4096, "saves r0 in scratch1");
    CHECK(decode(x.stub[4]).imm == 4 * (8 - 4) && decode(x.stub[7]).imm == 4 * (15 - 7),
          "branch targets");

    /* rS = r0: the scratch moves elsewhere */
    kvm_bt_xlat(MON, SITE, 0x7c000106, TC_EA, 32, &x);
    CHECK(decode(x.stub[0]).rt != 0, "wrtee r0 borrows another register");
    /* wrteei 0 compares nothing: CR untouched, no save */
    kvm_bt_xlat(MON, SITE, 0x7c000146, TC_EA, 32, &x);
    ok = true;
    for (unsigned i = 0; i < x.fallback; i++) {
        PPCInsnKind k = decode(x.stub[i]).kind;

        ok &= k != PPC_INSN_MFCR && k != PPC_INSN_MTCRF && k != PPC_INSN_BC;
    }
    CHECK(ok && x.stub_words == 9, "wrteei 0: %u words, no CR use", x.stub_words);
}

/* The exact layout of the KVM wrtee and wrteei 1 stubs, word by word */
static void test_kvm_layout(void)
{
    static const PPCInsnKind want_wrtee[] = {
        PPC_INSN_STW,       /* stw r1,critical */
        PPC_INSN_STW,       /* stw r0,scratch1 */
        PPC_INSN_MFCR,      /* mfcr r0 */
        PPC_INSN_STW,       /* stw r0,scratch3 */
        PPC_INSN_LWZ,       /* lwz r0,msr */
        PPC_INSN_RLWIMI,    /* rlwimi r0,r4,0,16,16 */
        PPC_INSN_STW,       /* stw r0,msr */
        PPC_INSN_ANDI_,     /* andi. r0,r4,0x8000 */
        PPC_INSN_BC,        /* beq done */
        PPC_INSN_LWZ,       /* lwz r0,int_pending */
        PPC_INSN_CMPI,      /* cmpwi r0,0 */
        PPC_INSN_BC,        /* bne fallback */
        PPC_INSN_LWZ,       /* done: lwz r0,scratch3 */
        PPC_INSN_MTCRF,     /* mtcrf 0x80,r0 */
        PPC_INSN_LWZ,       /* lwz r0,scratch1 */
        PPC_INSN_STW,       /* stw r2,critical */
        PPC_INSN_B,         /* b site+4 */
        PPC_INSN_LWZ,       /* fallback: lwz r0,scratch3 */
        PPC_INSN_MTCRF,     /* mtcrf 0x80,r0 */
        PPC_INSN_LWZ,       /* lwz r0,scratch1 */
        PPC_INSN_STW,       /* stw r2,critical */
        PPC_INSN_WRTEE,     /* wrtee r4 (traps) */
        PPC_INSN_B,         /* b site+4 */
    };
    static const PPCInsnKind want_wrteei1[] = {
        PPC_INSN_STW,       /* stw r1,critical */
        PPC_INSN_STW,       /* stw r0,scratch1 */
        PPC_INSN_MFCR,      /* mfcr r0 */
        PPC_INSN_STW,       /* stw r0,scratch3 */
        PPC_INSN_LWZ,       /* lwz r0,msr */
        PPC_INSN_ORI,       /* ori r0,r0,0x8000 */
        PPC_INSN_STW,       /* stw r0,msr */
        PPC_INSN_LWZ,       /* lwz r0,int_pending */
        PPC_INSN_CMPI,      /* cmpwi r0,0 */
        PPC_INSN_BC,        /* bne fallback */
        PPC_INSN_LWZ,       /* lwz r0,scratch3 */
        PPC_INSN_MTCRF,     /* mtcrf 0x80,r0 */
        PPC_INSN_LWZ,       /* lwz r0,scratch1 */
        PPC_INSN_STW,       /* stw r2,critical */
        PPC_INSN_B,         /* b site+4 */
        PPC_INSN_LWZ,       /* fallback: lwz r0,scratch3 */
        PPC_INSN_MTCRF,     /* mtcrf 0x80,r0 */
        PPC_INSN_LWZ,       /* lwz r0,scratch1 */
        PPC_INSN_STW,       /* stw r2,critical */
        PPC_INSN_WRTEEI,    /* wrteei 1 (traps) */
        PPC_INSN_B,         /* b site+4 */
    };
    const uint32_t crit_d = KVM_BT_SHARED_EA + KVM_BT_SH_CRITICAL;
    KvmBtXlat x;
    bool ok = true;

    kvm_bt_xlat(KVM, SITE, 0x7c800106, TC_EA, 32, &x);
    CHECK(x.stub_words == ARRAY_LEN(want_wrtee), "kvm wrtee stub %u words", x.stub_words);
    for (unsigned i = 0; i < x.stub_words && i < ARRAY_LEN(want_wrtee); i++) {
        ok &= decode(x.stub[i]).kind == want_wrtee[i];
    }
    CHECK(ok && x.fallback == 21, "kvm wrtee stub layout, fallback %u", x.fallback);
    CHECK(decode(x.stub[6]).imm == (int32_t)(KVM_BT_SHARED_EA + KVM_BT_SH_MSR) &&
          decode(x.stub[9]).imm == (int32_t)(KVM_BT_SHARED_EA + KVM_BT_SH_INT_PENDING),
          "kvm wrtee: MSR stored at 6, int_pending loaded at 9");

    kvm_bt_xlat(KVM, SITE, 0x7c008146, TC_EA, 32, &x);
    ok = x.stub_words == ARRAY_LEN(want_wrteei1);
    for (unsigned i = 0; i < x.stub_words && i < ARRAY_LEN(want_wrteei1); i++) {
        ok &= decode(x.stub[i]).kind == want_wrteei1[i];
    }
    CHECK(ok && x.fallback == 19, "kvm wrteei 1 stub layout (%u words)", x.stub_words);

    /* every KVM stub: critical taken first, given back right before each way out */
    for (StubOp op = OP_WRTEE; op <= OP_MTMSR; op++) {
        for (unsigned r = 0; r < 32; r++) {
            unsigned crit_stores = 0;

            if (kvm_bt_xlat(KVM, SITE, op_word(op, r), TC_EA, 32, &x) != KVM_BT_XLAT_STUB) {
                ok = false;
                continue;
            }
            ok &= x.stub[0] == ppc_enc_stw(1, (int16_t)(crit_d - KVM_BT_SHARED_EA - 4096), 0);
            for (unsigned i = 0; i < x.stub_words; i++) {
                PPCInsn in = decode(x.stub[i]);
                /* the fast path's b site+4, the fallback word (not the b after it) */
                bool way_out = i == x.fallback ||
                               (in.kind == PPC_INSN_B && i != x.fallback + 1 &&
                                TC_EA + 4 * i + in.imm == SITE + 4);

                crit_stores += is_critical_store(&in);
                if (way_out) {
                    PPCInsn rel = decode(x.stub[i - 1]), rst = decode(x.stub[i - 2]);

                    /* ... after the scratch GPR came back from scratch1 */
                    ok &= is_critical_store(&rel) && rel.rt == 2;
                    ok &= rst.kind == PPC_INSN_LWZ &&
                          (uint32_t)rst.imm == KVM_BT_SHARED_EA + KVM_BT_SH_SCRATCH1;
                }
            }
            ok &= crit_stores == 3;
        }
    }
    CHECK(ok, "kvm stubs: stw r1,critical first; stw r2,critical before each way out");
}

/* What real KVM does not keep is not translated for it */
static void test_kvm_refusals(void)
{
    static const unsigned priv_sprs[] = {
        KVM_BT_SPR_PVR, KVM_BT_SPR_SVR, KVM_BT_SPR_MMUCFG, KVM_BT_SPR_TLB0CFG,
        KVM_BT_SPR_TLB1CFG, KVM_BT_SPR_TCR, KVM_BT_SPR_HID0, KVM_BT_SPR_HID1,
        KVM_BT_SPR_L1CSR0, KVM_BT_SPR_L1CSR1, KVM_BT_SPR_L1CFG0, KVM_BT_SPR_L1CFG1,
        KVM_BT_SPR_BUCSR, KVM_BT_SPR_PID,
    };
    KvmBtXlat x;
    bool ok = true;

    for (size_t i = 0; i < ARRAY_LEN(priv_sprs); i++) {
        kvm_bt_xlat(KVM, SITE, ppc_enc_mfspr(3, priv_sprs[i]), TC_EA, 32, &x);
        ok &= x.kind == KVM_BT_XLAT_NONE && strstr(x.reason, "not kept by this host");
        kvm_bt_xlat(MON, SITE, ppc_enc_mfspr(3, priv_sprs[i]), TC_EA, 32, &x);
        ok &= x.kind == KVM_BT_XLAT_INPLACE;
    }
    CHECK(ok, "kvm: mfspr of the private mirrors refused, the monitor's kept");
    /* KVM e500 drops BUCSR writes: a nop is exact there; the monitor keeps the value */
    ok = true;
    for (unsigned r = 0; r < 32; r++) {
        kvm_bt_xlat(KVM, SITE, ppc_enc_mtspr(KVM_BT_SPR_BUCSR, r), TC_EA, 32, &x);
        ok &= x.kind == KVM_BT_XLAT_INPLACE && x.patch == 0x60000000;
        kvm_bt_xlat(MON, SITE, ppc_enc_mtspr(KVM_BT_SPR_BUCSR, r), TC_EA, 32, &x);
        ok &= x.kind == KVM_BT_XLAT_INPLACE &&
              x.patch == ppc_enc_stw(r, PAGE_D(KVM_BT_SH_PRIV_BUCSR), 0);
    }
    CHECK(ok, "mtspr BUCSR: a nop for kvm, a private-field store for the monitor");
    kvm_bt_xlat(KVM, SITE, 0x7d300ba6, TC_EA, 32, &x);      /* mtspr PID,r9 */
    CHECK(x.kind == KVM_BT_XLAT_NONE && strstr(x.reason, "PID") &&
          !kvm_bt_xlat_needs_stub(KVM, 0x7d300ba6) && kvm_bt_xlat_needs_stub(MON, 0x7d300ba6),
          "kvm: mtspr PID: %s", x.reason);

    ok = true;
    for (unsigned k = 0; k < 8; k++) {
        unsigned spr = KVM_BT_SPR_SPRG0 + k;
        const KvmBtSprMirror *m = kvm_bt_spr_mirror(spr);

        /* reads stay page loads; writes of SPRG0-3 stay page stores, of SPRG4-7 trap */
        kvm_bt_xlat(KVM, SITE, ppc_enc_mfspr(5, spr), 0, 0, &x);
        ok &= x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_lwz(5, PAGE_D(m->offset), 0);
        kvm_bt_xlat(KVM, SITE, ppc_enc_mtspr(spr, 5), 0, 0, &x);
        if (k < 4) {
            ok &= x.kind == KVM_BT_XLAT_INPLACE &&
                  x.patch == ppc_enc_stw(5, PAGE_D(m->offset), 0);
        } else {
            ok &= x.kind == KVM_BT_XLAT_NONE && strstr(x.reason, "SPRG4-7");
        }
        kvm_bt_xlat(MON, SITE, ppc_enc_mtspr(spr, 5), 0, 0, &x);
        ok &= x.kind == KVM_BT_XLAT_INPLACE;
    }
    CHECK(ok, "kvm: SPRG0-7 reads and SPRG0-3 writes in place, SPRG4-7 writes refused");
    CHECK(kvm_bt_xlat_needs_stub(KVM, 0x7c800106) && kvm_bt_xlat_needs_stub(KVM, 0x7c000146) &&
          kvm_bt_xlat_needs_stub(KVM, 0x7c008146) && kvm_bt_xlat_needs_stub(KVM, 0x7c600124),
          "kvm: wrtee, wrteei, mtmsr need stubs");
}

/* Every page access in a translation for @x: RA = 0, aligned, below @end */
static bool page_accesses_below(const KvmBtXlat *x, unsigned end)
{
    bool ok = true;
    unsigned n = x->kind == KVM_BT_XLAT_STUB ? x->stub_words : 0;

    for (unsigned i = 0; i <= n; i++) {
        PPCInsn in;

        if (i == n && x->kind == KVM_BT_XLAT_STUB) {
            break;          /* the patch is a branch */
        }
        in = decode(i < n ? x->stub[i] : x->patch);
        if (in.kind == PPC_INSN_LWZ || in.kind == PPC_INSN_STW) {
            uint32_t ea = (uint32_t)in.imm;

            ok &= in.ra == 0 && ea >= KVM_BT_SHARED_EA && !(ea & 3) &&
                  ea - KVM_BT_SHARED_EA + 4 <= end;
        }
    }
    return ok;
}

/*
 * KVM never looks past struct kvm_vcpu_arch_shared: no translation for
 * it reads or writes page offset KVM_BT_SH_KVM_END or above.
 */
static void test_kvm_page_bounds(void)
{
    static const unsigned regs[] = { 0, 1, 2, 3, 12, 31 };
    uint64_t rs = 0x6b766d2d626f756eull;
    unsigned words = 0, translated = 0, bad = 0;
    KvmBtXlat x;

    for (unsigned i = 0; i < 32 * 3 + 1024 * 12 + 3 + 4096; i++) {
        uint32_t w;

        if (i < 96) {
            w = (i % 3 == 0 ? 0x7c0000a6 : i % 3 == 1 ? 0x7c000106 : 0x7c000124) |
                (i / 3) << 21;                      /* mfmsr, wrtee, mtmsr */
        } else if (i < 96 + 1024 * 12) {
            unsigned j = i - 96, spr = j / 12, r = regs[(j % 12) / 2];

            w = j & 1 ? ppc_enc_mtspr(spr, r) : ppc_enc_mfspr(r, spr);
        } else if (i < 96 + 1024 * 12 + 3) {
            w = (const uint32_t[]){ 0x7c000146, 0x7c008146, 0x7c018146 }[i - 96 - 1024 * 12];
        } else {
            rs ^= rs >> 12;
            rs ^= rs << 25;
            rs ^= rs >> 27;
            w = 0x7c000000 | ((uint32_t)((rs * 0x2545f4914f6cdd1dull) >> 32) & 0x03ffffff);
        }
        words++;
        if (kvm_bt_xlat(KVM, SITE, w, TC_EA, 32, &x) == KVM_BT_XLAT_NONE) {
            continue;
        }
        translated++;
        if (!page_accesses_below(&x, KVM_BT_SH_KVM_END) && bad++ < 5) {
            printf("  kvm: %08x reaches past the KVM struct\n", w);
        }
    }
    CHECK(bad == 0 && translated > 300, "kvm: %u of %u words translated, %u reach past %u",
          translated, words, bad, KVM_BT_SH_KVM_END);
    /* and the check itself sees the monitor's private area */
    kvm_bt_xlat(MON, SITE, ppc_enc_mfspr(3, KVM_BT_SPR_PVR), 0, 0, &x);
    CHECK(!page_accesses_below(&x, KVM_BT_SH_KVM_END), "bounds check sees the private area");
}

static void dump_stub(const KvmBtHostCaps *host, const char *what, uint32_t word)
{
    KvmBtXlat x;

    if (!getenv("TEST_BT_VERBOSE")) {
        return;
    }
    kvm_bt_xlat(host, SITE, word, TC_EA, 32, &x);
    printf("%s, %s: site %08x: %08x\n", host->name, what, SITE, x.patch);
    for (unsigned i = 0; i < x.stub_words; i++) {
        PPCInsn in = decode(x.stub[i]);
        char buf[64];

        ppc_insn_format(&in, TC_EA + 4 * i, buf, sizeof(buf));
        printf("  %2u %08x  %08x  %s%s\n", i, TC_EA + 4 * i, x.stub[i], buf,
               i == x.fallback ? "    <- fallback" : "");
    }
}

/* ---- reachability ---- */

static void test_reach(const KvmBtHostCaps *host)
{
    KvmBtXlat x;

    /* TC 256 MiB away: no stubs, in place still fine */
    CHECK(kvm_bt_xlat(host, SITE, 0x7c800106, SITE + 0x10000000, 32, &x) == KVM_BT_XLAT_NONE &&
          strstr(x.reason, "range"), "far TC: wrtee NONE (%s)", x.reason);
    CHECK(kvm_bt_xlat(host, SITE, 0x7c6000a6, SITE + 0x10000000, 32, &x) ==
          KVM_BT_XLAT_INPLACE, "far TC: mfmsr in place");
    CHECK(kvm_bt_xlat(host, SITE, 0x7d5342a6, 0, 0, &x) == KVM_BT_XLAT_INPLACE,
          "no TC: mfspr in place");
    CHECK(kvm_bt_xlat(host, SITE, 0x7c008146, 0, 0, &x) == KVM_BT_XLAT_NONE &&
          strstr(x.reason, "no TC"), "no TC: wrteei 1 NONE");
    /* the site reaches the slot, but the stub's way back does not reach site+4 */
    CHECK(kvm_bt_xlat(host, SITE, 0x7c800106, SITE + (1u << 25) - 4, 32, &x) ==
          KVM_BT_XLAT_NONE && strstr(x.reason, "site+4"), "return out of range: %s", x.reason);
    /* just within range both ways (TC below the site) */
    CHECK(kvm_bt_xlat(host, SITE, 0x7c800106, SITE - (1u << 25), 32, &x) == KVM_BT_XLAT_STUB,
          "TC 32 MiB below: %s", x.reason ? x.reason : "ok");
    /* slot too small for the stub */
    CHECK(kvm_bt_xlat(host, SITE, 0x7c800106, TC_EA, 8, &x) == KVM_BT_XLAT_NONE &&
          strstr(x.reason, "fit") && x.stub_words == 0, "small slot: %s", x.reason);
    CHECK(kvm_bt_xlat(host, SITE + 2, 0x7c6000a6, 0, 0, &x) == KVM_BT_XLAT_NONE,
          "misaligned site");
    CHECK(!kvm_bt_xlat_needs_stub(host, 0x7c6000a6) && kvm_bt_xlat_needs_stub(host, 0x7c800106),
          "%s: needs_stub: mfmsr no, wrtee yes", host->name);
}

/* ---- the monitor's outputs, pinned ---- */

/*
 * A digest of everything kvm_bt_xlat() says about a broad set of words
 * (every mfspr/mtspr SPR number, mfmsr, wrtee, wrteei, mtmsr, other
 * privileged words, 4096 pseudo-random opcode-31 words) at several TC
 * placements: kind, patch, stub words, fallback, EAs, reason text, and
 * kvm_bt_xlat_needs_stub().
 */
typedef KvmBtXlatKind (*GoldenXlatFn)(uint32_t site, uint32_t word, uint32_t tc_ea,
                                      unsigned tc_words, KvmBtXlat *x);
typedef bool (*GoldenNeedsFn)(uint32_t word);

static void golden_mix(uint64_t *h, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        *h ^= (v >> (24 - 8 * i)) & 0xff;
        *h *= 0x100000001b3ull;
    }
}

static void golden_word(uint64_t *h, GoldenXlatFn xlat, GoldenNeedsFn needs, uint32_t word)
{
    static const uint32_t at[][3] = {
        /* site, TC slot, slot words */
        { 0xc0012340u, 0xc0400000u, 32 },
        { 0xc0012340u, 0, 0 },
        { 0xc0012340u, 0xc0400000u, 8 },
        { 0xc0012340u, 0xc0400000u, 20 },
        { 0xc0012340u, 0xd0012340u, 32 },
        { 0xc0012340u, 0xc0012340u + (1u << 25) - 4, 32 },
        { 0xc0012340u, 0xc0012340u - (1u << 25), 32 },
        { 0xc0012342u, 0xc0400000u, 32 },
    };
    KvmBtXlat x;

    golden_mix(h, word);
    golden_mix(h, needs(word));
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        golden_mix(h, xlat(at[i][0], word, at[i][1], at[i][2], &x));
        golden_mix(h, x.kind);
        golden_mix(h, x.patch);
        golden_mix(h, x.stub_words);
        golden_mix(h, x.fallback);
        golden_mix(h, x.fallback_ea);
        golden_mix(h, x.resume_ea);
        for (unsigned k = 0; k < x.stub_words && k < KVM_BT_STUB_MAX_WORDS; k++) {
            golden_mix(h, x.stub[k]);
        }
        for (const char *p = x.reason ? x.reason : "(null)"; *p; p++) {
            golden_mix(h, (uint8_t)*p);
        }
    }
}

static uint64_t golden_digest(GoldenXlatFn xlat, GoldenNeedsFn needs, unsigned *nwords)
{
    static const unsigned regs[] = { 0, 1, 2, 3, 12, 31 };
    static const uint32_t others[] = {
        0x4c000064, 0x4c000066, 0x4c00004c, 0x4c00004e,     /* rfi rfci rfmci rfdi */
        0x7c0007a4, 0x7c000764, 0x7c002724, 0x7c000624,     /* tlbwe tlbre tlbsx tlbivax */
        0x7c000024, 0x7c00046c, 0x7c00007c, 0x7c00019c,     /* tlbilx tlbsync wait msgsnd */
        0x7c0001dc, 0x7c60029c, 0x7c60039c, 0x7c0003ac,     /* msgclr mfpmr mtpmr dcbi */
        0x7c010124, 0x7c210124, 0x7c000146, 0x7c008146,     /* mtmsr L=1, wrteei */
        0x7c018146, 0x38600001, 0x00000000, 0xffffffff,
    };
    uint64_t h = 0xcbf29ce484222325ull, rs = 0x676f6c64656e2121ull;
    unsigned n = 0;

    for (unsigned r = 0; r < 32; r++) {
        golden_word(&h, xlat, needs, 0x7c0000a6 | r << 21);    /* mfmsr */
        golden_word(&h, xlat, needs, 0x7c000106 | r << 21);    /* wrtee */
        golden_word(&h, xlat, needs, 0x7c000124 | r << 21);    /* mtmsr */
        n += 3;
    }
    for (unsigned spr = 0; spr < 1024; spr++) {
        for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
            golden_word(&h, xlat, needs, ppc_enc_mfspr(regs[i], spr));
            golden_word(&h, xlat, needs, ppc_enc_mtspr(spr, regs[i]));
            n += 2;
        }
    }
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        golden_word(&h, xlat, needs, others[i]);
        n++;
    }
    for (unsigned i = 0; i < 4096; i++) {
        /* xorshift64*: opcode 31 with random fields */
        rs ^= rs >> 12;
        rs ^= rs << 25;
        rs ^= rs >> 27;
        golden_word(&h, xlat, needs, 0x7c000000 | ((uint32_t)((rs * 0x2545f4914f6cdd1dull) >> 32) &
                                                   0x03ffffff));
        n++;
    }
    *nwords = n;
    return h;
}

static KvmBtXlatKind golden_xlat_monitor(uint32_t site, uint32_t word, uint32_t tc_ea,
                                         unsigned tc_words, KvmBtXlat *x)
{
    return kvm_bt_xlat(MON, site, word, tc_ea, tc_words, x);
}

static bool golden_needs_monitor(uint32_t word)
{
    return kvm_bt_xlat_needs_stub(MON, word);
}

/*
 * The monitor's translations did not change when hosts were introduced.
 * The expected digest was computed with golden_digest() (the same code)
 * from the translator as of commit 9275538 (bt-translate.c before it took
 * a host, compiled against the previous bt-translate.h), before any host
 * logic existed. If it changes, the monitor's words, stubs or reasons did.
 */
static void test_monitor_golden(void)
{
    unsigned n;
    uint64_t h = golden_digest(golden_xlat_monitor, golden_needs_monitor, &n);

    CHECK(n == 16504 && h == 0x52d2b8780efa3448ull,
          "monitor outputs unchanged: %u words, digest 0x%016" PRIx64, n, h);
}

/* ---- site table ---- */

static void test_sites_state_machine(void)
{
    KvmBtPatchTable t;
    KvmBtPatchSite *s;
    KvmBtXlat x;
    const uint64_t pa = 0x1234560;
    const uint32_t ea = 0xc1234560, mfmsr = 0x7c6000a6;

    kvm_bt_patch_init(&t, 3);
    CHECK(!kvm_bt_patch_note_exit(&t, pa, ea, mfmsr, &s) && s && s->exits_before == 1,
          "first exit");
    CHECK(!kvm_bt_patch_note_exit(&t, pa, ea, mfmsr, NULL), "second exit");
    CHECK(kvm_bt_patch_note_exit(&t, pa, ea, mfmsr, &s), "third exit: hot");
    CHECK(kvm_bt_patch_note_exit(&t, pa, ea, mfmsr, &s) && s->exits_before == 4,
          "still hot until a decision");
    CHECK(s->state == KVM_BT_PATCH_COUNTING && s->tc_slot == -1, "counting");
    CHECK(!kvm_bt_patch_any_in(&t, 0, UINT64_MAX), "nothing translated yet");

    kvm_bt_xlat(MON, ea, mfmsr, 0, 0, &x);
    CHECK(kvm_bt_patch_translated(&t, pa, &x), "translated");
    s = kvm_bt_patch_lookup(&t, pa);
    CHECK(s && s->state == KVM_BT_PATCH_TRANSLATED && s->patch == x.patch &&
          s->kind == KVM_BT_XLAT_INPLACE, "site records the patch");
    CHECK(!kvm_bt_patch_translated(&t, pa, &x), "translate twice refused");
    CHECK(!kvm_bt_patch_refused(&t, pa, "x"), "refuse a translated site refused");
    CHECK(kvm_bt_patch_count(&t, KVM_BT_PATCH_TRANSLATED) == 1, "one translated");

    /* a stale exit with the original word after translation */
    CHECK(!kvm_bt_patch_note_exit(&t, pa, ea, mfmsr, &s) && s->exits_after == 1 &&
          s->exits_before == 4, "exit after translation");

    /* the write check */
    CHECK(kvm_bt_patch_any_in(&t, pa, 4), "exact word");
    CHECK(kvm_bt_patch_any_in(&t, pa + 3, 1), "last byte");
    CHECK(kvm_bt_patch_any_in(&t, pa - 2, 4), "straddling start");
    CHECK(!kvm_bt_patch_any_in(&t, pa - 4, 4), "word before");
    CHECK(!kvm_bt_patch_any_in(&t, pa + 4, 8), "words after");
    CHECK(!kvm_bt_patch_any_in(&t, pa, 0), "empty range");
    CHECK(kvm_bt_patch_any_in(&t, pa & ~0xfffull, 0x1000), "whole page");
    CHECK(kvm_bt_patch_any_in(&t, (pa & ~0xfffull) - 0x2000, 0x4000), "pages around");
    CHECK(!kvm_bt_patch_any_in(&t, (pa & ~0xfffull) + 0x1000, 0x1000), "next page");

    /* guest writes the word: dropped */
    CHECK(kvm_bt_patch_dropped(&t, pa), "dropped");
    CHECK(!kvm_bt_patch_any_in(&t, pa, 4), "no patch after drop");
    s = kvm_bt_patch_lookup(&t, pa);
    CHECK(s->state == KVM_BT_PATCH_DROPPED, "state dropped");
    CHECK(!kvm_bt_patch_dropped(&t, pa) && !kvm_bt_patch_undone(&t, pa, "x"),
          "drop/undo only from translated");
    /* same word again: stays dropped, exits counted after */
    CHECK(!kvm_bt_patch_note_exit(&t, pa, ea, mfmsr, &s) && s->state == KVM_BT_PATCH_DROPPED &&
          s->exits_after == 2, "same word after drop");
    /* new word: a new site at the same address */
    CHECK(!kvm_bt_patch_note_exit(&t, pa, ea, 0x7c8000a6, &s) &&
          s->state == KVM_BT_PATCH_COUNTING && s->exits_before == 1 && s->orig == 0x7c8000a6 &&
          s->restarts == 1, "new word restarts counting");
    kvm_bt_patch_note_exit(&t, pa, ea, 0x7c8000a6, NULL);
    CHECK(kvm_bt_patch_note_exit(&t, pa, ea, 0x7c8000a6, &s), "new word hot");

    /* refuse */
    CHECK(kvm_bt_patch_refused(&t, pa, "because"), "refused");
    CHECK(!kvm_bt_patch_note_exit(&t, pa, ea, 0x7c8000a6, &s) &&
          s->state == KVM_BT_PATCH_REFUSED && !strcmp(s->reason, "because"), "refused sticks");
    CHECK(kvm_bt_patch_recount(&t, pa) && s->state == KVM_BT_PATCH_COUNTING &&
          s->exits_before == 0 && s->restarts == 2, "recount");

    /* undo */
    kvm_bt_xlat(MON, ea, 0x7c8000a6, 0, 0, &x);
    CHECK(kvm_bt_patch_translated(&t, pa, &x), "translated again");
    CHECK(kvm_bt_patch_undone(&t, pa, "page blocked") && s->state == KVM_BT_PATCH_UNDONE &&
          !strcmp(s->reason, "page blocked"), "undone");
    CHECK(!kvm_bt_patch_any_in(&t, 0, UINT64_MAX), "no patches left");

    /* NONE is not a translation */
    kvm_bt_patch_recount(&t, pa);
    kvm_bt_xlat(MON, ea, 0x4c000064, 0, 0, &x);
    CHECK(!kvm_bt_patch_translated(&t, pa, &x), "NONE not recorded");

    /* threshold 0: never hot */
    kvm_bt_patch_set_threshold(&t, 0);
    for (int i = 0; i < 100; i++) {
        CHECK(!kvm_bt_patch_note_exit(&t, 0x9000, 0xc0009000, mfmsr, NULL), "threshold 0");
    }
    CHECK(!strcmp(kvm_bt_patch_state_name(KVM_BT_PATCH_UNDONE), "undone"), "state name");
    kvm_bt_patch_destroy(&t);
}

/*
 * The site lifecycle (bt-sites.h), transition by transition: the table
 * itself against the documented diagram, then each event through the API
 * that raises it, from every state it can start in.
 */
static void test_lifecycle_table(void)
{
    enum { C = KVM_BT_PATCH_COUNTING, T = KVM_BT_PATCH_TRANSLATED, D = KVM_BT_PATCH_DROPPED,
           U = KVM_BT_PATCH_UNDONE, R = KVM_BT_PATCH_REFUSED, X = KVM_BT_PATCH__COUNT };
    static const int want[KVM_BT_PATCH__COUNT][KVM_BT_SITE_EVENT__COUNT] = {
        /*        EXIT NEW_WORD HOT TRANSLATE REFUSE DROP UNDO RECOUNT */
        [C] = {   C,   C,       C,  T,        R,     X,   X,   X },
        [T] = {   T,   C,       T,  X,        X,     D,   U,   X },
        [D] = {   D,   C,       D,  X,        X,     X,   X,   C },
        [U] = {   U,   C,       C,  X,        X,     X,   X,   C },
        [R] = {   R,   C,       R,  X,        X,     X,   X,   C },
    };

    for (int st = 0; st < KVM_BT_PATCH__COUNT; st++) {
        for (int ev = 0; ev < KVM_BT_SITE_EVENT__COUNT; ev++) {
            CHECK((int)kvm_bt_site_next(st, ev) == want[st][ev], "%s --%s--> %s, want %s",
                  kvm_bt_patch_state_name(st), kvm_bt_site_event_name(ev),
                  kvm_bt_patch_state_name(kvm_bt_site_next(st, ev)),
                  kvm_bt_patch_state_name(want[st][ev]));
        }
    }
    CHECK(kvm_bt_site_next(KVM_BT_PATCH__COUNT, KVM_BT_SITE_EXIT) == KVM_BT_PATCH__COUNT &&
          kvm_bt_site_next(KVM_BT_PATCH_COUNTING, KVM_BT_SITE_EVENT__COUNT) ==
          KVM_BT_PATCH__COUNT, "out of range");
    CHECK(!strcmp(kvm_bt_site_event_name(KVM_BT_SITE_RECOUNT), "recount"), "event name");
}

#define LC_PA   0x2000040ull
#define LC_EA   0xc2000040u
#define LC_MFMSR 0x7c6000a6u
#define LC_MTMSR 0x7c800124u     /* mtmsr r4: needs a stub */

/* A table with one site at LC_PA brought to @state by the API. */
static KvmBtPatchSite *lc_site_in(KvmBtPatchTable *t, KvmBtPatchState state)
{
    KvmBtPatchSite *s;
    KvmBtXlat x;

    kvm_bt_patch_init(t, 1);
    kvm_bt_patch_note_exit(t, LC_PA, LC_EA, LC_MFMSR, &s);
    kvm_bt_xlat(MON, LC_EA, LC_MFMSR, 0, 0, &x);
    switch (state) {
    case KVM_BT_PATCH_TRANSLATED:
        kvm_bt_patch_translated(t, LC_PA, &x);
        break;
    case KVM_BT_PATCH_DROPPED:
        kvm_bt_patch_translated(t, LC_PA, &x);
        kvm_bt_patch_dropped(t, LC_PA);
        break;
    case KVM_BT_PATCH_UNDONE:
        kvm_bt_patch_translated(t, LC_PA, &x);
        kvm_bt_patch_undone(t, LC_PA, "test");
        break;
    case KVM_BT_PATCH_REFUSED:
        kvm_bt_patch_refused(t, LC_PA, "test");
        break;
    default:
        break;
    }
    s = kvm_bt_patch_lookup(t, LC_PA);
    CHECK(s && s->state == state, "set up %s", kvm_bt_patch_state_name(state));
    return s;
}

static void test_lifecycle_events(void)
{
    KvmBtPatchTable t;
    KvmBtPatchSite *s;
    KvmBtXlat x;

    kvm_bt_xlat(MON, LC_EA, LC_MFMSR, 0, 0, &x);
    for (int st = 0; st < KVM_BT_PATCH__COUNT; st++) {
        const char *name = kvm_bt_patch_state_name(st);
        uint64_t before, after;
        uint32_t restarts;
        bool ok;

        /* EXIT: same state, counted before a decision, after it otherwise */
        s = lc_site_in(&t, st);
        before = s->exits_before;
        after = s->exits_after;
        kvm_bt_patch_note_exit(&t, LC_PA, LC_EA, st == KVM_BT_PATCH_TRANSLATED ? x.patch :
                               LC_MFMSR, &s);
        CHECK(s->state == (KvmBtPatchState)st &&
              (st == KVM_BT_PATCH_COUNTING ? s->exits_before == before + 1 :
                                             s->exits_after == after + 1),
              "exit in %s", name);
        kvm_bt_patch_destroy(&t);

        /* NEW_WORD: counting from zero, a restart, no patch left */
        s = lc_site_in(&t, st);
        restarts = s->restarts;
        kvm_bt_patch_note_exit(&t, LC_PA, LC_EA, 0x7c8000a6, &s);
        CHECK(s->state == KVM_BT_PATCH_COUNTING && s->exits_before == 1 && s->orig == 0x7c8000a6 &&
              s->restarts == restarts + 1 && !s->reason && !kvm_bt_patch_any_in(&t, 0, UINT64_MAX),
              "new word in %s", name);
        kvm_bt_patch_destroy(&t);

        /* TRANSLATE: only from COUNTING */
        s = lc_site_in(&t, st);
        ok = kvm_bt_patch_translated(&t, LC_PA, &x);
        CHECK(ok == (st == KVM_BT_PATCH_COUNTING) &&
              (!ok || (s->state == KVM_BT_PATCH_TRANSLATED && t.translations == 1 &&
                       kvm_bt_patch_any_in(&t, LC_PA, 4))), "translate in %s", name);
        kvm_bt_patch_destroy(&t);

        /* REFUSE: only from COUNTING */
        s = lc_site_in(&t, st);
        ok = kvm_bt_patch_refused(&t, LC_PA, "why");
        CHECK(ok == (st == KVM_BT_PATCH_COUNTING) &&
              (!ok || (s->state == KVM_BT_PATCH_REFUSED && !strcmp(s->reason, "why"))),
              "refuse in %s", name);
        kvm_bt_patch_destroy(&t);

        /* DROP, UNDO: only from TRANSLATED, and the page bit goes */
        s = lc_site_in(&t, st);
        ok = kvm_bt_patch_dropped(&t, LC_PA);
        CHECK(ok == (st == KVM_BT_PATCH_TRANSLATED) &&
              (!ok || (s->state == KVM_BT_PATCH_DROPPED && !kvm_bt_patch_any_in(&t, LC_PA, 4))),
              "drop in %s", name);
        kvm_bt_patch_destroy(&t);
        s = lc_site_in(&t, st);
        ok = kvm_bt_patch_undone(&t, LC_PA, "why");
        CHECK(ok == (st == KVM_BT_PATCH_TRANSLATED) &&
              (!ok || (s->state == KVM_BT_PATCH_UNDONE && !kvm_bt_patch_any_in(&t, LC_PA, 4) &&
                       !strcmp(s->reason, "why"))), "undo in %s", name);
        kvm_bt_patch_destroy(&t);

        /* RECOUNT: from DROPPED, UNDONE, REFUSED; counting from zero */
        s = lc_site_in(&t, st);
        restarts = s->restarts;
        ok = kvm_bt_patch_recount(&t, LC_PA);
        CHECK(ok == (st == KVM_BT_PATCH_DROPPED || st == KVM_BT_PATCH_UNDONE ||
                     st == KVM_BT_PATCH_REFUSED) &&
              (!ok || (s->state == KVM_BT_PATCH_COUNTING && s->exits_before == 0 &&
                       s->restarts == restarts + 1 && !s->reason)), "recount in %s", name);
        kvm_bt_patch_destroy(&t);

        /* HOT: COUNTING decides; UNDONE counts afresh and decides; others decided */
        s = lc_site_in(&t, st);
        restarts = s->restarts;
        {
            KvmBtHotVerdict v = kvm_bt_patch_hot(&t, LC_PA, LC_EA, LC_MFMSR,
                                                 st == KVM_BT_PATCH_TRANSLATED ? x.patch : LC_MFMSR,
                                                 true, false, &s);
            KvmBtHotVerdict want = st == KVM_BT_PATCH_COUNTING || st == KVM_BT_PATCH_UNDONE ?
                                   KVM_BT_HOT_DECIDE : KVM_BT_HOT_DECIDED;

            if (st == KVM_BT_PATCH_TRANSLATED) {
                want = KVM_BT_HOT_WORD_CHANGED;     /* memory holds the patch */
            }
            CHECK(v == want && s &&
                  (v != KVM_BT_HOT_DECIDE || s->state == KVM_BT_PATCH_COUNTING) &&
                  s->restarts == restarts + (st == KVM_BT_PATCH_UNDONE),
                  "hot in %s: %d", name, v);
        }
        kvm_bt_patch_destroy(&t);
    }
}

static void test_lifecycle_hot(void)
{
    KvmBtPatchTable t;
    KvmBtPatchSite *s;
    unsigned gen;

    /* a new site: counted, COUNTING, to be decided; the threshold is the vCPU's business */
    kvm_bt_patch_init(&t, 16);
    CHECK(kvm_bt_patch_hot(&t, LC_PA, LC_EA, LC_MFMSR, LC_MFMSR, true, false, &s) ==
          KVM_BT_HOT_DECIDE && s && s->exits_before == 1, "new site hot");
    CHECK(kvm_bt_patch_hot(&t, LC_PA + 4, LC_EA + 4, LC_MFMSR, 0, false, false, &s) ==
          KVM_BT_HOT_WORD_CHANGED && !s, "unreadable memory");
    CHECK(kvm_bt_patch_hot(&t, LC_PA + 4, LC_EA + 4, LC_MFMSR, LC_MTMSR, true, false, &s) ==
          KVM_BT_HOT_WORD_CHANGED && !s, "other word in memory: nothing recorded");

    /* blocked: nothing counted; unblocked again */
    gen = kvm_bt_patch_gen(&t);
    CHECK(kvm_bt_patch_block(&t, true) == 1 && kvm_bt_patch_gen(&t) == gen + 1, "block");
    CHECK(kvm_bt_patch_block(&t, true) == 2 && kvm_bt_patch_blockers(&t) == 2, "two block");
    s = kvm_bt_patch_lookup(&t, LC_PA);
    CHECK(kvm_bt_patch_hot(&t, LC_PA, LC_EA, LC_MFMSR, LC_MFMSR, true, false, NULL) ==
          KVM_BT_HOT_BLOCKED && s->exits_before == 1, "blocked");
    kvm_bt_patch_block(&t, false);
    CHECK(kvm_bt_patch_block(&t, false) == 0 && kvm_bt_patch_gen(&t) == gen + 4, "unblocked");

    /* the TC: mapped elsewhere waits, taken refuses; only for stubs */
    kvm_bt_patch_tc_broken(&t, true);
    CHECK(kvm_bt_patch_tc_is_broken(&t) && kvm_bt_patch_gen(&t) == gen + 5, "tc broken");
    kvm_bt_patch_tc_broken(&t, true);
    CHECK(kvm_bt_patch_gen(&t) == gen + 6, "undone again: decisions moved again");
    CHECK(kvm_bt_patch_hot(&t, 0x3000, 0xc0003000, LC_MTMSR, LC_MTMSR, true, true, &s) ==
          KVM_BT_HOT_TC_AWAY && s->state == KVM_BT_PATCH_COUNTING, "tc away");
    CHECK(kvm_bt_patch_hot(&t, LC_PA, LC_EA, LC_MFMSR, LC_MFMSR, true, false, NULL) ==
          KVM_BT_HOT_DECIDE, "in place regardless");
    kvm_bt_patch_tc_broken(&t, false);
    kvm_bt_patch_tc_broken(&t, false);
    CHECK(!kvm_bt_patch_tc_is_broken(&t) && kvm_bt_patch_gen(&t) == gen + 7, "tc back once");
    kvm_bt_patch_tc_taken(&t);
    CHECK(kvm_bt_patch_hot(&t, 0x3000, 0xc0003000, LC_MTMSR, LC_MTMSR, true, true, &s) ==
          KVM_BT_HOT_TC_TAKEN && s->state == KVM_BT_PATCH_REFUSED && s->reason, "tc taken");
    kvm_bt_patch_destroy(&t);

    /* churn: the KVM_BT_CHURN_LIMIT-th restart is refused, once */
    kvm_bt_patch_init(&t, 1);
    for (uint32_t i = 0; i <= KVM_BT_CHURN_LIMIT; i++) {
        KvmBtHotVerdict v = kvm_bt_patch_hot(&t, LC_PA, LC_EA, LC_MFMSR + (i << 21),
                                             LC_MFMSR + (i << 21), true, false, &s);

        CHECK(v == (i < KVM_BT_CHURN_LIMIT ? KVM_BT_HOT_DECIDE : KVM_BT_HOT_CHURN) &&
              s->restarts == i, "word %u: %d", i, v);
    }
    CHECK(s->state == KVM_BT_PATCH_REFUSED && t.churn_refused == 1, "churn refused");
    CHECK(kvm_bt_patch_hot(&t, LC_PA, LC_EA, s->orig, s->orig, true, false, NULL) ==
          KVM_BT_HOT_DECIDED && t.churn_refused == 1, "refused stays");
    kvm_bt_patch_destroy(&t);
}

static void test_lifecycle_reset(void)
{
    KvmBtPatchTable t;
    KvmBtPatchSite *s;
    KvmBtXlat x;
    unsigned gen, code_gen, live, retired, total;
    const uint32_t wrtee = 0x7c800106;

    kvm_bt_patch_init(&t, 7);
    CHECK(kvm_bt_tc_init(&t, 0x7f00000, 0xc0f00000, 4 * 128, 32), "tc");
    kvm_bt_patch_note_exit(&t, 0x1000, 0xc0001000, wrtee, NULL);
    kvm_bt_xlat(MON, 0xc0001000, wrtee, kvm_bt_tc_slot_ea(&t, 0), t.tc.slot_words, &x);
    CHECK(kvm_bt_patch_translated(&t, 0x1000, &x), "stub");
    kvm_bt_patch_block(&t, true);
    kvm_bt_patch_tc_taken(&t);
    kvm_bt_patch_code_changed(&t);
    gen = kvm_bt_patch_gen(&t);
    code_gen = kvm_bt_patch_code_gen(&t);

    kvm_bt_patch_reset(&t);
    CHECK(!kvm_bt_patch_lookup(&t, 0x1000) && t.sites.count == 0 && t.translated == 0 &&
          !kvm_bt_patch_any_in(&t, 0, UINT64_MAX), "no sites");
    CHECK(t.threshold == 7 && !t.blockers && !t.tc_taken && !t.tc_broken &&
          !t.translations && !t.churn_refused && !t.stubs_lost, "conditions and counters");
    CHECK(kvm_bt_patch_gen(&t) == gen + 1 && kvm_bt_patch_code_gen(&t) == code_gen + 1,
          "generations move on");
    kvm_bt_tc_usage(&t, &live, &retired, &total);
    CHECK(!live && !retired && !total && kvm_bt_tc_peek(&t) < 0, "no TC");
    CHECK(kvm_bt_tc_init(&t, 0x7f00000, 0xc0f00000, 4 * 128, 32) && kvm_bt_tc_peek(&t) == 0,
          "TC set up again, from slot 0");
    CHECK(kvm_bt_patch_hot(&t, 0x1000, 0xc0001000, wrtee, wrtee, true, true, &s) ==
          KVM_BT_HOT_DECIDE && s->restarts == 0 && s->exits_before == 1, "counted afresh");
    kvm_bt_patch_destroy(&t);
}

/* The vCPU's cache of a record: hot once a generation, at the threshold. */
static void test_site_cache(void)
{
    KvmBtSite s = { .exits = 0 };
    unsigned n = 0;

    for (int i = 0; i < 20; i++) {
        s.exits++;
        n += kvm_bt_site_cache_hot(&s, 16, 5);
    }
    CHECK(n == 1 && s.bt_gen == 5 && s.exits_hot == 16, "once at 16: %u", n);
    s.exits++;
    CHECK(kvm_bt_site_cache_hot(&s, 16, 6) && s.exits_hot == 16, "again in a new generation");
    CHECK(!kvm_bt_site_cache_hot(&s, 0, 7), "threshold 0: never");
}

static void test_sites_tc(void)
{
    KvmBtPatchTable t;
    KvmBtPatchSite *s;
    KvmBtXlat x;
    unsigned live, retired, total;
    const uint64_t tc_pa = 0x7f00000;
    const uint32_t tc_ea = 0xc0f00000;     /* within branch range of the sites */
    const uint32_t wrtee = 0x7c800106;
    int slot;

    kvm_bt_patch_init(&t, 1);
    CHECK(kvm_bt_tc_init(&t, tc_pa, tc_ea, 3 * 128, 32), "tc init");
    CHECK(!kvm_bt_tc_init(&t, tc_pa, tc_ea, 3 * 128, 32), "tc init once");
    kvm_bt_tc_usage(&t, &live, &retired, &total);
    CHECK(live == 0 && retired == 0 && total == 3, "3 slots");

    /* site A gets slot 0 */
    CHECK(kvm_bt_patch_note_exit(&t, 0x1000, 0xc0001000, wrtee, NULL), "A hot at 1");
    slot = kvm_bt_tc_peek(&t);
    CHECK(slot == 0, "peek 0");
    kvm_bt_xlat(MON, 0xc0001000, wrtee, kvm_bt_tc_slot_ea(&t, slot), t.tc.slot_words, &x);
    CHECK(x.kind == KVM_BT_XLAT_STUB && kvm_bt_patch_translated(&t, 0x1000, &x), "A stub");
    s = kvm_bt_patch_lookup(&t, 0x1000);
    CHECK(s->tc_slot == 0 && s->stub_ea == tc_ea && s->stub_end == tc_ea + 4 * x.stub_words &&
          s->stub_pa == tc_pa, "A slot 0");
    CHECK(kvm_bt_patch_by_stub_ea(&t, tc_ea + 4 * x.fallback) == s, "by stub EA");
    CHECK(kvm_bt_patch_by_stub_pa(&t, tc_pa + 8) == s, "by stub PA");
    CHECK(kvm_bt_patch_by_stub_ea(&t, tc_ea + 128) == NULL, "slot 1 unowned");
    CHECK(kvm_bt_patch_by_stub_ea(&t, tc_ea - 4) == NULL, "below the TC");
    CHECK(kvm_bt_patch_by_stub_pa(&t, tc_pa + 3 * 128) == NULL, "above the TC");
    /* the fallback traps inside the stub: attributed to A, never hot */
    CHECK(!kvm_bt_patch_note_exit(&t, tc_pa + 4 * x.fallback, tc_ea + 4 * x.fallback, wrtee,
                                  &s) && s && s->pa == 0x1000 && s->exits_after == 1,
          "fallback exit attributed");
    CHECK(kvm_bt_patch_lookup(&t, tc_pa + 4 * x.fallback) == NULL, "no site made for the TC");

    /* a stub built for another slot is refused */
    kvm_bt_patch_note_exit(&t, 0x2000, 0xc0002000, wrtee, NULL);
    kvm_bt_xlat(MON, 0xc0002000, wrtee, kvm_bt_tc_slot_ea(&t, 2), t.tc.slot_words, &x);
    CHECK(!kvm_bt_patch_translated(&t, 0x2000, &x), "stub for the wrong slot");

    /* drop A: slot 0 retired, still attributed; B gets slot 1, not 0 */
    CHECK(kvm_bt_patch_dropped(&t, 0x1000), "drop A");
    kvm_bt_tc_usage(&t, &live, &retired, &total);
    CHECK(live == 0 && retired == 1, "slot 0 retired");
    CHECK(kvm_bt_patch_by_stub_ea(&t, tc_ea + 4) == kvm_bt_patch_lookup(&t, 0x1000),
          "retired slot still attributed");
    slot = kvm_bt_tc_peek(&t);
    CHECK(slot == 1, "freed slot not reused (peek %d)", slot);
    kvm_bt_xlat(MON, 0xc0002000, wrtee, kvm_bt_tc_slot_ea(&t, slot), t.tc.slot_words, &x);
    CHECK(kvm_bt_patch_translated(&t, 0x2000, &x) &&
          kvm_bt_patch_lookup(&t, 0x2000)->tc_slot == 1, "B slot 1");

    /* A's word changes and gets hot again: slot 2, the last one */
    CHECK(kvm_bt_patch_note_exit(&t, 0x1000, 0xc0001000, 0x7ca00106, NULL), "A new word hot");
    kvm_bt_xlat(MON, 0xc0001000, 0x7ca00106, kvm_bt_tc_slot_ea(&t, 2), t.tc.slot_words, &x);
    CHECK(kvm_bt_patch_translated(&t, 0x1000, &x), "A slot 2");
    CHECK(kvm_bt_tc_peek(&t) == -1, "TC exhausted");
    kvm_bt_tc_usage(&t, &live, &retired, &total);
    CHECK(live == 2 && retired == 1 && total == 3, "usage %u/%u/%u", live, retired, total);

    /* exhausted: a stub cannot be recorded, in place still can */
    kvm_bt_patch_note_exit(&t, 0x3000, 0xc0003000, wrtee, NULL);
    kvm_bt_xlat(MON, 0xc0003000, wrtee, kvm_bt_tc_slot_ea(&t, 2), t.tc.slot_words, &x);
    CHECK(!kvm_bt_patch_translated(&t, 0x3000, &x), "no slot left");
    CHECK(kvm_bt_patch_refused(&t, 0x3000, "TC full"), "refused: TC full");
    kvm_bt_patch_note_exit(&t, 0x3004, 0xc0003004, 0x7c6000a6, NULL);
    kvm_bt_xlat(MON, 0xc0003004, 0x7c6000a6, 0, 0, &x);
    CHECK(kvm_bt_patch_translated(&t, 0x3004, &x), "in place without TC");

    /* the guest rewrote a translated word behind our back: slot retired, new site */
    CHECK(kvm_bt_patch_note_exit(&t, 0x2000, 0xc0002000, 0x7c6000a6, &s) &&
          s->state == KVM_BT_PATCH_COUNTING, "rewritten translated word");
    kvm_bt_tc_usage(&t, &live, &retired, &total);
    CHECK(live == 1 && retired == 2, "B's slot retired");
    CHECK(kvm_bt_tc_alloc(&t) == -1, "still never reused");
    kvm_bt_tc_free(&t, 2);
    kvm_bt_tc_free(&t, 2);
    kvm_bt_tc_usage(&t, &live, &retired, &total);
    CHECK(live == 0 && retired == 3, "double free ignored");
    kvm_bt_patch_destroy(&t);

    /* bad geometry */
    kvm_bt_patch_init(&t, 1);
    CHECK(!kvm_bt_tc_init(&t, tc_pa, tc_ea + 2, 4096, 32), "misaligned TC");
    CHECK(kvm_bt_tc_init(&t, 0, 0, 0, 0) && kvm_bt_tc_peek(&t) == -1, "no TC");
    CHECK(kvm_bt_patch_by_stub_ea(&t, 0) == NULL, "no TC: no stub owner");
    kvm_bt_patch_destroy(&t);
}

static bool count_cb(KvmBtPatchSite *s, void *opaque)
{
    size_t *n = opaque;

    (*n) += s->used;
    return true;
}

static void test_sites_many(void)
{
    KvmBtPatchTable t;
    KvmBtXlat x;
    bool ok = true;
    size_t n = 0;

    kvm_bt_patch_init(&t, 2);
    kvm_bt_xlat(MON, 0, 0x7c6000a6, 0, 0, &x);
    /* 5000 sites over ~20 pages force several grows of both hashes */
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t pa = 0x100000 + 4 * i * 7;

        kvm_bt_patch_note_exit(&t, pa, (uint32_t)pa, 0x7c6000a6, NULL);
        if (kvm_bt_patch_note_exit(&t, pa, (uint32_t)pa, 0x7c6000a6, NULL) && (i % 3) == 0) {
            ok &= kvm_bt_patch_translated(&t, pa, &x);
        }
    }
    CHECK(ok && t.sites.count == 5000, "count %zu", t.sites.count);
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t pa = 0x100000 + 4 * i * 7;
        KvmBtPatchSite *s = kvm_bt_patch_lookup(&t, pa);

        ok &= s && s->exits_before == 2;
        ok &= (s->state == KVM_BT_PATCH_TRANSLATED) == ((i % 3) == 0);
        ok &= kvm_bt_patch_any_in(&t, pa, 4) == ((i % 3) == 0);
        ok &= !kvm_bt_patch_any_in(&t, pa + 4, 24);
    }
    CHECK(ok, "lookups and write checks after growth");
    kvm_bt_patch_foreach(&t, count_cb, &n);
    CHECK(n == 5000, "foreach %zu", n);
    CHECK(kvm_bt_patch_count(&t, KVM_BT_PATCH_TRANSLATED) == 1667 &&
          kvm_bt_patch_count(&t, KVM_BT_PATCH_COUNTING) == 3333, "counts");
    kvm_bt_patch_destroy(&t);
}

/* ---- TC placement: padding between sections of a kernel ELF ----------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8; p[1] = v;
}

/*
 * A minimal 32-bit big-endian ELF: one PT_LOAD (flags @pflags) at vaddr
 * 0xc0000000 / paddr 0, memsz 32 MiB, and @n allocated sections.
 */
static size_t make_elf(uint8_t *buf, uint32_t pflags, const uint32_t (*secs)[2], unsigned n)
{
    const uint32_t phoff = 52, shoff = 52 + 32;

    memset(buf, 0, 4096);
    memcpy(buf, "\x7f" "ELF", 4);
    buf[4] = 1;                     /* ELFCLASS32 */
    buf[5] = 2;                     /* ELFDATA2MSB */
    put32(buf + 28, phoff);
    put32(buf + 32, shoff);
    put16(buf + 42, 32);
    put16(buf + 44, 1);
    put16(buf + 46, 40);
    put16(buf + 48, n);
    put32(buf + phoff, 1);          /* PT_LOAD */
    put32(buf + phoff + 8, 0xc0000000);
    put32(buf + phoff + 12, 0);
    put32(buf + phoff + 20, 32 << 20);
    put32(buf + phoff + 24, pflags);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *sh = buf + shoff + 40 * i;

        put32(sh + 8, 2);           /* SHF_ALLOC */
        put32(sh + 12, secs[i][0]);
        put32(sh + 20, secs[i][1]);
    }
    return shoff + 40 * n;
}

static void test_tc_gap(void)
{
    /* text, rodata ending at 0xc07ef288, then init at 16 MiB: a Linux layout */
    static const uint32_t linux_like[][2] = {
        { 0xc0000000, 0x6a0000 }, { 0xc06a0000, 0x14f288 }, { 0xc1000000, 0x30000 },
    };
    static const uint32_t tight[][2] = {
        { 0xc0000000, 0x1000 }, { 0xc0001000, 0x3000 }, { 0xc0005000, 0x1000 },
    };
    uint8_t elf[4096];
    uint64_t pa = 0;
    uint32_t size;
    size_t len;

    len = make_elf(elf, 5 /* R+X */, linux_like, 3);
    size = kvm_bt_tc_gap(elf, len, 16 << 10, 256 << 10, &pa);
    CHECK(size == 256 << 10 && pa == 0x7f0000,
          "gap after rodata: size 0x%" PRIx32 " pa 0x%" PRIx64, size, pa);
    size = kvm_bt_tc_gap(elf, len, 16 << 10, 64 << 20, &pa);
    CHECK(size == 0x1000000 - 0x7f0000, "whole gap when allowed: 0x%" PRIx32, size);

    len = make_elf(elf, 6 /* R+W, not executable */, linux_like, 3);
    CHECK(kvm_bt_tc_gap(elf, len, 16 << 10, 256 << 10, &pa) == 0, "no executable segment");

    len = make_elf(elf, 5, tight, 3);
    CHECK(kvm_bt_tc_gap(elf, len, 16 << 10, 256 << 10, &pa) == 0,
          "a 4 KiB gap is below the minimum");
    CHECK(kvm_bt_tc_gap(elf, len, 4 << 10, 256 << 10, &pa) == 4 << 10 && pa == 0x4000,
          "a 4 KiB gap when 4 KiB will do: pa 0x%" PRIx64, pa);

    len = make_elf(elf, 5, linux_like, 3);
    elf[5] = 1;                     /* little-endian: not a ppc32 BE kernel */
    CHECK(kvm_bt_tc_gap(elf, len, 16 << 10, 256 << 10, &pa) == 0, "little-endian ELF refused");
    CHECK(kvm_bt_tc_gap((const uint8_t *)"not an elf", 10, 16, 256, &pa) == 0, "not an ELF");
    elf[5] = 2;
    put16(elf + 48, 60);            /* section headers past the end of the file */
    CHECK(kvm_bt_tc_gap(elf, len, 16 << 10, 256 << 10, &pa) == 0, "truncated section table");
}

int main(void)
{
    dump_stub(MON, "wrtee r4", 0x7c800106);
    dump_stub(MON, "wrteei 0", 0x7c000146);
    dump_stub(MON, "wrteei 1", 0x7c008146);
    dump_stub(MON, "mtmsr r3", 0x7c600124);
    dump_stub(MON, "mtspr PID,r9", 0x7d300ba6);
    dump_stub(KVM, "wrtee r4", 0x7c800106);
    dump_stub(KVM, "wrteei 0", 0x7c000146);
    dump_stub(KVM, "wrteei 1", 0x7c008146);
    dump_stub(KVM, "mtmsr r3", 0x7c600124);

    test_shared_page();
    test_inplace(MON);
    test_inplace(KVM);
    test_stub_property(MON, OP_WRTEE);
    test_stub_property(MON, OP_WRTEEI);
    test_stub_property(MON, OP_MTMSR);
    test_stub_property(MON, OP_MTPID);
    test_stub_property(KVM, OP_WRTEE);
    test_stub_property(KVM, OP_WRTEEI);
    test_stub_property(KVM, OP_MTMSR);
    test_wrtee_layout();
    test_kvm_layout();
    test_kvm_refusals();
    test_kvm_page_bounds();
    test_reach(MON);
    test_reach(KVM);
    test_monitor_golden();
    test_sites_state_machine();
    test_lifecycle_table();
    test_lifecycle_events();
    test_lifecycle_hot();
    test_lifecycle_reset();
    test_site_cache();
    test_sites_tc();
    test_sites_many();
    test_tc_gap();
    return test_summary("unit-bt");
}
