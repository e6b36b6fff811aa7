/*
 * kvm-bt: adaptive in-place binary translation (bt=on) — monitor glue
 *
 * The translator itself is plain C in core/ (bt-translate.c decides what a
 * privileged instruction becomes, bt-sites.c keeps the patched sites and
 * the translation cache). This file applies its decisions to guest memory:
 *
 * - A site that has exited hot-threshold times on one vCPU is translated
 *   by safe work (all vCPUs stopped): the stub is written first, then the
 *   site with one aligned 32-bit compare-and-swap, then translated blocks
 *   holding the old word are invalidated.
 * - Stubs live in the translation cache (TC): guest RAM right after the
 *   kernel image, reserved in the device tree. Its effective address is
 *   derived from the guest TLB entry that maps both the site and the TC;
 *   relative branches stay valid in any linear mapping covering both.
 * - The guest never sees a PC inside the TC: asynchronous interrupts are
 *   held back while it is there (kvm-bt-shared.c), and an exit of a stub's
 *   fallback instruction is accounted to its site and resumes after it.
 * - A guest write to a patched word (any vCPU, any mapping, DMA) reaches
 *   kvm_bt_code_write() through QEMU's self-modifying-code path: the
 *   translation is dropped and the guest keeps what it wrote. Pages holding
 *   patches stay write-watched for as long as they do.
 * - The page at 0xFFFFF000 was never asked for by the guest: while any
 *   vCPU's own TLB maps that address, every translation is undone and none
 *   is made.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "qemu/units.h"
#include "cpu.h"
#include "exec/address-spaces.h"
#include "exec/cputlb.h"
#include "exec/exec-all.h"
#include "exec/memory.h"
#include "exec/ram_addr.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "sysemu/reset.h"
#include <libfdt.h>
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"
#include "kvm-bt-vcpu.h"
#include "core/bt-sites.h"
#include "core/bt-translate.h"
#include "core/ppc-insn.h"
#include "core/shared-page.h"
#include "core/tc-place.h"
#include "trace.h"

/*
 * The TC: up to 256 KiB (2048 stubs). Placed after the image, it starts
 * 1 MiB past its end so early allocations right after _end stay clear.
 */
#define TC_GAP          (1 * MiB)
#define TC_SIZE         (256 * KiB)
#define TC_MIN_SIZE     (16 * KiB)

typedef struct KvmBtTranslator {
    /*
     * Leaf lock: taken on vCPU threads and, for guest writes to code, with
     * TCG's page locks held; never hold it while invalidating code.
     */
    QemuMutex lock;
    /*
     * Every site's state, the TC's slots, what holds translation back
     * (blockers, TC mapped elsewhere or taken), the generations and the
     * counters: the core's record table. This file keeps none of its own.
     */
    KvmBtPatchTable table;
    uint64_t tc_pa;             /* reserved in the device tree; tc_size 0: none */
    uint32_t tc_size;
    uint8_t *tc_host;           /* where the host sees it, once tc_live */
    bool tc_live;               /* TC effective address known (the table's TC is set up) */
    bool *maps_magic;           /* per vCPU: its own TLB maps 0xFFFFF000 (a blocker) */
    uint64_t ram_base;          /* ram_addr of guest RAM at guest-physical 0 */
    uint64_t ram_size;
} KvmBtTranslator;

static KvmBtTranslator bt;

/* Our own writes to guest code must not drop our own translations. */
static __thread bool own_write;

unsigned kvm_bt_code_gen(void)
{
    return kvm_bt_patch_code_gen(&bt.table);
}

/*
 * An exit at @site was counted on this vCPU: report it hot to its record?
 * (core/site-table.h: the vCPU's table caches the record's answer for one
 * generation of the record table.)
 */
bool kvm_bt_site_exit_hot(KvmBtSite *site)
{
    return kvm_bt_site_cache_hot(site, bt.table.threshold, kvm_bt_patch_gen(&bt.table));
}

/*
 * bt=on translates SPRG3-7 writes into page stores, so the CPU's register is
 * stale until the next exit pulls the page. The kernel's reads of their
 * problem-state aliases (SPR 259-263) therefore exit too and are answered
 * after that pull (or translated into page loads); problem state itself is
 * only entered through an exit (rfi, rfci, rfmci, mtmsr).
 */
