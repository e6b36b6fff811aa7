/*
 * Bare-metal conformance payload for kvm-bt (kvm-unit-tests style).
 *
 * Exercises each class of privileged instruction a stock Linux e500mc guest
 * executes (shared/baseline/privileged-profile.txt), interrupts the monitor
 * reflects, and user-mode access to supervisor state. Every check prints
 * "PASS name" or "FAIL name: detail"; implementation-defined values print as
 * "INFO name=value". Run under -accel tcg and -accel kvm-bt, the output must
 * be identical. Each test loops so its sites get hot.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>

#include "baremetal.h"

#define LOOPS 64

/* SPR numbers (Power ISA 2.06 Book E, e500mc) */
#define SPR_DECAR   54
#define SPR_USPRG0  256
#define SPR_USPRG3  259
#define SPR_USPRG4  260
#define SPR_USPRG5  261
#define SPR_USPRG6  262
#define SPR_USPRG7  263
#define SPR_DBSR    304
#define SPR_DBCR0   308
#define SPR_TLB0CFG 688
#define SPR_TLB1CFG 689
#define SPR_EPR     702
#define SPR_EPLC    947
#define SPR_HID0    1008
#define SPR_L1CSR0  1010
#define SPR_L1CSR1  1011
#define SPR_BUCSR   1013
#define SPR_MMUCFG  1015
#define SPR_SVR     1023

#define MSR_CE      0x00020000
#define MSR_ME      0x00001000
#define MSR_FP      0x00002000
#define MSR_DE      0x00000200
#define ESR_PPR     0x04000000      /* privileged instruction */
#define ESR_ST      0x00800000      /* store */

static inline void mtmsr(uint32_t v)
{
    asm volatile("mtmsr %0; isync" :: "r"(v) : "memory");
}

/* ---- interrupts -------------------------------------------------------- */

volatile uint32_t user_resume_pc, user_resume_msr;
static volatile uint32_t irq_count[17];
static volatile uint32_t last_srr0, last_srr1, last_esr, last_dear;

extern char vectors[];
extern void run_user(void (*fn)(void));

/* frame: r1-relative save area of start.S; word 2 = r0, word 13 = LR */
/* test_pid_syscall: a word the system call handler reads, and how it went */
static volatile uint32_t *volatile sc_probe;
static volatile uint32_t sc_probe_val, sc_probe_misses;

void exception_dispatch(int vec, uint32_t *frame);
void exception_dispatch(int vec, uint32_t *frame)
{
    if (vec == 8 && sc_probe) {
        uint32_t before = irq_count[13];

        sc_probe_val = *sc_probe;
        sc_probe_misses = irq_count[13] - before;
    }
    irq_count[vec]++;
    if (vec == 0 || vec == 12 || vec == 15) {
        last_srr0 = mfspr(SPR_CSRR0);
        last_srr1 = mfspr(SPR_CSRR1);
    } else {
        last_srr0 = mfspr(SPR_SRR0);
        last_srr1 = mfspr(SPR_SRR1);
    }
    last_esr = mfspr(SPR_ESR);
    last_dear = mfspr(SPR_DEAR);

    switch (vec) {
    case 2:     /* DSI */
    case 5:     /* alignment */
    case 6:     /* program: skip the faulting instruction */
    case 13:    /* DTLB miss */
        mtspr(SPR_SRR0, last_srr0 + 4);
        break;
    case 8:     /* system call */
        if (frame[2] == USER_EXIT_MAGIC && (last_srr1 & MSR_PR)) {
            mtspr(SPR_SRR0, user_resume_pc);
            mtspr(SPR_SRR1, user_resume_msr);
        }
        break;
    case 10:    /* decrementer: acknowledge and stop */
        mtspr(SPR_TCR, 0);
        mtspr(SPR_TSR, TSR_DIS);
        break;
    case 14:    /* ITLB miss: return to the caller of the unmapped function */
        mtspr(SPR_SRR0, frame[13]);
        break;
    default:
        break;
    }
}

