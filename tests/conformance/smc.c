/*
 * Bare-metal self-modifying-code payload for kvm-bt's binary translator.
 *
 * Under -accel kvm-bt,bt=on a privileged instruction that exits often is
 * rewritten in guest memory (an lwz/stw on the shared page, or a branch to a
 * stub). The guest must never notice: when it overwrites such an
 * instruction it must run what it wrote from then on, and writing the
 * original word back must behave as the original instruction.
 *
 * The payload builds small functions in a code page, calls each in a loop
 * so its privileged site gets hot (and, under bt=on, translated), then
 * overwrites the site with something else (with the architected
 * dcbst/sync/icbi/isync sequence) and checks every further call runs the new
 * instruction:
 *   smc.spr.*      mfspr r3,SPRG0 -> mfspr r3,SPRG1 -> li r3,imm -> mfspr SPRG0
 *   smc.mtspr.*    mtspr SPRG0,r3 -> mtspr SPRG1,r3 (an in-place store site)
 *   smc.msr.*      mfmsr r3 -> the same word written again
 *   smc.wrteei.*   wrteei 1 -> wrteei 0 (a stub site)
 *   smc.wrtee.*    wrtee r3 -> nop -> wrtee r3 again (a stub site)
 *   smc.toggle.*   mfspr r3,SPRG5 <-> li r3,imm, several rounds
 *   smc.alias.*    mfspr r3,SPRG2 overwritten through a second, data-only
 *                  mapping of the code page (TLB1 entry 3)
 *   smc.cluster.*  tlbsx; tlbre (an exit cluster under bt=on) -> tlbsx;
 *                  mfspr r3,SPRG1: the rewritten word must exit on its own
 *   smc.tc_remap.* wrteei 1, while a TLB0 entry maps the page its stub
 *                  lives in (under bt=on) elsewhere: the stub must be undone
 *
 * Output as the conformance payload: "PASS name", "FAIL name: detail",
 * "INFO name=value" (the code page address, for the test to find the
 * sites), closing with "SMC done passed=N failed=N". It must be identical
 * under tcg, kvm-bt,bt=off and kvm-bt,bt=on.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>

#include "baremetal.h"

#define LOOPS 64

/* SPR numbers (Power ISA 2.06 Book E, e500mc) */

#define MAS3_SR     0x01
#define MAS3_SW     0x04

static inline void ee_on(void)
{
    asm volatile("wrteei 1" ::: "memory");
}

static inline void ee_off(void)
{
    asm volatile("wrteei 0" ::: "memory");
}

/* ---- instruction encodings --------------------------------------------- */

#define OP_X(xo)        ((31u << 26) | ((uint32_t)(xo) << 1))
#define SPRF(spr)       ((((uint32_t)(spr) & 0x1f) << 16) | (((uint32_t)(spr) >> 5) << 11))

static uint32_t enc_mfspr(unsigned rd, unsigned spr)
{
    return OP_X(339) | (rd << 21) | SPRF(spr);
}

static uint32_t enc_mtspr(unsigned spr, unsigned rs)
{
    return OP_X(467) | (rs << 21) | SPRF(spr);
}

static uint32_t enc_mfmsr(unsigned rd)
{
    return OP_X(83) | (rd << 21);
}

static uint32_t enc_wrteei(unsigned e)
{
    return OP_X(163) | ((e & 1) << 15);
}

static uint32_t enc_wrtee(unsigned rs)
{
    return OP_X(131) | (rs << 21);
}

static uint32_t enc_li(unsigned rd, int16_t imm)
{
    return (14u << 26) | (rd << 21) | (uint16_t)imm;     /* addi rd,0,imm */
}

#define INSN_BLR    0x4e800020u
#define INSN_NOP    0x60000000u
#define INSN_TLBRE  0x7c000764u

static uint32_t enc_tlbsx(unsigned rb)
{
    return OP_X(914) | (rb << 11);                      /* tlbsx 0,rB */
}

/* ---- interrupts -------------------------------------------------------- */

/* run_user (start.S) needs these; this payload stays in supervisor state */
volatile uint32_t user_resume_pc, user_resume_msr;
static volatile uint32_t irq_count[17];

extern char vectors[];