bool kvm_bt_mfspr_exits(int sprn)
{
    return kvm_bt_state.bt && sprn >= KVM_BT_SPR_SPRG3R && sprn <= KVM_BT_SPR_SPRG7R;
}

bool kvm_bt_bt_uses_page(void)
{
    return kvm_bt_state.bt && !kvm_bt_patch_blockers(&bt.table);
}

bool kvm_bt_pc_in_tc(uint64_t pc)
{
    return qatomic_read(&bt.tc_live) && (uint32_t)pc - bt.table.tc.ea < bt.tc_size;
}

/* Host pointer and ram_addr of one aligned guest-physical RAM word. */
static uint32_t *ram_word(uint64_t pa, ram_addr_t *ra)
{
    return (pa & 3) ? NULL : kvm_bt_guest_ram(pa, 4, ra);
}

/* After changing guest code: old translated blocks go, the page stays watched. */
static void code_changed(ram_addr_t ra, unsigned len)
{
    kvm_bt_patch_code_changed(&bt.table);
    own_write = true;
    tb_invalidate_phys_range(ra, ra + len);
    own_write = false;
    tlb_protect_code(ra);
    cpu_physical_memory_set_dirty_range(ra, len, DIRTY_CLIENTS_NOCODE);
}

/*
 * Is the TC reachable from a site at @ea (guest-physical @pa) through the
 * mapping that maps the site? Fixes the TC's effective address on first use.
 */
static bool tc_usable(CPUState *cs, uint32_t ea, uint64_t pa)
{
    uint32_t tc_ea = (uint32_t)(ea - pa + bt.tc_pa);
    uint64_t got;

    if (!bt.tc_size || (bt.tc_live && tc_ea != bt.table.tc.ea)) {
        return false;
    }
    /* executable in the kernel's context, at the site's EA-PA offset */
    if (!kvm_bt_translate_kernel(cs, tc_ea, true, &got) || got != bt.tc_pa ||
        !kvm_bt_translate_kernel(cs, tc_ea + bt.tc_size - 4, true, &got) ||
        got != bt.tc_pa + bt.tc_size - 4) {
        return false;
    }
    if (!bt.tc_live) {
        bt.tc_host = kvm_bt_guest_ram(bt.tc_pa, bt.tc_size, NULL);
        if (!bt.tc_host || !kvm_bt_tc_init(&bt.table, bt.tc_pa, tc_ea, bt.tc_size,
                                           KVM_BT_TC_SLOT_WORDS_DEFAULT)) {
            return false;
        }
        qatomic_set(&bt.tc_live, true);
    }
    return true;
}

typedef struct TranslateWork {
    uint32_t ea;
    uint64_t pa;
    uint32_t word;
} TranslateWork;

