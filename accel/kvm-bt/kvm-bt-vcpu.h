/*
 * kvm-bt: the narrow, KVM-shaped view of a vCPU the monitor works through
 *
 * Registers come as KVM's own struct kvm_regs (BookE layout), so the monitor and translator can later sit on real KVM too.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_VCPU_H
#define KVM_BT_VCPU_H

#include "linux-headers/asm-powerpc/kvm.h"

/*
 * Only what the monitor uses today; set_regs, kvm_sregs and guest-physical
 * access come with the translator that needs them.
 */
void kvm_bt_get_regs(CPUState *cs, struct kvm_regs *regs);

/*
 * Guest TLB lookup for an effective address in the vCPU's current
 * translation context (PID, MSR[IS/DS]); false if no entry maps it.
 */
bool kvm_bt_translate(CPUState *cs, uint64_t ea, bool ifetch, uint64_t *pa);

#endif