/* frame: r1-relative save area of start.S; word 13 = LR */
void exception_dispatch(int vec, uint32_t *frame);
void exception_dispatch(int vec, uint32_t *frame)
{
    uint32_t srr0 = mfspr(SPR_SRR0);

    irq_count[vec]++;
    switch (vec) {
    case 2:     /* DSI */
    case 5:     /* alignment */
    case 6:     /* program: skip the faulting instruction */
    case 13:    /* DTLB miss */
        mtspr(SPR_SRR0, srr0 + 4);
        break;
    case 10:    /* decrementer: acknowledge and stop */
        mtspr(SPR_TCR, 0);
        mtspr(SPR_TSR, 0x08000000);
        break;
    case 14:    /* ITLB miss: return to the caller of the unmapped function */
        mtspr(SPR_SRR0, frame[13]);
        break;
    default:
        break;
    }
}

static uint32_t irqs_taken(void)
{
    uint32_t n = 0;

    for (int i = 0; i < 17; i++) {
        n += irq_count[i];
    }
    return n;
}

/* ---- the code page ------------------------------------------------------ */

/*
 * One 4 KiB page of generated functions, each in its own 64-byte slot
 * (an e500mc cache line): word 0 is the site under test, then blr.
 */
#define SLOT_WORDS  16
enum {
    SLOT_SPR,       /* mfspr r3,SPRG0 */
    SLOT_MTSPR,     /* mtspr SPRG0,r3 */
    SLOT_MSR,       /* mfmsr r3 */
    SLOT_WRTEEI,    /* wrteei 1 */
    SLOT_WRTEE,     /* wrtee r3 */
    SLOT_TOGGLE,    /* mfspr r3,SPRG5 <-> li r3,imm */
    SLOT_ALIAS,     /* mfspr r3,SPRG2, rewritten through ALIAS_EA */
    SLOT_MAGIC,     /* mfspr r3,SPRG1 while the guest maps 0xFFFFF000 */
    SLOT_CLUSTER,   /* tlbsx 0,r3; tlbre; mfspr r3,MAS1 -> tlbsx 0,r3; mfspr r3,SPRG1 */
    SLOT_TC_REMAP,  /* wrteei 1 while its stub's page is mapped elsewhere */
    SLOT__COUNT
};

static uint32_t code_page[1024] __attribute__((aligned(4096)));

#define ALIAS_EA    0x50000000u     /* data-only second mapping of code_page */

typedef uint32_t (*slot_fn)(uint32_t);

static uint32_t *slot_at(unsigned slot)
{
    return &code_page[slot * SLOT_WORDS];
}

static uint32_t call_slot(unsigned slot, uint32_t arg)
{
    slot_fn fn = (slot_fn)(void *)slot_at(slot);

    return fn(arg);
}

/*
 * Make the instruction stream see a store to code: push the data line
 * (written through @data_ea) to memory, then discard the instruction line
 * (executed at @insn_ea) and resynchronise.
 */
static void code_sync(const void *data_ea, const void *insn_ea)
{
    asm volatile("dcbst 0,%0\n\t"
                 "sync\n\t"
                 "icbi 0,%1\n\t"
                 "sync\n\t"
                 "isync" :: "r"(data_ea), "r"(insn_ea) : "memory");
}

/* Store one instruction word at @p (executed at @exec) and make it visible. */
static void patch_word(volatile uint32_t *p, uint32_t *exec, uint32_t word)
{
    *p = word;
    code_sync((const void *)p, exec);
}

/* A slot of two words: @site, blr. */
static void build_slot(unsigned slot, uint32_t site)
{
    uint32_t *s = slot_at(slot);

    s[0] = site;
    s[1] = INSN_BLR;
    for (int i = 2; i < SLOT_WORDS; i++) {
        s[i] = INSN_BLR;
    }
    for (int i = 0; i < SLOT_WORDS; i += 8) {
        code_sync(&s[i], &s[i]);
    }
}

static void rewrite_slot(unsigned slot, uint32_t site)
{
    patch_word(slot_at(slot), slot_at(slot), site);
}

static void rewrite_slot_word(unsigned slot, unsigned word, uint32_t insn)
{
    patch_word(slot_at(slot) + word, slot_at(slot) + word, insn);
}

/* ---- tests -------------------------------------------------------------- */

/* Call the SPRG-reading @slot @LOOPS times; each call must return @spr's value. */
static struct first_bad loop_reads(unsigned slot, unsigned seed, int which)
{
    struct first_bad b = FIRST_BAD_INIT;

