/*
 * kvm-bt translator core: exit classes
 *
 * Every exit to the monitor has one class: the privileged instruction that
 * trapped, or the interrupt that was reflected into the guest.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_EXIT_CLASS_H
#define KVM_BT_EXIT_CLASS_H

#include <stdbool.h>
#include <stdint.h>

#define KVM_BT_EXIT_CLASSES(X)                                  \
    /* privileged instructions */                               \
    X(MFMSR, "mfmsr") X(MTMSR, "mtmsr") X(WRTEE, "wrtee")       \
    X(WRTEEI, "wrteei") X(MFSPR, "mfspr") X(MTSPR, "mtspr")     \
    X(RFI, "rfi") X(RFCI, "rfci") X(RFMCI, "rfmci")             \
    X(RFDI, "rfdi") X(TLBWE, "tlbwe") X(TLBRE, "tlbre")         \
    X(TLBSX, "tlbsx") X(TLBIVAX, "tlbivax") X(TLBILX, "tlbilx") \
    X(TLBSYNC, "tlbsync") X(MSGSND, "msgsnd")                   \
    X(MSGCLR, "msgclr") X(MFPMR, "mfpmr") X(MTPMR, "mtpmr")     \
    X(DCBI, "dcbi") X(PRIV_OTHER, "priv-other")                 \
    /* interrupts reflected into the guest */                   \
    X(SYSCALL, "syscall") X(DECREMENTER, "decrementer")         \
    X(FIT, "fixed-interval") X(WATCHDOG, "watchdog")            \
    X(EXTERNAL, "external") X(CRITICAL, "critical")             \
    X(MCHECK, "machine-check") X(DTLB_MISS, "dtlb-miss")        \
    X(ITLB_MISS, "itlb-miss") X(DSI, "dsi") X(ISI, "isi")       \
    X(PROGRAM, "program") X(ALIGNMENT, "alignment")             \
    X(FPU_UNAVAIL, "fpu-unavailable") X(SPE, "spe")             \
    X(DEBUG, "debug") X(DOORBELL, "doorbell")                   \
    X(PERFMON, "perfmon") X(IRQ_OTHER, "interrupt-other")       \
    /* handled by the monitor, nothing delivered */             \
    X(HYPERCALL, "hypercall") X(PID_SYNC, "pid-sync")

typedef enum KvmBtExitClass {
#define KVM_BT_X(id, name) KVM_BT_EXIT_##id,
    KVM_BT_EXIT_CLASSES(KVM_BT_X)
#undef KVM_BT_X
    KVM_BT_EXIT__COUNT
} KvmBtExitClass;

#define KVM_BT_EXIT_FIRST_REFLECT KVM_BT_EXIT_SYSCALL
#define KVM_BT_EXIT_FIRST_HANDLED KVM_BT_EXIT_HYPERCALL

/* Stable name used in QMP, stats files and traces. */
const char *kvm_bt_exit_class_name(KvmBtExitClass cls);

static inline bool kvm_bt_exit_is_privileged(KvmBtExitClass cls)
{
    return cls < KVM_BT_EXIT_FIRST_REFLECT;
}

/*
 * Class of a privileged instruction word; KVM_BT_EXIT_PRIV_OTHER for a word
 * the decoder does not know (the monitor warns once per such site).
 */
/* An exit the monitor handled itself: nothing was delivered to the guest. */
static inline bool kvm_bt_exit_is_handled(KvmBtExitClass cls)
{
    return cls >= KVM_BT_EXIT_FIRST_HANDLED;
}

KvmBtExitClass kvm_bt_classify_insn(uint32_t word);

#endif
