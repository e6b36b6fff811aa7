/*
 * kvm-bt: a PID write flushes only what PID selects (every kvm-bt mode)
 *
 * TCG's mtspr PID flushes all of QEMU's TLB and the TB jump cache. A Linux
 * kernel with user-access protection writes PID several times per system
 * call (PID 0 on entry, the user's PID around each copy to or from user
 * memory, the user's PID again on the way out), and those full flushes,
 * with the refills and jump-cache misses after them, were the largest item
 * of the monitor's host profile in trap mode and under bt=on alike (perf,
 * a poll() loop on the stock guest: tcg_flush_jmp_cache alone 24-28%).
 * KVM e500 tags its shadow TLB entries with the PID, so a PID switch there
 * flushes nothing; the monitor gets the same effect from QEMU's TLB:
 *
 * - When QEMU's TLB maps a page (patches/qemu-7.2/0015), the page and the
 *   MMU index are noted if some valid entry of the guest TLB with a
 *   non-zero TID covers it:
 *   only such an entry can match, or stop matching, under another PID.
 *   A page no such entry covers translates the same under every PID, and
 *   stays so until the guest writes a TLB entry, which flushes the pages
 *   it covers from QEMU's TLB anyway (tlbwe).
 * - A PID write (mtspr PID emulated by TCG, patches/qemu-7.2/0016; the
 *   monitor's own PID drop at a system call and its deferred PID) flushes
 *   the noted pages, or everything once more pages were noted than the
 *   list holds.
 *
 * The test is on TIDs, not on which PID register matched, so e500v2's PID1
 * and PID2 are covered too. Guest-visible behaviour does not change; exit
 * counts do not either (tests: the bt and kvm-bt suites compare with tcg).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "exec/exec-all.h"
#include "kvm-bt-internal.h"
#include "kvm-bt-hooks.h"
#include "trace.h"

/* Does @tlb, if valid and of a non-zero TID, cover @ea? */
static inline bool tid_entry_covers(CPUPPCState *env, ppcmas_tlb_t *tlb,
                                    vaddr ea)
{
    uint32_t tid = (tlb->mas1 & MAS1_TID_MASK) >> MAS1_TID_SHIFT;
    hwaddr raddr;

    /* an entry matches its own TID: this checks validity and range */
    return tid && ppcmas_tlb_check(env, tlb, &raddr, ea, tid) == 0;
}

/*
 * Does a valid guest TLB entry with a non-zero TID cover @ea? Called at
 * every fill of QEMU's TLB, so a fully associative array (e500's TLB1) is
 * walked directly; Linux gives its entries TID 0.
 */
static bool tid_covers(CPUPPCState *env, vaddr ea)
{
    ppcmas_tlb_t *first = env->tlb.tlbm;

    for (int n = 0; n < BOOKE206_MAX_TLBN; n++) {
        int size = booke206_tlb_size(env, n);
        int ways = booke206_tlb_ways(env, n);

        if (size && ways == size) {
            for (int i = 0; i < size; i++) {
                if ((first[i].mas1 & MAS1_TID_MASK) &&
                    tid_entry_covers(env, &first[i], ea)) {
                    return true;
                }
            }
        } else {
            for (int w = 0; w < ways; w++) {
                ppcmas_tlb_t *tlb = booke206_get_tlbm(env, n, ea, w);

                if (tlb && tid_entry_covers(env, tlb, ea)) {
                    return true;
                }
            }
        }
        first += size;
    }
    return false;
}

/* A noted page: its address, and in the low bits the MMU indexes filled. */
QEMU_BUILD_BUG_ON(NB_MMU_MODES > TARGET_PAGE_BITS);

void kvm_bt_pidtlb_filled(CPUState *cs, vaddr ea, int mmu_idx)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);
    vaddr page = ea & TARGET_PAGE_MASK;

    if (v->nr_pid_pages > KVM_BT_PID_PAGES ||
        !tid_covers(&POWERPC_CPU(cs)->env, ea)) {
        return;
    }
    /* the same page in another index: usually one of the last few noted */
    for (unsigned i = v->nr_pid_pages; i > 0 && i + 4 > v->nr_pid_pages; i--) {
        if ((v->pid_pages[i - 1] & TARGET_PAGE_MASK) == page) {
            v->pid_pages[i - 1] |= 1u << mmu_idx;
            return;
        }
    }
    if (v->nr_pid_pages < KVM_BT_PID_PAGES) {
        v->pid_pages[v->nr_pid_pages] = page | 1u << mmu_idx;
    }
    v->nr_pid_pages++;
}

void kvm_bt_pid_flush(CPUState *cs)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);

    if (v->nr_pid_pages > KVM_BT_PID_PAGES) {
        tlb_flush(cs);
        stat64_add(&v->pid_flushes_full, 1);
    } else {
        for (unsigned i = 0; i < v->nr_pid_pages; i++) {
            vaddr e = v->pid_pages[i];

            tlb_flush_page_by_mmuidx(cs, e & TARGET_PAGE_MASK,
                                     e & ~TARGET_PAGE_MASK);
        }
        stat64_add(&v->pid_flushes, 1);
    }
    trace_kvm_bt_pid_flush(cs->cpu_index, v->nr_pid_pages);
    v->nr_pid_pages = 0;
}
