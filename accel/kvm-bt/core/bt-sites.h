/*
 * kvm-bt translator core: the site record, its lifecycle, and the
 * translation-cache allocator
 *
 * One global table of the privileged sites binary translation considers,
 * keyed by the guest physical address of the instruction word (a patch
 * lives in physical memory, whatever maps it). Every site has one state
 * and changes it only through kvm_bt_site_next(), the whole lifecycle:
 *
 *   COUNTING --translated--> TRANSLATED --guest wrote it--> DROPPED
 *      |  ^                       \--monitor undid it--> UNDONE
 *      |  |                                                 |
 *      |  +------- hot again (what undid it may be gone) ---+
 *      |  +------- recount (DROPPED, UNDONE, REFUSED) ------+
 *      \--cannot translate--> REFUSED
 *
 * and any state goes back to COUNTING when an exit shows a different word
 * at the address (the guest replaced the code: a new site). Exits are
 * counted in every state (before and after the decision).
 *
 * Hotness: a backend that sees every exit (real KVM's samples) counts them
 * here (kvm_bt_patch_note_exit, against the table's threshold). The
 * TCG-based monitor counts exits per vCPU without a global lock, in a
 * per-vCPU cache of these records (site-table.h), and reports a site here
 * once, per generation, when that count reaches the same threshold
 * (kvm_bt_patch_hot); the conditions that hold translation back (the guest
 * maps 0xFFFFF000, the TC is mapped elsewhere, the guest took the TC, the
 * churn limit) live here too, and changing them bumps the generation.
 *
 * The translation cache (TC) is a guest-mapped region cut into fixed-size
 * slots, one stub each. A freed slot is never handed out again for the life
 * of the table: a vCPU may still be executing inside the old stub (it was
 * interrupted there, or is about to take its fallback trap), and reusing the
 * slot would run it into somebody else's code.
 *
 * Not thread-safe: the monitor wraps the table in a lock; only the
 * generation counters (kvm_bt_patch_gen, kvm_bt_patch_code_gen) may be read
 * without it. Site pointers stay valid until the next call that adds a site
 * (note_exit or hot of a new pa) or kvm_bt_patch_reset.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_SITES_H
#define KVM_BT_SITES_H

#include "bt-translate.h"
#include "oa-table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum KvmBtPatchState {
    KVM_BT_PATCH_COUNTING = 0,  /* exits are being counted */
    KVM_BT_PATCH_TRANSLATED,    /* patch is in guest memory */
    KVM_BT_PATCH_DROPPED,       /* the guest wrote the word: patch gone */
    KVM_BT_PATCH_UNDONE,        /* the monitor restored the word (mapping gone, page blocked...) */
    KVM_BT_PATCH_REFUSED,       /* cannot be translated (reason) */
    KVM_BT_PATCH__COUNT
} KvmBtPatchState;

/* What can happen to a site (kvm_bt_site_next). */
typedef enum KvmBtSiteEvent {
    KVM_BT_SITE_EXIT = 0,       /* an exit at the site, same word: counted */
    KVM_BT_SITE_NEW_WORD,       /* an exit shows another word: a new site */
    KVM_BT_SITE_HOT,            /* a vCPU found it hot (undone: what undid it may be gone) */
    KVM_BT_SITE_TRANSLATE,      /* the patch (and stub) go into guest memory */
    KVM_BT_SITE_REFUSE,         /* no translation (reason) */
    KVM_BT_SITE_DROP,           /* the guest wrote the word */
    KVM_BT_SITE_UNDO,           /* the monitor put the guest's word back */
    KVM_BT_SITE_RECOUNT,        /* the cause went away: count from zero */
    KVM_BT_SITE_EVENT__COUNT
} KvmBtSiteEvent;

/*
 * The lifecycle: the state @ev takes a site in @from to, or
 * KVM_BT_PATCH__COUNT when @ev is not allowed there (nothing changes).
 */
KvmBtPatchState kvm_bt_site_next(KvmBtPatchState from, KvmBtSiteEvent ev);
const char *kvm_bt_site_event_name(KvmBtSiteEvent ev);

