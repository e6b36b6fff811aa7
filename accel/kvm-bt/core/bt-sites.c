/*
 * kvm-bt translator core: BT site table and translation-cache allocator
 *
 * Sites: an oa-table.h table keyed by the word's physical address;
 * entries are never removed (a site's history is what the statistics
 * report).
 * Pages: a second such table, one entry per 4 KiB page that ever held a
 * TRANSLATED word, with a bitmap of those words. Every guest write to a
 * code page asks whether it hits a patch; the answer is usually "no" and
 * costs one compare (no translations at all) or one probe.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bt-sites.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SHIFT  12
#define PAGE_WORDS  (1u << (PAGE_SHIFT - 2))

static size_t hash64(uint64_t v)
{
    return (size_t)((v * 0x9e3779b97f4a7c15ull) >> 32);
}

/* ---- the tables (oa-table.h) ---- */

static uint64_t site_key(const void *entry)
{
    return ((const KvmBtPatchSite *)entry)->pa;
}

static size_t site_hash(uint64_t pa)
{
    return hash64(pa >> 2);
}

static const KvmBtOaType site_type = {
    .size = sizeof(KvmBtPatchSite), .used_offset = offsetof(KvmBtPatchSite, used),
    .key = site_key, .hash = site_hash, .first_capacity = 256,
};

static uint64_t page_key(const void *entry)
{
    return ((const KvmBtPatchPage *)entry)->page;
}

static const KvmBtOaType page_type = {
    .size = sizeof(KvmBtPatchPage), .used_offset = offsetof(KvmBtPatchPage, used),
    .key = page_key, .hash = hash64, .first_capacity = 64,
};

KvmBtPatchSite *kvm_bt_patch_lookup(KvmBtPatchTable *t, uint64_t pa)
{
    return kvm_bt_oa_find(&t->sites, pa);
}

/* ---- pages with patches ---- */

static KvmBtPatchPage *page_get(KvmBtPatchTable *t, uint64_t page)
{
    bool added;
    KvmBtPatchPage *p = kvm_bt_oa_insert(&t->pages, page, &added);

    if (p && added) {
        p->page = page;
    }
    return p;
}

static bool page_mark(KvmBtPatchTable *t, uint64_t pa)
{
    KvmBtPatchPage *p = page_get(t, pa >> PAGE_SHIFT);
    unsigned w = (pa >> 2) & (PAGE_WORDS - 1);

    if (!p) {
        return false;
    }
    p->words[w / 32] |= 1u << (w % 32);
    p->count++;
    t->translated++;
    return true;
}

static void page_unmark(KvmBtPatchTable *t, uint64_t pa)
{
    KvmBtPatchPage *p = kvm_bt_oa_find(&t->pages, pa >> PAGE_SHIFT);
    unsigned w = (pa >> 2) & (PAGE_WORDS - 1);

    /* entries stay (count 0) so probes never need tombstones */
    p->words[w / 32] &= ~(1u << (w % 32));
    p->count--;
    t->translated--;
}

bool kvm_bt_patch_any_in(const KvmBtPatchTable *t, uint64_t pa, uint64_t len)
{
    uint64_t first, last;

    if (!t->translated || !len) {
        return false;
    }
    /* the words the byte range touches */
    first = pa >> 2;
    last = (pa + len - 1) >> 2;
    for (uint64_t w = first; w <= last;) {
        uint64_t page = w >> (PAGE_SHIFT - 2);
        uint64_t page_last = ((page + 1) << (PAGE_SHIFT - 2)) - 1;
        uint64_t end = last < page_last ? last : page_last;
        const KvmBtPatchPage *p = kvm_bt_oa_find(&t->pages, page);

        if (p && p->count) {
            for (uint64_t i = w; i <= end; i++) {
                unsigned b = i & (PAGE_WORDS - 1);

                if (p->words[b / 32] & (1u << (b % 32))) {
                    return true;
                }
            }
        }
        w = end + 1;
    }
    return false;
}

/* ---- TC ---- */

static uint32_t slot_bytes(const KvmBtTc *tc)
{
    return tc->slot_words * 4;
}

bool kvm_bt_tc_init(KvmBtPatchTable *t, uint64_t pa, uint32_t ea, uint32_t size,
                    unsigned slot_words)
{
    KvmBtTc *tc = &t->tc;

    if (tc->total) {
        return false;           /* once only: slots may be in use */
    }
    if (!size) {
        return true;
    }
    if (!slot_words || ((pa | ea) & 3) || size < slot_words * 4) {
        return false;
    }
    tc->total = size / (slot_words * 4);
    tc->state = calloc(tc->total, sizeof(*tc->state));
    tc->owner = calloc(tc->total, sizeof(*tc->owner));
    if (!tc->state || !tc->owner) {
        free(tc->state);
        free(tc->owner);
        memset(tc, 0, sizeof(*tc));
        return false;
    }
    tc->pa = pa;
    tc->ea = ea;
    tc->slot_words = slot_words;
    return true;
}