/* Safe work: no vCPU runs guest code meanwhile. */
static void translate_site(CPUState *cs, run_on_cpu_data data)
{
    TranslateWork *w = data.host_ptr;
    KvmBtPatchSite *site;
    KvmBtXlat x;
    uint32_t *host, *stub_host = NULL;
    ram_addr_t ra, stub_ra = 0;
    uint32_t slot_ea = 0;
    bool done = false, needs_stub;

    host = ram_word(w->pa, &ra);
    needs_stub = kvm_bt_xlat_needs_stub(&kvm_bt_host_monitor, w->word);
    qemu_mutex_lock(&bt.lock);
    /* still what exited, still allowed, still undecided? */
    switch (kvm_bt_patch_hot(&bt.table, w->pa, w->ea, w->word,
                             host ? be32_to_cpu(qatomic_read(host)) : 0, host != NULL,
                             needs_stub, &site)) {
    case KVM_BT_HOT_DECIDE:
        break;
    case KVM_BT_HOT_WORD_CHANGED:
        trace_kvm_bt_skip(w->ea, w->pa, "the word changed");
        goto out;
    case KVM_BT_HOT_BLOCKED:
        trace_kvm_bt_skip(w->ea, w->pa, "the guest maps 0xFFFFF000");
        goto out;
    case KVM_BT_HOT_CHURN:
        trace_kvm_bt_refuse(w->ea, w->pa, w->word, "churn limit");
        goto out;
    case KVM_BT_HOT_TC_TAKEN:
        trace_kvm_bt_refuse(w->ea, w->pa, w->word, "the guest wrote the TC");
        goto out;
    case KVM_BT_HOT_TC_AWAY:
        trace_kvm_bt_skip(w->ea, w->pa, "the TC is mapped elsewhere");
        goto out;
    default:
        trace_kvm_bt_skip(w->ea, w->pa, "already decided");
        goto out;
    }
    if (needs_stub && tc_usable(cs, w->ea, w->pa)) {
        int slot = kvm_bt_tc_peek(&bt.table);

        if (slot >= 0) {
            slot_ea = kvm_bt_tc_slot_ea(&bt.table, slot);
            stub_host = ram_word(kvm_bt_tc_slot_pa(&bt.table, slot), &stub_ra);
        }
    }
    kvm_bt_xlat(&kvm_bt_host_monitor, w->ea, w->word, stub_host ? slot_ea : 0,
                stub_host ? bt.table.tc.slot_words : 0, &x);
    if (x.kind == KVM_BT_XLAT_NONE) {
        kvm_bt_patch_refused(&bt.table, w->pa, x.reason);
        trace_kvm_bt_refuse(w->ea, w->pa, w->word, x.reason);
        goto out;
    }
    if (x.kind == KVM_BT_XLAT_STUB) {
        /* the stub first: no vCPU can reach it before the site changes */
        for (unsigned i = 0; i < x.stub_words; i++) {
            qatomic_set(&stub_host[i], cpu_to_be32(x.stub[i]));
        }
    }
    if (!kvm_bt_patch_translated(&bt.table, w->pa, &x)) {
        trace_kvm_bt_skip(w->ea, w->pa, "site table refused the translation");
        goto out;
    }
    /* one aligned 32-bit store, and only over the word we decided on */
    if (qatomic_cmpxchg(host, cpu_to_be32(w->word), cpu_to_be32(x.patch)) !=
        cpu_to_be32(w->word)) {
        kvm_bt_patch_dropped(&bt.table, w->pa);
        goto out;
    }
    done = true;
    trace_kvm_bt_translate(w->ea, w->pa, w->word, x.patch, kvm_bt_xlat_kind_name(x.kind),
                           x.kind == KVM_BT_XLAT_STUB ? slot_ea : 0);
out:
    qemu_mutex_unlock(&bt.lock);
    if (done) {
        if (x.kind == KVM_BT_XLAT_STUB) {
            code_changed(stub_ra, 4 * x.stub_words);
        }
        code_changed(ra, 4);
        kvm_bt_textview_mark(w->pa, x.kind == KVM_BT_XLAT_STUB ? stub_ra - bt.ram_base : 0,
                             x.kind == KVM_BT_XLAT_STUB ? 4 * x.stub_words : 0);
    }
    g_free(w);
}

/*
 * Translating code (kvm-bt-textview.c): is @insn at guest-physical @pa ours,
 * a site holding its patch or a word of a live stub?
 */
bool kvm_bt_word_is_ours(uint64_t pa, uint32_t insn)
{
    KvmBtPatchSite *s;
    bool ours;

    qemu_mutex_lock(&bt.lock);
    s = kvm_bt_patch_lookup(&bt.table, pa);
    ours = s && s->state == KVM_BT_PATCH_TRANSLATED && s->patch == insn;
    if (!ours && bt.tc_size && pa - bt.tc_pa < bt.tc_size) {
        s = kvm_bt_patch_by_stub_pa(&bt.table, pa);
        ours = s && s->state == KVM_BT_PATCH_TRANSLATED && s->kind == KVM_BT_XLAT_STUB &&
               pa >= s->stub_pa && pa < s->stub_pa + (s->stub_end - s->stub_ea);
    }
    qemu_mutex_unlock(&bt.lock);
    return ours;
}

