/*
 * kvm-bt translator core: the per-vCPU shared page
 *
 * The monitor maps one page per vCPU at effective address 0xFFFFF000 for
 * the guest's supervisor data accesses. With RA = 0 a D-form load or store
 * addresses the sign-extended displacement, so "lwz rD,-4096+off(0)" reaches
 * any field without needing a free base register: that is what lets a
 * single instruction replace a privileged one in place.
 *
 * The first part is laid out like KVM's kvm_vcpu_arch_shared (big-endian);
 * for its u64 fields a 32-bit guest accesses the low word, at +4. The offsets
 * below are those of the 32-bit word actually loaded or stored. From 0x800
 * on the page holds monitor-private mirrors (u32 each) that KVM does not
 * define.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_SHARED_PAGE_H
#define KVM_BT_SHARED_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_BT_SHARED_EA            0xFFFFF000u
#define KVM_BT_SHARED_SIZE          4096u

/* Displacement for "lwz/stw r,D(0)" reaching page offset @off */
#define KVM_BT_SHARED_D(off)        ((int16_t)((int)(off) - (int)KVM_BT_SHARED_SIZE))

/* KVM-defined fields (32-bit word accessed) */
#define KVM_BT_SH_SCRATCH1          4       /* u64 @0 */
#define KVM_BT_SH_SCRATCH2          12      /* u64 @8 */
#define KVM_BT_SH_SCRATCH3          20      /* u64 @16 */
#define KVM_BT_SH_CRITICAL          28      /* u64 @24 */
#define KVM_BT_SH_SPRG0             36      /* u64 @32 */
#define KVM_BT_SH_SPRG1             44      /* u64 @40 */
#define KVM_BT_SH_SPRG2             52      /* u64 @48 */
#define KVM_BT_SH_SPRG3             60      /* u64 @56 */
#define KVM_BT_SH_SRR0              68      /* u64 @64 */
#define KVM_BT_SH_SRR1              76      /* u64 @72 */
#define KVM_BT_SH_DAR               84      /* u64 @80, the e500's DEAR */
#define KVM_BT_SH_MSR               92      /* u64 @88 */
#define KVM_BT_SH_DSISR             96      /* u32 */
#define KVM_BT_SH_INT_PENDING       100     /* u32, non-zero: an interrupt is pending */
#define KVM_BT_SH_SR(n)             (104 + 4 * (n))     /* u32 sr[16] */
#define KVM_BT_SH_MAS0              168     /* u32 */
#define KVM_BT_SH_MAS1              172     /* u32 */
#define KVM_BT_SH_MAS7              176     /* high word of u64 mas7_3 @176 */
#define KVM_BT_SH_MAS3              180     /* low word of mas7_3 */
#define KVM_BT_SH_MAS2              188     /* u64 @184 */
#define KVM_BT_SH_MAS4              192     /* u32 */
#define KVM_BT_SH_MAS6              196     /* u32 */
#define KVM_BT_SH_ESR               200     /* u32 */
#define KVM_BT_SH_PIR               204     /* u32 */
#define KVM_BT_SH_SPRG4             212     /* u64 @208 */
#define KVM_BT_SH_SPRG5             220     /* u64 @216 */
#define KVM_BT_SH_SPRG6             228     /* u64 @224 */
#define KVM_BT_SH_SPRG7             236     /* u64 @232 */
#define KVM_BT_SH_KVM_END           240

/*
 * Monitor-private fields (u32 each). Read mirrors are refreshed by the
 * monitor at every exit: they hold registers whose value can only change
 * through an exit (or never), so a guest read between exits is exact.
 */
#define KVM_BT_SH_PRIV_BASE         0x800
#define KVM_BT_SH_PRIV_PID          0x800
#define KVM_BT_SH_PRIV_PVR          0x804
#define KVM_BT_SH_PRIV_SVR          0x808
#define KVM_BT_SH_PRIV_MMUCFG       0x80c
#define KVM_BT_SH_PRIV_TLB0CFG      0x810
#define KVM_BT_SH_PRIV_TLB1CFG      0x814
#define KVM_BT_SH_PRIV_TCR          0x818
#define KVM_BT_SH_PRIV_HID0         0x81c
#define KVM_BT_SH_PRIV_HID1         0x820
#define KVM_BT_SH_PRIV_L1CSR0       0x824
#define KVM_BT_SH_PRIV_L1CSR1       0x828
#define KVM_BT_SH_PRIV_L1CFG0       0x82c
#define KVM_BT_SH_PRIV_L1CFG1       0x830
#define KVM_BT_SH_PRIV_BUCSR        0x834
#define KVM_BT_SH_PRIV_END          0x838
/*
 * Written by the monitor only: the PID the CPU translates with. It is 0
 * while a translated mtspr PID is deferred, and after a system call from
 * user mode (the monitor drops it at that exit); otherwise it is PID.
 */