/* What kvm_bt_patch_hot() found. */
typedef enum KvmBtHotVerdict {
    KVM_BT_HOT_DECIDE = 0,      /* COUNTING: translate it (or refuse) now */
    KVM_BT_HOT_WORD_CHANGED,    /* memory no longer holds the word that exited */
    KVM_BT_HOT_BLOCKED,         /* the guest maps 0xFFFFF000: nothing is translated */
    KVM_BT_HOT_DECIDED,         /* translated, refused or dropped already */
    KVM_BT_HOT_CHURN,           /* refused now: rewritten too often */
    KVM_BT_HOT_TC_TAKEN,        /* refused now: needs a stub, the guest took the TC */
    KVM_BT_HOT_TC_AWAY,         /* needs a stub, the TC is mapped elsewhere: not now */
    KVM_BT_HOT_NO_SITE,         /* out of memory */
} KvmBtHotVerdict;

/*
 * A site whose word the guest rewrote this many times (each a new
 * translation) is refused from then on: a guest rewriting hot code in a
 * loop must not make the monitor translate without bound.
 */
#define KVM_BT_CHURN_LIMIT 8

typedef struct KvmBtPatchSite {
    uint64_t pa;                /* key: guest physical address of the word */
    uint32_t ea;                /* EA seen at the last exit, or the translation's */
    uint32_t orig;              /* the guest's instruction word */
    uint32_t patch;             /* the word written over it (kept after drop/undo) */
    uint8_t kind;               /* KvmBtXlatKind */
    uint8_t state;              /* KvmBtPatchState */
    bool used;                  /* hash slot in use */
    const char *reason;         /* REFUSED, UNDONE: static string */
    uint64_t exits_before;      /* exits counted while COUNTING */
    uint64_t exits_after;       /* exits in any later state (stale code, fallback, refused) */
    uint32_t restarts;          /* times counting restarted on a new word or recount */
    int32_t tc_slot;            /* STUB: its TC slot (kept after the slot is freed), else -1 */
    uint32_t stub_ea, stub_end; /* STUB: [stub_ea, stub_end) */
    uint64_t stub_pa;
} KvmBtPatchSite;

/* Per-4 KiB-page record of TRANSLATED words, for the write check */
typedef struct KvmBtPatchPage {
    uint64_t page;              /* pa >> 12 */
    uint32_t count;             /* TRANSLATED words in the page */
    bool used;
    uint32_t words[32];         /* bitmap of the 1024 words */
} KvmBtPatchPage;

typedef enum KvmBtTcSlotState {
    KVM_BT_TC_SLOT_FREE = 0,    /* never handed out */
    KVM_BT_TC_SLOT_LIVE,
    KVM_BT_TC_SLOT_RETIRED,     /* freed: never handed out again */
} KvmBtTcSlotState;

typedef struct KvmBtTc {
    uint64_t pa;
    uint32_t ea;
    unsigned slot_words;
    unsigned total;             /* slots */
    unsigned next;              /* slots below this were handed out, never again */
    unsigned live;
    uint8_t *state;             /* per slot: KvmBtTcSlotState */
    uint64_t *owner;            /* per slot: pa of the site it was given to */
} KvmBtTc;

typedef struct KvmBtPatchTable {
    KvmBtOaTable sites;         /* KvmBtPatchSite by pa */
    KvmBtOaTable pages;         /* KvmBtPatchPage by pa >> 12 */
    size_t translated;          /* sites in state TRANSLATED */
    uint64_t threshold;         /* exits before a site is hot; 0: never */
    KvmBtTc tc;
    /* what holds translation back; changing it bumps gen */
    unsigned blockers;          /* vCPUs whose own TLB maps 0xFFFFF000 */
    bool tc_broken;             /* stubs undone: the TC's mapping changed; until it is back */
    bool tc_taken;              /* the guest wrote the TC: no more stubs there */
    /* read without the lock (kvm_bt_patch_gen, kvm_bt_patch_code_gen) */
    unsigned gen;               /* bumped when earlier decisions may no longer hold */
    unsigned code_gen;          /* bumped whenever a patch comes or goes */
    /* since init or reset */
    uint64_t translations;      /* TRANSLATE events */
    uint64_t churn_refused;     /* hot sites refused for the churn limit */
    uint64_t stubs_lost;        /* stubs the guest overwrote */
} KvmBtPatchTable;

