/*
 * Bare-metal payload for kvm-bt's paravirtual interface (pv=on): KVM's
 * PowerPC hypercalls and the magic (shared) page.
 *
 * The payload first asks for the hypercall feature list. Without the PV
 * interface (-accel tcg, or kvm-bt without pv=on) the "sc" of the hypercall
 * sequence is an ordinary system call: our own handler recognises the magic
 * in r0, answers r3 = -1 and the payload prints "INFO pv=absent" and runs
 * only the checks that make sense without it. With it, the payload maps the
 * magic page at 0xFFFFF000 and checks the hypercall ABI, that every mirrored
 * register is visible both ways between the page and mfspr/mtspr, that the
 * page survives exits and interrupts, int_pending, the "critical" section
 * marker and that problem state never sees the page.
 *
 * Output as the conformance payload: "PASS name", "FAIL name: detail",
 * "INFO name=value", closing with "PV done passed=N failed=N".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>

#include "baremetal.h"

#define LOOPS 64

/* SPR numbers (Power ISA 2.06 Book E, e500mc) */

#define MAS3_UR     0x02

/* ---- the PV ABI -------------------------------------------------------- */

#define HC_MAGIC            0x4b564d21u             /* "KVM!" in r0 */
#define HC_TOKEN(v, n)      (((uint32_t)(v) << 16) | (n))
#define KVM_HC_FEATURES     HC_TOKEN(42, 3)
#define KVM_HC_MAP_MAGIC    HC_TOKEN(42, 4)
#define EV_IDLE             HC_TOKEN(1, 16)
#define EV_SUCCESS          0
#define EV_EINVAL           8
#define EV_UNIMPLEMENTED    12
#define KVM_FEATURE_MAGIC_PAGE_BIT  (1u << 1)
#define MAGIC_FEAT_SR               (1u << 0)
#define MAGIC_FEAT_MAS0_TO_SPRG7    (1u << 1)
#define MAGIC_FLAG_NOT_NX           1u
#define OWN_HANDLER_STATUS  0xffffffffu     /* what our sc handler answers */

/*
 * The magic page: struct kvm_vcpu_arch_shared, big-endian. Offsets below
 * are of the 32-bit word a 32-bit guest uses (the low word of a u64).
 */
#define PV_PAGE     0xfffff000u
#define PVW(off)    (*(volatile uint32_t *)(PV_PAGE + (off)))
#define PV_SCRATCH1     4
#define PV_SCRATCH1_HI  0
#define PV_SCRATCH2     12
#define PV_SCRATCH3     20
#define PV_CRITICAL     28
#define PV_SPRG0        36
#define PV_SPRG1        44
#define PV_SPRG2        52
#define PV_SPRG3        60
#define PV_SRR0         68
#define PV_SRR1         76
#define PV_DAR          84
#define PV_MSR          92
#define PV_DSISR        96
#define PV_INT_PENDING  100
#define PV_MAS0         168
#define PV_MAS1         172
#define PV_MAS7         176     /* mas7_3 high word */
#define PV_MAS3         180     /* mas7_3 low word */
#define PV_MAS2         188
#define PV_MAS4         192
#define PV_MAS6         196
#define PV_ESR          200
#define PV_PIR          204
#define PV_SPRG4        212
#define PV_SPRG5        220
#define PV_SPRG6        228
#define PV_SPRG7        236

/* the registers the page mirrors: name, SPR, page offset */
#define MIRRORED(X)                                                             \
    X(sprg0, SPR_SPRG0, PV_SPRG0) X(sprg1, SPR_SPRG1, PV_SPRG1)                 \
    X(sprg2, SPR_SPRG2, PV_SPRG2) X(sprg3, SPR_SPRG3, PV_SPRG3)                 \
    X(sprg4, SPR_SPRG4, PV_SPRG4) X(sprg5, SPR_SPRG5, PV_SPRG5)                 \
    X(sprg6, SPR_SPRG6, PV_SPRG6) X(sprg7, SPR_SPRG7, PV_SPRG7)                 \
    X(srr0, SPR_SRR0, PV_SRR0) X(srr1, SPR_SRR1, PV_SRR1)                       \
    X(dear, SPR_DEAR, PV_DAR) X(esr, SPR_ESR, PV_ESR)                           \
    X(mas0, SPR_MAS0, PV_MAS0) X(mas1, SPR_MAS1, PV_MAS1)                       \
    X(mas2, SPR_MAS2, PV_MAS2) X(mas3, SPR_MAS3, PV_MAS3)                       \
    X(mas4, SPR_MAS4, PV_MAS4) X(mas6, SPR_MAS6, PV_MAS6)                       \
    X(mas7, SPR_MAS7, PV_MAS7)

