/*
 * Bare-metal payload for -accel kvm,bt=on on real KVM e500v2: the guest's
 * own code and mappings win.
 *
 * On KVM, binary translation happens some milliseconds after a site became
 * hot (sampled, then translated by the VMM's poll), so every case first
 * calls its function until the site word changes (translated) or about
 * WARM_TICKS of timebase pass (never translated: tcg, plain kvm).
 *
 *   kvmbt.magic.*  first of all, before anything is translated: the guest
 *                  maps 0xFFFFF000 itself (TLB1) over a page of its own and
 *                  runs a hot site; it must keep reading its own page
 *                  (kvm,bt=on translates nothing while the guest maps it,
 *                  and never asks KVM for the shared page)
 *   kvmbt.spr.*    mfspr r3,SPRG1 (in place): overwritten with li r3,imm
 *                  it returns imm, also after the VMM had time to look
 *                  (it must not put its patch or the old word back); the
 *                  original written back reads SPRG1 again
 *   kvmbt.stub.*   wrteei 1 (a stub): overwritten with li r3,imm, the same
 *
 * Output as the other payloads ("PASS"/"FAIL", "INFO kvmbt.translated.X=0|1"
 * for whether the word was seen translated, which differs between modes),
 * closing with "KVMBT done passed=N failed=N". Built for e500v2 by
 * scripts/build-nested.sh; base vectors only (KVM e500v2 cannot emulate
 * e500mc's IVOR36/37).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>

#include "baremetal.h"

#define MAGIC_EA        0xfffff000u
#define WARM_TICKS      (80u * 1000 * 1000)     /* ~200 ms at a 400 MHz timebase */
#define SETTLE_TICKS    (60u * 1000 * 1000)     /* ~150 ms: several VMM polls */
#define PATTERN         0x6b766d21u

#define OP_X(xo)        ((31u << 26) | ((uint32_t)(xo) << 1))
#define SPRF(spr)       ((((uint32_t)(spr) & 0x1f) << 16) | (((uint32_t)(spr) >> 5) << 11))
#define INSN_BLR        0x4e800020u

static uint32_t enc_mfspr(unsigned rd, unsigned spr)
{
    return OP_X(339) | (rd << 21) | SPRF(spr);
}

static uint32_t enc_wrteei(unsigned e)
{
    return OP_X(163) | ((e & 1) << 15);
}

static uint32_t enc_li(unsigned rd, int16_t imm)
{
    return (14u << 26) | (rd << 21) | (uint16_t)imm;
}

/* run_user (start.S) needs these; this payload stays in supervisor state */
volatile uint32_t user_resume_pc, user_resume_msr;
static volatile uint32_t irqs;

void exception_dispatch(int vec, uint32_t *frame);
void exception_dispatch(int vec, uint32_t *frame)
{
    (void)frame;
    irqs++;
    if (vec == 10) {            /* decrementer: acknowledge and stop */
        mtspr(SPR_TCR, 0);
        mtspr(SPR_TSR, 0x08000000);
    }
}

/* One function per 64-byte line: word 0 is the site, then blr. */
#define FN_WORDS 16
enum { FN_MAGIC, FN_SPR, FN_STUB, FN__COUNT };
static uint32_t code_page[1024] __attribute__((aligned(4096)));
static uint32_t own_page[1024] __attribute__((aligned(4096)));

static uint32_t *fn_at(unsigned fn)
{
    return &code_page[fn * FN_WORDS];
}

static uint32_t call(unsigned fn, uint32_t arg)
{
    return ((uint32_t (*)(uint32_t))(void *)fn_at(fn))(arg);
}

static void set_site(unsigned fn, uint32_t word)
{
    volatile uint32_t *p = fn_at(fn);

    *p = word;
    asm volatile("dcbst 0,%0\n\tsync\n\ticbi 0,%0\n\tsync\n\tisync" :: "r"(p) : "memory");
}

static void build(unsigned fn, uint32_t site)
{
    for (int i = 1; i < FN_WORDS; i++) {
        fn_at(fn)[i] = INSN_BLR;
    }
    set_site(fn, site);
}

