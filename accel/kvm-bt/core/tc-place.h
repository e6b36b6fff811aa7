/*
 * kvm-bt translator core: where to put the translation cache
 *
 * Stubs must be executable through the guest kernel's own mapping of its
 * text. A kernel that separates text from data (Linux's
 * STRICT_KERNEL_RWX) maps only its image up to the end of rodata
 * executable, and pads that region to a large alignment: the padding
 * between two allocated sections of the kernel's ELF image belongs to no
 * section, so nothing in the kernel can refer to it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_TC_PLACE_H
#define KVM_BT_TC_PLACE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The largest gap of at least @min bytes between consecutive allocated
 * sections of a 32-bit big-endian ELF image, inside an executable
 * PT_LOAD segment, page-aligned and at most @max bytes long. Returns its
 * size (0: none) and its physical address in *pa.
 */
uint32_t kvm_bt_tc_gap(const uint8_t *elf, size_t len, uint32_t min, uint32_t max,
                       uint64_t *pa);

#endif