/* A data read of the word @word at @pa: the guest's own word if @word is our patch. */
bool kvm_bt_patched_orig(uint64_t pa, uint32_t word, uint32_t *orig)
{
    KvmBtPatchSite *s;
    bool patched;

    qemu_mutex_lock(&bt.lock);
    s = kvm_bt_patch_lookup(&bt.table, pa);
    patched = s && s->state == KVM_BT_PATCH_TRANSLATED && s->patch == word;
    if (patched) {
        *orig = s->orig;
    }
    qemu_mutex_unlock(&bt.lock);
    return patched;
}

/*
 * A site exited hot-threshold times on this vCPU: translate it (soon, from
 * safe work). Each vCPU asks once per generation.
 */
void kvm_bt_site_hot(CPUState *cs, uint32_t ea, uint64_t pa, uint32_t word)
{
    TranslateWork *w = g_new(TranslateWork, 1);

    *w = (TranslateWork){ .ea = ea, .pa = pa, .word = word };
    async_safe_run_on_cpu(cs, translate_site, RUN_ON_CPU_HOST_PTR(w));
}

typedef struct UndoWhy {
    const char *reason;
    bool stubs_only;
    GArray *restored;           /* ram_addr_t of words to invalidate after unlocking */
} UndoWhy;

/*
 * Words undo_site() put back: translated blocks holding our patches go.
 * Called unlocked: TCG's page locks are taken after ours elsewhere.
 */
static void invalidate_restored(GArray *restored)
{
    for (guint i = 0; i < restored->len; i++) {
        ram_addr_t ra = g_array_index(restored, ram_addr_t, i);

        own_write = true;
        tb_invalidate_phys_range(ra, ra + 4);
        own_write = false;
    }
    if (restored->len) {
        kvm_bt_patch_code_changed(&bt.table);
    }
}

/* Restore one site's word if it still holds our patch; lock held. */
static bool undo_site(KvmBtPatchSite *s, void *opaque)
{
    const UndoWhy *why = opaque;
    uint32_t *host;
    ram_addr_t ra;

    if (s->state != KVM_BT_PATCH_TRANSLATED || (why->stubs_only && s->kind != KVM_BT_XLAT_STUB)) {
        return true;
    }
    host = ram_word(s->pa, &ra);
    if (host && qatomic_cmpxchg(host, cpu_to_be32(s->patch), cpu_to_be32(s->orig)) ==
                cpu_to_be32(s->patch)) {
        kvm_bt_patch_undone(&bt.table, s->pa, why->reason);
        g_array_append_val(why->restored, ra);
    } else {
        kvm_bt_patch_dropped(&bt.table, s->pa);    /* the guest's word stays */
    }
    trace_kvm_bt_undo(s->ea, s->pa, why->reason);
    return true;
}

/* Safe work: undo the one site at guest-physical *data.host_ptr. */
static void undo_user_site_work(CPUState *cs, run_on_cpu_data data)
{
    uint64_t *pa = data.host_ptr;
    g_autoptr(GArray) restored = g_array_new(false, false, sizeof(ram_addr_t));
    UndoWhy why = { "run in problem state", false, restored };
    KvmBtPatchSite *s;

    qemu_mutex_lock(&bt.lock);
    s = kvm_bt_patch_lookup(&bt.table, *pa);
    if (s) {
        undo_site(s, &why);
    }
    qemu_mutex_unlock(&bt.lock);
    invalidate_restored(restored);
    g_free(pa);
}

/*
 * A page access at @pc faulted in problem state (user mode never sees the
 * page). If @pc is one of our translations (a site, or inside its stub)
 * the guest is running translated code in user mode, where its own word
 * does something else: a privileged one raises a program interrupt, a read
 * of SPRG3R-7R works. Undo that site (from safe work, before the vCPU runs
 * again) and return its EA in @site_ea: the guest runs its own word there.
 */
