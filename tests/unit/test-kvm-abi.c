/*
 * kvm-bt: the paravirtual ABI the core restates (core/kvm-para.h) and the
 * shared page layout (core/shared-page.h) against Linux's own UAPI headers
 * for PowerPC (Debian: linux-libc-dev-powerpc-cross). Compiled by the
 * PowerPC cross compiler (tests/unit/kvm-abi-check.py), so the struct is laid
 * out by the guest's own ABI; every check is a static assertion.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stddef.h>

#include <asm/kvm_para.h>       /* struct kvm_vcpu_arch_shared, KVM_SC_MAGIC_R0 ... */
#include <asm/epapr_hcalls.h>
#include <linux/kvm_para.h>     /* KVM_HC_* */

#include "kvm-para.h"
#include "shared-page.h"

#define ABI_CHECK(cond) _Static_assert(cond, #cond)

/* A u64 field: a 32-bit guest loads its low word, 4 bytes in (big-endian). */
#define LOW_WORD(field)  (offsetof(struct kvm_vcpu_arch_shared, field) + 4)
#define U32(field)       offsetof(struct kvm_vcpu_arch_shared, field)

/* the page layout */
ABI_CHECK(KVM_BT_SH_SCRATCH1 == LOW_WORD(scratch1));
ABI_CHECK(KVM_BT_SH_SCRATCH2 == LOW_WORD(scratch2));
ABI_CHECK(KVM_BT_SH_SCRATCH3 == LOW_WORD(scratch3));
ABI_CHECK(KVM_BT_SH_CRITICAL == LOW_WORD(critical));
ABI_CHECK(KVM_BT_SH_SPRG0 == LOW_WORD(sprg0));
ABI_CHECK(KVM_BT_SH_SPRG1 == LOW_WORD(sprg1));
ABI_CHECK(KVM_BT_SH_SPRG2 == LOW_WORD(sprg2));
ABI_CHECK(KVM_BT_SH_SPRG3 == LOW_WORD(sprg3));
ABI_CHECK(KVM_BT_SH_SRR0 == LOW_WORD(srr0));
ABI_CHECK(KVM_BT_SH_SRR1 == LOW_WORD(srr1));
ABI_CHECK(KVM_BT_SH_DAR == LOW_WORD(dar));
ABI_CHECK(KVM_BT_SH_MSR == LOW_WORD(msr));
ABI_CHECK(KVM_BT_SH_DSISR == U32(dsisr));
ABI_CHECK(KVM_BT_SH_INT_PENDING == U32(int_pending));
ABI_CHECK(KVM_BT_SH_SR(0) == U32(sr));
ABI_CHECK(KVM_BT_SH_SR(15) == U32(sr) + 15 * sizeof(__u32));
ABI_CHECK(KVM_BT_SH_MAS0 == U32(mas0));
ABI_CHECK(KVM_BT_SH_MAS1 == U32(mas1));
ABI_CHECK(KVM_BT_SH_MAS7 == U32(mas7_3));       /* high word of mas7_3 */
ABI_CHECK(KVM_BT_SH_MAS3 == LOW_WORD(mas7_3));
ABI_CHECK(KVM_BT_SH_MAS2 == LOW_WORD(mas2));
ABI_CHECK(KVM_BT_SH_MAS4 == U32(mas4));
ABI_CHECK(KVM_BT_SH_MAS6 == U32(mas6));
ABI_CHECK(KVM_BT_SH_ESR == U32(esr));
ABI_CHECK(KVM_BT_SH_PIR == U32(pir));
ABI_CHECK(KVM_BT_SH_SPRG4 == LOW_WORD(sprg4));
ABI_CHECK(KVM_BT_SH_SPRG5 == LOW_WORD(sprg5));
ABI_CHECK(KVM_BT_SH_SPRG6 == LOW_WORD(sprg6));
ABI_CHECK(KVM_BT_SH_SPRG7 == LOW_WORD(sprg7));
ABI_CHECK(KVM_BT_SH_KVM_END == sizeof(struct kvm_vcpu_arch_shared));
/* the monitor's own fields start beyond anything KVM defines */
ABI_CHECK(KVM_BT_SH_PRIV_BASE >= sizeof(struct kvm_vcpu_arch_shared));

/* hypercalls */
ABI_CHECK(KVM_BT_SC_MAGIC_R0 == KVM_SC_MAGIC_R0);
ABI_CHECK(KVM_BT_EV_EPAPR_VENDOR_ID == EV_EPAPR_VENDOR_ID);
ABI_CHECK(KVM_BT_EV_KVM_VENDOR_ID == EV_KVM_VENDOR_ID);
ABI_CHECK(KVM_BT_EV_HCALL_TOKEN(KVM_BT_EV_IDLE) == EV_HCALL_TOKEN(EV_IDLE));
ABI_CHECK(KVM_BT_KVM_HCALL_TOKEN(KVM_BT_HC_FEATURES) == KVM_HCALL_TOKEN(KVM_HC_FEATURES));
ABI_CHECK(KVM_BT_KVM_HCALL_TOKEN(KVM_BT_HC_PPC_MAP_MAGIC_PAGE) ==
          KVM_HCALL_TOKEN(KVM_HC_PPC_MAP_MAGIC_PAGE));
ABI_CHECK(KVM_BT_FEATURE_MAGIC_PAGE == KVM_FEATURE_MAGIC_PAGE);
ABI_CHECK(KVM_BT_MAGIC_FEAT_SR == KVM_MAGIC_FEAT_SR);
ABI_CHECK(KVM_BT_MAGIC_FEAT_MAS0_TO_SPRG7 == KVM_MAGIC_FEAT_MAS0_TO_SPRG7);
ABI_CHECK(KVM_BT_MAGIC_PAGE_FLAG_NOT_MAPPED_NX == MAGIC_PAGE_FLAG_NOT_MAPPED_NX);
ABI_CHECK(KVM_BT_EV_SUCCESS == EV_SUCCESS);
ABI_CHECK(KVM_BT_EV_EINVAL == EV_EINVAL);
ABI_CHECK(KVM_BT_EV_UNIMPLEMENTED == EV_UNIMPLEMENTED);
