/*
 * kvm-bt translator core: the one hash table behind the core's tables
 *
 * Open addressing with linear probing on a 64-bit key, load kept under
 * 1/2, entries never removed (a site's history is what the statistics
 * report, so no tombstones are ever needed). Entries are the caller's
 * fixed-size records; the table knows where each keeps its key (a
 * function) and its "slot in use" flag (an offset), and hashes keys with
 * the caller's function. The BT site records (bt-sites.h, keyed by
 * physical address), their per-page bitmaps, and each vCPU's site table
 * (site-table.h, keyed by EA and word) are all such tables.
 *
 * Not thread-safe. Entry pointers stay valid until the next insertion.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_OA_TABLE_H
#define KVM_BT_OA_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct KvmBtOaType {
    size_t size;                        /* bytes per entry */
    size_t used_offset;                 /* offset of its bool "in use" */
    uint64_t (*key)(const void *entry);
    size_t (*hash)(uint64_t key);
    size_t first_capacity;              /* power of two */
} KvmBtOaType;

typedef struct KvmBtOaTable {
    const KvmBtOaType *type;
    void *slots;
    size_t capacity;                    /* power of two, or 0 */
    size_t count;
} KvmBtOaTable;

void kvm_bt_oa_init(KvmBtOaTable *t, const KvmBtOaType *type);
void kvm_bt_oa_destroy(KvmBtOaTable *t);
/* The entry with @key, or NULL. */
void *kvm_bt_oa_find(const KvmBtOaTable *t, uint64_t key);
/*
 * The entry with @key; if there was none, a zeroed one marked in use
 * (the caller fills in its key) and *added set. NULL on allocation failure.
 */
void *kvm_bt_oa_insert(KvmBtOaTable *t, uint64_t key, bool *added);
/* Slot @i (< capacity) if in use, else NULL: for visiting every entry. */
void *kvm_bt_oa_slot(const KvmBtOaTable *t, size_t i);

#endif