bool kvm_bt_user_ran_site(CPUState *cs, uint64_t pc, uint32_t *site_ea)
{
    KvmBtPatchSite *s = NULL;
    uint64_t pa, *work = NULL;
    uint32_t *host;
    bool found = false;

    if (!kvm_bt_state.bt) {
        return false;
    }
    if (!kvm_bt_pc_in_tc(pc) && !kvm_bt_translate(cs, pc, true, &pa)) {
        return false;
    }
    qemu_mutex_lock(&bt.lock);
    if (kvm_bt_pc_in_tc(pc)) {
        s = kvm_bt_patch_by_stub_ea(&bt.table, pc);
        found = s && s->state == KVM_BT_PATCH_TRANSLATED && s->kind == KVM_BT_XLAT_STUB;
    } else {
        s = kvm_bt_patch_lookup(&bt.table, pa);
        host = ram_word(pa, NULL);
        found = s && s->state == KVM_BT_PATCH_TRANSLATED && s->kind == KVM_BT_XLAT_INPLACE &&
                host && ldl_be_p(host) == s->patch;
    }
    if (found) {
        work = g_new(uint64_t, 1);
        *work = s->pa;
        *site_ea = s->kind == KVM_BT_XLAT_STUB ? s->ea : (uint32_t)pc;
    }
    qemu_mutex_unlock(&bt.lock);
    if (work) {
        async_safe_run_on_cpu(cs, undo_user_site_work, RUN_ON_CPU_HOST_PTR(work));
    }
    return found;
}

/*
 * Safe work after a guest TLB change: the page may be shadowing a guest
 * mapping now, or the TC may have moved.
 */
static void tlb_changed_work(CPUState *cs, run_on_cpu_data data)
{
    bool maps = data.host_int & 1, tc_ok = data.host_int & 2;
    g_autoptr(GArray) restored = g_array_new(false, false, sizeof(ram_addr_t));
    CPUState *other;

    qemu_mutex_lock(&bt.lock);
    if (maps != bt.maps_magic[cs->cpu_index]) {
        unsigned blockers;

        if (maps && !kvm_bt_patch_blockers(&bt.table)) {
            /* what every vCPU wrote to its page must reach its CPU first */
            kvm_bt_page_pull_all();
        }
        bt.maps_magic[cs->cpu_index] = maps;
        trace_kvm_bt_page_blocked(cs->cpu_index, maps);
        blockers = kvm_bt_patch_block(&bt.table, maps);
        if (maps && blockers == 1) {
            UndoWhy why = { "guest maps 0xFFFFF000", false, restored };

            kvm_bt_patch_foreach(&bt.table, undo_site, &why);
        }
        if (!blockers) {
            /* nobody pushed to the pages while they were hidden */
            kvm_bt_page_invalidate();
        }
        CPU_FOREACH(other) {
            tlb_flush_page(other, KVM_BT_SHARED_EA);
        }
    }
    if (!tc_ok && bt.tc_live) {
        UndoWhy why = { "TC mapping changed", true, restored };

        kvm_bt_patch_foreach(&bt.table, undo_site, &why);
        kvm_bt_patch_tc_broken(&bt.table, true);
    } else if (tc_ok) {
        /* mapped as before again: sites may ask for stubs again */
        kvm_bt_patch_tc_broken(&bt.table, false);
    }
    qemu_mutex_unlock(&bt.lock);
    /* TCG's page locks are taken after ours elsewhere: invalidate unlocked */
    invalidate_restored(restored);
}

/*
 * After a privileged instruction that may have changed this vCPU's TLB.
 * A tlbwe to TLB0 writes one 4 KiB entry at MAS2's EPN: only one covering
 * 0xFFFFF000 or the TC matters (or any, while this vCPU maps 0xFFFFF000:
 * the write may have evicted that entry). Anything else rechecks.
 */