int kvm_bt_tc_peek(const KvmBtPatchTable *t)
{
    return t->tc.next < t->tc.total ? (int)t->tc.next : -1;
}

int kvm_bt_tc_alloc(KvmBtPatchTable *t)
{
    int slot = kvm_bt_tc_peek(t);

    if (slot >= 0) {
        t->tc.state[slot] = KVM_BT_TC_SLOT_LIVE;
        t->tc.next++;
        t->tc.live++;
    }
    return slot;
}

void kvm_bt_tc_free(KvmBtPatchTable *t, int slot)
{
    if (slot >= 0 && (unsigned)slot < t->tc.total &&
        t->tc.state[slot] == KVM_BT_TC_SLOT_LIVE) {
        /* owner stays: an exit in the old stub is still attributed to its site */
        t->tc.state[slot] = KVM_BT_TC_SLOT_RETIRED;
        t->tc.live--;
    }
}

uint32_t kvm_bt_tc_slot_ea(const KvmBtPatchTable *t, int slot)
{
    return t->tc.ea + (uint32_t)slot * slot_bytes(&t->tc);
}

uint64_t kvm_bt_tc_slot_pa(const KvmBtPatchTable *t, int slot)
{
    return t->tc.pa + (uint64_t)slot * slot_bytes(&t->tc);
}

void kvm_bt_tc_usage(const KvmBtPatchTable *t, unsigned *live, unsigned *retired,
                     unsigned *total)
{
    *live = t->tc.live;
    *retired = t->tc.next - t->tc.live;
    *total = t->tc.total;
}

/* The slot containing the address, or -1; only handed-out slots have owners. */
static int slot_of(const KvmBtTc *tc, uint64_t off, bool in_range)
{
    unsigned slot;

    if (!in_range || !tc->total) {
        return -1;
    }
    slot = off / slot_bytes(tc);
    if (slot >= tc->total || tc->state[slot] == KVM_BT_TC_SLOT_FREE) {
        return -1;
    }
    return slot;
}

KvmBtPatchSite *kvm_bt_patch_by_stub_ea(KvmBtPatchTable *t, uint32_t ea)
{
    int slot = slot_of(&t->tc, (uint32_t)(ea - t->tc.ea), ea >= t->tc.ea);

    return slot < 0 ? NULL : kvm_bt_patch_lookup(t, t->tc.owner[slot]);
}

KvmBtPatchSite *kvm_bt_patch_by_stub_pa(KvmBtPatchTable *t, uint64_t pa)
{
    int slot = slot_of(&t->tc, pa - t->tc.pa, pa >= t->tc.pa);

    return slot < 0 ? NULL : kvm_bt_patch_lookup(t, t->tc.owner[slot]);
}

/* ---- the lifecycle ---- */

#define C KVM_BT_PATCH_COUNTING
#define T KVM_BT_PATCH_TRANSLATED
#define D KVM_BT_PATCH_DROPPED
#define U KVM_BT_PATCH_UNDONE
#define R KVM_BT_PATCH_REFUSED
#define X KVM_BT_PATCH__COUNT       /* not allowed */

static const uint8_t lifecycle[KVM_BT_PATCH__COUNT][KVM_BT_SITE_EVENT__COUNT] = {
    /*             EXIT NEW_WORD HOT TRANSLATE REFUSE DROP UNDO RECOUNT */
    [C] = {        C,   C,       C,  T,        R,     X,   X,   X },
    [T] = {        T,   C,       T,  X,        X,     D,   U,   X },
    [D] = {        D,   C,       D,  X,        X,     X,   X,   C },
    [U] = {        U,   C,       C,  X,        X,     X,   X,   C },
    [R] = {        R,   C,       R,  X,        X,     X,   X,   C },
};

#undef C
#undef T
#undef D
#undef U
#undef R
#undef X

KvmBtPatchState kvm_bt_site_next(KvmBtPatchState from, KvmBtSiteEvent ev)
{
    if ((unsigned)from >= KVM_BT_PATCH__COUNT || (unsigned)ev >= KVM_BT_SITE_EVENT__COUNT) {
        return KVM_BT_PATCH__COUNT;
    }
    return lifecycle[from][ev];
}

