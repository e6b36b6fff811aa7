/*
 * kvm-bt: KVM-shaped vCPU interface on top of QEMU's PowerPC CPU state
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "cpu.h"
#include "internal.h"
#include "exec/cpu-common.h"
#include "exec/exec-all.h"
#include "exec/memory.h"
#include "exec/address-spaces.h"
#include "sysemu/dma.h"
#include "hw/ppc/ppc.h"
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"
#include "kvm-bt-vcpu.h"
#include "core/shared-page.h"

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

/*
 * KVM's Book E special registers (KVM_SREGS_E_BASE, _ARCH206_MMU and the
 * Freescale implementation block); what a KVM e500 host reports.
 */
void kvm_bt_get_sregs(CPUState *cs, struct kvm_sregs *sregs)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    memset(sregs, 0, sizeof(*sregs));
    sregs->pvr = env->spr[SPR_PVR];
    sregs->u.e.features = KVM_SREGS_E_BASE | KVM_SREGS_E_ARCH206 |
                          KVM_SREGS_E_ARCH206_MMU | KVM_SREGS_E_IVOR;
    sregs->u.e.impl_id = KVM_SREGS_E_IMPL_FSL;
    sregs->u.e.impl.fsl.svr = env->spr[SPR_E500_SVR];
    sregs->u.e.impl.fsl.hid0 = env->spr[SPR_HID0];
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
    sregs->u.e.mas7_3 = (uint64_t)env->spr[SPR_BOOKE_MAS7] << 32 | env->spr[SPR_BOOKE_MAS3];
    sregs->u.e.mas4 = env->spr[SPR_BOOKE_MAS4];
    sregs->u.e.mas6 = env->spr[SPR_BOOKE_MAS6];
    for (int i = 0; i < 16; i++) {
        sregs->u.e.ivor_low[i] = env->spr[SPR_BOOKE_IVOR0 + i];
    }
    sregs->u.e.mmucfg = env->spr[SPR_MMUCFG];
    sregs->u.e.tlbcfg[0] = env->spr[SPR_BOOKE_TLB0CFG];
    sregs->u.e.tlbcfg[1] = env->spr[SPR_BOOKE_TLB1CFG];
}

/* Look @ea up as MMU context @mmu_idx would; @raw: the guest's own TLB only. */
static bool xlate(CPUState *cs, uint64_t ea, bool ifetch, int mmu_idx, bool raw, uint64_t *pa)
{
    PowerPCCPU *cpu = POWERPC_CPU(cs);
    KvmBtVcpu *v = kvm_bt_vcpu(cs);
    hwaddr raddr;
    int psize, prot;
    bool ok;

    v->raw_lookup = raw;
    ok = ppc_xlate(cpu, ea, ifetch ? MMU_INST_FETCH : MMU_DATA_LOAD, &raddr, &psize,
                   &prot, mmu_idx, false);
    v->raw_lookup = false;
    if (ok) {
        *pa = raddr;
    }
    return ok;
}

bool kvm_bt_translate(CPUState *cs, uint64_t ea, bool ifetch, uint64_t *pa)
{
    return xlate(cs, ea, ifetch, cpu_mmu_index(&POWERPC_CPU(cs)->env, ifetch), false, pa);
}

/* Book E 2.06 MMU index: bit 0 supervisor, bit 1 address space 1, bit 2 guest state. */
#define MMU_IDX_SUPERVISOR_AS0  1

bool kvm_bt_translate_kernel(CPUState *cs, uint64_t ea, bool ifetch, uint64_t *pa)
{
    return xlate(cs, ea, ifetch, MMU_IDX_SUPERVISOR_AS0, true, pa);
}

/*
 * QEMU's own lookup takes the address space from the CPU's MSR, which under
 * KVM is only a stale copy: walk the guest TLB for an address-space-1
 * entry (any PID) instead.
 */
bool kvm_bt_mapped_in_as1(CPUState *cs, uint64_t ea)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    for (int tlbn = 0; tlbn < BOOKE206_MAX_TLBN; tlbn++) {
        for (int way = 0; way < booke206_tlb_ways(env, tlbn); way++) {
            ppcmas_tlb_t *tlb = booke206_get_tlbm(env, tlbn, ea, way);
            hwaddr raddr;

            if (tlb && (tlb->mas1 & MAS1_VALID) && (tlb->mas1 & MAS1_TS) &&
                ppcmas_tlb_check(env, tlb, &raddr, ea,
                                 (tlb->mas1 & MAS1_TID_MASK) >> MAS1_TID_SHIFT) >= 0) {
                return true;
            }
        }
    }
    return false;
}