    for (int i = 0; i < LOOPS; i++) {
        uint32_t v0 = 0x5a000000 + (seed << 16) + i, v1 = 0xa5000000 + (seed << 16) + i;
        uint32_t v2 = 0x3c000000 + (seed << 16) + i, v5 = 0xc3000000 + (seed << 16) + i;
        uint32_t want;

        mtspr(SPR_SPRG0, v0);
        mtspr(SPR_SPRG1, v1);
        mtspr(SPR_SPRG2, v2);
        mtspr(SPR_SPRG5, v5);
        switch (which) {
        case 0: want = v0; break;
        case 1: want = v1; break;
        case 2: want = v2; break;
        case 5: want = v5; break;
        default: want = (uint32_t)which; break;    /* an li immediate */
        }
        note(&b, call_slot(slot, 0), want);
    }
    return b;
}

static void test_spr(void)
{
    struct first_bad b;

    build_slot(SLOT_SPR, enc_mfspr(3, SPR_SPRG0));
    b = loop_reads(SLOT_SPR, 1, 0);
    REPORT("smc.spr.hot", "mfspr r3,SPRG0 function returns SPRG0", b);

    rewrite_slot(SLOT_SPR, enc_mfspr(3, SPR_SPRG1));
    b = loop_reads(SLOT_SPR, 2, 1);
    REPORT("smc.spr.other_spr", "site rewritten to mfspr r3,SPRG1 returns SPRG1", b);

    rewrite_slot(SLOT_SPR, enc_li(3, 1234));
    b = loop_reads(SLOT_SPR, 3, 1234);
    REPORT("smc.spr.li", "site rewritten to li r3,1234 returns 1234", b);

    rewrite_slot(SLOT_SPR, enc_mfspr(3, SPR_SPRG0));
    b = loop_reads(SLOT_SPR, 4, 0);
    REPORT("smc.spr.back", "site rewritten back to mfspr r3,SPRG0 returns SPRG0", b);
}

/*
 * A write site becomes an stw on the page.
 */
static void test_mtspr(void)
{
    struct first_bad b0 = FIRST_BAD_INIT, b1 = FIRST_BAD_INIT;

    build_slot(SLOT_MTSPR, enc_mtspr(SPR_SPRG0, 3));
    mtspr(SPR_SPRG1, 0x11110000);
    for (int i = 0; i < LOOPS; i++) {
        call_slot(SLOT_MTSPR, 0x00000100 + i);
        note(&b0, mfspr(SPR_SPRG0), 0x00000100 + i);
        note(&b1, mfspr(SPR_SPRG1), 0x11110000);
    }
    REPORT("smc.mtspr.hot", "mtspr SPRG0,r3 function sets SPRG0", b0);
    REPORT("smc.mtspr.hot_other", "mtspr SPRG0,r3 function leaves SPRG1", b1);

    rewrite_slot(SLOT_MTSPR, enc_mtspr(SPR_SPRG1, 3));
    b0 = (struct first_bad)FIRST_BAD_INIT;
    b1 = (struct first_bad)FIRST_BAD_INIT;
    mtspr(SPR_SPRG0, 0x00009999);
    for (int i = 0; i < LOOPS; i++) {
        call_slot(SLOT_MTSPR, 0x11110100 + i);
        note(&b1, mfspr(SPR_SPRG1), 0x11110100 + i);
        note(&b0, mfspr(SPR_SPRG0), 0x00009999);
    }
    REPORT("smc.mtspr.other_spr", "site rewritten to mtspr SPRG1,r3 sets SPRG1", b1);
    REPORT("smc.mtspr.old_spr_kept", "site rewritten to mtspr SPRG1,r3 leaves SPRG0", b0);
}

static void test_msr(void)
{
    struct first_bad b = FIRST_BAD_INIT;

    build_slot(SLOT_MSR, enc_mfmsr(3));
    for (int i = 0; i < LOOPS; i++) {
        uint32_t want;

        if (i & 1) {
            ee_on();
        } else {
            ee_off();
        }
        want = mfmsr();
        note(&b, call_slot(SLOT_MSR, 0), want);
    }
    ee_off();
    REPORT("smc.msr.hot", "mfmsr r3 function returns MSR", b);

    /* the same word stored over the site again */
    rewrite_slot(SLOT_MSR, enc_mfmsr(3));
    b = (struct first_bad)FIRST_BAD_INIT;
    for (int i = 0; i < LOOPS; i++) {
        uint32_t want;

        if (i & 2) {
            ee_on();
        } else {
            ee_off();
        }
        want = mfmsr();
        note(&b, call_slot(SLOT_MSR, 0), want);
    }
    ee_off();
    REPORT("smc.msr.same_word", "site rewritten with its own word returns MSR", b);
}