static void reset_irqs(void)
{
    for (int i = 0; i < 17; i++) {
        irq_count[i] = 0;
    }
}

/* ---- tests -------------------------------------------------------------- */

static void test_msr(void)
{
    static const struct { const char *name; uint32_t bit; } bits[] = {
        { "msr.ee", MSR_EE }, { "msr.ce", MSR_CE },
        { "msr.fp", MSR_FP }, { "msr.de", MSR_DE },
    };
    uint32_t base = mfmsr() & ~(MSR_EE | MSR_CE | MSR_DE);

    info("msr.initial", base);
    for (unsigned b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
        uint32_t ok = 1;

        for (int i = 0; i < LOOPS; i++) {
            mtmsr(base | bits[b].bit);
            ok &= (mfmsr() & bits[b].bit) != 0;
            mtmsr(base & ~bits[b].bit);
            ok &= (mfmsr() & bits[b].bit) == 0;
        }
        CHECK_EQ(bits[b].name, "mtmsr/mfmsr set and clear", ok, 1);
    }
    mtmsr(base);
    /* bits this model may not let a guest change read back as the model says */
    mtmsr(base | MSR_ME);
    info("msr.me_set", mfmsr());
    mtmsr(base);
    mtmsr(base | 0x00000002 | 0x00000004 | 0x04000000);
    info("msr.other_bits", mfmsr());
    mtmsr(base);
}

/* Arm the decrementer and wait until it is pending with EE off. */
static void pending_decrementer(void)
{
    asm volatile("wrteei 0");
    mtspr(SPR_DEC, 0x7fffffff);
    mtspr(SPR_TSR, TSR_DIS);
    mtspr(SPR_TCR, TCR_DIE);
    mtspr(SPR_DEC, 50);
    while (!(mfspr(SPR_TSR) & TSR_DIS)) {
    }
}

static void test_wrtee(void)
{
    uint32_t ok_wrteei = 1, ok_wrtee = 1, ok_mtmsr = 1, ok_masked = 1;

    for (int i = 0; i < LOOPS; i++) {
        uint32_t after, ee = MSR_EE;

        reset_irqs();
        pending_decrementer();
        /* masked: nothing happens while EE is off */
        asm volatile("wrteei 0; isync");
        ok_masked &= irq_count[10] == 0;
        asm volatile("wrteei 1\n1:\tlis %0,1b@ha\n\taddi %0,%0,1b@l" : "=b"(after));
        ok_wrteei &= irq_count[10] == 1 && last_srr0 == after && (last_srr1 & MSR_EE);
        asm volatile("wrteei 0");

        reset_irqs();
        pending_decrementer();
        asm volatile("wrtee %1\n1:\tlis %0,1b@ha\n\taddi %0,%0,1b@l" : "=b"(after) : "r"(ee));
        ok_wrtee &= irq_count[10] == 1 && last_srr0 == after;
        asm volatile("wrteei 0");

        reset_irqs();
        pending_decrementer();
        ee = mfmsr() | MSR_EE;
        asm volatile("mtmsr %1\n1:\tlis %0,1b@ha\n\taddi %0,%0,1b@l" : "=b"(after) : "r"(ee));
        ok_mtmsr &= irq_count[10] == 1 && last_srr0 == after;
        asm volatile("wrteei 0");
    }
    CHECK_EQ("wrteei.masked_dec_waits", "no interrupt with EE=0", ok_masked, 1);
    CHECK_EQ("wrteei.pending_dec", "interrupt right after wrteei 1", ok_wrteei, 1);
    CHECK_EQ("wrtee.pending_dec", "interrupt right after wrtee", ok_wrtee, 1);
    CHECK_EQ("mtmsr.pending_dec", "interrupt right after mtmsr EE", ok_mtmsr, 1);
}