const char *kvm_bt_site_event_name(KvmBtSiteEvent ev)
{
    static const char *const names[KVM_BT_SITE_EVENT__COUNT] = {
        [KVM_BT_SITE_EXIT] = "exit",
        [KVM_BT_SITE_NEW_WORD] = "new-word",
        [KVM_BT_SITE_HOT] = "hot",
        [KVM_BT_SITE_TRANSLATE] = "translate",
        [KVM_BT_SITE_REFUSE] = "refuse",
        [KVM_BT_SITE_DROP] = "drop",
        [KVM_BT_SITE_UNDO] = "undo",
        [KVM_BT_SITE_RECOUNT] = "recount",
    };

    return (unsigned)ev < KVM_BT_SITE_EVENT__COUNT ? names[ev] : "?";
}

void kvm_bt_patch_init(KvmBtPatchTable *t, uint64_t threshold)
{
    memset(t, 0, sizeof(*t));
    kvm_bt_oa_init(&t->sites, &site_type);
    kvm_bt_oa_init(&t->pages, &page_type);
    t->threshold = threshold;
    t->gen = 1;
    t->code_gen = 1;            /* a vCPU's cluster_gen 0 means "never decided" */
}

void kvm_bt_patch_destroy(KvmBtPatchTable *t)
{
    kvm_bt_oa_destroy(&t->sites);
    kvm_bt_oa_destroy(&t->pages);
    free(t->tc.state);
    free(t->tc.owner);
    memset(t, 0, sizeof(*t));
}

void kvm_bt_patch_reset(KvmBtPatchTable *t)
{
    uint64_t threshold = t->threshold;
    unsigned gen = kvm_bt_patch_gen(t), code_gen = kvm_bt_patch_code_gen(t);

    kvm_bt_patch_destroy(t);
    kvm_bt_patch_init(t, threshold);
    __atomic_store_n(&t->gen, gen + 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t->code_gen, code_gen + 1, __ATOMIC_SEQ_CST);
}

void kvm_bt_patch_set_threshold(KvmBtPatchTable *t, uint64_t threshold)
{
    t->threshold = threshold;
}

unsigned kvm_bt_patch_gen(const KvmBtPatchTable *t)
{
    return __atomic_load_n(&t->gen, __ATOMIC_SEQ_CST);
}

unsigned kvm_bt_patch_code_gen(const KvmBtPatchTable *t)
{
    return __atomic_load_n(&t->code_gen, __ATOMIC_SEQ_CST);
}

static void bump_gen(KvmBtPatchTable *t)
{
    __atomic_add_fetch(&t->gen, 1, __ATOMIC_SEQ_CST);
}

void kvm_bt_patch_code_changed(KvmBtPatchTable *t)
{
    __atomic_add_fetch(&t->code_gen, 1, __ATOMIC_SEQ_CST);
}

unsigned kvm_bt_patch_block(KvmBtPatchTable *t, bool on)
{
    unsigned n = t->blockers;

    n = on ? n + 1 : n ? n - 1 : 0;
    __atomic_store_n(&t->blockers, n, __ATOMIC_SEQ_CST);
    bump_gen(t);
    return n;
}

unsigned kvm_bt_patch_blockers(const KvmBtPatchTable *t)
{
    return __atomic_load_n(&t->blockers, __ATOMIC_SEQ_CST);
}

void kvm_bt_patch_tc_broken(KvmBtPatchTable *t, bool broken)
{
    /* broken: stubs were undone (again), decisions about them no longer hold */
    if (broken || t->tc_broken) {
        __atomic_store_n(&t->tc_broken, broken, __ATOMIC_SEQ_CST);
        bump_gen(t);
    }
}

bool kvm_bt_patch_tc_is_broken(const KvmBtPatchTable *t)
{
    return __atomic_load_n(&t->tc_broken, __ATOMIC_SEQ_CST);
}

void kvm_bt_patch_tc_taken(KvmBtPatchTable *t)
{
    t->tc_taken = true;
}

static bool is_hot(const KvmBtPatchTable *t, const KvmBtPatchSite *s)
{
    return s->state == KVM_BT_PATCH_COUNTING && t->threshold &&
           s->exits_before >= t->threshold;
}

/*
 * The one place a site changes state: @ev must be allowed in its state.
 * Leaving TRANSLATED forgets the page bit and retires the slot; entering
 * COUNTING (a new word, or counting again) starts from zero, and counts as
 * a restart (the churn limit).
 */
