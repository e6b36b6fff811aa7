/*
 * Bare-metal hostile-guest payload: a guest that goes where the monitor's
 * things are. Every line it prints must be the same under -accel tcg and
 * -accel kvm-bt (tests/guest/test_hostile.py); what the monitor did about
 * it the test reads from the stats file and QMP.
 *
 * The case is chosen by a word of the kernel command line (-append):
 *   hostile=basic    user access to 0xFFFFF000 and the TC, the page hole,
 *                    writes over the TC
 *   hostile=exhaust  thousands of distinct hot sites (more than TC slots)
 *   hostile=churn    one hot site the guest rewrites in a loop
 *   hostile=unseen   what in-place translation must not show (issue 15):
 *                    supervisor access to 0xFFFFF000 it never mapped,
 *                    loads of translated words, narrow stores into them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>

#include "baremetal.h"

#define SPR_MCSRR0  570
#define MSR_ME      0x00001000
#define TC_SIZE     (256 * 1024)
#define ALIAS_EA    0x70000000u     /* TLB1 entry 5: the TC, supervisor only */
#define HOLE_EA     0x60000000u     /* TLB1 entry 6: guest-physical 0xF_F000_0000 */
#define CHURN_REWRITES 130          /* all different words (churn_word) */

uint32_t user_resume_pc, user_resume_msr;   /* start.S's run_user() */
void run_user(void (*fn)(void));

static volatile uint32_t f_vec, f_srr0, f_esr, f_dear, f_count;
extern char __bss_end[];

void exception_dispatch(int vec, uint32_t *frame);
void exception_dispatch(int vec, uint32_t *frame)
{
    uint32_t srr0 = vec == 1 ? mfspr(SPR_MCSRR0) :
                    (vec == 0 || vec == 12 || vec == 15) ? mfspr(SPR_CSRR0) : mfspr(SPR_SRR0);
    uint32_t srr1 = mfspr(SPR_SRR1);

    if (vec == 8 && frame[2] == USER_EXIT_MAGIC && (srr1 & MSR_PR)) {
        mtspr(SPR_SRR0, user_resume_pc);
        mtspr(SPR_SRR1, user_resume_msr);
        return;
    }
    f_count++;
    f_vec = vec;
    f_srr0 = srr0;
    f_esr = mfspr(SPR_ESR);
    f_dear = mfspr(SPR_DEAR);
    switch (vec) {
    case 1:     /* machine check: skip the access */
        mtspr(SPR_MCSRR0, srr0 + 4);
        break;
    case 2:     /* DSI */
    case 5:     /* alignment */
    case 6:     /* program */
    case 13:    /* DTLB miss: skip the instruction */
        mtspr(SPR_SRR0, srr0 + 4);
        break;
    case 3:     /* ISI */
    case 14:    /* ITLB miss: back to the caller */
        mtspr(SPR_SRR0, frame[13]);
        break;
    case 10:
        mtspr(SPR_TCR, 0);
        mtspr(SPR_TSR, TSR_DIS);
        break;
    default:
        break;
    }
}

static void report(const char *name)
{
    puts_("HOSTILE ");
    puts_(name);
    puts_(" faults=");
    putd(f_count);
    if (f_count) {
        puts_(" vec=");
        putd(f_vec);
        puts_(" srr0=");
        putx(f_srr0);
        puts_(" esr=");
        putx(f_esr);
        puts_(" dear=");
        putx(f_dear);
    }
    putc_('\n');
    f_count = f_vec = f_srr0 = f_esr = f_dear = 0;
}

/* ---- privileged sites that get translated (in place and with stubs) ---- */

static void __attribute__((noinline)) heat_once(void)
{
    uint32_t v;

    asm volatile("mfmsr %0" : "=r"(v) :: "memory");
    asm volatile("mtspr 273, %0" :: "r"(v) : "memory");            /* SPRG1 */
    asm volatile("mfspr %0, 272" : "=r"(v) :: "memory");           /* SPRG0 */
    asm volatile("wrteei 0" ::: "memory");                         /* a stub */
    asm volatile("mfmsr %0; mtmsr %0" : "=&r"(v) :: "memory");     /* mtmsr: a stub */
}

/* past the default hot-threshold (16): every mode translates these */
static void heat(void)
{
    for (int i = 0; i < 20; i++) {
        heat_once();
    }
}

/* ---- user-mode probes ---- */

static void u_page_read(void)
{
    asm volatile("lwz 3, -4096+0x5c(0)" ::: "r3", "memory");
}