/* read/write SPRs: write patterns, read back the same */
#define RW_SPRS(X) \
    X(SPRG0, SPR_SPRG0) X(SPRG1, SPR_SPRG1) X(SPRG2, SPR_SPRG2) X(SPRG3, SPR_SPRG3) \
    X(SPRG4, SPR_SPRG4) X(SPRG5, SPR_SPRG5) X(SPRG6, SPR_SPRG6) X(SPRG7, SPR_SPRG7) \
    X(SRR0, SPR_SRR0) X(SRR1, SPR_SRR1) X(CSRR0, SPR_CSRR0) X(CSRR1, SPR_CSRR1)     \
    X(DEAR, SPR_DEAR) X(ESR, SPR_ESR) X(USPRG0, SPR_USPRG0)

static void test_spr_rw(void)
{
    static const uint32_t patterns[] = { 0, 0xffffffff, 0xa5a5a5a5, 0x12345678, 0xc0000000 };

#define TEST_RW(name, n) {                                                  \
        uint32_t ok = 1, saved = mfspr(n), bad = 0;                         \
        for (int i = 0; i < LOOPS; i++) {                                   \
            uint32_t p = patterns[i % 5] ^ (uint32_t)i;                     \
            mtspr(n, p);                                                    \
            if (mfspr(n) != p) {                                            \
                ok = 0;                                                     \
                bad = mfspr(n);                                             \
            }                                                               \
        }                                                                   \
        mtspr(n, saved);                                                    \
        result(ok, "spr." #name, "read back", bad, 0);                     \
    }
    RW_SPRS(TEST_RW)
#undef TEST_RW

    /* SPRG3-7 through their user-read aliases, from supervisor state */
    {
        uint32_t ok = 1;

        for (int i = 0; i < LOOPS; i++) {
            mtspr(SPR_SPRG3, 0x300 + i);
            mtspr(SPR_SPRG4, 0x400 + i);
            mtspr(SPR_SPRG5, 0x500 + i);
            mtspr(SPR_SPRG6, 0x600 + i);
            mtspr(SPR_SPRG7, 0x700 + i);
            ok &= mfspr(SPR_USPRG3) == 0x300u + i && mfspr(SPR_USPRG4) == 0x400u + i &&
                  mfspr(SPR_USPRG5) == 0x500u + i && mfspr(SPR_USPRG6) == 0x600u + i &&
                  mfspr(SPR_USPRG7) == 0x700u + i;
        }
        CHECK_EQ("spr.sprg_user_aliases", "USPRG3-7 read SPRG3-7", ok, 1);
    }
}