void kvm_bt_tlb_changed(CPUState *cs, bool tlbwe)
{
    struct kvm_sregs sregs;
    uint64_t pa;
    bool maps, tc_ok = true;

    if (tlbwe && !bt.maps_magic[cs->cpu_index]) {
        uint32_t epn;

        kvm_bt_get_sregs(cs, &sregs);
        epn = (uint32_t)sregs.u.e.mas2 & ~(TARGET_PAGE_SIZE - 1);
        if (((sregs.u.e.mas0 >> 28) & 3) == 0 && epn != KVM_BT_SHARED_EA &&
            !(qatomic_read(&bt.tc_live) && epn - bt.table.tc.ea < bt.tc_size)) {
            return;
        }
    }
    /*
     * Any entry counts, whatever its permissions: one the kernel may not
     * read still decides what its accesses there do (a DSI).
     */
    maps = kvm_bt_tlb_matches_kernel(cs, KVM_BT_SHARED_EA);
    if (qatomic_read(&bt.tc_live)) {
        tc_ok = kvm_bt_translate_kernel(cs, bt.table.tc.ea, true, &pa) && pa == bt.tc_pa;
    }
    if (maps != bt.maps_magic[cs->cpu_index] ||
        tc_ok == kvm_bt_patch_tc_is_broken(&bt.table)) {
        async_safe_run_on_cpu(cs, tlb_changed_work,
                              RUN_ON_CPU_HOST_INT(maps | (tc_ok << 1)));
    }
}

/*
 * The stub holding @pc ends in "b site+4": that is where its fallback
 * resumes, and site+4 - 4 is the site it is accounted to.
 */
uint32_t kvm_bt_stub_resume(uint64_t pc)
{
    /* on every fallback exit: the TC's own host mapping, no memory lookup */
    uint32_t word = ldl_be_p(bt.tc_host + ((uint32_t)pc - bt.table.tc.ea) + 4);
    PPCInsn insn;

    if (!ppc_insn_decode(word, &insn) || insn.kind != PPC_INSN_B || insn.aa || insn.lk) {
        return 0;
    }
    return (uint32_t)pc + 4 + insn.imm;
}

/* Safe work: translated blocks of the sites whose stubs the guest wrote. */
static void stubs_written_work(CPUState *cs, run_on_cpu_data data)
{
    GArray *ras = data.host_ptr;

    for (guint i = 0; i < ras->len; i++) {
        ram_addr_t ra = g_array_index(ras, ram_addr_t, i);

        own_write = true;
        tb_invalidate_phys_range(ra, ra + 4);
        own_write = false;
    }
    kvm_bt_patch_code_changed(&bt.table);
    g_array_free(ras, true);
}

/*
 * The guest writes [start, end) of the TC it was told is reserved: it
 * keeps what it wrote, so the stubs there are gone. Put their sites' words
 * back at once (the site is what branches into the stub), stop every vCPU
 * before its next block (a block of the site made before may still hold
 * the branch) and invalidate those blocks from safe work, which runs
 * before any vCPU goes on. Lock held; returns the sites' ram_addrs for
 * stubs_written_work(), or NULL.
 */
static GArray *stubs_written(uint64_t start, uint64_t end)
{
    GArray *ras = g_array_new(false, false, sizeof(ram_addr_t));

    for (uint64_t pa = start & ~3ull; pa < end; pa += 4) {
        KvmBtPatchSite *s = kvm_bt_patch_by_stub_pa(&bt.table, pa);
        uint32_t *host;
        ram_addr_t ra;

        if (!s || s->state != KVM_BT_PATCH_TRANSLATED || s->kind != KVM_BT_XLAT_STUB ||
            pa < s->stub_pa || pa >= s->stub_pa + (s->stub_end - s->stub_ea)) {
            continue;
        }
        host = ram_word(s->pa, &ra);
        if (host && qatomic_cmpxchg(host, cpu_to_be32(s->patch), cpu_to_be32(s->orig)) ==
                    cpu_to_be32(s->patch)) {
            kvm_bt_patch_stub_lost(&bt.table, s->pa, true);
            g_array_append_val(ras, ra);
        } else {
            kvm_bt_patch_stub_lost(&bt.table, s->pa, false);
        }
        trace_kvm_bt_undo(s->ea, s->pa, "the guest wrote its stub");
    }
    if (!ras->len) {
        g_array_free(ras, true);
        return NULL;
    }
    return ras;
}

/*
 * A guest write is about to change [start, end) of RAM that held code
 * (any thread; TCG's page locks may be held).
 */