static bool transition(KvmBtPatchTable *t, KvmBtPatchSite *s, KvmBtSiteEvent ev)
{
    KvmBtPatchState to = kvm_bt_site_next(s->state, ev);

    if (to == KVM_BT_PATCH__COUNT) {
        return false;
    }
    if (s->state == KVM_BT_PATCH_TRANSLATED && to != KVM_BT_PATCH_TRANSLATED) {
        page_unmark(t, s->pa);
        kvm_bt_tc_free(t, s->tc_slot);
    }
    if (to == KVM_BT_PATCH_COUNTING && s->state != KVM_BT_PATCH_COUNTING) {
        s->reason = NULL;
        s->exits_before = 0;
        s->restarts++;
    }
    s->state = to;
    return true;
}

/* An exit at a known site showing @word: a new word restarts it. */
static void count_exit(KvmBtPatchTable *t, KvmBtPatchSite *s, uint32_t ea, uint32_t word)
{
    if (word != s->orig && !(s->state == KVM_BT_PATCH_TRANSLATED && word == s->patch)) {
        /* the guest replaced the code behind our back: a new site */
        if (s->state == KVM_BT_PATCH_COUNTING) {
            /* restart() did this from COUNTING too: count afresh */
            s->reason = NULL;
            s->exits_before = 0;
            s->restarts++;
        }
        transition(t, s, KVM_BT_SITE_NEW_WORD);
        s->orig = word;
    }
    if (s->state == KVM_BT_PATCH_COUNTING) {
        s->ea = ea;
        s->exits_before++;
    } else {
        s->exits_after++;
    }
}

/* The site at @pa, added (COUNTING, no exits yet) if new; NULL on OOM. */
static KvmBtPatchSite *site_get(KvmBtPatchTable *t, uint64_t pa, uint32_t ea, uint32_t word,
                                bool *added)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(t, pa);

    *added = false;
    if (s) {
        return s;
    }
    s = kvm_bt_oa_insert(&t->sites, pa, added);
    if (s) {
        *s = (KvmBtPatchSite){
            .pa = pa, .ea = ea, .orig = word, .used = true, .tc_slot = -1,
            .state = KVM_BT_PATCH_COUNTING,
        };
    }
    return s;
}

/* Is @pa inside the TC's slots? */
static bool in_tc(const KvmBtPatchTable *t, uint64_t pa)
{
    return t->tc.total && pa >= t->tc.pa &&
           pa - t->tc.pa < (uint64_t)t->tc.total * slot_bytes(&t->tc);
}

bool kvm_bt_patch_note_exit(KvmBtPatchTable *t, uint64_t pa, uint32_t ea, uint32_t word,
                            KvmBtPatchSite **site)
{
    KvmBtPatchSite *s;
    bool added;

    if (site) {
        *site = NULL;
    }
    /* an exit inside a stub (its fallback, or a stale copy) belongs to the stub's site */
    if (in_tc(t, pa)) {
        s = kvm_bt_patch_by_stub_pa(t, pa);
        if (s) {
            s->exits_after++;
        }
        if (site) {
            *site = s;
        }
        return false;
    }
    s = site_get(t, pa, ea, word, &added);
    if (!s) {
        return false;
    }
    count_exit(t, s, ea, word);
    if (site) {
        *site = s;
    }
    return is_hot(t, s);
}

KvmBtHotVerdict kvm_bt_patch_hot(KvmBtPatchTable *t, uint64_t pa, uint32_t ea, uint32_t word,
                                 uint32_t mem_word, bool mem_ok, bool needs_stub,
                                 KvmBtPatchSite **site)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(t, pa);
    bool added;

    if (site) {
        *site = s;
    }
    if (s && s->state == KVM_BT_PATCH_UNDONE) {
        /* what undid it changed since (the vCPU asks once a generation): try again */
        transition(t, s, KVM_BT_SITE_HOT);
    }
    if (!mem_ok || mem_word != word) {
        return KVM_BT_HOT_WORD_CHANGED;
    }
    if (t->blockers) {
        return KVM_BT_HOT_BLOCKED;
    }
    if (in_tc(t, pa)) {
        return KVM_BT_HOT_DECIDED;      /* a stub's own word: never a site */
    }
    s = site_get(t, pa, ea, word, &added);
    if (site) {
        *site = s;
    }
    if (!s) {
        return KVM_BT_HOT_NO_SITE;
    }
    count_exit(t, s, ea, word);
    if (s->state != KVM_BT_PATCH_COUNTING) {
        return KVM_BT_HOT_DECIDED;
    }
    transition(t, s, KVM_BT_SITE_HOT);
    if (s->restarts >= KVM_BT_CHURN_LIMIT) {
        kvm_bt_patch_refused(t, pa, "rewritten too often (churn limit)");
        t->churn_refused++;
        return KVM_BT_HOT_CHURN;
    }
    if (needs_stub && t->tc_taken) {
        kvm_bt_patch_refused(t, pa, "the guest wrote the TC: no stub slot");
        return KVM_BT_HOT_TC_TAKEN;
    }
    if (needs_stub && t->tc_broken) {
        /* not refused: asked again once the TC's mapping is back (gen) */
        return KVM_BT_HOT_TC_AWAY;
    }
    return KVM_BT_HOT_DECIDE;
}

