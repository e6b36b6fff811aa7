/*
 * kvm-bt: the entry points QEMU's own code calls (see patches/qemu-7.2)
 *
 * Each hook is a no-op unless -accel kvm-bt runs, so the patched QEMU
 * behaves exactly as upstream under every other accelerator.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_HOOKS_H
#define KVM_BT_HOOKS_H

#include "exec/cpu-common.h"
#include "cpu.h"

#if defined(TARGET_PPC64)
/*
 * kvm-bt runs 32-bit e500 guests and is built into qemu-system-ppc only
 * (accel/kvm-bt/meson.build): in qemu-system-ppc64 every hook is a no-op.
 */
#define kvm_bt_allowed false
#define kvm_bt_kvm_bt_on false
#else
/* True when -accel kvm-bt is running. */
extern bool kvm_bt_allowed;
/* True when -accel kvm,bt=on is running (kvm-bt-kvm.c). */
extern bool kvm_bt_kvm_bt_on;
#endif

bool kvm_bt_reflect_interrupt(CPUState *cs, int excp);
void kvm_bt_interrupt_delivered(CPUState *cs);
bool kvm_bt_interrupt_withheld(CPUState *cs);
bool kvm_bt_maybe_interrupt(CPUState *cs);
bool kvm_bt_xlate_shared_page(PowerPCCPU *cpu, vaddr ea, MMUAccessType access_type,
                              hwaddr *raddrp, int *psizep, int *protp, int mmu_idx,
                              bool guest_visible);
void kvm_bt_e500_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size);
bool kvm_bt_mfspr_exits(int sprn);
bool kvm_bt_own_insn(ram_addr_t first, vaddr offset, uint32_t insn);
void kvm_bt_tlb_fill(CPUState *cs, MMUAccessType access_type, hwaddr *raddrp, int *protp);
void kvm_bt_pidtlb_filled(CPUState *cs, vaddr ea, int mmu_idx);
void kvm_bt_pid_flush(CPUState *cs);
/* Set while bt=on has patched some page: the two hooks below have work. */
extern bool kvm_bt_textview_live;

/*
 * The MMU index of kvm-bt's own code (patches/qemu-7.2/0014): under bt=on
 * only accesses made through it reach the shared page at 0xFFFFF000,
 * unless the guest asked for the page itself (pv=on).
 */
#define KVM_BT_MMU_IDX 10
QEMU_BUILD_BUG_ON(NB_MMU_MODES <= KVM_BT_MMU_IDX);

/* -accel kvm,bt=on: called from target/ppc/kvm.c */
struct KVMState;
#if defined(TARGET_PPC64)
static inline void kvm_bt_kvm_class_init(ObjectClass *oc) { }
static inline int kvm_bt_kvm_init(MachineState *ms, struct KVMState *s) { return 0; }
static inline int kvm_bt_kvm_init_vcpu(CPUState *cs) { return 0; }
#else
void kvm_bt_kvm_class_init(ObjectClass *oc);
int kvm_bt_kvm_init(MachineState *ms, struct KVMState *s);
int kvm_bt_kvm_init_vcpu(CPUState *cs);
#endif
void kvm_bt_kvm_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size);

/*
 * An interrupt is about to be delivered (powerpc_excp_booke): a reflection
 * exit. True if the monitor consumed it (a hypercall) and nothing is to be
 * delivered.
 */
static inline bool kvm_bt_interrupt_hook(CPUState *cs, int excp)
{
    return kvm_bt_allowed && kvm_bt_reflect_interrupt(cs, excp);
}

/* The interrupt has been delivered: the CPU state is the handler's. */
static inline void kvm_bt_interrupt_delivered_hook(CPUState *cs)
{
    if (kvm_bt_allowed) {
        kvm_bt_interrupt_delivered(cs);
    }
}

/*
 * Before TCG decides whether to deliver an asynchronous interrupt: true to
 * hold it back for now (the guest is in a critical section).
 */
static inline bool kvm_bt_interrupt_withheld_hook(CPUState *cs)
{
    return kvm_bt_allowed && kvm_bt_interrupt_withheld(cs);
}

/*
 * An interrupt became pending or was cleared. True if the monitor took the
 * decision whether the vCPU must look at it: MSR[EE] may live in the
 * shared page, where QEMU cannot see it.
 */
static inline bool kvm_bt_maybe_interrupt_hook(CPUState *cs)
{
    return kvm_bt_allowed && kvm_bt_maybe_interrupt(cs);
}

/* Guest address translation: true if @ea is the monitor's shared page. */
static inline bool kvm_bt_xlate_hook(PowerPCCPU *cpu, vaddr ea, MMUAccessType access_type,
                                     hwaddr *raddrp, int *psizep, int *protp, int mmu_idx,
                                     bool guest_visible)
{
    return kvm_bt_allowed &&
           kvm_bt_xlate_shared_page(cpu, ea, access_type, raddrp, psizep, protp, mmu_idx,
                                    guest_visible);
}

/* The e500 board built its device tree: /hypervisor, /memreserve/. */
static inline void kvm_bt_e500_fdt_hook(void *fdt, hwaddr kernel_base, hwaddr kernel_size)
{
    if (kvm_bt_allowed) {
        kvm_bt_e500_fdt(fdt, kernel_base, kernel_size);
    } else if (kvm_bt_kvm_bt_on) {
        kvm_bt_kvm_fdt(fdt, kernel_base, kernel_size);
    }
}

/*
 * Translating supervisor code that runs de-privileged: must mfspr @sprn
 * exit although problem state may read it? (bt=on: the SPRG3-7 aliases)
 */
static inline bool kvm_bt_mfspr_exits_hook(int sprn)
{
    return kvm_bt_allowed && kvm_bt_mfspr_exits(sprn);
}

/*
 * Translating supervisor code: is @insn, @offset bytes into a block whose
 * first instruction is at ram_addr @first (-1: not RAM), a word kvm-bt
 * wrote (a patched site, a stub)? Its memory accesses then use
 * KVM_BT_MMU_IDX. (A block never crosses a page here.)
 */
static inline bool kvm_bt_own_insn_hook(ram_addr_t first, vaddr offset, uint32_t insn)
{
    return kvm_bt_allowed && qatomic_read(&kvm_bt_textview_live) &&
           kvm_bt_own_insn(first, offset, insn);
}

/*
 * QEMU's TLB is about to map @ea in @mmu_idx to guest-physical *@raddrp:
 * the monitor notes pages whose translation depends on PID
 * (kvm-bt-pidtlb.c), and data accesses to a page that holds patches go to
 * the view serving the guest's own words (kvm-bt-textview.c).
 */
static inline void kvm_bt_tlb_fill_hook(CPUState *cs, vaddr ea, int mmu_idx,
                                        MMUAccessType access_type,
                                        hwaddr *raddrp, int *protp)
{
    if (kvm_bt_allowed) {
        kvm_bt_pidtlb_filled(cs, ea, mmu_idx);
        if (qatomic_read(&kvm_bt_textview_live)) {
            kvm_bt_tlb_fill(cs, access_type, raddrp, protp);
        }
    }
}

/*
 * The guest wrote a PID register: true if the monitor flushed what the
 * change affects, else QEMU flushes its whole TLB.
 */
static inline bool kvm_bt_pid_written_hook(CPUState *cs)
{
    if (!kvm_bt_allowed) {
        return false;
    }
    kvm_bt_pid_flush(cs);
    return true;
}

#endif