static void test_spr_mmu_timer(void)
{
    uint32_t ok = 1;

    /* MAS registers hold what is written (valid field values) */
    for (int i = 0; i < LOOPS; i++) {
        mtspr(SPR_MAS0, 0x10000000 | ((i & 3) << 16));
        mtspr(SPR_MAS1, MAS1_VALID | MAS1_TSIZE(1) | ((i & 0xff) << 16));
        mtspr(SPR_MAS2, 0x40000000 | 0x8);
        mtspr(SPR_MAS3, 0x00200000 | 0x15);
        mtspr(SPR_MAS7, i & 0xf);
        mtspr(SPR_MAS6, (i & 0xff) << 16);
        ok &= mfspr(SPR_MAS0) == (0x10000000u | ((i & 3) << 16));
        ok &= mfspr(SPR_MAS1) == (MAS1_VALID | MAS1_TSIZE(1) | ((i & 0xff) << 16));
        ok &= mfspr(SPR_MAS2) == 0x40000008u && mfspr(SPR_MAS3) == 0x00200015u;
        ok &= mfspr(SPR_MAS7) == (uint32_t)(i & 0xf) && mfspr(SPR_MAS6) == (uint32_t)((i & 0xff) << 16);
    }
    CHECK_EQ("spr.mas", "MAS0-3,6,7 read back", ok, 1);
    mtspr(SPR_MAS4, 0x00000100);
    info("spr.mas4", mfspr(SPR_MAS4));

    /* PID */
    ok = 1;
    for (int i = 0; i < LOOPS; i++) {
        mtspr(SPR_PID, i & 0xff);
        ok &= mfspr(SPR_PID) == (uint32_t)(i & 0xff);
    }
    mtspr(SPR_PID, 0);
    CHECK_EQ("spr.pid", "PID read back", ok, 1);

    /* TCR holds its value; TSR bits are write-one-to-clear; DEC counts down */
    mtspr(SPR_TCR, 0);
    CHECK_EQ("spr.tcr", "TCR read back", mfspr(SPR_TCR), 0);
    /* a decrementer far from expiry, then every TSR status bit cleared */
    mtspr(SPR_DEC, 0x7fffffff);
    mtspr(SPR_TSR, 0xffffffff);
    CHECK_EQ("spr.tsr", "TSR cleared by writing ones", mfspr(SPR_TSR) & (TSR_DIS | 0x40000000), 0);

    /* IVPR/IVORs hold the vector layout we installed */
    CHECK_EQ("spr.ivpr", "IVPR", mfspr(SPR_IVPR), (uint32_t)vectors & 0xffff0000);
    CHECK_EQ("spr.ivor8", "IVOR8", mfspr(SPR_IVOR(8)), ((uint32_t)vectors & 0xffff) + 0x800);

    /* read-only and implementation registers: compared across accelerators */
    info("spr.pvr", mfspr(SPR_PVR));
    info("spr.svr", mfspr(SPR_SVR));
    info("spr.pir", mfspr(SPR_PIR));
    info("spr.mmucfg", mfspr(SPR_MMUCFG));
    info("spr.tlb0cfg", mfspr(SPR_TLB0CFG));
    info("spr.tlb1cfg", mfspr(SPR_TLB1CFG));
    info("spr.epr", mfspr(SPR_EPR));
    mtspr(SPR_L1CSR0, mfspr(SPR_L1CSR0));
    mtspr(SPR_L1CSR1, mfspr(SPR_L1CSR1));
    info("spr.l1csr0", mfspr(SPR_L1CSR0));
    info("spr.l1csr1", mfspr(SPR_L1CSR1));
    mtspr(SPR_BUCSR, 0x00000200);
    info("spr.hid0", mfspr(SPR_HID0));
    mtspr(SPR_DBCR0, 0);
    mtspr(SPR_DBSR, 0xffffffff);
    info("spr.dbsr", mfspr(SPR_DBSR));
}

static void test_rfi(void)
{
    uint32_t ok_rfi = 1, ok_rfci = 1;

    for (int i = 0; i < LOOPS; i++) {
        uint32_t x;

        asm volatile("lis 9,1f@ha\n\taddi 9,9,1f@l\n\tmtsrr0 9\n\tmfmsr 10\n\tmtsrr1 10\n\t"
                     "li %0,0\n\trfi\n\tli %0,99\n1:\taddi %0,%0,1"
                     : "=&r"(x) :: "r9", "r10", "memory");
        ok_rfi &= x == 1;
        asm volatile("lis 9,1f@ha\n\taddi 9,9,1f@l\n\tmtspr 58,9\n\tmfmsr 10\n\tmtspr 59,10\n\t"
                     "li %0,0\n\trfci\n\tli %0,99\n1:\taddi %0,%0,1"
                     : "=&r"(x) :: "r9", "r10", "memory");
        ok_rfci &= x == 1;
    }
    CHECK_EQ("rfi", "returns to SRR0", ok_rfi, 1);
    CHECK_EQ("rfci", "returns to CSRR0", ok_rfci, 1);
}

