/*
 * kvm-bt: adaptive in-place binary translation (bt=on) — monitor glue
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "cpu.h"
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"

bool kvm_bt_bt_uses_page(void)
{
    return false;
}

bool kvm_bt_pc_in_tc(uint64_t pc)
{
    return false;
}

void kvm_bt_bt_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size)
{
}

void kvm_bt_code_write(ram_addr_t start, ram_addr_t end)
{
}

bool kvm_bt_code_watched(ram_addr_t ram_addr)
{
    return false;
}
