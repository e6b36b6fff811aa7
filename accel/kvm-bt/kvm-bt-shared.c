/*
 * kvm-bt: the shared state page, KVM's paravirtual interface (pv=on) and
 * the board's device tree
 *
 * Each vCPU has one 4 KiB page laid out as KVM's struct
 * kvm_vcpu_arch_shared. It is host RAM outside the guest's advertised
 * memory, mapped at effective address 0xFFFFF000 for supervisor data
 * accesses ahead of the guest's own TLB. While the guest runs, the page is
 * authoritative for the registers it mirrors: every exit and every
 * interrupt-delivery decision first pulls page -> CPU, and pushes CPU ->
 * page afterwards (kvm-bt-vcpu.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "cpu.h"
#include "exec/address-spaces.h"
#include "exec/exec-all.h"
#include "exec/memory.h"
#include "hw/core/cpu.h"
#include "sysemu/device_tree.h"
#include "sysemu/reset.h"
#include <libfdt.h>
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"
#include "kvm-bt-vcpu.h"
#include "core/ppc-insn.h"
#include "core/kvm-para.h"
#include "core/shared-page.h"
#include "trace.h"

/*
 * Home of the pages in QEMU's physical address space: just above the 36
 * bits of e500 physical address a guest TLB entry can name (MAS7 holds 4),
 * so no mapping of the guest's own reaches them; as under real KVM, only
 * the magic address does.
 */
#define KVM_BT_SHARED_PA    (1ULL << 36)


static MemoryRegion shared_mr;

/* The page is at 0xFFFFF000 for this vCPU right now. */
static bool page_visible(KvmBtVcpu *v)
{
    return v->pv_mapped || kvm_bt_bt_uses_page();
}

static void shared_reset(void *opaque)
{
    KvmBtState *s = &kvm_bt_state;

    memset(memory_region_get_ram_ptr(&shared_mr), 0, s->nr_vcpus * KVM_BT_SHARED_SIZE);
    for (unsigned i = 0; i < s->nr_vcpus; i++) {
        s->vcpus[i].pv_mapped = false;
        s->vcpus[i].cpu_owns_state = false;
        s->vcpus[i].page_stale = true;
        /* the next kernel may lock user memory differently */
        s->vcpus[i].pid_drop = false;
        s->vcpus[i].in_syscall = false;
    }
}

void kvm_bt_shared_init(MachineState *ms)
{
    KvmBtState *s = &kvm_bt_state;

    memory_region_init_ram(&shared_mr, NULL, "kvm-bt.shared", s->nr_vcpus * KVM_BT_SHARED_SIZE,
                           &error_fatal);
    memory_region_add_subregion(get_system_memory(), KVM_BT_SHARED_PA, &shared_mr);
    for (unsigned i = 0; i < s->nr_vcpus; i++) {
        s->vcpus[i].page = (uint8_t *)memory_region_get_ram_ptr(&shared_mr) +
                           i * KVM_BT_SHARED_SIZE;
        s->vcpus[i].page_pa = KVM_BT_SHARED_PA + i * KVM_BT_SHARED_SIZE;
        s->vcpus[i].page_stale = true;
    }
    qemu_register_reset(shared_reset, NULL);
}

bool kvm_bt_xlate_shared_page(PowerPCCPU *cpu, vaddr ea, MMUAccessType access_type,
                              hwaddr *raddrp, int *psizep, int *protp, int mmu_idx,
                              bool guest_visible)
{
    KvmBtVcpu *v = kvm_bt_vcpu(CPU(cpu));

    if (v->raw_lookup || !page_visible(v)) {
        return false;
    }
    if (guest_visible && !v->cpu_owns_state && !v->page_stale) {
        /* a TLB miss about to be raised loads MAS0-3 from MAS4 */
        kvm_bt_shared_pull_mas4(CPU(cpu), v->page);
    }
    /*
     * Data only, never executable; and only for kvm-bt's own code (its MMU
     * index, kvm-bt-textview.c), unless the guest asked for the page by
     * hypercall: then, as KVM's ABI has it, for every supervisor access
     * (mmu_idx bit 0: MSR[PR] clear).
     */
    if ((ea & ~(vaddr)(KVM_BT_SHARED_SIZE - 1)) != KVM_BT_SHARED_EA ||
        access_type == MMU_INST_FETCH ||
        (mmu_idx != KVM_BT_MMU_IDX && !(v->pv_mapped && (mmu_idx & 1)))) {
        return false;
    }
    *raddrp = v->page_pa + (ea & (KVM_BT_SHARED_SIZE - 1));
    *psizep = TARGET_PAGE_BITS;
    *protp = PAGE_READ | PAGE_WRITE;
    return true;
}

/* Before the monitor looks at the vCPU (any exit, any interrupt). */
/* A page that just became visible gets the vCPU's registers first. */
static void freshen(CPUState *cs, KvmBtVcpu *v)
{
    if (v->page_stale) {
        kvm_bt_shared_push(cs, v->page);
        v->page_stale = false;
    }
}