/*
 * Measured on the stock guest with the full workload under -icount -seed 1
 * (make bench's; trap mode 5.07M exits, the PV guest 1.43M), exits with
 * exit clusters and the PID deferral: threshold 1: 785,499, 4: 785,842,
 * 8: 788,088, 16: 790,450, 64: 809,481, 256: 871,831 (sites translated:
 * 650, 491, 481, 466, 420, 299). Below 16 the gain is boot code that soon
 * stops running, bought with more patches (each is safe work that stops
 * every vCPU) and stubs; 16 exits only 0.6% more than threshold 1.
 */
#define KVM_BT_HOT_THRESHOLD_DEFAULT 16
#define KVM_BT_TC_SLOT_WORDS_DEFAULT KVM_BT_STUB_MAX_WORDS

/* Threshold: exits at one site before it is hot (0 disables translation). */
void kvm_bt_patch_init(KvmBtPatchTable *t, uint64_t threshold);
void kvm_bt_patch_destroy(KvmBtPatchTable *t);
void kvm_bt_patch_set_threshold(KvmBtPatchTable *t, uint64_t threshold);
/*
 * A system reset: every site, page and TC slot goes (the guest's memory is
 * reloaded), so do the conditions and counters; the threshold stays, and
 * both generations move on (per-vCPU caches must not mistake the new
 * table's decisions for old ones). kvm_bt_tc_init may be called again.
 */
void kvm_bt_patch_reset(KvmBtPatchTable *t);

/* Generations: safe to read without the table's lock. */
unsigned kvm_bt_patch_gen(const KvmBtPatchTable *t);
unsigned kvm_bt_patch_code_gen(const KvmBtPatchTable *t);
/* Guest code changed (a patch or stub written or restored): bumps code_gen. */
void kvm_bt_patch_code_changed(KvmBtPatchTable *t);
/*
 * One more (@on) or one fewer vCPU maps 0xFFFFF000 itself. Returns the
 * number that do now; bumps gen. The caller undoes every translation when
 * it becomes 1.
 */
unsigned kvm_bt_patch_block(KvmBtPatchTable *t, bool on);
/* How many vCPUs map 0xFFFFF000 (safe to read without the lock). */
unsigned kvm_bt_patch_blockers(const KvmBtPatchTable *t);
/*
 * The TC is not (@broken) mapped where it was, its stubs just undone: bumps
 * gen; or it is again: bumps gen if it was not.
 */
void kvm_bt_patch_tc_broken(KvmBtPatchTable *t, bool broken);
/* Is it mapped elsewhere now (safe to read without the lock)? */
bool kvm_bt_patch_tc_is_broken(const KvmBtPatchTable *t);
/* The guest wrote the TC it was told is reserved: no stub is made from now on. */
void kvm_bt_patch_tc_taken(KvmBtPatchTable *t);

/*
 * A vCPU's own count of exits at @pa (EA @ea, word @word) reached the
 * threshold (site-table.h, kvm_bt_site_cache_exit). @mem_word is what
 * guest memory holds there now (@mem_ok false: nothing readable); @needs_stub
 * says whether the word's translation would need a TC slot. An UNDONE site
 * counts afresh first (what undid it may be gone: the generation moved);
 * then, in this order: the word still stands, nothing blocks translation,
 * the site is undecided (the exit is counted), the churn limit, the TC.
 * *site (if non-NULL) gets the site, or NULL.
 */
KvmBtHotVerdict kvm_bt_patch_hot(KvmBtPatchTable *t, uint64_t pa, uint32_t ea, uint32_t word,
                                 uint32_t mem_word, bool mem_ok, bool needs_stub,
                                 KvmBtPatchSite **site);
