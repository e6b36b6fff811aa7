/*
 * kvm-bt: the narrow, KVM-shaped view of a vCPU the monitor works through
 *
 * Registers come as KVM's own struct kvm_regs / struct kvm_sregs (BookE
 * layout), so the monitor and translator can later sit on real KVM too.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_VCPU_H
#define KVM_BT_VCPU_H

#include "linux-headers/asm-powerpc/kvm.h"

void kvm_bt_get_regs(CPUState *cs, struct kvm_regs *regs);
void kvm_bt_set_regs(CPUState *cs, const struct kvm_regs *regs);
void kvm_bt_get_sregs(CPUState *cs, struct kvm_sregs *sregs);

/* Guest-physical memory; false if the range is not RAM/ROM. */
bool kvm_bt_read_phys(CPUState *cs, uint64_t pa, void *buf, size_t len);
bool kvm_bt_write_phys(CPUState *cs, uint64_t pa, const void *buf, size_t len);

/*
 * Guest TLB lookup for an effective address in the vCPU's current
 * translation context (PID, MSR[IS/DS]); false if no entry maps it.
 */
bool kvm_bt_translate(CPUState *cs, uint64_t ea, bool ifetch, uint64_t *pa);

#endif
