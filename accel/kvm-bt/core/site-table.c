/*
 * kvm-bt translator core: site table (open addressing, linear probing)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "site-table.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static uint64_t site_key(const void *entry)
{
    const KvmBtSite *s = entry;

    return (uint64_t)s->ea << 32 | s->word;
}

static size_t site_hash(uint64_t key)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32);
}

static const KvmBtOaType site_type = {
    .size = sizeof(KvmBtSite), .used_offset = offsetof(KvmBtSite, used),
    .key = site_key, .hash = site_hash, .first_capacity = 256,
};

void kvm_bt_sites_init(KvmBtSiteTable *t)
{
    kvm_bt_oa_init(t, &site_type);
}

void kvm_bt_sites_destroy(KvmBtSiteTable *t)
{
    kvm_bt_oa_destroy(t);
}

KvmBtSite *kvm_bt_sites_find(KvmBtSiteTable *t, uint32_t ea, uint32_t word)
{
    return kvm_bt_oa_find(t, (uint64_t)ea << 32 | word);
}

KvmBtSite *kvm_bt_sites_get(KvmBtSiteTable *t, uint32_t ea, uint32_t word,
                            uint64_t pa, uint8_t cls)
{
    bool added;
    KvmBtSite *s = kvm_bt_oa_insert(t, (uint64_t)ea << 32 | word, &added);

    if (s && added) {
        *s = (KvmBtSite){ .pa = pa, .ea = ea, .word = word, .cls = cls, .used = true };
    }
    return s;
}

bool kvm_bt_site_cache_hot(KvmBtSite *s, uint64_t threshold, unsigned gen)
{
    if (!threshold || s->exits < threshold || s->bt_gen == gen) {
        return false;
    }
    s->bt_gen = gen;
    if (!s->exits_hot) {
        s->exits_hot = s->exits;
    }
    return true;
}

static int by_exits_desc(const void *a, const void *b)
{
    const KvmBtSite *x = a, *y = b;

    if (x->exits != y->exits) {
        return x->exits < y->exits ? 1 : -1;
    }
    return x->ea < y->ea ? -1 : x->ea > y->ea;
}

size_t kvm_bt_sites_top(const KvmBtSiteTable *t, KvmBtSite *out, size_t n)
{
    size_t k = 0;
    KvmBtSite *all;

    if (!t->count || !n) {
        return 0;
    }
    all = malloc(t->count * sizeof(*all));
    if (!all) {
        return 0;
    }
    for (size_t i = 0; i < t->capacity; i++) {
        const KvmBtSite *s = kvm_bt_oa_slot(t, i);

        if (s) {
            all[k++] = *s;
        }
    }
    qsort(all, k, sizeof(*all), by_exits_desc);
    if (k > n) {
        k = n;
    }
    memcpy(out, all, k * sizeof(*out));
    free(all);
    return k;
}
