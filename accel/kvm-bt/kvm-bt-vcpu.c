/*
 * kvm-bt: KVM-shaped vCPU interface on top of QEMU's PowerPC CPU state
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "cpu.h"
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