static uint32_t tlbsx(uint32_t ea)
{
    mtspr(SPR_MAS6, 0);
    mtspr(SPR_MAS1, 0);
    asm volatile("tlbsx 0,%0" :: "r"(ea) : "memory");
    return mfspr(SPR_MAS1);
}

static void test_tlb(void)
{
    volatile uint32_t *virt = (volatile uint32_t *)0x40000000;
    volatile uint32_t *phys = (volatile uint32_t *)0x00200000;
    const uint32_t mas1 = MAS1_VALID | MAS1_TSIZE(10);   /* 1 MiB */
    uint32_t ok_map = 1, ok_re = 1, ok_sx = 1, ok_ivax = 1, ok_ilx = 1;

    for (int i = 0; i < LOOPS; i++) {
        tlb1_write(3, mas1, 0x40000000, 0x00200000 | 0x15, 0);
        virt[i] = 0xdead0000 + i;
        ok_map &= phys[i] == 0xdead0000u + i;

        mtspr(SPR_MAS0, 0x10000000 | (3 << 16));
        mtspr(SPR_MAS1, 0);
        mtspr(SPR_MAS2, 0);
        mtspr(SPR_MAS3, 0);
        asm volatile("tlbre" ::: "memory");
        ok_re &= mfspr(SPR_MAS1) == mas1 && mfspr(SPR_MAS2) == 0x40000000u &&
                 mfspr(SPR_MAS3) == 0x00200015u;

        ok_sx &= (tlbsx(0x40000000 + 4 * i) & MAS1_VALID) &&
                 ((mfspr(SPR_MAS0) >> 16) & 0xfff) == 3 && mfspr(SPR_MAS2) == 0x40000000u;
        ok_sx &= !(tlbsx(0x48000000) & MAS1_VALID);

        /* tlbivax: EA plus TLB1 select (0x8) */
        asm volatile("tlbivax 0,%0; tlbsync; isync" :: "r"(0x40000000 | 0x8) : "memory");
        ok_ivax &= !(tlbsx(0x40000000) & MAS1_VALID);

        tlb1_write(3, mas1, 0x40000000, 0x00200000 | 0x15, 0);
        asm volatile("tlbilx 3,0,%0; isync" :: "r"(0x40000000) : "memory");
        ok_ilx &= !(tlbsx(0x40000000) & MAS1_VALID);
    }
    CHECK_EQ("tlbwe.map", "data through the new mapping", ok_map, 1);
    CHECK_EQ("tlbre", "reads back the entry", ok_re, 1);
    CHECK_EQ("tlbsx", "finds the entry, misses elsewhere", ok_sx, 1);
    CHECK_EQ("tlbivax", "invalidates the entry", ok_ivax, 1);
    CHECK_EQ("tlbilx", "invalidates by address", ok_ilx, 1);
}

/*
 * Supervisor accesses through an entry of another PID, right after mtspr
 * PID: it must hit at once (under bt=on a change from PID 0 is deferred
 * and the TLB miss it leaves is retried with the new PID, never delivered),
 * and after the change back to PID 0 it must miss.
 */
#define PID_TEST_EA 0x70000000u

static void test_pid_switch(void)
{
    static volatile uint32_t cell[1024] __attribute__((aligned(4096)));
    volatile uint32_t *tid7 = (volatile uint32_t *)PID_TEST_EA;
    uint32_t ok_hit = 1, ok_miss = 1, ok_mas = 1;

    tlb1_write(5, MAS1_VALID | (7u << 16) | MAS1_TSIZE(2), PID_TEST_EA,
               (uint32_t)cell | 0x05 /* SR|SW */, 0);
    for (int i = 0; i < LOOPS; i++) {
        uint32_t v;

        cell[1] = 0x7e000000 + i;
        mtspr(SPR_MAS1, 0x1234 << 16);
        reset_irqs();
        asm volatile("mtspr 48,%0; isync" :: "r"(7) : "memory");
        v = tid7[1];
        ok_hit &= v == 0x7e000000u + i && irq_count[13] == 0;
        /* a TLB miss would have loaded MAS1 from MAS4 */
        ok_mas &= mfspr(SPR_MAS1) == 0x1234u << 16;
        asm volatile("mtspr 48,%0; isync" :: "r"(0) : "memory");
        (void)tid7[1];
        ok_miss &= irq_count[13] == 1 && last_dear == PID_TEST_EA + 4;
    }
    tlb1_write(5, 0, 0, 0, 0);
    CHECK_EQ("pid.switch_hits", "access through TID 7 right after mtspr PID,7", ok_hit, 1);
    CHECK_EQ("pid.switch_no_miss_state", "no TLB miss state left behind", ok_mas, 1);
    CHECK_EQ("pid.switch_back_misses", "the same access misses after mtspr PID,0", ok_miss, 1);
}

