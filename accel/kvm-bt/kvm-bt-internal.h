/*
 * kvm-bt: monitor state shared by the accelerator's files
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_INTERNAL_H
#define KVM_BT_INTERNAL_H

#include "qemu/thread.h"
#include "qemu/stats64.h"
#include "hw/core/cpu.h"
#include "hw/boards.h"
#include "core/exit-class.h"
#include "core/site-table.h"
#include "core/bt-sites.h"
#include "core/bt-translate.h"
#include "qapi/qapi-types-kvm-bt-target.h"

/*
 * cpu_exec() returns this when translated code hit a privileged
 * instruction: above EXCP_INTERRUPT so the TCG loop hands it back to us.
 */
#define EXCP_KVM_BT_EXIT    0x10100

#define TYPE_KVM_BT_ACCEL ACCEL_CLASS_NAME("kvm-bt")

/* Default virtual time charged per exit under icount (docs/kvm-bt.rst). */
#define KVM_BT_DEFAULT_EXIT_COST_NS 400

/* Pages a PID write flushes one by one; beyond that, QEMU's whole TLB. */
#define KVM_BT_PID_PAGES 64

typedef struct KvmBtVcpu {
    /*
     * Taken by the vCPU's own thread on each exit and by readers (QMP, stats
     * file). Per vCPU, so exits of different vCPUs never contend.
     */
    QemuMutex lock;
    uint64_t exits[KVM_BT_EXIT__COUNT];
    KvmBtSiteTable sites;

    /* the shared page (kvm-bt-shared.c) */
    uint8_t *page;
    hwaddr page_pa;
    bool pv_mapped;             /* the guest asked for it by hypercall */
    /*
     * Between a pull and the matching push the CPU, not the page, holds
     * the vCPU's registers (the monitor is handling an exit or interrupt).
     */
    bool cpu_owns_state;
    /* the page does not hold the vCPU's registers yet (reset, unblocked) */
    bool page_stale;
    /* the interrupt being delivered enters the kernel from a user system call */
    bool drop_pid;
    /*
     * bt=on drops the CPU's PID at system calls from user mode only once
     * this vCPU has seen the guest's kernel write PID 0 while handling one
     * (Linux's user-access lock): without that, the drop only costs a
     * pid-sync exit at the first access to user memory (kvm-bt-exit.c).
     */
    bool pid_drop;
    bool in_syscall;            /* the kernel was last entered from user mode by sc */

    /* vCPU thread only */
    bool raw_lookup;            /* translating through the guest's own TLB only */
    uint32_t exit_word;         /* word of the instruction that exited */
    bool step_pending;          /* exit accounted, instruction not yet run */
    bool own_exit;              /* the EXCP_INTERRUPT to come is our own exit_request */
    bool stepping;              /* in the step's cpu_exec(): exit_request is ours */
    bool kicked;                /* a kick came while our own exit_request hid it */
    uint64_t stub_next;         /* an exit in a stub: its PC + 4 ... */
    uint32_t stub_resume;       /* ... continues here, after the site (0: none) */
    bool tlb_op;                /* the exit may change the guest TLB ... */
    bool tlb_op_tlbwe;          /* ... and is a tlbwe */
    /* bt=on: the exit steps this cluster (core/bt-cluster.h) if run.words > 1 */
    KvmBtCluster run;
    KvmBtSite *run_site;
    uint64_t run_ea;
    unsigned run_from;          /* the next block starts at this word of the run */
    uint16_t run_done;          /* words of the run executed so far */
    bool in_run;                /* the step is executing the run ... */
    uint64_t run_cut;           /* ... and an interrupt came at this PC (0: none) */
    uint64_t absorbed;          /* privileged instructions clusters took along */
    uint64_t cluster_runs;      /* exits that stepped a cluster */
    /*
     * Pages QEMU's TLB maps through a guest TLB entry with a non-zero TID:
     * a PID write flushes these, not everything (kvm-bt-pidtlb.c).
     */
    vaddr pid_pages[KVM_BT_PID_PAGES];  /* page | bitmap of MMU indexes */
    unsigned nr_pid_pages;      /* more than KVM_BT_PID_PAGES: flush all */
    Stat64 pid_flushes;         /* PID writes that flushed the noted pages */
    Stat64 pid_flushes_full;    /* ... and that flushed everything */
} KvmBtVcpu;

typedef struct KvmBtState {
    bool bt;
    bool cluster;               /* bt=on: exit clusters (core/bt-cluster.h) */
    bool cluster_set;           /* given on the command line */
    bool pv;
    uint64_t hot_threshold;     /* exits at a site on one vCPU before it is translated */
    char *stats_path;
    FILE *stats_file;
    int64_t exit_cost_ns;       /* -1: not set on the command line */
    unsigned nr_vcpus;
    KvmBtVcpu *vcpus;
} KvmBtState;

extern KvmBtState kvm_bt_state;