void kvm_bt_code_write(ram_addr_t start, ram_addr_t end)
{
    GArray *lost = NULL;

    if (!kvm_bt_state.bt || own_write || start >= bt.ram_base + bt.ram_size ||
        end <= bt.ram_base) {
        return;
    }
    qemu_mutex_lock(&bt.lock);
    if (kvm_bt_patch_any_in(&bt.table, start - bt.ram_base, end - start)) {
        for (uint64_t pa = (start - bt.ram_base) & ~3ull; pa < end - bt.ram_base; pa += 4) {
            KvmBtPatchSite *s = kvm_bt_patch_lookup(&bt.table, pa);

            if (s && s->state == KVM_BT_PATCH_TRANSLATED) {
                uint32_t *host = ram_word(pa, NULL);

                /* the guest's own word, with its store merged in */
                if (host) {
                    kvm_bt_textview_unpatch(host, pa, s->orig, s->patch, start - bt.ram_base,
                                            end - bt.ram_base);
                }
                kvm_bt_patch_dropped(&bt.table, pa);
                kvm_bt_patch_code_changed(&bt.table);
                trace_kvm_bt_drop(s->ea, pa);
            }
        }
    }
    if (bt.tc_size && end - bt.ram_base > bt.tc_pa && start - bt.ram_base < bt.tc_pa + bt.tc_size) {
        /* the guest uses what it was told is reserved: it keeps it */
        kvm_bt_patch_tc_taken(&bt.table);
        lost = stubs_written(MAX(start - bt.ram_base, bt.tc_pa),
                             MIN(end - bt.ram_base, bt.tc_pa + bt.tc_size));
    }
    qemu_mutex_unlock(&bt.lock);
    if (lost) {
        CPUState *cpu;

        CPU_FOREACH(cpu) {
            cpu_exit(cpu);
        }
        async_safe_run_on_cpu(first_cpu, stubs_written_work, RUN_ON_CPU_HOST_PTR(lost));
    }
}

bool kvm_bt_code_watched(ram_addr_t ram_addr)
{
    bool watched;

    if (!kvm_bt_state.bt || ram_addr < bt.ram_base || ram_addr >= bt.ram_base + bt.ram_size) {
        return false;
    }
    if (own_write) {
        return true;    /* we are changing it: it stays watched */
    }
    qemu_mutex_lock(&bt.lock);
    watched = kvm_bt_patch_any_in(&bt.table, (ram_addr - bt.ram_base) & TARGET_PAGE_MASK,
                                  TARGET_PAGE_SIZE) ||
              /* the TC: every guest write there must reach kvm_bt_code_write() */
              ram_addr - bt.ram_base - bt.tc_pa < bt.tc_size;
    qemu_mutex_unlock(&bt.lock);
    return watched;
}

/*
 * Where the TC goes: padding between two sections of the kernel's ELF image,
 * inside what the kernel maps executable (core/tc-place.c); otherwise
 * right after the image, which stays usable until the guest maps its data
 * non-executable (then stubs are undone). Either way /memreserve/ it.
 * Both backends place it this way.
 */
static void tc_protect(void);

void kvm_bt_tc_reserve(void *fdt, hwaddr kernel_base, hwaddr kernel_size, uint64_t *pa,
                       uint32_t *size_out)
{
    const char *kernel = current_machine->kernel_filename;
    GMappedFile *elf = NULL;
    uint64_t tc = 0;
    uint32_t size = 0;

    *pa = 0;
    *size_out = 0;
    if (!kernel_size) {
        return;
    }
    /* mapped, not read: only the ELF headers are looked at */
    if (kernel && (elf = g_mapped_file_new(kernel, false, NULL))) {
        size = kvm_bt_tc_gap((const uint8_t *)g_mapped_file_get_contents(elf),
                             g_mapped_file_get_length(elf), TC_MIN_SIZE, TC_SIZE, &tc);
        g_mapped_file_unref(elf);
    }
    if (!size) {
        tc = ROUND_UP(kernel_base + kernel_size + TC_GAP, 64 * KiB);
        size = TC_SIZE;
    }
    if (tc + size > current_machine->ram_size) {
        return;
    }
    if (fdt_add_mem_rsv(fdt, tc, size)) {
        warn_report("kvm-bt: cannot reserve the translation cache; translating in place only");
        return;
    }
    *pa = tc;
    *size_out = size;
}