static void test_wrteei(void)
{
    struct first_bad b = FIRST_BAD_INIT;

    build_slot(SLOT_WRTEEI, enc_wrteei(1));
    for (int i = 0; i < LOOPS; i++) {
        ee_off();
        call_slot(SLOT_WRTEEI, 0);
        note(&b, mfmsr() & MSR_EE, MSR_EE);
    }
    ee_off();
    REPORT("smc.wrteei.hot", "wrteei 1 function sets MSR[EE]", b);

    rewrite_slot(SLOT_WRTEEI, enc_wrteei(0));
    b = (struct first_bad)FIRST_BAD_INIT;
    for (int i = 0; i < LOOPS; i++) {
        ee_on();
        call_slot(SLOT_WRTEEI, 0);
        note(&b, mfmsr() & MSR_EE, 0);
    }
    ee_off();
    REPORT("smc.wrteei.rewritten", "site rewritten to wrteei 0 clears MSR[EE]", b);

    rewrite_slot(SLOT_WRTEEI, enc_li(3, 77));
    b = (struct first_bad)FIRST_BAD_INIT;
    for (int i = 0; i < LOOPS; i++) {
        uint32_t msr;

        if (i & 1) {
            ee_on();
        } else {
            ee_off();
        }
        msr = mfmsr();
        note(&b, call_slot(SLOT_WRTEEI, 0), 77);
        note(&b, mfmsr(), msr);
    }
    ee_off();
    REPORT("smc.wrteei.li", "site rewritten to li r3,77 returns 77, MSR unchanged", b);
}

static void test_wrtee(void)
{
    struct first_bad b = FIRST_BAD_INIT;

    build_slot(SLOT_WRTEE, enc_wrtee(3));
    for (int i = 0; i < LOOPS; i++) {
        uint32_t ee = (i & 1) ? MSR_EE : 0;

        call_slot(SLOT_WRTEE, ee | 0x00001000);     /* only EE may count */
        note(&b, mfmsr() & MSR_EE, ee);
    }
    ee_off();
    REPORT("smc.wrtee.hot", "wrtee r3 function copies MSR[EE]", b);

    rewrite_slot(SLOT_WRTEE, INSN_NOP);
    b = (struct first_bad)FIRST_BAD_INIT;
    for (int i = 0; i < LOOPS; i++) {
        uint32_t ee = (i & 1) ? MSR_EE : 0;

        if (ee) {
            ee_off();
        } else {
            ee_on();
        }
        call_slot(SLOT_WRTEE, ee);
        note(&b, mfmsr() & MSR_EE, ee ^ MSR_EE);
    }
    ee_off();
    REPORT("smc.wrtee.nop", "site rewritten to nop leaves MSR[EE]", b);

    rewrite_slot(SLOT_WRTEE, enc_wrtee(3));
    b = (struct first_bad)FIRST_BAD_INIT;
    for (int i = 0; i < LOOPS; i++) {
        uint32_t ee = (i & 2) ? MSR_EE : 0;

        call_slot(SLOT_WRTEE, ee);
        note(&b, mfmsr() & MSR_EE, ee);
    }
    ee_off();
    REPORT("smc.wrtee.back", "site rewritten back to wrtee r3 copies MSR[EE]", b);
}

/* The site flips between a privileged read and an immediate, round after round. */
static void test_toggle(void)
{
    struct first_bad b = FIRST_BAD_INIT;

    build_slot(SLOT_TOGGLE, enc_mfspr(3, SPR_SPRG5));
    for (unsigned round = 0; round < 8; round++) {
        struct first_bad r;

        if (round & 1) {
            rewrite_slot(SLOT_TOGGLE, enc_li(3, 100 + round));
            r = loop_reads(SLOT_TOGGLE, 16 + round, 100 + round);
        } else {
            if (round) {
                rewrite_slot(SLOT_TOGGLE, enc_mfspr(3, SPR_SPRG5));
            }
            r = loop_reads(SLOT_TOGGLE, 16 + round, 5);
        }
        if (!r.ok) {
            note(&b, r.got, r.want);
        }
    }
    REPORT("smc.toggle", "site alternating mfspr r3,SPRG5 / li r3,imm, 8 rounds", b);
}

