/*
 * kvm-bt translator core: exit clusters
 *
 * Some privileged instructions keep exiting whatever the translator does
 * (tlbwe, rfi, real PID changes), but they often come in short straight-line
 * runs: the TLB-miss handler ends "tlbwe; restore five registers; rfi". At
 * an exit of the first, the monitor can execute the whole run with full
 * privilege as one step, so one exit replaces several: the exit clustering
 * of Agesen et al. (USENIX ATC '12), done here by the monitor's own step.
 * This file decides, from the words at and after an exit site, how long
 * that run may be. Pure function: the monitor supplies the words.
 *
 * A run may be executed as one privileged step when that is exactly what
 * running it one instruction at a time, with exits in between, would do:
 * - inside the first word's 4 KiB page, with no way back: branches only
 *   forward (a skip within the run, or out of it, which ends it), no calls,
 *   no indirect branch, sc or trap; the monitor steps it block by block
 *   while the PC stays inside, each word at most once;
 * - asynchronous interrupts may wait for its end: only its last
 *   instruction may change MSR[EE] or return from an interrupt;
 * - the shared page and the CPU agree throughout (the monitor pulls the
 *   page before the step and pushes after it): no store to the page (a
 *   translated mtspr), and a load from it (a translated mfspr) only before
 *   any native write of a mirrored register;
 * - privileged registers it touches are plain ones (no timer or I/O side
 *   effect that would end the block early);
 * - at most one instruction that changes address translation, and no
 *   mirrored-register write after it: the monitor's TLB check after the
 *   step looks at that one.
 * The run ends with the last privileged instruction found; each privileged
 * instruction after the first is an exit avoided ("absorbed").
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_CLUSTER_H
#define KVM_BT_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Longest run, in words. The monitor executes the run's ordinary
 * instructions on the guest's behalf; a real monitor would emulate them, so
 * only runs much cheaper than an exit are worth it.
 */
#define KVM_BT_CLUSTER_MAX_WORDS 16

typedef enum KvmBtClusterTlb {
    KVM_BT_CLUSTER_TLB_NONE = 0,
    KVM_BT_CLUSTER_TLB_TLBWE,   /* the run's one translation change is a tlbwe */
    KVM_BT_CLUSTER_TLB_OTHER,   /* tlbivax, tlbilx, mtspr MMUCSR0 */
    KVM_BT_CLUSTER_TLB_PID,     /* mtspr PID: the context, not the TLB's contents */
} KvmBtClusterTlb;

typedef struct KvmBtCluster {
    uint8_t words;          /* instructions in the run, the exiting one first; < 2: none */
    uint8_t absorbed;       /* privileged instructions after the first */
    uint16_t privileged;    /* bit i: words[i] is privileged (bit 0: the exiting one) */
    uint16_t branches;      /* bit i: words[i] is a forward branch */
    uint8_t tlb;            /* KvmBtClusterTlb */
    const char *reason;     /* words < 2: why there is no run */
} KvmBtCluster;

/*
 * @words[0] is the privileged instruction that exited at @ea, @words[1..n-1]
 * the words that follow it in memory. Returns out->words (0 if none).
 */
unsigned kvm_bt_cluster_scan(uint32_t ea, const uint32_t *words, unsigned n,
                             KvmBtCluster *out);

/* How many words kvm_bt_cluster_scan may look at after @ea: to its page's end. */
unsigned kvm_bt_cluster_window(uint32_t ea);

#endif