void kvm_bt_bt_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size)
{
    if (kvm_bt_state.bt) {
        kvm_bt_tc_reserve(fdt, kernel_base, kernel_size, &bt.tc_pa, &bt.tc_size);
        tc_protect();
    }
}

/*
 * Watch the TC's pages from the start, so that a guest write there reaches
 * kvm_bt_code_write() (pages holding stubs are watched anyway). A write to
 * a page without translated blocks was seen to bypass this: a stub placed
 * there later can overwrite it (docs/kvm-bt.rst, Known differences).
 */
static void tc_protect(void)
{
    for (uint32_t off = 0; off < bt.tc_size; off += TARGET_PAGE_SIZE) {
        tlb_protect_code(bt.ram_base + bt.tc_pa + off);
    }
}


/*
 * The guest's memory is reloaded: every patch is gone with it, and every
 * record (the vCPUs' own tables go in kvm_bt_vcpus_reset()).
 */
static void bt_reset(void *opaque)
{
    qemu_mutex_lock(&bt.lock);
    kvm_bt_patch_reset(&bt.table);
    qatomic_set(&bt.tc_live, false);
    tc_protect();
    memset(bt.maps_magic, 0, kvm_bt_state.nr_vcpus * sizeof(bool));
    qemu_mutex_unlock(&bt.lock);
}

static const KvmBtBackend monitor_backend;

void kvm_bt_bt_init(void)
{
    kvm_bt_backend = &monitor_backend;
    qemu_mutex_init(&bt.lock);
    /* exits are counted per vCPU against this threshold (kvm_bt_site_exit_hot) */
    kvm_bt_patch_init(&bt.table, kvm_bt_state.hot_threshold);
    bt.maps_magic = g_new0(bool, kvm_bt_state.nr_vcpus);
    qemu_register_reset(bt_reset, NULL);
}

/* Once the board has its RAM: where guest-physical 0 lives in ram_addr space. */
void kvm_bt_bt_board_ready(MachineState *ms)
{
    bt.ram_base = memory_region_get_ram_addr(ms->ram);
    bt.ram_size = ms->ram_size;
}

/* For statistics: the translation state of the site at @pa, if any. */
static bool monitor_site_translation(uint64_t pa, KvmBtPatchSite *out)
{
    KvmBtPatchSite *s;

    if (!kvm_bt_state.bt) {
        return false;
    }
    qemu_mutex_lock(&bt.lock);
    s = kvm_bt_patch_lookup(&bt.table, pa);
    if (s) {
        *out = *s;
    }
    qemu_mutex_unlock(&bt.lock);
    return s != NULL;
}

static void monitor_summary(KvmBtSummary *sum)
{
    memset(sum, 0, sizeof(*sum));
    if (!kvm_bt_state.bt) {
        return;
    }
    qemu_mutex_lock(&bt.lock);
    sum->translated = kvm_bt_patch_count(&bt.table, KVM_BT_PATCH_TRANSLATED);
    sum->refused = kvm_bt_patch_count(&bt.table, KVM_BT_PATCH_REFUSED);
    sum->dropped = kvm_bt_patch_count(&bt.table, KVM_BT_PATCH_DROPPED);
    sum->undone = kvm_bt_patch_count(&bt.table, KVM_BT_PATCH_UNDONE);
    kvm_bt_tc_usage(&bt.table, &sum->tc_live, &sum->tc_retired, &sum->tc_total);
    sum->tc_ea = bt.tc_live ? bt.table.tc.ea : 0;
    sum->tc_pa = bt.tc_pa;
    sum->page_blocked = bt.table.blockers != 0;
    sum->translations = bt.table.translations;
    sum->churn_refused = bt.table.churn_refused;
    sum->stubs_lost = bt.table.stubs_lost;
    qemu_mutex_unlock(&bt.lock);
}

static const KvmBtBackend monitor_backend = {
    .name = "monitor",
    .caps = &kvm_bt_host_monitor,
    .summary = monitor_summary,
    .site_translation = monitor_site_translation,
};
