/*
 * kvm-bt translator core: site table (open addressing, linear probing)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "site-table.h"

#include <stdlib.h>
#include <string.h>

static size_t site_hash(uint32_t ea, uint32_t word)
{
    uint64_t h = ((uint64_t)ea << 32 | word) * 0x9e3779b97f4a7c15ull;

    return (size_t)(h >> 32);
}

void kvm_bt_sites_init(KvmBtSiteTable *t)
{
    memset(t, 0, sizeof(*t));
}

void kvm_bt_sites_destroy(KvmBtSiteTable *t)
{
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static KvmBtSite *probe(const KvmBtSiteTable *t, uint32_t ea, uint32_t word)
{
    size_t mask = t->capacity - 1;

    for (size_t i = site_hash(ea, word) & mask;; i = (i + 1) & mask) {
        KvmBtSite *s = &t->slots[i];
        if (!s->used || (s->ea == ea && s->word == word)) {
            return s;
        }
    }
}

KvmBtSite *kvm_bt_sites_find(KvmBtSiteTable *t, uint32_t ea, uint32_t word)
{
    KvmBtSite *s;

    if (!t->capacity) {
        return NULL;
    }
    s = probe(t, ea, word);
    return s->used ? s : NULL;
}

static bool grow(KvmBtSiteTable *t)
{
    size_t cap = t->capacity ? t->capacity * 2 : 256;
    KvmBtSiteTable n = { .slots = calloc(cap, sizeof(KvmBtSite)), .capacity = cap };

    if (!n.slots) {
        return false;
    }
    for (size_t i = 0; i < t->capacity; i++) {
        if (t->slots[i].used) {
            *probe(&n, t->slots[i].ea, t->slots[i].word) = t->slots[i];
            n.count++;
        }
    }
    free(t->slots);
    *t = n;
    return true;
}

KvmBtSite *kvm_bt_sites_get(KvmBtSiteTable *t, uint32_t ea, uint32_t word,
                            uint64_t pa, uint8_t cls)
{
    KvmBtSite *s;

    /* keep the load under 1/2 so probes stay short */
    if ((t->count + 1) * 2 > t->capacity && !grow(t)) {
        return NULL;
    }
    s = probe(t, ea, word);
    if (!s->used) {
        *s = (KvmBtSite){ .pa = pa, .ea = ea, .word = word, .cls = cls, .used = true };
        t->count++;
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
        if (t->slots[i].used) {
            all[k++] = t->slots[i];
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