static uint32_t tbl(void)
{
    return mfspr(SPR_TBL_R);
}

/* Call @fn until its site is no longer @word or WARM_TICKS pass. */
static uint32_t warm(unsigned fn, uint32_t word)
{
    uint32_t start = tbl();

    while (tbl() - start < WARM_TICKS) {
        for (int i = 0; i < 256; i++) {
            call(fn, 0);
        }
        if (*(volatile uint32_t *)fn_at(fn) != word) {
            return 1;
        }
    }
    return 0;
}

static void settle(void)
{
    uint32_t start = tbl();

    while (tbl() - start < SETTLE_TICKS) {
        asm volatile("nop");
    }
}

static void test_magic(void)
{
    uint32_t got;

    own_page[0] = PATTERN;
    own_page[17] = ~PATTERN;
    /* TLB1 entry 4: 4 KiB (TSIZE 2^2 KiB) at 0xFFFFF000 -> own_page, supervisor read/write */
    tlb1_write(4, MAS1_VALID | MAS1_TSIZE(2), MAGIC_EA, (uint32_t)own_page | 0x05, 0);
    build(FN_MAGIC, enc_mfspr(3, SPR_SPRG1));
    info("kvmbt.translated.magic", warm(FN_MAGIC, enc_mfspr(3, SPR_SPRG1)));
    settle();
    got = *(volatile uint32_t *)MAGIC_EA;
    CHECK_EQ("kvmbt.magic.own_page", "the guest's own page at 0xFFFFF000", got, PATTERN);
    got = *(volatile uint32_t *)(MAGIC_EA + 17 * 4);
    CHECK_EQ("kvmbt.magic.own_page2", "the same page further in", got, ~PATTERN);
    mtspr(SPR_SPRG1, 0x1111);
    CHECK_EQ("kvmbt.magic.site", "the hot site still reads SPRG1", call(FN_MAGIC, 0), 0x1111);
    tlb1_write(4, 0, 0, 0, 0);
}

static void test_overwrite(const char *what, unsigned fn, uint32_t site, const char *n_tr,
                           const char *n_new, const char *n_kept, const char *n_word)
{
    build(fn, site);
    info(n_tr, warm(fn, site));
    set_site(fn, enc_li(3, 0x2345));
    CHECK_EQ(n_new, what, call(fn, 0), 0x2345);
    settle();
    CHECK_EQ(n_kept, "the guest's word, after the VMM had time to look", call(fn, 0), 0x2345);
    CHECK_EQ(n_word, "and the word itself", *(volatile uint32_t *)fn_at(fn), enc_li(3, 0x2345));
    set_site(fn, site);
}

void payload_main(void);
void payload_main(void)
{
    payload_start(1);
    asm volatile("wrteei 0" ::: "memory");
    puts_("KVMBT start\n");

    test_magic();

    test_overwrite("mfspr SPRG1 overwritten with li", FN_SPR, enc_mfspr(3, SPR_SPRG1),
                   "kvmbt.translated.spr", "kvmbt.spr.new", "kvmbt.spr.kept",
                   "kvmbt.spr.word");
    mtspr(SPR_SPRG1, 0x3333);
    CHECK_EQ("kvmbt.spr.back", "the original word again", call(FN_SPR, 0), 0x3333);

    test_overwrite("wrteei 1 overwritten with li", FN_STUB, enc_wrteei(1),
                   "kvmbt.translated.stub", "kvmbt.stub.new", "kvmbt.stub.kept",
                   "kvmbt.stub.word");
    call(FN_STUB, 0);
    CHECK_EQ("kvmbt.stub.back", "wrteei 1 again sets MSR[EE]", mfmsr() & MSR_EE, MSR_EE);
    asm volatile("wrteei 0" ::: "memory");
    CHECK_EQ("kvmbt.no_interrupts", "interrupts taken", irqs, 0);

    puts_("KVMBT done passed=");
    putd(passed);
    puts_(" failed=");
    putd(failed);
    puts_("\n");
    poweroff();
}