#define KVM_BT_SH_PID_CPU           0x838

/*
 * MSR bits the translated stubs may change without the monitor (32-bit).
 * KVM's PV interface shadows EE and RI; CE (critical interrupts) is masked
 * the same way and guarded by the same int_pending check, and QEMU's e500
 * clears it on every base interrupt, so Linux's prologs set it back each
 * time (DataStorage's "mtmsr CE|ME|RI").
 */
#define KVM_BT_MSR_CE               0x00020000u
#define KVM_BT_MSR_EE               0x00008000u
#define KVM_BT_MSR_RI               0x00000002u
#define KVM_BT_MSR_PAGE_WRITABLE    (KVM_BT_MSR_CE | KVM_BT_MSR_EE | KVM_BT_MSR_RI)

/* Book E SPR numbers the table below names */
enum {
    KVM_BT_SPR_SRR0 = 26,
    KVM_BT_SPR_SRR1 = 27,
    KVM_BT_SPR_PID = 48,
    KVM_BT_SPR_DEAR = 61,
    KVM_BT_SPR_ESR = 62,
    KVM_BT_SPR_SPRG3R = 259,    /* SPRG3R-7R: problem-state readable aliases */
    KVM_BT_SPR_SPRG4R = 260,
    KVM_BT_SPR_SPRG5R = 261,
    KVM_BT_SPR_SPRG6R = 262,
    KVM_BT_SPR_SPRG7R = 263,
    KVM_BT_SPR_SPRG0 = 272,
    KVM_BT_SPR_SPRG1 = 273,
    KVM_BT_SPR_SPRG2 = 274,
    KVM_BT_SPR_SPRG3 = 275,
    KVM_BT_SPR_SPRG4 = 276,
    KVM_BT_SPR_SPRG5 = 277,
    KVM_BT_SPR_SPRG6 = 278,
    KVM_BT_SPR_SPRG7 = 279,
    KVM_BT_SPR_PIR = 286,
    KVM_BT_SPR_PVR = 287,
    KVM_BT_SPR_TCR = 340,
    KVM_BT_SPR_L1CFG0 = 515,
    KVM_BT_SPR_L1CFG1 = 516,
    KVM_BT_SPR_MAS0 = 624,
    KVM_BT_SPR_MAS1 = 625,
    KVM_BT_SPR_MAS2 = 626,
    KVM_BT_SPR_MAS3 = 627,
    KVM_BT_SPR_MAS4 = 628,
    KVM_BT_SPR_MAS6 = 630,
    KVM_BT_SPR_TLB0CFG = 688,
    KVM_BT_SPR_TLB1CFG = 689,
    KVM_BT_SPR_MAS7 = 944,
    KVM_BT_SPR_HID0 = 1008,
    KVM_BT_SPR_HID1 = 1009,
    KVM_BT_SPR_L1CSR0 = 1010,
    KVM_BT_SPR_L1CSR1 = 1011,
    KVM_BT_SPR_BUCSR = 1013,
    KVM_BT_SPR_MMUCFG = 1015,
    KVM_BT_SPR_SVR = 1023,
};

/* How an access to a mirrored SPR may be translated */
typedef enum KvmBtSprPolicy {
    KVM_BT_SPR_EXIT = 0,    /* not translated: the access keeps exiting */
    KVM_BT_SPR_KVM,         /* KVM-mirrored: the page field is the register */
    KVM_BT_SPR_PRIVATE,     /* monitor-private field, synchronised at exits */
} KvmBtSprPolicy;

typedef struct KvmBtSprMirror {
    uint16_t spr;
    uint16_t offset;        /* page offset of the 32-bit word */
    uint8_t read;           /* KvmBtSprPolicy for mfspr */
    uint8_t write;          /* KvmBtSprPolicy for mtspr */
    const char *name;
} KvmBtSprMirror;