/*
 * The same physical page mapped a second time, writable, not executable:
 * a store through that mapping must reach the code executed at the first.
 */
static void test_alias(void)
{
    struct first_bad b;
    uint32_t pa = (uint32_t)code_page;   /* EA = PA in the loader's mapping */
    volatile uint32_t *alias = (volatile uint32_t *)(ALIAS_EA + SLOT_ALIAS * SLOT_WORDS * 4);
    uint32_t before = irqs_taken();

    build_slot(SLOT_ALIAS, enc_mfspr(3, SPR_SPRG2));
    tlb1_write(3, MAS1_VALID | MAS1_TSIZE(2), ALIAS_EA, pa | MAS3_SR | MAS3_SW, 0);
    CHECK_EQ("smc.alias.mapped", "second mapping reads the code page", alias[1], INSN_BLR);

    b = loop_reads(SLOT_ALIAS, 5, 2);
    REPORT("smc.alias.hot", "mfspr r3,SPRG2 function returns SPRG2", b);

    patch_word(alias, slot_at(SLOT_ALIAS), enc_li(3, 555));
    b = loop_reads(SLOT_ALIAS, 6, 555);
    REPORT("smc.alias.li", "site rewritten through the alias to li r3,555 returns 555", b);

    patch_word(alias, slot_at(SLOT_ALIAS), enc_mfspr(3, SPR_SPRG2));
    b = loop_reads(SLOT_ALIAS, 7, 2);
    REPORT("smc.alias.back", "site rewritten back through the alias returns SPRG2", b);

    tlb1_write(3, 0, 0, 0, 0);
    CHECK_EQ("smc.alias.no_interrupts", "interrupts taken", irqs_taken() - before, 0);
}

/*
 * tlbsx; tlbre: privileged instructions the translator leaves alone, so
 * under bt=on the exit at the first steps both (an exit cluster). When the
 * guest rewrites the second, the monitor must see it: the new word exits on
 * its own (and gets translated) instead of being taken along unseen.
 */
static void test_cluster(void)
{
    uint32_t *s = slot_at(SLOT_CLUSTER);
    uint32_t code = (uint32_t)code_page;
    uint32_t want_mas1;
    struct first_bad b = FIRST_BAD_INIT;

    build_slot(SLOT_CLUSTER, enc_tlbsx(3));
    s[1] = INSN_TLBRE;
    s[2] = enc_mfspr(3, SPR_MAS1);
    s[3] = INSN_BLR;
    code_sync(s, s);
    /* the code page's own TLB1 entry, as the slot finds it */
    mtspr(SPR_MAS6, 0);
    asm volatile("tlbsx 0,%0\n\ttlbre" :: "r"(code) : "memory");
    want_mas1 = mfspr(SPR_MAS1);
    for (int i = 0; i < LOOPS; i++) {
        mtspr(SPR_MAS1, 0);
        note(&b, call_slot(SLOT_CLUSTER, code), want_mas1);
    }
    REPORT("smc.cluster.hot", "tlbsx; tlbre; mfspr MAS1 function finds the code page", b);
    CHECK_EQ("smc.cluster.valid", "the entry found is valid", want_mas1 >> 31, 1);

    s[2] = INSN_BLR;
    code_sync(&s[2], &s[2]);
    rewrite_slot_word(SLOT_CLUSTER, 1, enc_mfspr(3, SPR_SPRG1));
    b = loop_reads(SLOT_CLUSTER, 11, 1);
    REPORT("smc.cluster.rewritten", "second word rewritten to mfspr r3,SPRG1 returns SPRG1", b);
}

/* A 4 KiB TLB0 entry (way 0 of EA's set), or its removal with @mas3 = 0. */
static void tlb0_write(uint32_t ea, uint32_t mas3)
{
    mtspr(SPR_MAS0, 0);
    mtspr(SPR_MAS1, mas3 ? MAS1_VALID | MAS1_TSIZE(2) : 0);
    mtspr(SPR_MAS2, ea);
    mtspr(SPR_MAS3, mas3);
    mtspr(SPR_MAS7, 0);
    asm volatile("isync; tlbwe; isync" ::: "memory");
}

static uint32_t scratch_page[1024] __attribute__((aligned(4096)));

/* Call the wrteei 1 slot @LOOPS times: each call must set MSR[EE]. */
static struct first_bad loop_wrteei(unsigned slot)
{
    struct first_bad b = FIRST_BAD_INIT;