bool kvm_bt_tlb_matches_kernel(CPUState *cs, uint64_t ea)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;
    uint32_t pids[3] = { env->spr[SPR_BOOKE_PID], env->spr[SPR_BOOKE_PID1],
                         env->spr[SPR_BOOKE_PID2] };

    for (int i = 0; i < BOOKE206_MAX_TLBN; i++) {
        for (int j = 0; j < booke206_tlb_ways(env, i); j++) {
            ppcmas_tlb_t *tlb = booke206_get_tlbm(env, i, ea, j);
            hwaddr raddr;

            if (!tlb || (tlb->mas1 & MAS1_TS)) {
                continue;
            }
            /* as QEMU's own lookup: PID1 and PID2 (e500v2) only when non-zero */
            for (int k = 0; k < 3; k++) {
                if ((k == 0 || pids[k]) && ppcmas_tlb_check(env, tlb, &raddr, ea, pids[k]) >= 0) {
                    return true;
                }
            }
        }
    }
    return false;
}

void *kvm_bt_guest_ram(uint64_t pa, unsigned len, ram_addr_t *ra)
{
    MemoryRegion *mr;
    hwaddr xlat, l = len;

    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(&address_space_memory, pa, &xlat, &l, true,
                                 MEMTXATTRS_UNSPECIFIED);
    if (!memory_region_is_ram(mr) || l < len) {
        return NULL;
    }
    if (ra) {
        *ra = memory_region_get_ram_addr(mr) + xlat;
    }
    return (uint8_t *)memory_region_get_ram_ptr(mr) + xlat;
}

/*
 * The 32-bit registers the page mirrors, each at the word a 32-bit guest
 * uses (the low half of a u64 field). MSR, PIR, critical and int_pending
 * have rules of their own below.
 */
static const struct {
    uint16_t offset;
    uint16_t spr;
    uint8_t keep;       /* KVM_BT_SYNC_KEEP_*: interrupts that set it before delivery */
} mirrored[] = {
    { KVM_BT_SH_SPRG0, SPR_SPRG0 },
    { KVM_BT_SH_SPRG1, SPR_SPRG1 },
    { KVM_BT_SH_SPRG2, SPR_SPRG2 },
    { KVM_BT_SH_SPRG3, SPR_SPRG3 },
    { KVM_BT_SH_SPRG4, SPR_SPRG4 },
    { KVM_BT_SH_SPRG5, SPR_SPRG5 },
    { KVM_BT_SH_SPRG6, SPR_SPRG6 },
    { KVM_BT_SH_SPRG7, SPR_SPRG7 },
    { KVM_BT_SH_SRR0, SPR_SRR0 },
    { KVM_BT_SH_SRR1, SPR_SRR1 },
    { KVM_BT_SH_DAR, SPR_BOOKE_DEAR, KVM_BT_SYNC_KEEP_FAULT },
    { KVM_BT_SH_ESR, SPR_BOOKE_ESR, KVM_BT_SYNC_KEEP_FAULT },
    { KVM_BT_SH_MAS0, SPR_BOOKE_MAS0, KVM_BT_SYNC_KEEP_MAS },
    { KVM_BT_SH_MAS1, SPR_BOOKE_MAS1, KVM_BT_SYNC_KEEP_MAS },
    { KVM_BT_SH_MAS2, SPR_BOOKE_MAS2, KVM_BT_SYNC_KEEP_MAS },
    { KVM_BT_SH_MAS3, SPR_BOOKE_MAS3, KVM_BT_SYNC_KEEP_MAS },
    { KVM_BT_SH_MAS4, SPR_BOOKE_MAS4 },
    { KVM_BT_SH_MAS6, SPR_BOOKE_MAS6, KVM_BT_SYNC_KEEP_MAS },
    { KVM_BT_SH_MAS7, SPR_BOOKE_MAS7, KVM_BT_SYNC_KEEP_MAS },
};

#define MSR_GUEST_WRITABLE  KVM_BT_MSR_PAGE_WRITABLE
QEMU_BUILD_BUG_ON(MSR_GUEST_WRITABLE != ((1u << MSR_CE) | (1u << MSR_EE) | (1u << MSR_RI)));

/* The monitor-private mirrors; QEMU indexes env->spr by SPR number. */
static KvmBtPrivField priv[KVM_BT_PRIV_FIELDS_MAX];
static size_t nr_priv;

static void priv_init(void)
{
    if (!nr_priv) {
        nr_priv = kvm_bt_priv_fields(priv, ARRAY_SIZE(priv));
        assert(nr_priv <= ARRAY_SIZE(priv));
    }
}

/* Book E timer status and control (Power ISA 2.06, Book III-E) */
#define TSR_WIS     (1u << 30)
#define TSR_DIS     (1u << 27)
#define TSR_FIS     (1u << 26)
#define TCR_WIE     (1u << 27)
#define TCR_DIE     (1u << 26)
#define TCR_FIE     (1u << 23)

