/*
 * kvm-bt: the monitor's vCPU loop — privileged-instruction exits and
 * interrupt reflections
 *
 * The guest kernel's translated code is compiled with HFLAGS_KVM_BT_TRAP,
 * under which every instruction that would be privileged in problem state
 * raises EXCP_KVM_BT_EXIT instead of executing. cpu_exec() returns that to
 * kvm_bt_vcpu_exec(), which reads the vCPU through the KVM-shaped interface,
 * classifies and accounts the exit, then has TCG execute that one
 * instruction with full privilege as a single-instruction block, and
 * resumes the guest.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "cpu.h"
#include "exec/exec-all.h"
#include "exec/helper-proto.h"
#include "hw/core/cpu.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/cpus.h"
#include "sysemu/replay.h"
#include "sysemu/tcg.h"
#include "qemu/seqlock.h"
#include "softmmu/timers-state.h"
#include "helper_regs.h"
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"
#include "kvm-bt-vcpu.h"
#include "core/ppc-insn.h"
#include "core/shared-page.h"
#include "trace.h"

/* Called from translated code in place of a privileged instruction. */
void helper_kvm_bt_exit(CPUPPCState *env, uint32_t word)
{
    CPUState *cs = env_cpu(env);

    kvm_bt_vcpu(cs)->exit_word = word;
    cs->exception_index = EXCP_KVM_BT_EXIT;
    /* restore nip to the instruction, and icount to before it */
    cpu_loop_exit_restore(cs, GETPC());
}

/* Supervisor code is translated with or without HFLAGS_KVM_BT_TRAP. */
static void set_trap(CPUPPCState *env, bool on)
{
    env->kvm_bt_trap = on;
    hreg_compute_hflags(env);
}

void kvm_bt_vcpu_enable_trap(CPUState *cs)
{
    set_trap(&POWERPC_CPU(cs)->env, true);
}

int64_t kvm_bt_exit_cost_ns(void)
{
    if (!icount_enabled()) {
        return 0;
    }
    return kvm_bt_state.exit_cost_ns >= 0 ? kvm_bt_state.exit_cost_ns
                                          : KVM_BT_DEFAULT_EXIT_COST_NS;
}

/*
 * Under icount, an exit costs virtual time: the virtual clock jumps by the
 * exit cost right where the exit happens, as icount's own idle warp does (by
 * its bias). Depending only on the exit, not on how TCG split the vCPU's
 * instruction budget, keeps it deterministic and replayable. The seqlock is
 * global but icount runs all vCPUs in one thread, so it never contends; the
 * jump brings the next deadline closer, so after the step the budget is cut
 * to it (icount_deadline_due), and TCG's loop fires the timer once it is due.
 */
static void charge_exit_cost(void)
{
    int64_t cost = kvm_bt_exit_cost_ns();

    if (!cost) {
        return;
    }
    seqlock_write_lock(&timers_state.vm_clock_seqlock, &timers_state.vm_clock_lock);
    qatomic_set_i64(&timers_state.qemu_icount_bias, timers_state.qemu_icount_bias + cost);
    seqlock_write_unlock(&timers_state.vm_clock_seqlock, &timers_state.vm_clock_lock);
}