static inline KvmBtVcpu *kvm_bt_vcpu(CPUState *cs)
{
    return &kvm_bt_state.vcpus[cs->cpu_index];
}

/* kvm-bt-all.c: property values both backends check the same way */
void kvm_bt_visit_hot_threshold(Visitor *v, const char *name, uint64_t *threshold,
                                Error **errp);
void kvm_bt_set_stats_path(char **path, const char *value, Error **errp);
/* Refuse migration, snapshots and -incoming (both backends; @backend names it). */
int kvm_bt_block_migration(const char *backend);

/* kvm-bt-exit.c */
int kvm_bt_vcpu_exec(CPUState *cs);
void kvm_bt_vcpu_enable_trap(CPUState *cs);
int64_t kvm_bt_exit_cost_ns(void);

/* kvm-bt-shared.c */
void kvm_bt_shared_init(MachineState *ms);
void kvm_bt_sync_from_page(CPUState *cs, unsigned flags);
void kvm_bt_sync_to_page(CPUState *cs);
bool kvm_bt_try_hypercall(CPUState *cs, int excp);
bool kvm_bt_retry_with_deferred_pid(CPUState *cs, int excp);
/* Every vCPU's page must be refreshed from its CPU before it is used again. */
void kvm_bt_page_invalidate(void);
/* Safe work, before bt=on stops using the pages: each page into its CPU. */
void kvm_bt_page_pull_all(void);

/* kvm-bt-translate.c: bt=on */
/* accel/tcg's tcg_code_write_hook and tcg_code_watched_hook (patch 0008) */
void kvm_bt_code_write(ram_addr_t start, ram_addr_t end);
bool kvm_bt_code_watched(ram_addr_t ram_addr);
typedef struct KvmBtSummary {
    size_t translated, refused, dropped, undone;
    unsigned tc_live, tc_retired, tc_total;     /* TC slots */
    uint32_t tc_ea;
    uint64_t tc_pa;
    bool page_blocked;
    uint64_t translations, churn_refused, stubs_lost;
} KvmBtSummary;

/*
 * A backend around the translator core: the TCG-based monitor
 * (kvm-bt-translate.c) or real KVM (kvm-bt-kvm.c). The accounting
 * (kvm-bt-stats.c) reads the translator's state through it.
 */
typedef struct KvmBtBackend {
    const char *name;
    const KvmBtHostCaps *caps;      /* what the host keeps (core/bt-translate.h) */
    void (*summary)(KvmBtSummary *sum);
    bool (*site_translation)(uint64_t pa, KvmBtPatchSite *out);
    /* NULL: no host-specific accounting */
    void (*host_info)(KvmBtKvmInfo *info);
} KvmBtBackend;

/* NULL until an accelerator with kvm-bt runs */
extern const KvmBtBackend *kvm_bt_backend;
extern const KvmBtBackend kvm_bt_kvm_backend;

/* Is kvm-bt accounting live (-accel kvm-bt, or -accel kvm,bt=on)? */
static inline bool kvm_bt_active(void)
{
    return kvm_bt_backend != NULL;
}

/*
 * Reserve the TC for the kernel loaded at [kernel_base, + kernel_size) in
 * the device tree; pa and size stay 0 if there is none.
 */
void kvm_bt_tc_reserve(void *fdt, hwaddr kernel_base, hwaddr kernel_size, uint64_t *pa,
                       uint32_t *size);

void kvm_bt_bt_init(void);
void kvm_bt_bt_board_ready(MachineState *ms);
bool kvm_bt_site_exit_hot(KvmBtSite *site);
unsigned kvm_bt_code_gen(void);
bool kvm_bt_bt_uses_page(void);
bool kvm_bt_pc_in_tc(uint64_t pc);
uint32_t kvm_bt_stub_resume(uint64_t pc);
bool kvm_bt_user_ran_site(CPUState *cs, uint64_t pc, uint32_t *site_ea);
void kvm_bt_unbump_victim(CPUState *cs);
void kvm_bt_site_hot(CPUState *cs, uint32_t ea, uint64_t pa, uint32_t word);
void kvm_bt_tlb_changed(CPUState *cs, bool tlbwe);
void kvm_bt_bt_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size);

/* kvm-bt-textview.c: what the guest must not see of our patches (issue 15) */
void kvm_bt_textview_init(MachineState *ms);
void kvm_bt_textview_mark(uint64_t pa, uint64_t stub_pa, unsigned stub_len);
void kvm_bt_textview_unpatch(uint32_t *host, uint64_t pa, uint32_t orig, uint32_t patch,
                             uint64_t start, uint64_t end);
uint64_t kvm_bt_textview_reads(void);
/* kvm-bt-translate.c, for it */
bool kvm_bt_word_is_ours(uint64_t pa, uint32_t insn);
bool kvm_bt_patched_orig(uint64_t pa, uint32_t word, uint32_t *orig);


/* kvm-bt-stats.c */
void kvm_bt_stats_write_file(void);

#endif