/* the subset a system call interrupt leaves alone */
#define KEPT_BY_SC(X)                                                           \
    X(sprg0, SPR_SPRG0, PV_SPRG0) X(sprg1, SPR_SPRG1, PV_SPRG1)                 \
    X(sprg2, SPR_SPRG2, PV_SPRG2) X(sprg3, SPR_SPRG3, PV_SPRG3)                 \
    X(sprg4, SPR_SPRG4, PV_SPRG4) X(sprg5, SPR_SPRG5, PV_SPRG5)                 \
    X(sprg6, SPR_SPRG6, PV_SPRG6) X(sprg7, SPR_SPRG7, PV_SPRG7)                 \
    X(dear, SPR_DEAR, PV_DAR)                                                   \
    X(mas0, SPR_MAS0, PV_MAS0) X(mas1, SPR_MAS1, PV_MAS1)                       \
    X(mas2, SPR_MAS2, PV_MAS2) X(mas3, SPR_MAS3, PV_MAS3)                       \
    X(mas4, SPR_MAS4, PV_MAS4) X(mas6, SPR_MAS6, PV_MAS6)                       \
    X(mas7, SPR_MAS7, PV_MAS7)

static inline uint32_t mftb(void)
{
    return mfspr(SPR_TBL_R);    /* user-readable: no exit */
}

/* ---- interrupts -------------------------------------------------------- */

volatile uint32_t user_resume_pc, user_resume_msr;
static volatile uint32_t irq_count[17];
static volatile uint32_t last_srr0, last_srr1, last_esr, last_dear;
/* hypercall-sequence sc's that reached our handler, by mode */
static volatile uint32_t magic_sc_super, magic_sc_user;
static volatile uint32_t idle_skipped;

extern char vectors[];
extern void run_user(void (*fn)(void));
/* labels in hcall() and idle_once() */
extern char pv_hc_ret[], pv_idle_start[], pv_idle_end[];

/* frame: r1-relative save area of start.S; word 2 = r0, word 3 = r3, word 13 = LR */
void exception_dispatch(int vec, uint32_t *frame);
void exception_dispatch(int vec, uint32_t *frame)
{
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
        } else if (frame[2] == HC_MAGIC) {
            /* a hypercall nobody intercepted: answer as "not here" */
            frame[3] = OWN_HANDLER_STATUS;
            if (last_srr1 & MSR_PR) {
                magic_sc_user++;
            } else {
                magic_sc_super++;
            }
        }
        break;
    case 10:    /* decrementer: acknowledge and stop */
        mtspr(SPR_TCR, 0);
        mtspr(SPR_TSR, TSR_DIS);
        /* taken before the idle hypercall's sc: do not idle with nothing to wake us */
        if (last_srr0 >= (uint32_t)pv_idle_start && last_srr0 < (uint32_t)pv_idle_end) {
            mtspr(SPR_SRR0, (uint32_t)pv_idle_end);
            idle_skipped++;
        }
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

/* ---- hypercalls --------------------------------------------------------- */

static int pv_present;
static uint32_t hcalls_made;        /* supervisor hypercalls with PV present */

struct hc_result {
    uint32_t r3, r4;
    uint32_t kept;      /* r5-r10, r14-r17 and CR2-4 as they were */
};

/*
 * One hypercall: r11 = token, r3/r4 = arguments, r5-r10 garbage (derived
 * from @salt). Volatile per ePAPR: r0, r3-r12, CR0/1/5-7, CTR, XER, LR.
 */
static __attribute__((noinline, noclone)) struct hc_result
hcall(uint32_t token, uint32_t a3, uint32_t a4, uint32_t salt)
{
    register uint32_t r0 asm("r0");
    register uint32_t r3 asm("r3") = a3;
    register uint32_t r4 asm("r4") = a4;
    register uint32_t r5 asm("r5") = 0xdead0505 ^ salt;
    register uint32_t r6 asm("r6") = 0xbeef0606 + salt;
    register uint32_t r7 asm("r7") = ~salt;
    register uint32_t r8 asm("r8") = salt * 0x01010101;
    register uint32_t r9 asm("r9") = 0x80000009 | salt;
    register uint32_t r10 asm("r10") = 0x0000ffff ^ (salt << 16);
    register uint32_t r11 asm("r11") = token;
    register uint32_t r14 asm("r14") = 0x14141414 ^ salt;
    register uint32_t r15 asm("r15") = 0x15151515 + salt;
    register uint32_t r16 asm("r16") = 0x16161616 - salt;
    register uint32_t r17 asm("r17") = 0x17171717 ^ (salt << 8);
    uint32_t crin = 0x00a5c000 ^ ((salt & 0xf) << 12), crout;
    struct hc_result res;

    asm volatile("mtcrf 0x38,%[crin]\n\t"
                 "lis 0,0x4b56\n\t"
                 "ori 0,0,0x4d21\n\t"
                 "sc\n"
                 "pv_hc_ret:\n\t"
                 "nop\n\t"
                 "mfcr %[crout]"
                 : "=&r"(r0), "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r7), "+r"(r8),
                   "+r"(r9), "+r"(r10), "+r"(r11), "+r"(r14), "+r"(r15), "+r"(r16), "+r"(r17),
                   [crout] "=&r"(crout)
                 : [crin] "r"(crin)
                 : "r12", "cr0", "cr1", "cr2", "cr3", "cr4", "cr5", "cr6", "cr7",
                   "ctr", "xer", "lr", "memory");
    (void)r0;
    res.r3 = r3;
    res.r4 = r4;
    res.kept = r5 == (0xdead0505 ^ salt) && r6 == 0xbeef0606 + salt && r7 == ~salt &&
               r8 == salt * 0x01010101 && r9 == (0x80000009 | salt) &&
               r10 == (0x0000ffff ^ (salt << 16)) && r14 == (0x14141414 ^ salt) &&
               r15 == 0x15151515 + salt && r16 == 0x16161616 - salt &&
               r17 == (0x17171717 ^ (salt << 8)) &&
               (crout & 0x00fff000) == (crin & 0x00fff000);
    if (pv_present) {
        hcalls_made++;
    }
    return res;
}

