/*
 * kvm-bt: the real-KVM backend's entry points in a build without KVM
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "kvm-bt-hooks.h"

bool kvm_bt_kvm_bt_on;

void kvm_bt_kvm_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size)
{
    g_assert_not_reached();
}
