/*
 * kvm-bt: the entry points QEMU's own code calls (see patches/qemu-7.2)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_HOOKS_H
#define KVM_BT_HOOKS_H

/* True when -accel kvm-bt is running. */
extern bool kvm_bt_allowed;

/* An interrupt is about to be delivered to the guest: a reflection exit. */
void kvm_bt_reflect_interrupt(CPUState *cs, int excp);

static inline void kvm_bt_interrupt_hook(CPUState *cs, int excp)
{
    if (kvm_bt_allowed) {
        kvm_bt_reflect_interrupt(cs, excp);
    }
}

#endif