/* ---- helpers ------------------------------------------------------------ */

/* Load from @ea in supervisor state; returns 1 and the value if no interrupt. */
static int probe_read(uint32_t ea, uint32_t *val)
{
    uint32_t v = 0xbad0bad0;

    reset_irqs();
    asm volatile("lwz %0,0(%1)" : "+r"(v) : "b"(ea) : "memory");
    *val = v;
    return irq_count[13] == 0 && irq_count[2] == 0;
}

/* Does a supervisor load of @ea take a DTLB miss with DEAR = @ea? */
static int read_misses(uint32_t ea)
{
    uint32_t v;

    return !probe_read(ea, &v) && irq_count[13] == 1 && last_dear == ea;
}

static uint32_t pattern(int i)
{
    static const uint32_t p[] = { 0, 0xffffffff, 0xa5a5a5a5, 0x12345678, 0xc0000000 };

    return p[i % 5] ^ ((uint32_t)i * 0x00010001);
}

static void arm_dec(uint32_t ticks)
{
    mtspr(SPR_DEC, 0x7fffffff);
    mtspr(SPR_TSR, TSR_DIS);
    mtspr(SPR_TCR, TCR_DIE);
    mtspr(SPR_DEC, ticks);
}

/* ---- without PV --------------------------------------------------------- */

static void test_absent(void)
{
    struct first_bad hc = FIRST_BAD_INIT, unm = FIRST_BAD_INIT;

    for (int i = 0; i < LOOPS; i++) {
        struct hc_result r;

        reset_irqs();
        r = hcall(KVM_HC_MAP_MAGIC, PV_PAGE, PV_PAGE | MAGIC_FLAG_NOT_NX, i);
        note(&hc, irq_count[8], 1);
        note(&hc, r.r3, OWN_HANDLER_STATUS);
        note(&hc, last_srr0, (uint32_t)pv_hc_ret);
        note(&hc, r.kept, 1);
        note(&unm, read_misses(PV_PAGE + 4 * (i & 7)), 1);
    }
    REPORT("pv.absent.hcall_is_syscall", "hypercall sequence reaches IVOR8 (count, r3, SRR0, regs)", hc);
    REPORT("pv.absent.page_unmapped", "supervisor read of 0xFFFFF000 takes a DTLB miss", unm);
}

/* ---- 1: hypercall ABI ----------------------------------------------------- */

static uint32_t magic_features;

