/*
 * kvm-bt translator core: a vCPU's site table — exit accounting, and a
 * cache of the site records of bt-sites.h
 *
 * A site is one guest instruction that exits: its effective and physical
 * address, the instruction word, its class and how often it exited on this
 * vCPU. Keyed by (EA, word) so a rewritten location becomes a new site. Not
 * thread-safe: each owner (a vCPU) serialises its own accesses.
 *
 * Why a per-vCPU table at all: exits are the hot path, and bt=on exits must
 * stay cheap. Counting them in the one PA-keyed record (bt-sites.h) would
 * take the translator's global lock, and translate a guest address, on
 * every exit of every vCPU. So each vCPU counts its own exits here, under
 * its own lock, and touches the record only when its count reaches the
 * record table's threshold: it reports the site hot (kvm_bt_patch_hot),
 * once per generation of that table. This table is not a second state
 * machine: what it keeps of the lifecycle is only "reported hot in
 * generation bt_gen", i.e. a cached answer that is valid until the
 * record table's generation moves (a condition that held translation
 * back changed, or a reset); the record's state is the truth, and the
 * statistics read it from there. The cluster fields are this vCPU's own
 * decision for the run after the site, cached against the table's code
 * generation. A system reset empties this table with the records.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_SITE_TABLE_H
#define KVM_BT_SITE_TABLE_H

#include "bt-cluster.h"
#include "oa-table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct KvmBtSite {
    uint64_t pa;
    uint32_t ea;
    uint32_t word;
    uint64_t exits;
    uint8_t cls;            /* KvmBtExitClass */
    bool warned;            /* unclassified: warned once */
    uint32_t bt_gen;        /* reported hot to the record in this generation (0: never) */
    uint64_t exits_hot;     /* exits when it first became hot (0: never) */
    /* bt=on: the run the monitor steps at this site's exits (bt-cluster.h) */
    KvmBtCluster cluster;
    uint32_t cluster_words[KVM_BT_CLUSTER_MAX_WORDS];  /* what it was decided on */
    const uint32_t *cluster_host;   /* where the monitor reads them (big-endian) */
    unsigned cluster_gen;           /* code generation of the decision; 0: none yet */
    uint64_t cluster_runs;          /* exits whose run reached its last word */
    uint64_t cluster_absorbed;      /* privileged instructions those runs took along */
    bool used;
} KvmBtSite;

/* An oa-table.h table of KvmBtSite, keyed by (EA, word) */
typedef KvmBtOaTable KvmBtSiteTable;

void kvm_bt_sites_init(KvmBtSiteTable *t);
void kvm_bt_sites_destroy(KvmBtSiteTable *t);
KvmBtSite *kvm_bt_sites_find(KvmBtSiteTable *t, uint32_t ea, uint32_t word);
/* Find or add; a new site has exits == 0 and the given pa/cls. NULL on OOM. */
KvmBtSite *kvm_bt_sites_get(KvmBtSiteTable *t, uint32_t ea, uint32_t word,
                            uint64_t pa, uint8_t cls);
/*
 * An exit at @s was counted (s->exits): should this vCPU report the site
 * hot to its record now? Yes once its exits reach @threshold (0: never),
 * once per record generation @gen; remembers the generation, and the
 * exits at the first report (exits_hot).
 */
bool kvm_bt_site_cache_hot(KvmBtSite *s, uint64_t threshold, unsigned gen);

/* Copy up to @n sites with the most exits into @out, most first; returns how many. */
size_t kvm_bt_sites_top(const KvmBtSiteTable *t, KvmBtSite *out, size_t n);

#endif
