/*
 * kvm-bt translator core: KVM's PowerPC paravirtual ABI, as facts
 *
 * The hypercall and magic-page numbers a KVM guest uses (Linux UAPI
 * asm/kvm_para.h, asm/epapr_hcalls.h, linux/kvm_para.h). QEMU 7.2 does not
 * ship those headers and the monitor's host is not PowerPC, so the numbers
 * are restated here with a KVM_BT_ prefix; tests/unit/test-kvm-abi.c checks
 * each one, and core/shared-page.h's layout, against the headers Debian's
 * linux-libc-dev-powerpc-cross installs, at compile time.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_KVM_PARA_H
#define KVM_BT_KVM_PARA_H

/* r0 of a KVM hypercall ("KVM!"); the token is in r11, arguments in r3-r8 */
#define KVM_BT_SC_MAGIC_R0              0x4b564d21u

/* ePAPR hypercall tokens: vendor << 16 | number */
#define KVM_BT_EV_EPAPR_VENDOR_ID       1
#define KVM_BT_EV_KVM_VENDOR_ID         42
#define KVM_BT_EV_HCALL_TOKEN(nr)       ((KVM_BT_EV_EPAPR_VENDOR_ID << 16) | (nr))
#define KVM_BT_KVM_HCALL_TOKEN(nr)      ((KVM_BT_EV_KVM_VENDOR_ID << 16) | (nr))

#define KVM_BT_EV_IDLE                  16      /* ePAPR */
#define KVM_BT_HC_FEATURES              3       /* KVM vendor */
#define KVM_BT_HC_PPC_MAP_MAGIC_PAGE    4       /* KVM vendor */

/* KVM_HC_FEATURES: bit numbers of r4 */
#define KVM_BT_FEATURE_MAGIC_PAGE       1
/* KVM_HC_PPC_MAP_MAGIC_PAGE: what the page holds (r4 on return) */
#define KVM_BT_MAGIC_FEAT_SR            (1 << 0)
#define KVM_BT_MAGIC_FEAT_MAS0_TO_SPRG7 (1 << 1)
/* KVM_HC_PPC_MAP_MAGIC_PAGE: flag in the low bits of the EA argument */
#define KVM_BT_MAGIC_PAGE_FLAG_NOT_MAPPED_NX (1 << 0)

/* hypercall status in r3 */
#define KVM_BT_EV_SUCCESS               0
#define KVM_BT_EV_EINVAL                8
#define KVM_BT_EV_UNIMPLEMENTED         12

#endif