static int test_hcall_abi(void)
{
    struct first_bad feat = FIRST_BAD_INIT, bad_before = FIRST_BAD_INIT, map = FIRST_BAD_INIT;
    struct first_bad bad_after = FIRST_BAD_INIT, unk = FIRST_BAD_INIT, kept = FIRST_BAD_INIT;
    static const uint32_t unknown[] = {
        HC_TOKEN(42, 0x99), HC_TOKEN(42, 0xffff), HC_TOKEN(0x55, 3), HC_TOKEN(1, 0x7ff),
        HC_TOKEN(0xffff, 4),
    };
    /* r3 (page), r4 (EA | flags) */
    static const uint32_t bad_maps[][2] = {
        { 0x12345000, 0x12345000 | MAGIC_FLAG_NOT_NX },    /* other EA */
        { PV_PAGE, 0xfffff004 },                            /* misaligned */
        { PV_PAGE, 0xfffff0f0 },                            /* garbage flags */
    };
    struct hc_result r;
    uint32_t v;

    for (int i = 0; i < LOOPS; i++) {
        r = hcall(KVM_HC_FEATURES, 0x33333333 ^ i, 0x44444444 ^ i, i);
        note(&feat, r.r3, EV_SUCCESS);
        note(&feat, r.r4 & KVM_FEATURE_MAGIC_PAGE_BIT, KVM_FEATURE_MAGIC_PAGE_BIT);
        note(&kept, r.kept, 1);
    }
    info("pv.features", r.r4);
    REPORT("pv.hc.features", "FEATURES: success with the magic page bit", feat);

    /* bad map requests before anything is mapped: errors, still nothing there */
    for (int i = 0; i < 16; i++) {
        for (unsigned b = 0; b < 3; b++) {
            r = hcall(KVM_HC_MAP_MAGIC, bad_maps[b][0], bad_maps[b][1], 100 + i);
            note(&bad_before, r.r3 != EV_SUCCESS, 1);
            note(&kept, r.kept, 1);
        }
        note(&bad_before, read_misses(PV_PAGE), 1);
        note(&bad_before, read_misses(0x12345000), 1);
    }
    info("pv.bad_map_status", r.r3);
    REPORT("pv.hc.bad_map_unmapped", "bad map requests fail, nothing mapped", bad_before);

    r = hcall(KVM_HC_MAP_MAGIC, PV_PAGE, PV_PAGE | MAGIC_FLAG_NOT_NX, 7);
    magic_features = r.r4;
    info("pv.magic_features", r.r4);
    note(&map, r.r3, EV_SUCCESS);
    note(&map, r.r4 & MAGIC_FEAT_MAS0_TO_SPRG7, MAGIC_FEAT_MAS0_TO_SPRG7);
    note(&map, r.kept, 1);
    note(&map, probe_read(PV_PAGE + PV_SCRATCH1, &v), 1);
    REPORT("pv.hc.map", "MAP_MAGIC_PAGE: success, MAS0_TO_SPRG7, page readable", map);
    if (!map.ok) {
        return 0;
    }
    PVW(PV_CRITICAL) = 0;

    /* bad map requests after the map: errors, the page stays where it is */
    for (int i = 0; i < 16; i++) {
        PVW(PV_SCRATCH1) = 0x5c5c0000 + i;
        PVW(PV_SCRATCH2) = ~(0x5c5c0000u + i);
        for (unsigned b = 0; b < 3; b++) {
            r = hcall(KVM_HC_MAP_MAGIC, bad_maps[b][0], bad_maps[b][1], 200 + i);
            note(&bad_after, r.r3 != EV_SUCCESS, 1);
            note(&kept, r.kept, 1);
        }
        note(&bad_after, probe_read(PV_PAGE + PV_SCRATCH1, &v), 1);
        note(&bad_after, v, 0x5c5c0000 + i);
        note(&bad_after, PVW(PV_SCRATCH2), ~(0x5c5c0000u + i));
        note(&bad_after, read_misses(0x12345000), 1);
    }
    REPORT("pv.hc.bad_map_keeps_page", "bad map requests fail, page unchanged", bad_after);

    for (int i = 0; i < LOOPS; i++) {
        uint32_t tok = unknown[i % 5];

        r = hcall(tok, tok, 0x12345678, 300 + i);
        note(&unk, r.r3, EV_UNIMPLEMENTED);
        note(&kept, r.kept, 1);
    }
    REPORT("pv.hc.unknown_token", "unknown tokens return EV_UNIMPLEMENTED", unk);
    REPORT("pv.hc.regs_kept", "r5-r10, r14-r17, CR2-4 preserved", kept);
    CHECK_EQ("pv.hc.not_reflected", "supervisor hypercalls seen by the guest's sc handler",
             magic_sc_super, 0);
    return 1;
}

/* ---- 2: every mirrored field, both ways ----------------------------------- */

