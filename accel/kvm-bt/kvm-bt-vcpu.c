/*
 * kvm-bt: KVM-shaped vCPU interface on top of QEMU's PowerPC CPU state
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "cpu.h"
#include "exec/cpu_ldst.h"
#include "exec/memory.h"
#include "sysemu/memory_mapping.h"
#include "internal.h"
#include "kvm-bt-vcpu.h"

/* CR lives in QEMU as eight 4-bit fields, CR0 first. */
static uint32_t get_cr(CPUPPCState *env)
{
    uint32_t cr = 0;

    for (int i = 0; i < 8; i++) {
        cr |= (env->crf[i] & 0xf) << (28 - 4 * i);
    }
    return cr;
}

static void set_cr(CPUPPCState *env, uint32_t cr)
{
    for (int i = 0; i < 8; i++) {
        env->crf[i] = (cr >> (28 - 4 * i)) & 0xf;
    }
}

void kvm_bt_get_regs(CPUState *cs, struct kvm_regs *regs)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    regs->pc = env->nip;
    regs->cr = get_cr(env);
    regs->ctr = env->ctr;
    regs->lr = env->lr;
    regs->xer = cpu_read_xer(env);
    regs->msr = env->msr;
    regs->srr0 = env->spr[SPR_SRR0];
    regs->srr1 = env->spr[SPR_SRR1];
    regs->pid = env->spr[SPR_BOOKE_PID];
    regs->sprg0 = env->spr[SPR_SPRG0];
    regs->sprg1 = env->spr[SPR_SPRG1];
    regs->sprg2 = env->spr[SPR_SPRG2];
    regs->sprg3 = env->spr[SPR_SPRG3];
    regs->sprg4 = env->spr[SPR_SPRG4];
    regs->sprg5 = env->spr[SPR_SPRG5];
    regs->sprg6 = env->spr[SPR_SPRG6];
    regs->sprg7 = env->spr[SPR_SPRG7];
    for (int i = 0; i < 32; i++) {
        regs->gpr[i] = env->gpr[i];
    }
}

void kvm_bt_set_regs(CPUState *cs, const struct kvm_regs *regs)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    env->nip = regs->pc;
    set_cr(env, regs->cr);
    env->ctr = regs->ctr;
    env->lr = regs->lr;
    cpu_write_xer(env, regs->xer);
    /* MSR, PID: changed only through the instructions that own them */
    env->spr[SPR_SRR0] = regs->srr0;
    env->spr[SPR_SRR1] = regs->srr1;
    env->spr[SPR_SPRG0] = regs->sprg0;
    env->spr[SPR_SPRG1] = regs->sprg1;
    env->spr[SPR_SPRG2] = regs->sprg2;
    env->spr[SPR_SPRG3] = regs->sprg3;
    env->spr[SPR_SPRG4] = regs->sprg4;
    env->spr[SPR_SPRG5] = regs->sprg5;
    env->spr[SPR_SPRG6] = regs->sprg6;
    env->spr[SPR_SPRG7] = regs->sprg7;
    for (int i = 0; i < 32; i++) {
        env->gpr[i] = regs->gpr[i];
    }
}

void kvm_bt_get_sregs(CPUState *cs, struct kvm_sregs *sregs)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    memset(sregs, 0, sizeof(*sregs));
    sregs->pvr = env->spr[SPR_PVR];
    sregs->u.e.features = KVM_SREGS_E_BASE | KVM_SREGS_E_ARCH206 | KVM_SREGS_E_ARCH206_MMU;
    sregs->u.e.pir = env->spr[SPR_BOOKE_PIR];
    sregs->u.e.csrr0 = env->spr[SPR_BOOKE_CSRR0];
    sregs->u.e.csrr1 = env->spr[SPR_BOOKE_CSRR1];
    sregs->u.e.mcsrr0 = env->spr[SPR_BOOKE_MCSRR0];
    sregs->u.e.mcsrr1 = env->spr[SPR_BOOKE_MCSRR1];
    sregs->u.e.esr = env->spr[SPR_BOOKE_ESR];
    sregs->u.e.dear = env->spr[SPR_BOOKE_DEAR];
    sregs->u.e.ivpr = env->spr[SPR_BOOKE_IVPR];
    sregs->u.e.mcsr = env->spr[SPR_BOOKE_MCSR];
    sregs->u.e.tsr = env->spr[SPR_BOOKE_TSR];
    sregs->u.e.tcr = env->spr[SPR_BOOKE_TCR];
    sregs->u.e.mas0 = env->spr[SPR_BOOKE_MAS0];
    sregs->u.e.mas1 = env->spr[SPR_BOOKE_MAS1];
    sregs->u.e.mas2 = env->spr[SPR_BOOKE_MAS2];
    sregs->u.e.mas7_3 = ((uint64_t)env->spr[SPR_BOOKE_MAS7] << 32) | env->spr[SPR_BOOKE_MAS3];
    sregs->u.e.mas4 = env->spr[SPR_BOOKE_MAS4];
    sregs->u.e.mas6 = env->spr[SPR_BOOKE_MAS6];
    for (int i = 0; i < 16; i++) {
        sregs->u.e.ivor_low[i] = env->spr[SPR_BOOKE_IVOR0 + i];
    }
    sregs->u.e.mmucfg = env->spr[SPR_MMUCFG];
    for (int i = 0; i < 4; i++) {
        sregs->u.e.tlbcfg[i] = env->spr[SPR_BOOKE_TLB0CFG + i];
    }
}

bool kvm_bt_read_phys(CPUState *cs, uint64_t pa, void *buf, size_t len)
{
    return address_space_read(cs->as, pa, MEMTXATTRS_UNSPECIFIED, buf, len) == MEMTX_OK;
}

bool kvm_bt_write_phys(CPUState *cs, uint64_t pa, const void *buf, size_t len)
{
    return address_space_write(cs->as, pa, MEMTXATTRS_UNSPECIFIED, buf, len) == MEMTX_OK;
}

bool kvm_bt_translate(CPUState *cs, uint64_t ea, bool ifetch, uint64_t *pa)
{
    PowerPCCPU *cpu = POWERPC_CPU(cs);
    hwaddr raddr;
    int psize, prot;

    if (!ppc_xlate(cpu, ea, ifetch ? MMU_INST_FETCH : MMU_DATA_LOAD, &raddr, &psize,
                   &prot, cpu_mmu_index(&cpu->env, ifetch), false)) {
        return false;
    }
    *pa = raddr;
    return true;
}