static KvmBtExitClass interrupt_class(int excp)
{
    switch (excp) {
    case POWERPC_EXCP_SYSCALL:  return KVM_BT_EXIT_SYSCALL;
    case POWERPC_EXCP_DECR:     return KVM_BT_EXIT_DECREMENTER;
    case POWERPC_EXCP_FIT:      return KVM_BT_EXIT_FIT;
    case POWERPC_EXCP_WDT:      return KVM_BT_EXIT_WATCHDOG;
    case POWERPC_EXCP_EXTERNAL: return KVM_BT_EXIT_EXTERNAL;
    case POWERPC_EXCP_CRITICAL: return KVM_BT_EXIT_CRITICAL;
    case POWERPC_EXCP_MCHECK:   return KVM_BT_EXIT_MCHECK;
    case POWERPC_EXCP_DTLB:     return KVM_BT_EXIT_DTLB_MISS;
    case POWERPC_EXCP_ITLB:     return KVM_BT_EXIT_ITLB_MISS;
    case POWERPC_EXCP_DSI:      return KVM_BT_EXIT_DSI;
    case POWERPC_EXCP_ISI:      return KVM_BT_EXIT_ISI;
    case POWERPC_EXCP_PROGRAM:
    case POWERPC_EXCP_HV_EMU:   return KVM_BT_EXIT_PROGRAM;
    case POWERPC_EXCP_ALIGN:    return KVM_BT_EXIT_ALIGNMENT;
    case POWERPC_EXCP_FPU:      return KVM_BT_EXIT_FPU_UNAVAIL;
    case POWERPC_EXCP_SPEU:
    case POWERPC_EXCP_EFPDI:
    case POWERPC_EXCP_EFPRI:    return KVM_BT_EXIT_SPE;
    case POWERPC_EXCP_DEBUG:    return KVM_BT_EXIT_DEBUG;
    case POWERPC_EXCP_DOORI:
    case POWERPC_EXCP_DOORCI:   return KVM_BT_EXIT_DOORBELL;
    case POWERPC_EXCP_EPERFM:   return KVM_BT_EXIT_PERFMON;
    default:                    return KVM_BT_EXIT_IRQ_OTHER;
    }
}

/* Mirrored registers QEMU's fault path has already set for @excp. */
static unsigned fault_sets(int excp)
{
    switch (excp) {
    case POWERPC_EXCP_DTLB:
    case POWERPC_EXCP_ITLB:
        return KVM_BT_SYNC_KEEP_MAS | KVM_BT_SYNC_KEEP_FAULT;
    case POWERPC_EXCP_DSI:
    case POWERPC_EXCP_ISI:
    case POWERPC_EXCP_ALIGN:
        return KVM_BT_SYNC_KEEP_FAULT;
    default:
        return KVM_BT_SYNC_ALL;
    }
}

/*
 * A data TLB miss or DSI at the page in problem state, at one of our
 * translations: undo the translation and put back what the fault set
 * (MAS0-7, DEAR, ESR: the page holds them from before), then run the
 * guest's own word at the site (kvm_bt_user_ran_site).
 */
static bool user_ran_translation(CPUState *cs, int excp)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;
    uint32_t site;

    if ((excp != POWERPC_EXCP_DTLB && excp != POWERPC_EXCP_DSI) ||
        !FIELD_EX64(env->msr, MSR, PR) ||
        (env->spr[SPR_BOOKE_DEAR] & ~(target_ulong)(KVM_BT_SHARED_SIZE - 1)) != KVM_BT_SHARED_EA ||
        !kvm_bt_user_ran_site(cs, env->nip, &site)) {
        return false;
    }
    kvm_bt_sync_from_page(cs, KVM_BT_SYNC_ALL);
    if (excp == POWERPC_EXCP_DTLB) {
        kvm_bt_unbump_victim(cs);
    }
    env->nip = site;
    return true;
}

/*
 * Every interrupt passes here before QEMU delivers it: a reflection exit,
 * (pv=on) a hypercall the monitor handles itself, or a TLB miss that only
 * a deferred PID write caused (retried). Returns true when nothing is to be
 * delivered.
 */