/*
 * A Book E timer interrupt is pending exactly while its TSR status and TCR
 * enable bits are both set. QEMU's timer callback (main loop, without
 * icount) sets the TSR bit a moment before it raises the interrupt, and the
 * guest may see the bit in between: the monitor raises the level itself,
 * as the callback is about to, so that "pending" means the same to the
 * guest, to int_pending and to interrupt delivery.
 */
static void raise_pending_timer_irqs(PowerPCCPU *cpu)
{
    CPUPPCState *env = &cpu->env;
    uint32_t tsr = env->spr[SPR_BOOKE_TSR], tcr = env->spr[SPR_BOOKE_TCR];
    static const struct { uint32_t tsr, tcr; int irq; } timers[] = {
        { TSR_DIS, TCR_DIE, PPC_INTERRUPT_DECR },
        { TSR_FIS, TCR_FIE, PPC_INTERRUPT_FIT },
        { TSR_WIS, TCR_WIE, PPC_INTERRUPT_WDT },
    };

    if (env->excp_model != POWERPC_EXCP_BOOKE) {
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
        if ((tsr & timers[i].tsr) && (tcr & timers[i].tcr) &&
            !(qatomic_read(&env->pending_interrupts) & timers[i].irq)) {
            ppc_set_irq(cpu, timers[i].irq, 1);
        }
    }
}

void kvm_bt_shared_pull(CPUState *cs, uint8_t *page, unsigned flags)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;
    uint32_t msr = ldl_be_p(page + KVM_BT_SH_MSR);

    for (size_t i = 0; i < ARRAY_SIZE(mirrored); i++) {
        if (mirrored[i].keep & flags) {
            continue;
        }
        env->spr[mirrored[i].spr] = ldl_be_p(page + mirrored[i].offset);
    }
    /* CE, EE and RI only: any other MSR change is an exit */
    env->msr = (env->msr & ~(target_ulong)MSR_GUEST_WRITABLE) | (msr & MSR_GUEST_WRITABLE);
    priv_init();
    for (size_t i = 0; i < nr_priv; i++) {
        uint32_t v = ldl_be_p(page + priv[i].offset);

        if (!priv[i].pull || env->spr[priv[i].spr] == v) {
            continue;
        }
        env->spr[priv[i].spr] = v;
        if (priv[i].spr == SPR_BOOKE_PID) {
            /* a deferred PID write: what mtspr PID does (helper_booke_setpid) */
            kvm_bt_pid_flush(cs);
        }
    }
}

bool kvm_bt_shared_pid_deferred(CPUState *cs, uint8_t *page)
{
    return ldl_be_p(page + KVM_BT_SH_PRIV_PID) != POWERPC_CPU(cs)->env.spr[SPR_BOOKE_PID];
}

void kvm_bt_shared_push(CPUState *cs, uint8_t *page)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    for (size_t i = 0; i < ARRAY_SIZE(mirrored); i++) {
        stl_be_p(page + mirrored[i].offset, env->spr[mirrored[i].spr]);
    }
    stl_be_p(page + KVM_BT_SH_MSR, env->msr);
    stl_be_p(page + KVM_BT_SH_PIR, env->spr[SPR_BOOKE_PIR]);
    raise_pending_timer_irqs(POWERPC_CPU(cs));
    priv_init();
    for (size_t i = 0; i < nr_priv; i++) {
        stl_be_p(page + priv[i].offset, env->spr[priv[i].spr]);
    }
    stl_be_p(page + KVM_BT_SH_PID_CPU, env->spr[SPR_BOOKE_PID]);
    kvm_bt_shared_set_int_pending(cs, page);
}

void kvm_bt_shared_drop_pid(CPUState *cs, uint8_t *page)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    if (env->spr[SPR_BOOKE_PID]) {
        env->spr[SPR_BOOKE_PID] = 0;
        kvm_bt_pid_flush(cs);
        stl_be_p(page + KVM_BT_SH_PID_CPU, 0);
    }
}

void kvm_bt_shared_pull_mas4(CPUState *cs, uint8_t *page)
{
    POWERPC_CPU(cs)->env.spr[SPR_BOOKE_MAS4] = ldl_be_p(page + KVM_BT_SH_MAS4);
}

bool kvm_bt_shared_critical(CPUState *cs, uint8_t *page)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    return !FIELD_EX64(env->msr, MSR, PR) &&
           ldl_be_p(page + KVM_BT_SH_CRITICAL) == (uint32_t)env->gpr[1];
}

void kvm_bt_shared_set_int_pending(CPUState *cs, uint8_t *page)
{
    stl_be_p(page + KVM_BT_SH_INT_PENDING,
             POWERPC_CPU(cs)->env.pending_interrupts != 0);
}