/*
 * Two entries at one address, TID 7 and TID 9, each to a page of its own:
 * every PID write must select the other page at once, for loads and
 * stores, however often the address was used under the other PID (kvm-bt
 * flushes only the pages entries with a non-zero TID map, not all of
 * QEMU's TLB: kvm-bt-pidtlb.c). A TID 0 page read in between reads the
 * same under every PID.
 */
static void test_pid_tags(void)
{
    static volatile uint32_t page7[1024] __attribute__((aligned(4096)));
    static volatile uint32_t page9[1024] __attribute__((aligned(4096)));
    static volatile uint32_t shared[1024] __attribute__((aligned(4096)));
    volatile uint32_t *ea = (volatile uint32_t *)PID_TEST_EA;
    uint32_t ok_load = 1, ok_store = 1, ok_tid0 = 1;

    tlb1_write(5, MAS1_VALID | (7u << 16) | MAS1_TSIZE(2), PID_TEST_EA,
               (uint32_t)page7 | 0x05 /* SR|SW */, 0);
    tlb1_write(6, MAS1_VALID | (9u << 16) | MAS1_TSIZE(2), PID_TEST_EA,
               (uint32_t)page9 | 0x05, 0);
    for (int i = 0; i < LOOPS; i++) {
        uint32_t a, b, c;

        page7[2] = 0x77000000u + i;
        page9[2] = 0x99000000u + i;
        shared[0] = i;
        reset_irqs();
        asm volatile("mtspr 48,%0; isync" :: "r"(7) : "memory");
        a = ea[2];
        ok_tid0 &= shared[0] == (uint32_t)i;
        asm volatile("mtspr 48,%0; isync" :: "r"(9) : "memory");
        b = ea[2];
        ea[3] = 0x9e000000u + i;
        ok_tid0 &= shared[0] == (uint32_t)i;
        asm volatile("mtspr 48,%0; isync" :: "r"(7) : "memory");
        c = ea[2];
        ea[3] = 0x7e000000u + i;
        asm volatile("mtspr 48,%0; isync" :: "r"(0) : "memory");
        ok_load &= a == 0x77000000u + i && b == 0x99000000u + i && c == a &&
                   irq_count[13] == 0;
        ok_store &= page9[3] == 0x9e000000u + i && page7[3] == 0x7e000000u + i;
    }
    tlb1_write(5, 0, 0, 0, 0);
    tlb1_write(6, 0, 0, 0, 0);
    CHECK_EQ("pid.tags_load", "one address, TID 7 and TID 9: each PID loads its own page",
             ok_load, 1);
    CHECK_EQ("pid.tags_store", "... and stores to its own page", ok_store, 1);
    CHECK_EQ("pid.tags_tid0", "a TID 0 page reads the same under every PID", ok_tid0, 1);
}

/* ---- problem state ----------------------------------------------------- */

static volatile uint32_t user_sprg4, user_tb_moves, user_allowed_prog, user_prog_esr[4],
                         user_prog_count;

