/*
 * kvm-bt: the narrow, KVM-shaped view of a vCPU the monitor works through
 *
 * Registers come as KVM's own struct kvm_regs (BookE layout), so the
 * monitor and translator can later sit on real KVM too. The shared page is
 * KVM's struct kvm_vcpu_arch_shared; syncing it with the CPU is what KVM
 * does on guest exit and entry.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_VCPU_H
#define KVM_BT_VCPU_H

#include "linux-headers/asm-powerpc/kvm.h"

void kvm_bt_get_regs(CPUState *cs, struct kvm_regs *regs);
/* GPRs, PC, CR, CTR, LR, XER, SRR0/1, SPRG0-7 (MSR and PID change only by emulation). */
void kvm_bt_set_regs(CPUState *cs, const struct kvm_regs *regs);

/* Book E special registers, MAS0-7 included (read only: the monitor never sets them). */
void kvm_bt_get_sregs(CPUState *cs, struct kvm_sregs *sregs);

/*
 * Guest TLB lookup for an effective address in the vCPU's current
 * translation context (PID, MSR[IS/DS]); false if no entry maps it.
 */
bool kvm_bt_translate(CPUState *cs, uint64_t ea, bool ifetch, uint64_t *pa);

/*
 * The same in the kernel's own context (supervisor, address space 0) and
 * the guest's TLB only, whatever the vCPU is doing right now.
 */
bool kvm_bt_translate_kernel(CPUState *cs, uint64_t ea, bool ifetch, uint64_t *pa);
/* Does an address-space-1 entry (MSR[IS/DS] set) of the guest's TLB map @ea? */
bool kvm_bt_mapped_in_as1(CPUState *cs, uint64_t ea);

/*
 * Whether a valid entry of the guest's TLB matches @ea in the kernel's
 * context (address space 0, the current PIDs), whatever its permissions.
 */
bool kvm_bt_tlb_matches_kernel(CPUState *cs, uint64_t ea);

/*
 * Guest-physical RAM [pa, pa + len) as the host maps it, and its ram_addr
 * in *ra (if @ra); NULL unless it is all RAM.
 */
void *kvm_bt_guest_ram(uint64_t pa, unsigned len, ram_addr_t *ra);

/*
 * Mirrored registers QEMU's fault path sets in the CPU before the interrupt
 * hook runs: the CPU's value is the architectural one, keep it.
 */
enum {
    KVM_BT_SYNC_ALL = 0,
    KVM_BT_SYNC_KEEP_MAS = 1,   /* TLB miss: MAS0-3,6,7 loaded from MAS4 */
    KVM_BT_SYNC_KEEP_FAULT = 2, /* storage/alignment faults: DEAR, ESR */
};

/* Shared page -> CPU: what the guest changed without an exit. */
void kvm_bt_shared_pull(CPUState *cs, uint8_t *page, unsigned flags);
/* CPU -> shared page, and int_pending. */
void kvm_bt_shared_push(CPUState *cs, uint8_t *page);
/* The page's PID is not the one the CPU translates with (deferred or dropped). */
bool kvm_bt_shared_pid_deferred(CPUState *cs, uint8_t *page);
/*
 * After a push: translate with PID 0 until the next pull, the page keeping
 * the guest's PID (see core/bt-translate.c, mtspr PID).
 */
void kvm_bt_shared_drop_pid(CPUState *cs, uint8_t *page);
/* Only MAS4, which a TLB miss reads: before guest-visible translations. */
void kvm_bt_shared_pull_mas4(CPUState *cs, uint8_t *page);
/* Supervisor mode with shared->critical == r1: hold asynchronous interrupts. */
bool kvm_bt_shared_critical(CPUState *cs, uint8_t *page);
void kvm_bt_shared_set_int_pending(CPUState *cs, uint8_t *page);

#endif