bool kvm_bt_patch_translated(KvmBtPatchTable *t, uint64_t pa, const KvmBtXlat *x)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(t, pa);
    int slot = -1;

    if (!s || kvm_bt_site_next(s->state, KVM_BT_SITE_TRANSLATE) == KVM_BT_PATCH__COUNT ||
        x->kind == KVM_BT_XLAT_NONE) {
        return false;
    }
    if (x->kind == KVM_BT_XLAT_STUB) {
        slot = kvm_bt_tc_peek(t);
        /* the stub must have been built for exactly this slot */
        if (slot < 0 || x->stub_words > t->tc.slot_words ||
            x->fallback_ea - kvm_bt_tc_slot_ea(t, slot) != 4 * x->fallback) {
            return false;
        }
    }
    if (!page_mark(t, pa)) {
        return false;
    }
    if (slot >= 0) {
        kvm_bt_tc_alloc(t);
        t->tc.owner[slot] = pa;
        s->stub_ea = kvm_bt_tc_slot_ea(t, slot);
        s->stub_end = s->stub_ea + 4 * x->stub_words;
        s->stub_pa = kvm_bt_tc_slot_pa(t, slot);
    } else {
        s->stub_ea = s->stub_end = 0;
        s->stub_pa = 0;
    }
    s->tc_slot = slot;
    s->patch = x->patch;
    s->kind = x->kind;
    s->reason = NULL;
    transition(t, s, KVM_BT_SITE_TRANSLATE);
    t->translations++;
    return true;
}

bool kvm_bt_patch_refused(KvmBtPatchTable *t, uint64_t pa, const char *reason)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(t, pa);

    if (!s || !transition(t, s, KVM_BT_SITE_REFUSE)) {
        return false;
    }
    s->reason = reason;
    return true;
}

bool kvm_bt_patch_dropped(KvmBtPatchTable *t, uint64_t pa)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(t, pa);

    return s && transition(t, s, KVM_BT_SITE_DROP);
}

bool kvm_bt_patch_undone(KvmBtPatchTable *t, uint64_t pa, const char *reason)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(t, pa);

    if (!s || !transition(t, s, KVM_BT_SITE_UNDO)) {
        return false;
    }
    s->reason = reason;
    return true;
}

bool kvm_bt_patch_stub_lost(KvmBtPatchTable *t, uint64_t pa, bool restored)
{
    bool ok = restored ? kvm_bt_patch_undone(t, pa, "the guest wrote its stub")
                       : kvm_bt_patch_dropped(t, pa);

    if (ok) {
        t->stubs_lost++;
    }
    return ok;
}

bool kvm_bt_patch_recount(KvmBtPatchTable *t, uint64_t pa)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(t, pa);

    return s && transition(t, s, KVM_BT_SITE_RECOUNT);
}

void kvm_bt_patch_foreach(KvmBtPatchTable *t, bool (*fn)(KvmBtPatchSite *s, void *opaque),
                          void *opaque)
{
    for (size_t i = 0; i < t->sites.capacity; i++) {
        KvmBtPatchSite *s = kvm_bt_oa_slot(&t->sites, i);

        if (s && !fn(s, opaque)) {
            return;
        }
    }
}

size_t kvm_bt_patch_count(const KvmBtPatchTable *t, KvmBtPatchState state)
{
    size_t n = 0;

    if (state == KVM_BT_PATCH_TRANSLATED) {
        return t->translated;
    }
    for (size_t i = 0; i < t->sites.capacity; i++) {
        const KvmBtPatchSite *s = kvm_bt_oa_slot(&t->sites, i);

        n += s && s->state == state;
    }
    return n;
}

const char *kvm_bt_patch_state_name(KvmBtPatchState state)
{
    static const char *const names[KVM_BT_PATCH__COUNT] = {
        [KVM_BT_PATCH_COUNTING] = "counting",
        [KVM_BT_PATCH_TRANSLATED] = "translated",
        [KVM_BT_PATCH_DROPPED] = "dropped",
        [KVM_BT_PATCH_UNDONE] = "undone",
        [KVM_BT_PATCH_REFUSED] = "refused",
    };

    return (unsigned)state < KVM_BT_PATCH__COUNT ? names[state] : "?";
}