static void user_body(void)
{
    uint32_t tb0;

    /* allowed: user-read aliases and the time base, with no program interrupt */
    irq_count[6] = 0;
    user_sprg4 = mfspr(SPR_USPRG4);
    tb0 = mfspr(SPR_TBL_R);
    for (volatile int spin = 0; spin < 1000; spin++) {
    }
    user_tb_moves = mfspr(SPR_TBL_R) != tb0;
    user_allowed_prog = irq_count[6];
    /* privileged: each must reach our program interrupt handler */
    irq_count[6] = 0;
    (void)mfspr(SPR_SPRG0);
    user_prog_esr[0] = last_esr;
    mtspr(SPR_PID, 5);
    user_prog_esr[1] = last_esr;
    (void)mfmsr();
    user_prog_esr[2] = last_esr;
    asm volatile("wrteei 1");
    user_prog_esr[3] = last_esr;
    user_prog_count = irq_count[6];
}

static void test_user(void)
{
    uint32_t ok_alias = 1, ok_tb = 1, ok_prog = 1, ok_pid = 1;

    for (int i = 0; i < LOOPS; i++) {
        mtspr(SPR_SPRG4, 0x4444 + i);
        mtspr(SPR_PID, 0);
        run_user(user_body);
        ok_alias &= user_sprg4 == 0x4444u + i && user_allowed_prog == 0;
        ok_tb &= user_tb_moves && user_allowed_prog == 0;
        ok_prog &= user_prog_count == 4 && (user_prog_esr[0] & ESR_PPR) &&
                   (user_prog_esr[1] & ESR_PPR) && (user_prog_esr[2] & ESR_PPR) &&
                   (user_prog_esr[3] & ESR_PPR);
        ok_pid &= mfspr(SPR_PID) == 0 && !(mfmsr() & MSR_EE);
    }
    CHECK_EQ("user.sprg4_alias", "user reads USPRG4", ok_alias, 1);
    CHECK_EQ("user.timebase", "user reads a moving TBL, no interrupt", ok_tb, 1);
    CHECK_EQ("user.privileged", "program interrupt with ESR[PPR] for each", ok_prog, 1);
    CHECK_EQ("user.no_effect", "PID and MSR[EE] unchanged", ok_pid, 1);
}

static void user_nothing(void)
{
}

/*
 * The system call handler reads through an entry of the PID user mode ran
 * with (under bt=on the monitor translates with PID 0 after a system call
 * from user mode, and retries what misses with the guest's PID).
 */
static void test_pid_syscall(void)
{
    static volatile uint32_t cell[1024] __attribute__((aligned(4096)));
    uint32_t ok = 1, ok_pid = 1;

    tlb1_write(5, MAS1_VALID | (7u << 16) | MAS1_TSIZE(2), PID_TEST_EA,
               (uint32_t)cell | 0x05 /* SR|SW */, 0);
    for (int i = 0; i < LOOPS; i++) {
        cell[2] = 0x5c000000 + i;
        sc_probe_val = 0;
        asm volatile("mtspr 48,%0; isync" :: "r"(7) : "memory");
        sc_probe = (volatile uint32_t *)(PID_TEST_EA + 8);
        run_user(user_nothing);
        sc_probe = 0;
        ok &= sc_probe_val == 0x5c000000u + i && sc_probe_misses == 0;
        ok_pid &= mfspr(SPR_PID) == 7;
        asm volatile("mtspr 48,%0; isync" :: "r"(0) : "memory");
    }
    tlb1_write(5, 0, 0, 0, 0);
    CHECK_EQ("pid.syscall_reads_user_tid", "sc handler reads through the caller's PID", ok, 1);
    CHECK_EQ("pid.syscall_keeps_pid", "PID still 7 after the system call", ok_pid, 1);
}

/* ---- interrupts the monitor reflects ----------------------------------- */

