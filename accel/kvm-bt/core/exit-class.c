/*
 * kvm-bt translator core: exit classes
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "exit-class.h"
#include "ppc-insn.h"

static const char *const class_names[KVM_BT_EXIT__COUNT] = {
#define KVM_BT_X(id, name) [KVM_BT_EXIT_##id] = name,
    KVM_BT_EXIT_CLASSES(KVM_BT_X)
#undef KVM_BT_X
};

const char *kvm_bt_exit_class_name(KvmBtExitClass cls)
{
    return (unsigned)cls < KVM_BT_EXIT__COUNT ? class_names[cls] : "?";
}

KvmBtExitClass kvm_bt_classify_insn(uint32_t word)
{
    PPCInsn insn;

    if (!ppc_insn_decode(word, &insn)) {
        return KVM_BT_EXIT_PRIV_OTHER;
    }
    switch (insn.kind) {
    case PPC_INSN_MFMSR:    return KVM_BT_EXIT_MFMSR;
    case PPC_INSN_MTMSR:    return KVM_BT_EXIT_MTMSR;
    case PPC_INSN_WRTEE:    return KVM_BT_EXIT_WRTEE;
    case PPC_INSN_WRTEEI:   return KVM_BT_EXIT_WRTEEI;
    case PPC_INSN_MFSPR:    return KVM_BT_EXIT_MFSPR;
    case PPC_INSN_MTSPR:    return KVM_BT_EXIT_MTSPR;
    case PPC_INSN_RFI:      return KVM_BT_EXIT_RFI;
    case PPC_INSN_RFCI:     return KVM_BT_EXIT_RFCI;
    case PPC_INSN_RFMCI:    return KVM_BT_EXIT_RFMCI;
    case PPC_INSN_RFDI:     return KVM_BT_EXIT_RFDI;
    case PPC_INSN_TLBWE:    return KVM_BT_EXIT_TLBWE;
    case PPC_INSN_TLBRE:    return KVM_BT_EXIT_TLBRE;
    case PPC_INSN_TLBSX:    return KVM_BT_EXIT_TLBSX;
    case PPC_INSN_TLBIVAX:  return KVM_BT_EXIT_TLBIVAX;
    case PPC_INSN_TLBILX:   return KVM_BT_EXIT_TLBILX;
    case PPC_INSN_TLBSYNC:  return KVM_BT_EXIT_TLBSYNC;
    case PPC_INSN_MSGSND:   return KVM_BT_EXIT_MSGSND;
    case PPC_INSN_MSGCLR:   return KVM_BT_EXIT_MSGCLR;
    case PPC_INSN_MFPMR:    return KVM_BT_EXIT_MFPMR;
    case PPC_INSN_MTPMR:    return KVM_BT_EXIT_MTPMR;
    case PPC_INSN_DCBI:     return KVM_BT_EXIT_DCBI;
    default:                return KVM_BT_EXIT_PRIV_OTHER;
    }
}