void kvm_bt_sync_from_page(CPUState *cs, unsigned flags)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);

    if (page_visible(v) && !v->cpu_owns_state) {
        freshen(cs, v);
        kvm_bt_shared_pull(cs, v->page, flags);
        v->cpu_owns_state = true;
    }
}

/*
 * A TLB miss while the CPU translates with PID 0 for another guest PID (a
 * deferred write, or dropped at a system call; core/bt-translate.c): with
 * the guest's PID the access may well hit. Apply it, undo what the miss set
 * (the page still holds MAS0-7, DEAR and ESR from before it), and retry the
 * instruction instead of delivering the miss.
 */
bool kvm_bt_retry_with_deferred_pid(CPUState *cs, int excp)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);

    if ((excp != POWERPC_EXCP_DTLB && excp != POWERPC_EXCP_ITLB) || !page_visible(v) ||
        v->cpu_owns_state || v->page_stale || !kvm_bt_shared_pid_deferred(cs, v->page)) {
        return false;
    }
    kvm_bt_sync_from_page(cs, KVM_BT_SYNC_ALL);
    kvm_bt_unbump_victim(cs);
    return true;
}

/*
 * The TLB miss about to be consumed advanced TLB0's next victim (MAS0[NV]
 * of later misses): a miss the guest never sees must not.
 */
void kvm_bt_unbump_victim(CPUState *cs)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    env->last_way = (env->last_way - 1) & (booke206_tlb_ways(env, 0) - 1);
}

void kvm_bt_page_pull_all(void)
{
    CPUState *cs;

    CPU_FOREACH(cs) {
        KvmBtVcpu *v = kvm_bt_vcpu(cs);

        if (page_visible(v) && !v->cpu_owns_state && !v->page_stale) {
            kvm_bt_shared_pull(cs, v->page, KVM_BT_SYNC_ALL);
        }
    }
}

void kvm_bt_page_invalidate(void)
{
    for (unsigned i = 0; i < kvm_bt_state.nr_vcpus; i++) {
        /* a page the guest mapped by hypercall stayed live all along */
        if (!kvm_bt_state.vcpus[i].pv_mapped) {
            kvm_bt_state.vcpus[i].page_stale = true;
        }
    }
}

/* After the monitor changed the vCPU, before the guest runs again. */
void kvm_bt_sync_to_page(CPUState *cs)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);

    if (page_visible(v)) {
        kvm_bt_shared_push(cs, v->page);
        if (v->drop_pid && kvm_bt_bt_uses_page()) {
            kvm_bt_shared_drop_pid(cs, v->page);
        }
    }
    v->drop_pid = false;
    v->cpu_owns_state = false;
}

void kvm_bt_interrupt_delivered(CPUState *cs)
{
    kvm_bt_sync_to_page(cs);
}

/*
 * TCG is about to decide on an asynchronous interrupt. MSR[EE] is the
 * page's; KVM withholds interrupts while shared->critical == r1 (Linux's PV
 * templates), and the monitor withholds them while the PC is inside its own
 * translation cache, so the guest never sees a PC there. A withheld
 * interrupt is retried after every instruction: single-step until it goes.
 */
bool kvm_bt_interrupt_withheld(CPUState *cs)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);
    CPUPPCState *env = &POWERPC_CPU(cs)->env;
    bool hold;

    /*
     * The EV_IDLE hypercall halted this vCPU inside this cpu_exec(): the
     * generic loop must see the halt first; it wakes the vCPU for this
     * very interrupt. Taken now, the interrupt would leave the vCPU halted
     * while its guest runs the handler with MSR[EE] off, asleep until
     * something else kicks it (seen: 5 s, the PV guest's pipe line under
     * -smp 2 MTTCG, in trap mode and bt=on alike).
     */
    if (cs->halted) {
        return true;
    }
    if (!page_visible(v)) {
        return false;
    }
    if (!v->cpu_owns_state) {
        /* CPU == page afterwards, so the guest may go on without a push */
        freshen(cs, v);
        kvm_bt_shared_pull(cs, v->page, KVM_BT_SYNC_ALL);
    }
    hold = kvm_bt_shared_critical(cs, v->page) || kvm_bt_pc_in_tc(env->nip);
    kvm_bt_shared_set_int_pending(cs, v->page);
    if (hold) {
        cs->cflags_next_tb = (curr_cflags(cs) & ~CF_COUNT_MASK) | 1 |
                             CF_NO_GOTO_TB | CF_NO_GOTO_PTR;
    }
    return hold;
}

/*
 * An interrupt became pending or went away (any thread, BQL held). While
 * the page holds MSR[EE], QEMU's own "is it unmasked" test would read a
 * stale EE: make the vCPU look at every pending interrupt, and
 * kvm_bt_interrupt_withheld() decides with the page. int_pending tells
 * translated code at once, as KVM does on its next guest entry.
 */
