/*
 * kvm-bt translator core: open-addressing hash table (oa-table.h)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "oa-table.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *slot_at(const KvmBtOaTable *t, size_t i)
{
    return (uint8_t *)t->slots + i * t->type->size;
}

static bool slot_used(const KvmBtOaTable *t, const uint8_t *e)
{
    return *(const bool *)(e + t->type->used_offset);
}

void *kvm_bt_oa_slot(const KvmBtOaTable *t, size_t i)
{
    uint8_t *e = slot_at(t, i);

    return slot_used(t, e) ? e : NULL;
}

void kvm_bt_oa_init(KvmBtOaTable *t, const KvmBtOaType *type)
{
    memset(t, 0, sizeof(*t));
    t->type = type;
}

void kvm_bt_oa_destroy(KvmBtOaTable *t)
{
    free(t->slots);
    t->slots = NULL;
    t->capacity = t->count = 0;
}

/* The slot holding @key, or the free one where it would go. */
static uint8_t *probe(const KvmBtOaTable *t, uint64_t key)
{
    size_t mask = t->capacity - 1;

    for (size_t i = t->type->hash(key) & mask;; i = (i + 1) & mask) {
        uint8_t *e = slot_at(t, i);

        if (!slot_used(t, e) || t->type->key(e) == key) {
            return e;
        }
    }
}

void *kvm_bt_oa_find(const KvmBtOaTable *t, uint64_t key)
{
    uint8_t *e;

    if (!t->capacity) {
        return NULL;
    }
    e = probe(t, key);
    return slot_used(t, e) ? e : NULL;
}

static bool grow(KvmBtOaTable *t)
{
    size_t cap = t->capacity ? t->capacity * 2 : t->type->first_capacity;
    KvmBtOaTable n = { .type = t->type, .slots = calloc(cap, t->type->size), .capacity = cap,
                       .count = t->count };

    if (!n.slots) {
        return false;
    }
    for (size_t i = 0; i < t->capacity; i++) {
        uint8_t *e = slot_at(t, i);

        if (slot_used(t, e)) {
            memcpy(probe(&n, t->type->key(e)), e, t->type->size);
        }
    }
    free(t->slots);
    *t = n;
    return true;
}

void *kvm_bt_oa_insert(KvmBtOaTable *t, uint64_t key, bool *added)
{
    uint8_t *e;

    *added = false;
    /* keep the load under 1/2 so probes stay short */
    if ((t->count + 1) * 2 > t->capacity && !grow(t)) {
        return NULL;
    }
    e = probe(t, key);
    if (!slot_used(t, e)) {
        memset(e, 0, t->type->size);
        *(bool *)(e + t->type->used_offset) = true;
        t->count++;
        *added = true;
    }
    return e;
}