static void test_mirror(void)
{
    uint32_t saved_mas4 = mfspr(SPR_MAS4);

#define TEST_MIRROR(name, spr, off) {                                       \
        struct first_bad to_page = FIRST_BAD_INIT, to_spr = FIRST_BAD_INIT; \
        uint32_t saved = mfspr(spr);                                        \
        for (int i = 0; i < LOOPS; i++) {                                   \
            uint32_t p = pattern(i), q = ~pattern(i + 2);                   \
            mtspr(spr, p);                                                  \
            note(&to_page, PVW(off), p);                                    \
            PVW(off) = q;                                                   \
            note(&to_spr, mfspr(spr), q);                                   \
        }                                                                   \
        mtspr(spr, saved);                                                  \
        REPORT("pv.mirror." #name ".mtspr_to_page", "page after mtspr", to_page); \
        REPORT("pv.mirror." #name ".page_to_mfspr", "mfspr after page store", to_spr); \
    }
    MIRRORED(TEST_MIRROR)
#undef TEST_MIRROR
    mtspr(SPR_MAS4, saved_mas4);

    /* MAS7 and MAS3 are the two halves of one u64 */
    {
        struct first_bad b = FIRST_BAD_INIT;

        for (int i = 0; i < LOOPS; i++) {
            mtspr(SPR_MAS7, i & 0xf);
            mtspr(SPR_MAS3, 0x00200015 + (i << 12));
            note(&b, PVW(PV_MAS7), i & 0xf);
            note(&b, PVW(PV_MAS3), 0x00200015 + (i << 12));
        }
        REPORT("pv.mirror.mas7_3", "MAS7 high word, MAS3 low word", b);
    }

    /* PIR: read only, the page shows it */
    {
        struct first_bad b = FIRST_BAD_INIT;

        for (int i = 0; i < LOOPS; i++) {
            note(&b, PVW(PV_PIR), mfspr(SPR_PIR));
        }
        info("pv.pir", PVW(PV_PIR));
        REPORT("pv.mirror.pir", "page pir == mfspr PIR", b);
    }

    /* MSR */
    {
        struct first_bad same = FIRST_BAD_INIT, ee_page = FIRST_BAD_INIT, ee_insn = FIRST_BAD_INIT;
        uint32_t m;

        asm volatile("wrteei 0" ::: "memory");
        m = mfmsr();
        for (int i = 0; i < LOOPS; i++) {
            note(&same, PVW(PV_MSR), mfmsr());
            PVW(PV_MSR) = m | MSR_EE;
            note(&ee_page, mfmsr(), m | MSR_EE);
            PVW(PV_MSR) = m & ~MSR_EE;
            note(&ee_page, mfmsr(), m & ~MSR_EE);
            asm volatile("wrteei 1" ::: "memory");
            note(&ee_insn, PVW(PV_MSR), m | MSR_EE);
            asm volatile("wrteei 0" ::: "memory");
            note(&ee_insn, PVW(PV_MSR), m & ~MSR_EE);
        }
        REPORT("pv.msr.page_is_msr", "page msr == mfmsr", same);
        REPORT("pv.msr.ee_by_page", "mfmsr sees EE stored to the page", ee_page);
        REPORT("pv.msr.ee_by_wrteei", "page msr follows wrteei", ee_insn);
    }
}

/* ---- 3: the page across exits and interrupts -------------------------------- */

static void test_persist(void)
{
    uint32_t saved_mas4 = mfspr(SPR_MAS4);

    /* store every field, one unrelated exit, read every field back */
    {
        struct first_bad b = FIRST_BAD_INIT, *acc = &b;

        for (int i = 0; i < LOOPS; i++) {
            uint32_t k = 0;

#define STORE(name, spr, off) k++; PVW(off) = pattern(i + k) ^ (0x01000000 * k);
#define VERIFY(name, spr, off) {                                            \
                uint32_t w_;                                                \
                k++;                                                        \
                w_ = pattern(i + k) ^ (0x01000000 * k);                     \
                note(acc, PVW(off), w_);                                    \
                note(acc, mfspr(spr), w_);                                  \
            }
            MIRRORED(STORE)
            (void)mfspr(SPR_PVR);
            k = 0;
            MIRRORED(VERIFY)
        }
        REPORT("pv.persist.exit", "page stores survive an unrelated exit", b);
    }

    /* a system call interrupt: page stores made just before it survive it */
    {
        struct first_bad kept = FIRST_BAD_INIT, srr = FIRST_BAD_INIT, msr = FIRST_BAD_INIT;
        struct first_bad *acc = &kept;

        for (int i = 0; i < LOOPS; i++) {
            uint32_t k = 0, after, m;

            asm volatile("wrteei 0" ::: "memory");
            m = mfmsr();
            KEPT_BY_SC(STORE)
            /* EE=1 by the page: the interrupt must see it in SRR1 */
            PVW(PV_MSR) = m | MSR_EE;
            reset_irqs();
            asm volatile("li 0,1\n\tsc\n1:\tlis %0,1b@ha\n\taddi %0,%0,1b@l"
                         : "=r"(after) :: "r0", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
                           "r10", "r11", "r12", "lr", "ctr", "memory");
            note(&srr, irq_count[8], 1);
            note(&srr, last_srr0, after);
            note(&srr, PVW(PV_SRR0), after);
            note(&srr, PVW(PV_SRR1), last_srr1);
            note(&msr, last_srr1, m | MSR_EE);
            note(&msr, PVW(PV_MSR), m | MSR_EE);
            asm volatile("wrteei 0" ::: "memory");
            k = 0;
            KEPT_BY_SC(VERIFY)
        }
        REPORT("pv.persist.irq_srr", "after sc: page srr0 = after sc, page srr1 = SRR1", srr);
        REPORT("pv.persist.irq_msr", "interrupt saw EE stored to the page", msr);
        REPORT("pv.persist.irq_fields", "page stores survive an interrupt", kept);
#undef STORE
#undef VERIFY
    }
    mtspr(SPR_MAS4, saved_mas4);
}

/* ---- 4: int_pending ----------------------------------------------------------- */

/* bound for waiting on the decrementer: 50 ms of 400 MHz timebase */
#define SPIN_TB 20000000u

/* disarm the decrementer and drop its status, whatever happened */
static void disarm_dec(void)
{
    asm volatile("wrteei 0" ::: "memory");
    mtspr(SPR_TCR, 0);
    mtspr(SPR_DEC, 0x7fffffff);
    mtspr(SPR_TSR, TSR_DIS);
}