static void u_page_write(void)
{
    asm volatile("li 3, 0x55; stw 3, -4096+0x24(0)" ::: "r3", "memory");
}

static void u_alias_read(void)
{
    asm volatile("lwz 3, 0x100(%0)" :: "b"(ALIAS_EA) : "r3", "memory");
}

static void u_alias_write(void)
{
    asm volatile("stw %0, 0x100(%0)" :: "b"(ALIAS_EA) : "memory");
}

static uint32_t tc_pa(void)
{
    /* kvm-bt's TC for an image without an executable gap (docs/kvm-bt.rst) */
    return ((uint32_t)__bss_end + 0x100000 + 0xffff) & ~0xffffu;
}

static void case_basic(void)
{
    volatile uint32_t *hole = (volatile uint32_t *)HOLE_EA;
    volatile uint32_t *tc = (volatile uint32_t *)tc_pa();
    uint32_t sum = 0, v;

    heat();
    run_user(u_page_read);
    report("user.page.read");
    run_user(u_page_write);
    report("user.page.write");
    run_user((void (*)(void))0xfffff000);
    report("user.page.exec");

    /* the TC through a supervisor-only mapping of the guest's own */
    tlb1_write(5, MAS1_VALID | MAS1_TSIZE(6), ALIAS_EA, tc_pa() | 0x15, 0);
    run_user(u_alias_read);
    report("user.tc.read");
    run_user(u_alias_write);
    report("user.tc.write");
    run_user((void (*)(void))(ALIAS_EA + 0x100));
    report("user.tc.exec");
    /* and its user-executable identity mapping: what a user jump there runs */
    heat();

    /* the guest-physical hole where the pages used to be, read and written */
    tlb1_write(6, MAS1_VALID | MAS1_TSIZE(2), HOLE_EA, 0xf0000000 | 0x05, 0xf);
    for (int i = 0; i < 1024; i++) {
        sum += hole[i];
    }
    info("hole.sum", sum);
    report("hole.read");
    for (int i = 0; i < 1024; i++) {
        hole[i] = 0xa5a5a5a5;
    }
    report("hole.write");
    mtspr(SPR_SPRG0, 0x1234);
    heat();
    info("hole.sprg0", mfspr(SPR_SPRG0));
    v = mfmsr();
    info("hole.msr", v);
    tlb1_write(6, 0, HOLE_EA, 0, 0);

    /* a guest that writes over the TC it was told is reserved */
    for (int i = 0; i < TC_SIZE / 4; i++) {
        tc[i] = 0;
    }
    report("tc.write");
    heat();
    report("tc.after");
    sum = 0;
    for (int i = 0; i < TC_SIZE / 4; i++) {
        sum |= tc[i];
    }
    info("tc.readback", sum);
    info("tc.msr", mfmsr());
}

/* ---- thousands of distinct hot sites ---- */

static void __attribute__((noinline)) many_sites(void)
{
    asm volatile(".rept 3000\n wrteei 0\n .endr" ::: "memory");
}

static void case_exhaust(void)
{
    for (int i = 0; i < 3; i++) {
        many_sites();
    }
    report("exhaust");
    info("exhaust.msr", mfmsr());
}

/* ---- one hot site rewritten in a loop ---- */

extern uint32_t churn_site[];
asm(".text\n"
    ".globl churn_site\n"
    "churn_fn: mfmsr 3\n"
    "churn_site: mfspr 3, 272\n"
    "blr\n");
void churn_fn(void);

/*
 * The i-th word the site gets: mfspr or mfmsr into r3-r12, a different
 * privileged word each time (the monitor keeps one record per word).
 */
static uint32_t churn_word(unsigned i)
{
    static const uint16_t sprs[] = { 272, 273, 274, 275, 276, 277, 278, 279, 26, 27, 61, 62 };
    uint32_t rt = 3 + i % 10, k = (i / 10) % 13;

    if (k == 12) {
        return 0x7c0000a6 | rt << 21;                       /* mfmsr rt */
    }
    return 0x7c0002a6 | rt << 21 | (sprs[k] & 0x1f) << 16 | (sprs[k] >> 5) << 11;
}

static void case_churn(void)
{
    info("churn.site", (uint32_t)churn_site);
    for (unsigned i = 0; i < CHURN_REWRITES; i++) {
        churn_fn();
        churn_fn();
        churn_site[0] = churn_word(i + 1);
        asm volatile("dcbst 0, %0; sync; icbi 0, %0; sync; isync" :: "r"(churn_site) : "memory");
    }
    report("churn");
    info("churn.word", churn_site[0]);
}

/* ---- what the guest must not see of translation (issue 15) ---- */