bool kvm_bt_reflect_interrupt(CPUState *cs, int excp)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);
    KvmBtExitClass cls = interrupt_class(excp);
    bool consumed;

    if (v->in_run && !v->run_cut) {
        /* the cluster stops here: what follows will exit on its own */
        v->run_cut = POWERPC_CPU(cs)->env.nip;
    }
    if (kvm_bt_retry_with_deferred_pid(cs, excp)) {
        /* not the guest's miss: the instruction runs again, with the new PID */
        cls = KVM_BT_EXIT_PID_SYNC;
        consumed = true;
        kvm_bt_sync_to_page(cs);
    } else if (user_ran_translation(cs, excp)) {
        /* not the guest's fault either: its own word runs there instead */
        consumed = true;
        kvm_bt_sync_to_page(cs);
    } else {
        kvm_bt_sync_from_page(cs, fault_sets(excp));
        consumed = kvm_bt_try_hypercall(cs, excp);
        if (consumed) {
            cls = KVM_BT_EXIT_HYPERCALL;
            kvm_bt_sync_to_page(cs);
        }
    }
    /*
     * A system call from user mode: the kernel translates with PID 0 from
     * here until the next pull (exact: any access that needs the PID misses,
     * and is retried with it). A kernel that sets PID 0 on entry (Linux's
     * user-access protection) then does so without an exit. One that does
     * not would only pay a pid-sync exit at its first access to user
     * memory: the drop waits until this vCPU has seen such a write.
     */
    if (FIELD_EX64(POWERPC_CPU(cs)->env.msr, MSR, PR)) {
        v->in_syscall = !consumed && excp == POWERPC_EXCP_SYSCALL;
        v->drop_pid = v->in_syscall && v->pid_drop;
    } else {
        v->drop_pid = false;
    }
    qemu_mutex_lock(&v->lock);
    v->exits[cls]++;
    qemu_mutex_unlock(&v->lock);
    trace_kvm_bt_reflect(cs->cpu_index, POWERPC_CPU(cs)->env.nip,
                         kvm_bt_exit_class_name(cls));
    charge_exit_cost();
    /*
     * QEMU's own code delivers the interrupt right after this hook (as the
     * monitor would); then cpu_exec() must come back to our loop.
     */
    v->own_exit = true;
    if (qatomic_xchg(&cs->exit_request, 1) && !v->stepping) {
        v->kicked = true;   /* not the step's own request */
    }
    return consumed;
}

/* Instructions after which the guest TLB may map addresses differently. */
static bool changes_tlb(KvmBtExitClass cls, uint32_t word)
{
    switch (cls) {
    case KVM_BT_EXIT_TLBWE:
    case KVM_BT_EXIT_TLBIVAX:
    case KVM_BT_EXIT_TLBILX:
        return true;
    case KVM_BT_EXIT_MTSPR:
        return ppc_spr(word) == SPR_MMUCSR0;
    default:
        return false;
    }
}

/* Do the words a cluster was decided on still stand in guest memory? */
static bool run_unchanged(const KvmBtSite *site)
{
    return !memcmp(site->cluster_host, site->cluster_words, 4 * site->cluster.words);
}

/*
 * The instructions to step at an exit of hot @site (bt=on): a cluster when
 * the words after it allow one (core/bt-cluster.c), else just the one.
 * Decided again whenever our own patches changed code, and whenever the
 * words of a cluster changed under it (the guest rewrote its code).
 */
static unsigned site_run(KvmBtSite *site)
{
    KvmBtCluster *c = &site->cluster;
    unsigned gen = kvm_bt_code_gen(), n = kvm_bt_cluster_window(site->ea);
    uint32_t words[KVM_BT_CLUSTER_MAX_WORDS];

    if (site->cluster_gen == gen && (c->words < 2 || run_unchanged(site))) {
        return MAX(c->words, 1);
    }
    site->cluster_gen = gen;
    if (!site->cluster_host && site->pa != (uint64_t)-1) {
        site->cluster_host = kvm_bt_guest_ram(site->pa, 4 * n, NULL);
    }
    if (!site->cluster_host) {
        c->words = 0;
        return 1;
    }
    memcpy(site->cluster_words, site->cluster_host, 4 * n);
    for (unsigned i = 0; i < n; i++) {
        words[i] = be32_to_cpu(site->cluster_words[i]);
    }
    if (words[0] != site->word) {
        c->words = 0;       /* the EA maps other code now: no run from stale words */
    } else {
        kvm_bt_cluster_scan(site->ea, words, n, c);
    }
    trace_kvm_bt_cluster(site->ea, c->words, c->absorbed, c->reason ? c->reason : "");
    return MAX(c->words, 1);
}

/*
 * A block of the run started at word @from and left the PC at @pc: the words
 * it executed, as a mask. A block ends at a branch (taken or not), at an
 * interrupt (run_cut) or at its instruction count.
 */