static void test_int_pending(void)
{
    struct first_bad idle = FIRST_BAD_INIT, pend = FIRST_BAD_INIT, masked = FIRST_BAD_INIT;
    struct first_bad deliver = FIRST_BAD_INIT, clear = FIRST_BAD_INIT, pend_exit = FIRST_BAD_INIT;
    uint32_t pend_count = 0;

    for (int i = 0; i < LOOPS; i++) {
        uint32_t t0, after;

        reset_irqs();
        /* EE on by instruction, off again by the page alone */
        asm volatile("wrteei 1" ::: "memory");
        note(&idle, PVW(PV_INT_PENDING), 0);
        PVW(PV_MSR) = PVW(PV_MSR) & ~MSR_EE;
        arm_dec(50 + i);
        t0 = mftb();
        while (!PVW(PV_INT_PENDING) && mftb() - t0 < SPIN_TB) {
        }
        note(&pend, PVW(PV_INT_PENDING) != 0, 1);
        pend_count += PVW(PV_INT_PENDING) != 0;
        /* after an exit that sees the decrementer expired, at the latest */
        while (!(mfspr(SPR_TSR) & TSR_DIS) && mftb() - t0 < 2 * SPIN_TB) {
        }
        note(&pend_exit, PVW(PV_INT_PENDING) != 0, 1);
        note(&masked, irq_count[10], 0);
        asm volatile("wrteei 1\n1:\tlis %0,1b@ha\n\taddi %0,%0,1b@l" : "=b"(after) :: "memory");
        note(&deliver, irq_count[10], 1);
        note(&deliver, last_srr0, after);
        asm volatile("wrteei 0" ::: "memory");
        note(&clear, PVW(PV_INT_PENDING), 0);
        disarm_dec();
    }
    REPORT("pv.int_pending.zero_when_idle", "int_pending with nothing pending", idle);
    info("pv.int_pending.set_count", pend_count);
    REPORT("pv.int_pending.set", "int_pending set while the decrementer is masked, no exit", pend);
    REPORT("pv.int_pending.set_after_exit", "int_pending set after an exit", pend_exit);
    REPORT("pv.int_pending.masked", "no decrementer with page EE=0", masked);
    REPORT("pv.int_pending.wrteei_delivers", "decrementer right after wrteei 1", deliver);
    REPORT("pv.int_pending.clears", "int_pending after delivery", clear);
}

/* ---- 5: critical ----------------------------------------------------------------- */

/*
 * No calls between storing r1 to "critical" and clearing it: a call moves r1
 * and so ends the critical section early.
 */
static void test_critical(void)
{
    struct first_bad held = FIRST_BAD_INIT, fired = FIRST_BAD_INIT, released = FIRST_BAD_INIT;
    uint32_t pending_seen = 0;

    for (int i = 0; i < LOOPS; i++) {
        uint32_t sp, t0, n;

        reset_irqs();
        asm volatile("mr %0,1" : "=r"(sp));
        asm volatile("wrteei 1" ::: "memory");
        PVW(PV_CRITICAL) = sp;
        mtspr(SPR_DEC, 0x7fffffff);
        mtspr(SPR_TSR, TSR_DIS);
        mtspr(SPR_TCR, TCR_DIE);
        mtspr(SPR_DEC, 50 + i);
        /* until it expires: every mfspr TSR is an exit, still withheld */
        t0 = mftb();
        while (!(mfspr(SPR_TSR) & TSR_DIS) && mftb() - t0 < SPIN_TB) {
        }
        note(&fired, mfspr(SPR_TSR) & TSR_DIS, TSR_DIS);
        /* and a while without exits */
        for (n = 0; n < 2000 && !irq_count[10]; n++) {
        }
        pending_seen += PVW(PV_INT_PENDING) != 0;
        note(&held, irq_count[10], 0);
        /* release: no exit, the monitor notices by itself */
        PVW(PV_CRITICAL) = 0;
        t0 = mftb();
        while (!irq_count[10] && mftb() - t0 < SPIN_TB) {
        }
        note(&released, irq_count[10], 1);
        disarm_dec();
    }
    info("pv.critical.int_pending_seen", pending_seen);
    REPORT("pv.critical.fired", "decrementer expired inside the critical section", fired);
    REPORT("pv.critical.withheld", "no interrupt while critical == r1", held);
    REPORT("pv.critical.released", "interrupt once critical is cleared, without an exit", released);
}

/* ---- EV_IDLE ------------------------------------------------------------------- */

/* wrteei 1, then the idle hypercall; a decrementer is armed. Returns r3. */
static __attribute__((noinline, noclone)) uint32_t idle_once(void)
{
    register uint32_t r3 asm("r3");
    register uint32_t r11 asm("r11") = EV_IDLE;

    asm volatile("li 3,-2\n\t"
                 "wrteei 1\n"
                 "pv_idle_start:\n\t"
                 "lis 0,0x4b56\n\t"
                 "ori 0,0,0x4d21\n\t"
                 "sc\n"
                 "pv_idle_end:\n\t"
                 "nop\n\t"
                 "wrteei 0"
                 : "=&r"(r3), "+r"(r11)
                 :: "r0", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r12",
                    "cr0", "cr1", "cr5", "cr6", "cr7", "ctr", "xer", "lr", "memory");
    return r3;
}

#define IDLE_DEC 400000     /* 1 ms: long after the sc */