bool kvm_bt_maybe_interrupt(CPUState *cs)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);

    if (!page_visible(v)) {
        return false;
    }
    kvm_bt_shared_set_int_pending(cs, v->page);
    if (POWERPC_CPU(cs)->env.pending_interrupts) {
        cpu_interrupt(cs, CPU_INTERRUPT_HARD);
    } else {
        cpu_reset_interrupt(cs, CPU_INTERRUPT_HARD);
    }
    return true;
}

/*
 * KVM's hypercalls (r11 = token, r3.. = arguments; r3 = status, r4 =
 * result). Returns the status; sets *out on success only, so an error
 * changes nothing else.
 */
static uint32_t hypercall(CPUState *cs, KvmBtVcpu *v, const struct kvm_regs *regs,
                          uint64_t *out)
{
    uint32_t token = regs->gpr[11];

    switch (token) {
    case KVM_BT_KVM_HCALL_TOKEN(KVM_BT_HC_FEATURES):
        *out = 1u << KVM_BT_FEATURE_MAGIC_PAGE;
        return KVM_BT_EV_SUCCESS;
    case KVM_BT_KVM_HCALL_TOKEN(KVM_BT_HC_PPC_MAP_MAGIC_PAGE): {
        uint32_t where = regs->gpr[3];
        uint32_t ea = regs->gpr[4] & ~KVM_BT_MAGIC_PAGE_FLAG_NOT_MAPPED_NX;

        /* the guest gets its own page at the one address the page lives at */
        if (where != KVM_BT_SHARED_EA || ea != KVM_BT_SHARED_EA) {
            return KVM_BT_EV_EINVAL;
        }
        if (!v->pv_mapped) {
            v->pv_mapped = true;
            v->page_stale = false;
            kvm_bt_shared_push(cs, v->page);
            tlb_flush_page(cs, KVM_BT_SHARED_EA);
        }
        *out = KVM_BT_MAGIC_FEAT_MAS0_TO_SPRG7;
        return KVM_BT_EV_SUCCESS;
    }
    case KVM_BT_EV_HCALL_TOKEN(KVM_BT_EV_IDLE):
        /* like KVM: sleep until an interrupt is pending */
        cs->halted = 1;
        *out = regs->gpr[4];
        return KVM_BT_EV_SUCCESS;
    default:
        return KVM_BT_EV_UNIMPLEMENTED;
    }
}

/* sc in guest supervisor mode with r0 = "KVM!" is a hypercall when pv=on. */
bool kvm_bt_try_hypercall(CPUState *cs, int excp)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);
    CPUPPCState *env = &POWERPC_CPU(cs)->env;
    struct kvm_regs regs;
    uint64_t out = 0;
    uint32_t status;

    if (!kvm_bt_state.pv || excp != POWERPC_EXCP_SYSCALL || FIELD_EX64(env->msr, MSR, PR) ||
        (uint32_t)env->gpr[0] != KVM_BT_SC_MAGIC_R0) {
        return false;
    }
    kvm_bt_get_regs(cs, &regs);
    status = hypercall(cs, v, &regs, &out);
    trace_kvm_bt_hypercall(cs->cpu_index, regs.gpr[11], status);
    regs.gpr[3] = status;
    if (status == KVM_BT_EV_SUCCESS) {
        regs.gpr[4] = out;
    }
    regs.pc += 4;       /* resume after the sc */
    kvm_bt_set_regs(cs, &regs);
    return true;
}

/*
 * The board's device tree. pv=on: /hypervisor tells a CONFIG_KVM_GUEST
 * Linux how to make hypercalls (Documentation/virt/kvm/ppc-pv.rst).
 * bt=on: the translation cache is guest RAM the guest must leave alone.
 */
void kvm_bt_e500_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size)
{
    if (kvm_bt_state.pv) {
        static const char compat[] = "linux,kvm\0epapr,hypervisor-1";
        /* lis r0,0x4b56; ori r0,r0,0x4d21; sc; nop */
        PPCInsn lis = { .kind = PPC_INSN_ADDIS, .imm = KVM_BT_SC_MAGIC_R0 >> 16 };
        PPCInsn ori = { .kind = PPC_INSN_ORI, .imm = KVM_BT_SC_MAGIC_R0 & 0xffff };
        PPCInsn sc = { .kind = PPC_INSN_SC };
        PPCInsn nop = { .kind = PPC_INSN_ORI };
        uint32_t hcall[4] = {
            cpu_to_be32(ppc_insn_encode(&lis)), cpu_to_be32(ppc_insn_encode(&ori)),
            cpu_to_be32(ppc_insn_encode(&sc)), cpu_to_be32(ppc_insn_encode(&nop)),
        };

        qemu_fdt_add_subnode(fdt, "/hypervisor");
        qemu_fdt_setprop(fdt, "/hypervisor", "compatible", compat, sizeof(compat));
        qemu_fdt_setprop(fdt, "/hypervisor", "hcall-instructions", hcall, sizeof(hcall));
        qemu_fdt_setprop(fdt, "/hypervisor", "has-idle", NULL, 0);
    }
    kvm_bt_bt_fdt(fdt, kernel_base, kernel_size);
}