static uint16_t run_block_done(const KvmBtVcpu *v, unsigned from, uint64_t pc)
{
    unsigned end = v->run.words;
    uint16_t branch = v->run.branches >> from;

    if (v->run_cut) {
        end = MIN((v->run_cut - v->run_ea) / 4, end);
    } else if (pc > v->run_ea && pc - v->run_ea < 4 * end) {
        end = (pc - v->run_ea) / 4;
    }
    if (branch) {
        end = MIN(end, from + __builtin_ctz(branch) + 1);
    }
    return end > from ? (uint16_t)(((1u << end) - 1) & ~((1u << from) - 1)) : 0;
}

/* After a cluster's step: what it took along. */
static void account_run(KvmBtVcpu *v, uint16_t done)
{
    unsigned absorbed = __builtin_popcount(v->run.privileged & done & ~1u);

    qemu_mutex_lock(&v->lock);
    v->cluster_runs++;
    v->absorbed += absorbed;
    v->run_site->cluster_runs += (done >> (v->run.words - 1)) & 1;  /* reached its end */
    v->run_site->cluster_absorbed += absorbed;
    qemu_mutex_unlock(&v->lock);
}

/* Account a privileged-instruction exit, as the monitor sees it. */
static void handle_exit(CPUState *cs, KvmBtVcpu *v)
{
    struct kvm_regs regs;
    KvmBtExitClass cls = kvm_bt_classify_insn(v->exit_word);
    KvmBtSite *site;
    uint64_t ea;
    bool warn = false, hot = false;

    kvm_bt_sync_from_page(cs, KVM_BT_SYNC_ALL);
    kvm_bt_get_regs(cs, &regs);
    ea = regs.pc;
    v->stub_resume = 0;
    if (kvm_bt_pc_in_tc(regs.pc)) {
        /* a stub's fallback: the site's exit, resuming after the site */
        v->stub_resume = kvm_bt_stub_resume(regs.pc);
        v->stub_next = regs.pc + 4;
        if (v->stub_resume) {
            ea = v->stub_resume - 4;
        }
    }
    v->tlb_op = kvm_bt_state.bt && changes_tlb(cls, v->exit_word);
    v->tlb_op_tlbwe = cls == KVM_BT_EXIT_TLBWE;
    v->run.words = 0;
    qemu_mutex_lock(&v->lock);
    site = kvm_bt_sites_find(&v->sites, ea, v->exit_word);
    if (!site) {
        uint64_t pa = -1;

        kvm_bt_translate(cs, ea, true, &pa);
        site = kvm_bt_sites_get(&v->sites, ea, v->exit_word, pa, cls);
    }
    if (site) {
        site->exits++;
        if (cls == KVM_BT_EXIT_PRIV_OTHER && !site->warned) {
            site->warned = warn = true;
        }
        /* this vCPU's count reached the threshold: the site's record decides */
        hot = kvm_bt_state.bt && site->pa != (uint64_t)-1 && !v->stub_resume &&
              kvm_bt_site_exit_hot(site);
        if (kvm_bt_state.cluster && site->exits >= kvm_bt_state.hot_threshold &&
            !v->stub_resume && site_run(site) > 1) {
            v->run = site->cluster;
            v->run_site = site;
            v->run_ea = ea;
            v->tlb_op = v->run.tlb == KVM_BT_CLUSTER_TLB_TLBWE ||
                        v->run.tlb == KVM_BT_CLUSTER_TLB_OTHER;
            v->tlb_op_tlbwe = v->run.tlb == KVM_BT_CLUSTER_TLB_TLBWE;
        }
    }
    v->exits[cls]++;
    qemu_mutex_unlock(&v->lock);

    if (kvm_bt_state.bt && !v->pid_drop && v->in_syscall && cls == KVM_BT_EXIT_MTSPR &&
        ppc_spr(v->exit_word) == SPR_BOOKE_PID && !regs.gpr[(v->exit_word >> 21) & 31]) {
        /*
         * The kernel locks user memory away (PID 0) in a system call: from
         * the next one on, it may do so without an exit. Context ids are
         * never 0 (Linux keeps 0 for the kernel), so a kernel without that
         * lock never gets here.
         */
        v->pid_drop = true;
        trace_kvm_bt_pid_drop(cs->cpu_index, ea);
    }
    if (warn) {
        warn_report("kvm-bt: cannot classify privileged instruction 0x%08" PRIx32
                    " at 0x%08" PRIx64 "; executing it as TCG would",
                    v->exit_word, ea);
    }
    if (hot) {
        kvm_bt_site_hot(cs, ea, site->pa, v->exit_word);
    }
    trace_kvm_bt_exit(cs->cpu_index, ea, v->exit_word, kvm_bt_exit_class_name(cls));
    charge_exit_cost();
}