static void test_idle(void)
{
    struct first_bad woke = FIRST_BAD_INIT;
    uint32_t status = 0, min_ticks = 0xffffffff;

    idle_skipped = 0;
    for (int i = 0; i < 16; i++) {
        uint32_t t0;

        reset_irqs();
        asm volatile("wrteei 0" ::: "memory");
        arm_dec(IDLE_DEC);
        t0 = mftb();
        status = idle_once();
        t0 = mftb() - t0;
        min_ticks = t0 < min_ticks ? t0 : min_ticks;
        if (status != (uint32_t)-2) {
            hcalls_made++;
        }
        note(&woke, irq_count[10], 1);
        disarm_dec();
    }
    info("pv.idle.status", status);
    info("pv.idle.skipped", idle_skipped);
    /* timebase ticks in the shortest idle, from before arming the decrementer */
    info("pv.idle.min_ticks", min_ticks);
    REPORT("pv.idle", "EV_IDLE returns once the decrementer is delivered", woke);
    CHECK_EQ("pv.idle.ran", "idles not pre-empted by the decrementer", idle_skipped < 8, 1);
}

/*
 * Store @msr to the page's MSR, then the idle hypercall, in one straight
 * run of instructions (TCG checks for interrupts between blocks only, so
 * nothing is delivered between the store and the sc). Returns r3.
 */
static __attribute__((noinline, noclone)) uint32_t idle_sc_with_msr(uint32_t msr)
{
    register uint32_t r3 asm("r3");
    register uint32_t r11 asm("r11") = EV_IDLE;
    register uint32_t r5 asm("r5") = msr;
    register uint32_t r6 asm("r6") = PV_PAGE + PV_MSR;

    asm volatile("li 3,-2\n\t"
                 "lis 0,0x4b56\n\t"
                 "ori 0,0,0x4d21\n\t"
                 "stw 5,0(6)\n\t"
                 "sc\n"
                 "pv_idle_sc_end:\n\t"
                 "nop"
                 : "=&r"(r3), "+r"(r11), "+r"(r5), "+r"(r6)
                 :: "r0", "r4", "r7", "r8", "r9", "r10", "r12",
                    "cr0", "cr1", "cr5", "cr6", "cr7", "ctr", "xer", "lr", "memory");
    return r3;
}

extern char pv_idle_sc_end[];

/*
 * An interrupt already pending at the idle hypercall: the decrementer
 * expired while MSR[EE] was off, then the page alone gets EE (no exit)
 * right before the sc. KVM does not sleep then (the vCPU is runnable) and
 * delivers the interrupt at the instruction after the sc. Taken inside the
 * hypercall's exit while the vCPU was already marked halted, it left the
 * vCPU asleep in its handler with EE off: this payload stopped here, and
 * the PV guest under -smp 2 stalled for seconds.
 */
static void test_idle_pending(void)
{
    struct first_bad woke = FIRST_BAD_INIT, at = FIRST_BAD_INIT, st = FIRST_BAD_INIT;

    for (int i = 0; i < LOOPS; i++) {
        uint32_t t0, status;

        reset_irqs();
        asm volatile("wrteei 0" ::: "memory");
        arm_dec(50 + i);
        t0 = mftb();
        while (!(mfspr(SPR_TSR) & TSR_DIS) && mftb() - t0 < SPIN_TB) {
        }
        status = idle_sc_with_msr(PVW(PV_MSR) | MSR_EE);
        note(&woke, irq_count[10], 1);
        note(&at, last_srr0, (uint32_t)pv_idle_sc_end);
        note(&st, status, EV_SUCCESS);
        asm volatile("wrteei 0" ::: "memory");
        disarm_dec();
    }
    REPORT("pv.idle.pending", "EV_IDLE with a decrementer pending: delivered, no sleep", woke);
    REPORT("pv.idle.pending_at", "... at the instruction after the sc", at);
    REPORT("pv.idle.pending_status", "... and the hypercall succeeded", st);
    hcalls_made += LOOPS;
}

/*
 * The same with a doorbell (msgsnd to this CPU's own PIR): unlike the
 * decrementer it stops being pending once delivered, so a vCPU still
 * marked halted after taking it has nothing left to wake it (the PV
 * guest's stalls were doorbells, Linux's IPIs).
 */
static void test_idle_doorbell(void)
{
    struct first_bad woke = FIRST_BAD_INIT, at = FIRST_BAD_INIT, st = FIRST_BAD_INIT;

    for (int i = 0; i < LOOPS; i++) {
        register uint32_t rb asm("r9") = 0;     /* DBELL to PIR 0, no broadcast */
        uint32_t status;

        reset_irqs();
        asm volatile("wrteei 0\n\t"
                     ".long 0x7c00499c" /* msgsnd r9 */ :: "r"(rb) : "memory");
        status = idle_sc_with_msr(PVW(PV_MSR) | MSR_EE);
        note(&woke, irq_count[16], 1);
        note(&at, last_srr0, (uint32_t)pv_idle_sc_end);
        note(&st, status, EV_SUCCESS);
        asm volatile("wrteei 0" ::: "memory");
    }
    REPORT("pv.idle.doorbell", "EV_IDLE with a doorbell pending: delivered, no sleep", woke);
    REPORT("pv.idle.doorbell_at", "... at the instruction after the sc", at);
    REPORT("pv.idle.doorbell_status", "... and the hypercall succeeded", st);
    hcalls_made += LOOPS;
}

/* ---- 6: problem state ---------------------------------------------------------- */