static void test_interrupts(void)
{
    uint32_t ok_sc = 1, ok_dtlb = 1, ok_itlb = 1, ok_dsi = 1, ok_align = 1;
    void (*unmapped)(void) = (void (*)(void))0x50000000;

    /* read-only mapping for the DSI test */
    tlb1_write(4, MAS1_VALID | MAS1_TSIZE(10), 0x60000000, 0x00300000 | 0x11, 0);
    for (int i = 0; i < LOOPS; i++) {
        uint32_t after;
        volatile uint32_t sink;

        reset_irqs();
        asm volatile("li 0,1\n\tsc\n1:\tlis %0,1b@ha\n\taddi %0,%0,1b@l"
                     : "=b"(after) :: "r0", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
                       "r10", "r11", "r12", "lr", "ctr", "memory");
        ok_sc &= irq_count[8] == 1 && last_srr0 == after;

        reset_irqs();
        sink = *(volatile uint32_t *)(0x50000000 + 8 * i);
        (void)sink;
        ok_dtlb &= irq_count[13] == 1 && last_dear == 0x50000000u + 8 * i;

        reset_irqs();
        unmapped();
        ok_itlb &= irq_count[14] == 1 && last_srr0 == 0x50000000u;

        reset_irqs();
        *(volatile uint32_t *)(0x60000000 + 4 * i) = 1;
        ok_dsi &= irq_count[2] == 1 && last_dear == 0x60000000u + 4 * i && (last_esr & ESR_ST);

        reset_irqs();
        {
            uint32_t v;
            asm volatile("lwarx %0,0,%1" : "=r"(v) : "r"(0x00300002 + 4 * i) : "memory");
        }
        ok_align &= irq_count[5] == 1 && last_dear == 0x00300002u + 4 * i;
    }
    CHECK_EQ("irq.syscall", "sc reaches IVOR8, SRR0 after sc", ok_sc, 1);
    CHECK_EQ("irq.dtlb_miss", "DTLB miss with DEAR", ok_dtlb, 1);
    CHECK_EQ("irq.itlb_miss", "ITLB miss with SRR0", ok_itlb, 1);
    CHECK_EQ("irq.dsi", "store to read-only page: DSI with DEAR, ESR[ST]", ok_dsi, 1);
    CHECK_EQ("irq.alignment", "misaligned lwarx: alignment with DEAR", ok_align, 1);
}

/*
 * lwepx: a supervisor-only load (external PID) the monitor's decoder does
 * not classify; kvm-bt warns once and executes it as TCG would.
 */
static void test_unclassified(void)
{
    static volatile uint32_t cell = 0x5a5a1234;
    uint32_t ok = 1;

    mtspr(SPR_EPLC, 0);     /* external PID context: PID 0, AS 0, supervisor */
    for (int i = 0; i < LOOPS; i++) {
        uint32_t v;

        cell = 0x5a5a0000 + i;
        asm volatile("lwepx %0,0,%1" : "=r"(v) : "r"(&cell) : "memory");
        ok &= v == 0x5a5a0000u + i;
    }
    CHECK_EQ("lwepx", "external-PID load reads memory", ok, 1);
}

void payload_main(void);
void payload_main(void)
{
    /* console: CCSR at PA 0xf_e000_0000, 1 MiB, cache-inhibited, guarded */
    tlb1_write(1, MAS1_VALID | MAS1_IPROT | MAS1_TSIZE(10), CCSR_EA | 0xa,
               CCSR_EA | 0x05, 0xf);
    setup_vectors();
    puts_("CONFORMANCE start\n");
    test_msr();
    test_wrtee();
    test_spr_rw();
    test_spr_mmu_timer();
    test_rfi();
    test_tlb();
    test_pid_switch();
    test_pid_tags();
    test_user();
    test_pid_syscall();
    test_interrupts();
    test_unclassified();
    puts_("CONFORMANCE done passed=");
    putd(passed);
    puts_(" failed=");
    putd(failed);
    putc_('\n');
    poweroff();
}