/* After the exiting instruction ran: what the monitor does next. */
static void after_step(CPUState *cs, KvmBtVcpu *v)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;

    if (v->stub_resume && env->nip == v->stub_next) {
        /* never leave the guest at a PC inside the translation cache */
        env->nip = v->stub_resume;
    }
    v->stub_resume = 0;
    if (v->tlb_op) {
        v->tlb_op = false;
        kvm_bt_tlb_changed(cs, v->tlb_op_tlbwe);
    }
}

/*
 * Under icount the generic loop gives the vCPU a budget that ends at the
 * next virtual-clock deadline. An exit may bring that deadline closer (a
 * timer the step armed, the exit's own cost): cut the budget to it here,
 * as the loop would on its next round, and return only once it is due.
 * Returning at every exit instead starves an exit-heavy vCPU under
 * round-robin: the other one keeps its whole budget each round.
 */
/* Take @cut instructions off the budget TCG's loop gave the vCPU. */
static void icount_cut_budget(CPUState *cs, int64_t cut)
{
    cs->icount_budget -= cut;
    if (cs->icount_extra >= cut) {
        cs->icount_extra -= cut;
    } else {
        cpu_neg(cs)->icount_decr.u16.low -= cut - cs->icount_extra;
        cs->icount_extra = 0;
    }
}

/*
 * QEMU 7.2's round-robin loop gives each vCPU in turn a budget up to the
 * next deadline. A vCPU that spins with interrupts off (here: in
 * _raw_spin_lock_irq, for a lock the other vCPU holds while it sends a
 * doorbell) uses all of it, the deadline is then due, and the next vCPU
 * gets a budget of 0: it never runs again (QEMU 8.0 changed its loop for
 * this livelock). A vCPU therefore takes only its share of the budget.
 */
static void icount_share_budget(CPUState *cs)
{
    unsigned n = kvm_bt_state.nr_vcpus;
    int64_t left = cpu_neg(cs)->icount_decr.u16.low + cs->icount_extra;

    if (n < 2 || replay_mode == REPLAY_MODE_PLAY || left / n == 0) {
        return;
    }
    icount_cut_budget(cs, left - left / n);
}

static bool icount_deadline_due(CPUState *cs)
{
    int64_t left = cpu_neg(cs)->icount_decr.u16.low + cs->icount_extra;
    int64_t deadline, cut;

    if (replay_mode == REPLAY_MODE_PLAY) {
        return false;       /* the replay log alone decides the budget */
    }
    deadline = qemu_clock_deadline_ns_all(QEMU_CLOCK_VIRTUAL, QEMU_TIMER_ATTR_ALL);
    if (deadline < 0 || deadline > INT32_MAX) {
        return false;
    }
    cut = left - icount_round(deadline);
    if (cut <= 0) {
        return false;
    }
    if (cut >= left) {
        return true;
    }
    icount_cut_budget(cs, cut);
    return false;
}

/*
 * Something outside may want this vCPU back in the generic loop. Our own
 * exit_request (step, reflection) hides a kick that arrives while it is
 * set, so look at what kicks are for: stop, queued work, halt, another
 * vCPU waiting in start_exclusive() for this one to leave cpu_exec (bt=on
 * patches guest code from such safe work), the round-robin time slice (a
 * kick seen before ours was set, or after cpu_exec took ours), and under
 * icount a timer deadline.
 */
static bool must_return(CPUState *cs, KvmBtVcpu *v)
{
    bool kicked = v->kicked || qatomic_read(&cs->exit_request);

    v->kicked = false;
    return kicked || qatomic_read(&cs->stop) || !cpu_work_list_empty(cs) || cs->halted ||
           qatomic_read(&cs->has_waiter) || (icount_enabled() && icount_deadline_due(cs));
}