    for (int i = 0; i < LOOPS; i++) {
        ee_off();
        call_slot(slot, 0);
        note(&b, mfmsr() & MSR_EE, MSR_EE);
    }
    ee_off();
    return b;
}

/*
 * The guest maps the page holding a stub (under bt=on the site reads as a
 * branch to it; elsewhere some unused page stands in) to other memory: the
 * monitor must undo the stub before the guest runs it there. The same
 * calls must behave the same throughout, and after the entry is gone.
 */
extern char __bss_end[];

static void test_tc_remap(void)
{
    /*
     * The TC's first page, where kvm-bt puts it for an image without an
     * executable gap (docs/kvm-bt.rst): the site reads back as the guest's
     * own word, so its stub cannot be found from it. Reserved RAM nothing
     * else uses: mapping it elsewhere changes nothing under tcg.
     */
    uint32_t page = ((uint32_t)__bss_end + 0x100000 + 0xffff) & ~0xffffu;
    struct first_bad b;

    build_slot(SLOT_TC_REMAP, enc_wrteei(1));
    b = loop_wrteei(SLOT_TC_REMAP);
    REPORT("smc.tc_remap.hot", "wrteei 1 function sets MSR[EE]", b);
    for (int i = 0; i < 1024; i++) {
        scratch_page[i] = 0;        /* not code: a stub run here would crash */
    }
    tlb0_write(page, (uint32_t)scratch_page | 0x15 /* SR|SW|SX */);
    b = loop_wrteei(SLOT_TC_REMAP);
    REPORT("smc.tc_remap.remapped", "the same while the stub's page maps elsewhere", b);
    tlb0_write(page, 0);
    b = loop_wrteei(SLOT_TC_REMAP);
    REPORT("smc.tc_remap.restored", "the same once the mapping is gone", b);
}

/* ---- main ------------------------------------------------------------------------ */

/*
 * The guest maps 0xFFFFF000 itself: under bt=on the monitor's page must
 * give way (every translation undone, none made) for as long as the
 * mapping exists, and come back after it is gone. A translated SPRG read
 * that still used the page would read this payload's own data instead.
 */
static uint32_t own_page[1024] __attribute__((aligned(4096)));

static void test_magic_mapping(void)
{
    volatile uint32_t *magic = (volatile uint32_t *)0xfffff000u;
    struct first_bad b;
    uint32_t ok = 1;

    build_slot(SLOT_MAGIC, enc_mfspr(3, SPR_SPRG1));
    b = loop_reads(SLOT_MAGIC, 8, 1);                  /* hot: translated */
    REPORT("magic.before", "SPRG1 read before the guest maps 0xFFFFF000", b);
    for (int i = 0; i < 1024; i++) {
        own_page[i] = 0x6d000000u + i;
    }
    tlb1_write(4, MAS1_VALID | MAS1_TSIZE(2), 0xfffff000u,
               (uint32_t)own_page | MAS3_SR | MAS3_SW, 0);
    for (int i = 0; i < 1024; i += 37) {
        ok &= magic[i] == 0x6d000000u + i;
    }
    CHECK_EQ("magic.own_mapping", "supervisor reads of 0xFFFFF000 see the guest's page", ok, 1);
    b = loop_reads(SLOT_MAGIC, 9, 1);
    REPORT("magic.mapped", "SPRG1 read while the guest maps 0xFFFFF000", b);
    magic[11] = 0x12345678;
    CHECK_EQ("magic.own_write", "stores reach the guest's page",
             ((volatile uint32_t *)own_page)[11], 0x12345678);
    tlb1_write(4, 0, 0, 0, 0);                         /* gone again */
    b = loop_reads(SLOT_MAGIC, 10, 1);
    REPORT("magic.after", "SPRG1 read after the mapping is gone", b);
}

void payload_main(void);
void payload_main(void)
{
    payload_start(0);
    ee_off();
    puts_("SMC start\n");
    info("smc.code_page", (uint32_t)code_page);
    info("smc.slot_words", SLOT_WORDS);

    test_spr();
    test_mtspr();
    test_msr();
    test_wrteei();
    test_wrtee();
    test_toggle();
    test_alias();
    test_magic_mapping();
    test_cluster();
    test_tc_remap();
    CHECK_EQ("smc.no_interrupts", "interrupts taken", irqs_taken(), 0);

    puts_("SMC done passed=");
    putd(passed);
    puts_(" failed=");
    putd(failed);
    putc_('\n');
    poweroff();
}
