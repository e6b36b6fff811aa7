/*
 * Unit tests for the binary translator (bt-translate), the BT site table
 * and TC allocator (bt-sites) and the shared-page layout.
 *
 * Stubs are checked by running them: a tiny interpreter for the handful of
 * instructions the stubs use executes from the patched site until it
 * returns to site+4 or reaches the fallback (the original privileged word,
 * which would trap), and the result is compared with the instruction's
 * reference semantics over thousands of random register files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bt-sites.h"
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

typedef struct Cpu {
    uint32_t gpr[32];
    uint32_t cr;
    bool so;                /* XER[SO], copied into CR0 by compares */
    uint8_t page[KVM_BT_SHARED_SIZE];
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

static RunEnd run(Cpu *c, const Code *code, const char **err)
{
    uint32_t pc = code->site;

    *err = NULL;
    for (int steps = 0; steps < 200; steps++) {
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
        rt = &c->gpr[in.rt];
        ra = &c->gpr[in.ra];
        pc += 4;
        switch (in.kind) {
        case PPC_INSN_LWZ:
            if (!page_ea(&in, &off, err)) {
                return RUN_ERROR;
            }
            *rt = page_rd(c, off);
            break;
        case PPC_INSN_STW:
            if (!page_ea(&in, &off, err)) {
                return RUN_ERROR;
            }
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

/* Differences outside scratch1-3 (the stubs' save area) and @except (-1: none) */
static bool page_same(const Cpu *a, const Cpu *b, int except)
{
    for (unsigned off = 0; off < KVM_BT_SHARED_SIZE; off += 4) {
        bool scratch = off < KVM_BT_SH_SCRATCH3 + 4;

        if (!scratch && (int)off != except && page_rd(a, off) != page_rd(b, off)) {
            return false;
        }
    }
    return true;
}

static bool regs_same(const Cpu *a, const Cpu *b)
{
    return !memcmp(a->gpr, b->gpr, sizeof(a->gpr)) && a->cr == b->cr && a->so == b->so;
}

static Code code_of(const KvmBtXlat *x, uint32_t site, uint32_t tc_ea)
{
    return (Code){
        .site = site, .site_word = x->patch, .tc_ea = tc_ea,
        .stub = x->kind == KVM_BT_XLAT_STUB ? x->stub : NULL,
        .stub_words = x->stub_words,
        .fallback_ea = x->kind == KVM_BT_XLAT_STUB ? x->fallback_ea : 0,
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

    CHECK(KVM_BT_SH_SCRATCH1 == 4 && KVM_BT_SH_SCRATCH3 == 20, "scratch");
    CHECK(KVM_BT_SH_MSR == 92 && KVM_BT_SH_INT_PENDING == 100, "msr/int_pending");
    CHECK(KVM_BT_SH_MAS7 == 176 && KVM_BT_SH_MAS3 == 180 && KVM_BT_SH_MAS2 == 188, "mas");
    CHECK(KVM_BT_SH_PIR == 204 && KVM_BT_SH_SPRG7 == 236 && KVM_BT_SH_SR(15) == 164, "tail");
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

static void test_inplace(void)
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
        kvm_bt_xlat(MON, SITE, 0x7c0000a6 | rd << 21, 0, 0, &x);
        in = decode(x.patch);
        CHECK(x.kind == KVM_BT_XLAT_INPLACE && in.kind == PPC_INSN_LWZ && in.rt == rd &&
              in.ra == 0 && in.imm == KVM_BT_SH_MSR - 4096, "mfmsr r%u -> %08x", rd, x.patch);
        CHECK(run(&c, &(Code){ .site = SITE, .site_word = x.patch }, &err) == RUN_RESUME &&
              c.gpr[rd] == page_rd(&before, KVM_BT_SH_MSR), "mfmsr r%u runs", rd);
        before.gpr[rd] = c.gpr[rd];
        CHECK(regs_same(&c, &before) && page_same(&c, &before, -1), "mfmsr r%u side effects", rd);
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
            kvm_bt_xlat(MON, SITE, ppc_enc_mfspr(r, all[i].spr), 0, 0, &x);
            if (all[i].read == KVM_BT_SPR_EXIT) {
                ok_read &= x.kind == KVM_BT_XLAT_NONE;
            } else {
                code = code_of(&x, SITE, 0);
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
            kvm_bt_xlat(MON, SITE, ppc_enc_mtspr(all[i].spr, r), 0, 0, &x);
            if (all[i].write == KVM_BT_SPR_EXIT) {
                ok_write &= x.kind == KVM_BT_XLAT_NONE && x.reason;
            } else {
                code = code_of(&x, SITE, 0);
                ok_write &= x.kind == KVM_BT_XLAT_INPLACE && run(&c, &code, &err) == RUN_RESUME;
                ok_write &= page_rd(&c, all[i].offset) == before.gpr[r];
                ok_write &= regs_same(&c, &before) && page_same(&c, &before, all[i].offset);
            }
        }
    }
    CHECK(ok_read, "mfspr of every mirror");
    CHECK(ok_write, "mtspr of every mirror");

    /* named cases from a real guest */
    kvm_bt_xlat(MON, SITE, 0x7d5342a6, 0, 0, &x);      /* mfspr r10,SPRG3 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_lwz(10, 60 - 4096, 0), "SPRG3");
    kvm_bt_xlat(MON, SITE, ppc_enc_mfspr(10, KVM_BT_SPR_SPRG3R), 0, 0, &x);
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_lwz(10, 60 - 4096, 0), "SPRG3R");
    kvm_bt_xlat(MON, SITE, 0x7d5343a6, 0, 0, &x);      /* mtspr SPRG3,r10 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_stw(10, 60 - 4096, 0),
          "mtspr SPRG3");
    kvm_bt_xlat(MON, SITE, 0x7d75fba6, 0, 0, &x);      /* mtspr BUCSR,r11 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE &&
          x.patch == ppc_enc_stw(11, KVM_BT_SH_PRIV_BUCSR - 4096, 0), "BUCSR sink");
    kvm_bt_xlat(MON, SITE, 0x7d50eba6, 0, 0, &x);      /* mtspr MAS7,r10 */
    CHECK(x.kind == KVM_BT_XLAT_INPLACE && x.patch == ppc_enc_stw(10, 176 - 4096, 0), "MAS7");
    kvm_bt_xlat(MON, SITE, 0x7cfa03a6, 0, 0, &x);      /* mtspr SRR0,r7 */
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
            KvmBtXlatKind k = kvm_bt_xlat(MON, SITE, words[i], TC_EA, 32, &x);

            ok_none &= k == KVM_BT_XLAT_NONE && x.kind == k && x.reason && x.reason[0];
            ok_none &= !kvm_bt_xlat_needs_stub(MON, words[i]);
        }
        CHECK(ok_none, "privileged instructions that keep exiting");
        kvm_bt_xlat(MON, SITE, 0x7c000000 | 0x3a6 | (3 << 21) | (31 << 16) | (8 << 11),
                    TC_EA, 32, &x);
        CHECK(strstr(x.reason, "beyond"), "mtspr PVR reason '%s'", x.reason);
        kvm_bt_xlat(MON, SITE, 0x4c000064, TC_EA, 32, &x);
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
static bool reference(StubOp op, unsigned r, const Cpu *c, unsigned *field, uint32_t *msr)
{
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
        return !((rs ^ old) & ~KVM_BT_MSR_PAGE_WRITABLE) &&
               !((rs & (KVM_BT_MSR_CE | KVM_BT_MSR_EE)) && pending);
    default:
        /* the same PID: skipped; the CPU on PID 0: deferred into the page; else trap */
        *field = KVM_BT_SH_PRIV_PID;
        *msr = rs;
        return rs == page_rd(c, KVM_BT_SH_PRIV_PID) || page_rd(c, KVM_BT_SH_PID_CPU) == 0;
    }
}

/* Random state biased so both outcomes and every branch of the stub occur. */
static void random_case(Cpu *c, StubOp op, unsigned r)
{
    random_cpu(c);
    if (coin()) {
        page_wr(c, KVM_BT_SH_INT_PENDING, 0);
    } else if (coin()) {
        page_wr(c, KVM_BT_SH_INT_PENDING, 1u << (rnd() % 32));
    }
    if (op == OP_MTMSR && coin()) {
        /* change CE/EE/RI only, or one more random bit */
        uint32_t v = page_rd(c, KVM_BT_SH_MSR) ^ (rnd() & KVM_BT_MSR_PAGE_WRITABLE);

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
}

static void test_stub_property(StubOp op)
{
    unsigned nregs = op == OP_WRTEEI ? 2 : 32;
    unsigned cases = 0, fast = 0, slow = 0, bad = 0;

    for (unsigned r = 0; r < nregs; r++) {
        KvmBtXlat x;
        uint32_t word = op_word(op, r);
        Code code;
        PPCInsn in;

        CHECK(kvm_bt_xlat(MON, SITE, word, TC_EA, 32, &x) == KVM_BT_XLAT_STUB,
              "%s r%u: %s", op_names[op], r, x.reason ? x.reason : "");
        if (x.kind != KVM_BT_XLAT_STUB) {
            continue;
        }
        CHECK(kvm_bt_xlat_needs_stub(MON, word), "%s needs a stub", op_names[op]);
        in = decode(x.patch);
        CHECK(in.kind == PPC_INSN_B && !in.lk && !in.aa && SITE + in.imm == TC_EA,
              "%s: patch is b TC", op_names[op]);
        CHECK(x.stub[x.fallback] == word && x.fallback_ea == TC_EA + 4 * x.fallback &&
              x.resume_ea == SITE + 4, "%s: fallback", op_names[op]);
        in = decode(x.stub[x.fallback + 1]);
        CHECK(x.fallback + 2 == x.stub_words && in.kind == PPC_INSN_B &&
              TC_EA + 4 * (x.fallback + 1) + in.imm == SITE + 4, "%s: b site+4 after fallback",
              op_names[op]);
        code = code_of(&x, SITE, TC_EA);

        for (int k = 0; k < 600; k++) {
            Cpu c, before;
            const char *err;
            uint32_t msr;
            unsigned field;
            bool shortcut;
            RunEnd end;

            random_case(&c, op, r);
            before = c;
            shortcut = reference(op, r, &c, &field, &msr);
            end = run(&c, &code, &err);
            cases++;
            if (shortcut) {
                fast++;
                if (end != RUN_RESUME || !regs_same(&c, &before) ||
                    page_rd(&c, field) != msr || !page_same(&c, &before, field)) {
                    if (bad++ < 5) {
                        printf("  %s r%u: end %d (%s) field %u: %08x want %08x\n",
                               op_names[op], r, end, err ? err : "", field,
                               page_rd(&c, field), msr);
                    }
                }
            } else {
                slow++;
                if (end != RUN_FALLBACK || !regs_same(&c, &before) ||
                    !page_same(&c, &before, -1)) {
                    if (bad++ < 5) {
                        printf("  %s r%u: fallback expected, end %d (%s)\n", op_names[op], r,
                               end, err ? err : "");
                    }
                }
            }
        }
    }
    CHECK(bad == 0, "%s: %u of %u random cases wrong", op_names[op], bad, cases);
    /* wrteei 0 never needs the monitor */
    CHECK(fast > cases / 8 && (slow > cases / 8 || (op == OP_WRTEEI && slow > 0)),
          "%s: both outcomes exercised (%u fast, %u fallback)", op_names[op], fast, slow);
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

static void test_reach(void)
{
    KvmBtXlat x;

    /* TC 256 MiB away: no stubs, in place still fine */
    CHECK(kvm_bt_xlat(MON, SITE, 0x7c800106, SITE + 0x10000000, 32, &x) == KVM_BT_XLAT_NONE &&
          strstr(x.reason, "range"), "far TC: wrtee NONE (%s)", x.reason);
    CHECK(kvm_bt_xlat(MON, SITE, 0x7c6000a6, SITE + 0x10000000, 32, &x) ==
          KVM_BT_XLAT_INPLACE, "far TC: mfmsr in place");
    CHECK(kvm_bt_xlat(MON, SITE, 0x7d5342a6, 0, 0, &x) == KVM_BT_XLAT_INPLACE,
          "no TC: mfspr in place");
    CHECK(kvm_bt_xlat(MON, SITE, 0x7c008146, 0, 0, &x) == KVM_BT_XLAT_NONE &&
          strstr(x.reason, "no TC"), "no TC: wrteei 1 NONE");
    /* the site reaches the slot, but the stub's way back does not reach site+4 */
    CHECK(kvm_bt_xlat(MON, SITE, 0x7c800106, SITE + (1u << 25) - 4, 32, &x) ==
          KVM_BT_XLAT_NONE && strstr(x.reason, "site+4"), "return out of range: %s", x.reason);
    /* just within range both ways (TC below the site) */
    CHECK(kvm_bt_xlat(MON, SITE, 0x7c800106, SITE - (1u << 25), 32, &x) == KVM_BT_XLAT_STUB,
          "TC 32 MiB below: %s", x.reason ? x.reason : "ok");
    /* slot too small for the stub */
    CHECK(kvm_bt_xlat(MON, SITE, 0x7c800106, TC_EA, 8, &x) == KVM_BT_XLAT_NONE &&
          strstr(x.reason, "fit") && x.stub_words == 0, "small slot: %s", x.reason);
    CHECK(kvm_bt_xlat(MON, SITE + 2, 0x7c6000a6, 0, 0, &x) == KVM_BT_XLAT_NONE,
          "misaligned site");
    CHECK(!kvm_bt_xlat_needs_stub(MON, 0x7c6000a6) && kvm_bt_xlat_needs_stub(MON, 0x7d300ba6),
          "needs_stub: mfmsr no, mtspr PID yes");
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
    CHECK(ok && t.count == 5000, "count %zu", t.count);
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
    test_inplace();
    test_stub_property(OP_WRTEE);
    test_stub_property(OP_WRTEEI);
    test_stub_property(OP_MTMSR);
    test_stub_property(OP_MTPID);
    test_wrtee_layout();
    test_reach();
    test_monitor_golden();
    test_sites_state_machine();
    test_sites_tc();
    test_sites_many();
    test_tc_gap();
    return test_summary("unit-bt");
}
