/*
 * kvm-bt translator core: site table
 *
 * A site is one guest instruction that exits: its effective and physical
 * address, the instruction word, its class and how often it exited. Keyed
 * by (EA, word) so a rewritten location becomes a new site. Not thread-safe:
 * each owner (a vCPU) serialises its own accesses.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_SITE_TABLE_H
#define KVM_BT_SITE_TABLE_H

#include "bt-cluster.h"

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
    uint32_t bt_gen;        /* binary translation last asked for in this generation */
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

typedef struct KvmBtSiteTable {
    KvmBtSite *slots;
    size_t capacity;        /* power of two */
    size_t count;
} KvmBtSiteTable;

void kvm_bt_sites_init(KvmBtSiteTable *t);
void kvm_bt_sites_destroy(KvmBtSiteTable *t);
KvmBtSite *kvm_bt_sites_find(KvmBtSiteTable *t, uint32_t ea, uint32_t word);
/* Find or add; a new site has exits == 0 and the given pa/cls. NULL on OOM. */
KvmBtSite *kvm_bt_sites_get(KvmBtSiteTable *t, uint32_t ea, uint32_t word,
                            uint64_t pa, uint8_t cls);
/* Copy up to @n sites with the most exits into @out, most first; returns how many. */
size_t kvm_bt_sites_top(const KvmBtSiteTable *t, KvmBtSite *out, size_t n);

#endif