/*
 * Execute the instruction that exited, once, with full privilege: a
 * one-instruction block that ignores interrupts on entry, with the trap
 * flag off; exit_request brings cpu_exec() back right after it. A cluster
 * (core/bt-cluster.h) runs the same way, block after block, for as long
 * as the PC moves forward inside it: its words lie in one page and its
 * branches only go forward, so no word runs twice.
 */
static int step_privileged(CPUState *cs, KvmBtVcpu *v)
{
    CPUPPCState *env = &POWERPC_CPU(cs)->env;
    unsigned words = MAX(v->run.words, 1);
    int r;

    if (!v->step_pending) {
        v->run_from = 0;
        v->run_done = 0;
        v->run_cut = 0;
    }
    for (;;) {
        unsigned n = words - v->run_from;
        uint16_t block;

        if (icount_enabled()) {
            /* a CF_NOIRQ block runs regardless of budget: give it no more than it has */
            uint16_t low = cpu_neg(cs)->icount_decr.u16.low;

            if (low < n) {
                uint64_t take = MIN(cs->icount_extra, 0xffff - low);

                cpu_neg(cs)->icount_decr.u16.low = low + take;
                cs->icount_extra -= take;
            }
            if (cpu_neg(cs)->icount_decr.u16.low == 0) {
                /*
                 * none left: go on when the vCPU is scheduled again. A run
                 * is split where the budget ends, never shortened, so the
                 * same guest makes the same exits however TCG's loop (or a
                 * replay) splits the budget.
                 */
                v->step_pending = true;
                return EXCP_INTERRUPT;
            }
            n = MIN(n, cpu_neg(cs)->icount_decr.u16.low);
        }
        v->step_pending = false;
        set_trap(env, false);
        v->in_run = words > 1;
        cs->cflags_next_tb = (curr_cflags(cs) & ~CF_COUNT_MASK) | n |
                             CF_NOIRQ | CF_NO_GOTO_TB | CF_NO_GOTO_PTR;
        v->kicked |= qatomic_xchg(&cs->exit_request, 1);
        v->stepping = true;
        r = cpu_exec(cs);
        v->stepping = false;
        v->in_run = false;
        set_trap(env, true);
        if (words == 1) {
            break;
        }
        block = run_block_done(v, v->run_from, env->nip);
        v->run_done |= block;
        /* on while the PC moved forward inside the run, with nothing delivered */
        if (r != EXCP_INTERRUPT || v->run_cut || !block ||
            env->nip <= v->run_ea + 4 * v->run_from || env->nip - v->run_ea >= 4 * words) {
            break;
        }
        v->run_from = (env->nip - v->run_ea) / 4;
    }
    if (words > 1) {
        account_run(v, v->run_done);
    }
    after_step(cs, v);
    kvm_bt_sync_to_page(cs);
    return r;
}

/*
 * The vCPU loop: TCG's loops (round-robin, MTTCG, icount) call this in place
 * of cpu_exec() and act on what it returns exactly as on cpu_exec(). We stay
 * here across exits and return only what is the generic loop's business:
 * halts, debug, atomics, kicks and an exhausted icount budget.
 */
int kvm_bt_vcpu_exec(CPUState *cs)
{
    KvmBtVcpu *v = kvm_bt_vcpu(cs);
    int r;

    v->own_exit = false;
    if (icount_enabled()) {
        icount_share_budget(cs);
    }
    if (v->step_pending) {
        r = step_privileged(cs, v);
        v->own_exit = false;
        if (r != EXCP_INTERRUPT || v->step_pending || must_return(cs, v)) {
            return r;
        }
    }
    for (;;) {
        r = cpu_exec(cs);
        if (r == EXCP_KVM_BT_EXIT) {
            handle_exit(cs, v);
            r = step_privileged(cs, v);
            /* our own exit_request, unless the step halted or similar */
            v->own_exit = r == EXCP_INTERRUPT && !v->step_pending;
        }
        if (r != EXCP_INTERRUPT || !v->own_exit) {
            return r;
        }
        v->own_exit = false;
        if (must_return(cs, v)) {
            return r;
        }
    }
}