#define KVM_BT_MIRROR_(id, off, rd, wr) \
    { KVM_BT_SPR_##id, (off), KVM_BT_SPR_##rd, KVM_BT_SPR_##wr, #id }

/*
 * Every SPR the translator may replace by a page access. Anything not listed
 * (DEC, TSR, TBL/TBU, EPR, MCSR, ...) can change without an exit or has side
 * effects, so it keeps exiting.
 */
static inline const KvmBtSprMirror *kvm_bt_spr_mirrors(size_t *count)
{
    static const KvmBtSprMirror table[] = {
        /* KVM-mirrored, read and write: the page is the only copy */
        KVM_BT_MIRROR_(SRR0,    KVM_BT_SH_SRR0,         KVM,     KVM),
        KVM_BT_MIRROR_(SRR1,    KVM_BT_SH_SRR1,         KVM,     KVM),
        KVM_BT_MIRROR_(DEAR,    KVM_BT_SH_DAR,          KVM,     KVM),
        KVM_BT_MIRROR_(ESR,     KVM_BT_SH_ESR,          KVM,     KVM),
        KVM_BT_MIRROR_(SPRG0,   KVM_BT_SH_SPRG0,        KVM,     KVM),
        KVM_BT_MIRROR_(SPRG1,   KVM_BT_SH_SPRG1,        KVM,     KVM),
        KVM_BT_MIRROR_(SPRG2,   KVM_BT_SH_SPRG2,        KVM,     KVM),
        KVM_BT_MIRROR_(MAS0,    KVM_BT_SH_MAS0,         KVM,     KVM),
        KVM_BT_MIRROR_(MAS1,    KVM_BT_SH_MAS1,         KVM,     KVM),
        KVM_BT_MIRROR_(MAS2,    KVM_BT_SH_MAS2,         KVM,     KVM),
        KVM_BT_MIRROR_(MAS3,    KVM_BT_SH_MAS3,         KVM,     KVM),
        KVM_BT_MIRROR_(MAS4,    KVM_BT_SH_MAS4,         KVM,     KVM),
        KVM_BT_MIRROR_(MAS6,    KVM_BT_SH_MAS6,         KVM,     KVM),
        KVM_BT_MIRROR_(MAS7,    KVM_BT_SH_MAS7,         KVM,     KVM),
        /*
         * SPRG3-7 also have problem-state readable aliases (SPRG3R-7R, SPR
         * 259-263) that read the CPU register. A translated write reaches
         * only the page, so under bt=on the kernel's alias reads exit too
         * (answered from the page, or translated into page loads below),
         * and problem state is only entered through an exit (rfi, rfci,
         * rfmci, mtmsr), which copies the page into the CPU first.
         */
        KVM_BT_MIRROR_(SPRG3,   KVM_BT_SH_SPRG3,        KVM,     KVM),
        KVM_BT_MIRROR_(SPRG4,   KVM_BT_SH_SPRG4,        KVM,     KVM),
        KVM_BT_MIRROR_(SPRG5,   KVM_BT_SH_SPRG5,        KVM,     KVM),
        KVM_BT_MIRROR_(SPRG6,   KVM_BT_SH_SPRG6,        KVM,     KVM),
        KVM_BT_MIRROR_(SPRG7,   KVM_BT_SH_SPRG7,        KVM,     KVM),
        KVM_BT_MIRROR_(SPRG3R,  KVM_BT_SH_SPRG3,        KVM,     EXIT),
        KVM_BT_MIRROR_(SPRG4R,  KVM_BT_SH_SPRG4,        KVM,     EXIT),
        KVM_BT_MIRROR_(SPRG5R,  KVM_BT_SH_SPRG5,        KVM,     EXIT),
        KVM_BT_MIRROR_(SPRG6R,  KVM_BT_SH_SPRG6,        KVM,     EXIT),
        KVM_BT_MIRROR_(SPRG7R,  KVM_BT_SH_SPRG7,        KVM,     EXIT),
        /* read only */
        KVM_BT_MIRROR_(PIR,     KVM_BT_SH_PIR,          KVM,     EXIT),
        /*
         * PID: a translated write while the CPU translates with PID 0
         * (KVM_BT_SH_PID_CPU) only reaches the field; the monitor applies it
         * at the next pull (every exit, interrupt and interrupt decision),
         * and a TLB miss taken meanwhile is retried with it instead of being
         * delivered (bt-translate.c).
         */
        KVM_BT_MIRROR_(PID,     KVM_BT_SH_PRIV_PID,     PRIVATE, PRIVATE),
        /* Monitor-private read mirrors: constant, or changed only by an exit */
        KVM_BT_MIRROR_(PVR,     KVM_BT_SH_PRIV_PVR,     PRIVATE, EXIT),
        KVM_BT_MIRROR_(SVR,     KVM_BT_SH_PRIV_SVR,     PRIVATE, EXIT),
        KVM_BT_MIRROR_(MMUCFG,  KVM_BT_SH_PRIV_MMUCFG,  PRIVATE, EXIT),
        KVM_BT_MIRROR_(TLB0CFG, KVM_BT_SH_PRIV_TLB0CFG, PRIVATE, EXIT),
        KVM_BT_MIRROR_(TLB1CFG, KVM_BT_SH_PRIV_TLB1CFG, PRIVATE, EXIT),
        KVM_BT_MIRROR_(TCR,     KVM_BT_SH_PRIV_TCR,     PRIVATE, EXIT),
        KVM_BT_MIRROR_(HID0,    KVM_BT_SH_PRIV_HID0,    PRIVATE, EXIT),
        KVM_BT_MIRROR_(HID1,    KVM_BT_SH_PRIV_HID1,    PRIVATE, EXIT),
        KVM_BT_MIRROR_(L1CSR0,  KVM_BT_SH_PRIV_L1CSR0,  PRIVATE, EXIT),
        KVM_BT_MIRROR_(L1CSR1,  KVM_BT_SH_PRIV_L1CSR1,  PRIVATE, EXIT),
        KVM_BT_MIRROR_(L1CFG0,  KVM_BT_SH_PRIV_L1CFG0,  PRIVATE, EXIT),
        KVM_BT_MIRROR_(L1CFG1,  KVM_BT_SH_PRIV_L1CFG1,  PRIVATE, EXIT),
        /*
         * BUCSR is also a write sink: a write only flushes the branch
         * predictor, which has no architectural effect in a VM (KVM e500
         * just stores the value, QEMU's BUCSR is a plain register). The
         * monitor copies the field back into the CPU at every exit.
         */
        KVM_BT_MIRROR_(BUCSR,   KVM_BT_SH_PRIV_BUCSR,   PRIVATE, PRIVATE),
    };

    *count = sizeof(table) / sizeof(table[0]);
    return table;
}

/* The mirror of @spr, or NULL if accesses to it are never translated. */
static inline const KvmBtSprMirror *kvm_bt_spr_mirror(unsigned spr)
{
    size_t n;
    const KvmBtSprMirror *t = kvm_bt_spr_mirrors(&n);

    for (size_t i = 0; i < n; i++) {
        if (t[i].spr == spr) {
            return &t[i];
        }
    }
    return NULL;
}

/*
 * A monitor-private field: the monitor pushes the CPU's register into it
 * before every guest entry and, if @pull, copies the field back into the
 * CPU after every exit (the guest may write it through a translated mtspr).
 */
typedef struct KvmBtPrivField {
    uint16_t spr;
    uint16_t offset;
    bool pull;
    const char *name;
} KvmBtPrivField;

/*
 * Private fields in page order, derived from the mirror table so the two
 * cannot disagree. Fills up to @max entries of @out; returns the total.
 */
static inline size_t kvm_bt_priv_fields(KvmBtPrivField *out, size_t max)
{
    size_t n, k = 0;
    const KvmBtSprMirror *t = kvm_bt_spr_mirrors(&n);

    for (size_t i = 0; i < n; i++) {
        if (t[i].read == KVM_BT_SPR_PRIVATE || t[i].write == KVM_BT_SPR_PRIVATE) {
            if (k < max) {
                out[k] = (KvmBtPrivField){
                    .spr = t[i].spr, .offset = t[i].offset,
                    .pull = t[i].write == KVM_BT_SPR_PRIVATE, .name = t[i].name,
                };
            }
            k++;
        }
    }
    return k;
}

#define KVM_BT_PRIV_FIELDS_MAX ((KVM_BT_SH_PRIV_END - KVM_BT_SH_PRIV_BASE) / 4)

#endif