/* A stub the guest overwrote: its site UNDONE (@restored: its word put back) or DROPPED. */
bool kvm_bt_patch_stub_lost(KvmBtPatchTable *t, uint64_t pa, bool restored);

/*
 * Note an exit at guest word @pa (EA @ea) holding @word. Returns true while
 * the site is hot: COUNTING with exits_before >= threshold, i.e. until the
 * caller records a decision (translated or refused). *site (if non-NULL)
 * gets the site, NULL on allocation failure.
 * An exit inside a TC slot is attributed to the slot's site (exits_after)
 * and never hot.
 */
bool kvm_bt_patch_note_exit(KvmBtPatchTable *t, uint64_t pa, uint32_t ea, uint32_t word,
                            KvmBtPatchSite **site);
KvmBtPatchSite *kvm_bt_patch_lookup(KvmBtPatchTable *t, uint64_t pa);

/*
 * Record decisions. translated: COUNTING -> TRANSLATED with @x (INPLACE or
 * STUB); for a STUB it takes the TC slot kvm_bt_tc_peek named, which @x
 * must have been built for. Returns false (nothing changed) if the site is
 * not COUNTING, @x is NONE, or the stub is not in the next free slot.
 */
bool kvm_bt_patch_translated(KvmBtPatchTable *t, uint64_t pa, const KvmBtXlat *x);
bool kvm_bt_patch_refused(KvmBtPatchTable *t, uint64_t pa, const char *reason);
/* TRANSLATED -> DROPPED / UNDONE; frees the TC slot (which is not reused). */
bool kvm_bt_patch_dropped(KvmBtPatchTable *t, uint64_t pa);
bool kvm_bt_patch_undone(KvmBtPatchTable *t, uint64_t pa, const char *reason);
/* DROPPED/UNDONE/REFUSED -> COUNTING from zero (e.g. the page is back). */
bool kvm_bt_patch_recount(KvmBtPatchTable *t, uint64_t pa);

/* The site owning the TC slot containing @ea / @pa (even after the slot was freed). */
KvmBtPatchSite *kvm_bt_patch_by_stub_ea(KvmBtPatchTable *t, uint32_t ea);
KvmBtPatchSite *kvm_bt_patch_by_stub_pa(KvmBtPatchTable *t, uint64_t pa);

/* Is any TRANSLATED word within [pa, pa + len)? Cheap when not. */
bool kvm_bt_patch_any_in(const KvmBtPatchTable *t, uint64_t pa, uint64_t len);

/* Visit every site (order unspecified); stop early if @fn returns false. */
void kvm_bt_patch_foreach(KvmBtPatchTable *t, bool (*fn)(KvmBtPatchSite *s, void *opaque),
                          void *opaque);
size_t kvm_bt_patch_count(const KvmBtPatchTable *t, KvmBtPatchState state);
const char *kvm_bt_patch_state_name(KvmBtPatchState state);

/*
 * TC: [pa, pa + size) mapped at @ea, @slot_words words a slot. Call once,
 * before any stub translation; size 0 means no TC. false on bad geometry
 * or allocation failure.
 */
bool kvm_bt_tc_init(KvmBtPatchTable *t, uint64_t pa, uint32_t ea, uint32_t size,
                    unsigned slot_words);
/* The slot the next kvm_bt_tc_alloc returns, -1 if the TC is exhausted. */
int kvm_bt_tc_peek(const KvmBtPatchTable *t);
int kvm_bt_tc_alloc(KvmBtPatchTable *t);
/* Retire @slot: it stays attributed to its site but is never handed out again. */
void kvm_bt_tc_free(KvmBtPatchTable *t, int slot);
uint32_t kvm_bt_tc_slot_ea(const KvmBtPatchTable *t, int slot);
uint64_t kvm_bt_tc_slot_pa(const KvmBtPatchTable *t, int slot);
/* live: in use; retired: freed, never reused; total: all slots. */
void kvm_bt_tc_usage(const KvmBtPatchTable *t, unsigned *live, unsigned *retired,
                     unsigned *total);

#endif