static uint32_t user_page[1024] __attribute__((aligned(4096)));
static volatile uint32_t user_vals[4], user_faults, user_dear, user_hc_r3;

static const uint32_t user_offs[4] = { 0, PV_SCRATCH1, PV_SPRG0, PV_MSR };

static void user_read_body(void)
{
    volatile uint32_t *p = (volatile uint32_t *)PV_PAGE;

    irq_count[2] = 0;
    irq_count[13] = 0;
    for (int k = 0; k < 4; k++) {
        user_vals[k] = p[user_offs[k] / 4];
    }
    user_faults = irq_count[2] + irq_count[13];
    user_dear = last_dear;
}

/* the hypercall sequence in problem state: an ordinary system call */
static void user_hc_body(void)
{
    register uint32_t r3 asm("r3") = 0;
    register uint32_t r11 asm("r11") = KVM_HC_FEATURES;

    asm volatile("lis 0,0x4b56\n\tori 0,0,0x4d21\n\tsc\n\tnop"
                 : "+r"(r3), "+r"(r11)
                 :: "r0", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r12",
                    "cr0", "cr1", "cr5", "cr6", "cr7", "ctr", "xer", "lr", "memory");
    user_hc_r3 = r3;
}

static void test_user(void)
{
    struct first_bad unmapped = FIRST_BAD_INIT, mapped = FIRST_BAD_INIT;
    struct first_bad super = FIRST_BAD_INIT, hc = FIRST_BAD_INIT;

    for (int k = 0; k < 1024; k++) {
        user_page[k] = 0xc0de0000 + k;
    }
    if (pv_present) {
        mtspr(SPR_SPRG0, 0x5c5c0024);
    }
    for (int i = 0; i < LOOPS; i++) {
        if (pv_present) {
            PVW(PV_SCRATCH1_HI) = 0x5c5c0000 + i;
            PVW(PV_SCRATCH1) = 0x5c5c0004 + i;
        }
        /* no guest mapping at 0xFFFFF000: user loads miss */
        tlb1_write(5, 0, 0, 0, 0);
        run_user(user_read_body);
        note(&unmapped, user_faults, 4);
        note(&unmapped, user_dear, PV_PAGE + PV_MSR);

        /* a user-read-only guest mapping of our own memory */
        tlb1_write(5, MAS1_VALID | MAS1_TSIZE(2), PV_PAGE, (uint32_t)user_page | MAS3_UR, 0);
        run_user(user_read_body);
        note(&mapped, user_faults, 0);
        for (int k = 0; k < 4; k++) {
            note(&mapped, user_vals[k], user_page[user_offs[k] / 4]);
        }

        /* supervisor loads meanwhile: the page with PV, a DSI (no SR) without */
        {
            uint32_t v;
            int ok = probe_read(PV_PAGE + PV_SCRATCH1, &v);

            if (pv_present) {
                note(&super, ok, 1);
                note(&super, v, 0x5c5c0004 + i);
            } else {
                note(&super, irq_count[2], 1);
                note(&super, last_dear, PV_PAGE + PV_SCRATCH1);
            }
        }

        reset_irqs();
        magic_sc_user = 0;
        run_user(user_hc_body);
        note(&hc, magic_sc_user, 1);
        note(&hc, user_hc_r3, OWN_HANDLER_STATUS);
    }
    tlb1_write(5, 0, 0, 0, 0);
    REPORT("pv.user.unmapped_faults", "user loads at 0xFFFFF000 without a mapping miss", unmapped);
    REPORT("pv.user.own_mapping", "user loads see the guest's own page", mapped);
    REPORT(pv_present ? "pv.user.super_sees_page" : "pv.absent.user_map_super_dsi",
           pv_present ? "supervisor load reads the magic page" : "supervisor load: DSI", super);
    REPORT("pv.user.hcall_is_syscall", "user hypercall sequence reaches IVOR8", hc);
}

/* ---- main ------------------------------------------------------------------------ */

void payload_main(void);
void payload_main(void)
{
    struct hc_result r;

    payload_start(0);
    puts_("PV start\n");

    reset_irqs();
    r = hcall(KVM_HC_FEATURES, 0, 0, 0);
    pv_present = r.r3 == EV_SUCCESS;
    if (pv_present) {
        hcalls_made = 1;
        puts_("INFO pv=present\n");
        if (test_hcall_abi()) {
            test_mirror();
            test_persist();
            test_int_pending();
            test_critical();
            test_idle();
            test_idle_pending();
            test_idle_doorbell();
            test_user();
        } else {
            puts_("INFO pv.page=unmapped: page checks skipped\n");
        }
        CHECK_EQ("pv.hc.never_reflected", "supervisor hypercalls seen by the guest's sc handler",
                 magic_sc_super, 0);
        info("pv.hypercalls", hcalls_made);
    } else {
        info("pv.features_status", r.r3);
        puts_("INFO pv=absent\n");
        test_absent();
        test_user();
    }
    puts_("PV done passed=");
    putd(passed);
    puts_(" failed=");
    putd(failed);
    putc_('\n');
    poweroff();
}