/*
 * Three hot sites: mfspr SPRG0 and mfmsr (in place), wrteei 0 (a stub).
 * Returns r3 + r4 + r5 (r5: 0 unless the third word changed).
 */
extern uint32_t unseen_words[];
asm(".text\n"
    ".align 4\n"
    ".globl unseen_fn\n"
    "unseen_fn: li 5, 0\n"
    ".globl unseen_words\n"
    "unseen_words: mfspr 3, 272\n"
    "mfmsr 4\n"
    "wrteei 0\n"
    "add 3, 3, 4\n"
    "add 3, 3, 5\n"
    "blr\n");
uint32_t unseen_fn(void);

static void sync_word(volatile void *p)
{
    asm volatile("dcbst 0, %0; sync; icbi 0, %0; sync; isync" :: "r"(p) : "memory");
}

static void case_unseen(void)
{
    volatile uint32_t *w = unseen_words;
    volatile uint16_t *h = (volatile uint16_t *)unseen_words;
    volatile uint8_t *b = (volatile uint8_t *)unseen_words;
    uint32_t v, sum = 0;

    mtspr(SPR_SPRG0, 0x1234);
    for (int i = 0; i < 20; i++) {
        unseen_fn();
    }
    info("unseen.ret", unseen_fn());

    /* 0xFFFFF000 is not mapped: every access takes the guest's DTLB miss */
    asm volatile("li 3, 0; lwz 3, -4096+0x5c(0); mr %0, 3" : "=r"(v) :: "r3", "memory");
    report("super.page.lwz");
    info("super.page.lwz.r3", v);
    asm volatile("li 3, 0; lbz 3, -4096+36(0); mr %0, 3" : "=r"(v) :: "r3", "memory");
    report("super.page.lbz");
    asm volatile("li 3, 0x77; stw 3, -4096+0x24(0)" ::: "r3", "memory");
    report("super.page.stw");
    asm volatile("li 3, 0x77; sth 3, -4096+0x800(0)" ::: "r3", "memory");
    report("super.page.sth");

    /* the translated words read as data: the guest's own, at any width */
    for (int i = 0; i < 3; i++) {
        info("unseen.lwz", w[i]);
        sum = sum * 31 + h[2 * i] + h[2 * i + 1] + b[4 * i] + b[4 * i + 3];
        asm volatile("lwbrx %0, 0, %1" : "=r"(v) : "r"(&w[i]) : "memory");
        sum = sum * 31 + v;
        asm volatile("lwarx %0, 0, %1" : "=r"(v) : "r"(&w[i]) : "memory");
        sum = sum * 31 + v;
    }
    info("unseen.sum", sum);
    report("unseen.read");

    /*
     * Stores narrower than a word over the top of each: the words become
     * addi (li) with the rest of the guest's own word, and run as such.
     */
    h[0] = 0x3860;                  /* li 3, 0x42a6 */
    sync_word(&w[0]);
    b[4] = 0x38;                    /* li 4, 0xa6 */
    sync_word(&w[1]);
    h[4] = 0x38a0;                  /* li 5, 0x146: the stub's site */
    sync_word(&w[2]);
    for (int i = 0; i < 3; i++) {
        info("narrow.word", w[i]);
    }
    info("narrow.ret", unseen_fn());
    report("narrow");
}

/* Find "hostile=<name>" in the device tree blob (its command line). */
static int has_case(const char *fdt, const char *name)
{
    uint32_t size = fdt ? *(const uint32_t *)(fdt + 4) : 0;
    static const char key[] = "hostile=";

    for (uint32_t i = 0; i + sizeof(key) < size; i++) {
        uint32_t k = 0;

        while (key[k] && fdt[i + k] == key[k]) {
            k++;
        }
        if (!key[k]) {
            const char *p = fdt + i + k, *n = name;

            while (*n && *p == *n) {
                p++;
                n++;
            }
            if (!*n && (*p == 0 || *p == ' ')) {
                return 1;
            }
        }
    }
    return 0;
}

void payload_main(const char *fdt);
void payload_main(const char *fdt)
{
    payload_start(0);
    puts_("HOSTILE start\n");
    info("tc_pa", tc_pa());
    if (has_case(fdt, "basic")) {
        case_basic();
    } else if (has_case(fdt, "exhaust")) {
        case_exhaust();
    } else if (has_case(fdt, "churn")) {
        case_churn();
    } else if (has_case(fdt, "unseen")) {
        case_unseen();
    } else {
        puts_("HOSTILE no case\n");
    }
    puts_("HOSTILE done\n");
    poweroff();
}
