/*
 * Unit tests for the site table and exit classification.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "exit-class.h"
#include "site-table.h"
#include "test-harness.h"

#include <string.h>

static void test_insert_find_grow(void)
{
    KvmBtSiteTable t;
    KvmBtSite top[4];
    bool all_found = true;

    kvm_bt_sites_init(&t);
    CHECK(kvm_bt_sites_find(&t, 0xc0000000, 0x7c6000a6) == NULL, "empty table");
    /* enough sites to force several grows */
    for (uint32_t i = 0; i < 5000; i++) {
        KvmBtSite *s = kvm_bt_sites_get(&t, 0xc0000000 + 4 * i, 0x7c6000a6, 0x1000 + 4 * i,
                                        KVM_BT_EXIT_MFMSR);
        s->exits += i;
    }
    CHECK(t.count == 5000, "count %zu", t.count);
    for (uint32_t i = 0; i < 5000; i++) {
        KvmBtSite *s = kvm_bt_sites_find(&t, 0xc0000000 + 4 * i, 0x7c6000a6);
        all_found &= s && s->exits == i && s->pa == 0x1000 + 4 * i;
    }
    CHECK(all_found, "every site found with its count after growing");
    /* same EA, different word: a different site */
    CHECK(kvm_bt_sites_find(&t, 0xc0000000, 0x7c0007a4) == NULL, "word is part of the key");
    kvm_bt_sites_get(&t, 0xc0000000, 0x7c0007a4, 0, KVM_BT_EXIT_TLBWE)->exits = 1;
    CHECK(t.count == 5001, "rewritten location is a new site");
    /* get() of an existing site keeps its data */
    CHECK(kvm_bt_sites_get(&t, 0xc0000004, 0x7c6000a6, 99, 0)->exits == 1, "existing site kept");

    CHECK(kvm_bt_sites_top(&t, top, 4) == 4, "top 4");
    CHECK(top[0].exits == 4999 && top[1].exits == 4998 && top[3].exits == 4996, "top order");
    kvm_bt_sites_destroy(&t);
    CHECK(t.count == 0 && t.slots == NULL, "destroyed");
}

static void test_classify(void)
{
    CHECK(kvm_bt_classify_insn(0x7c6000a6) == KVM_BT_EXIT_MFMSR, "mfmsr");
    CHECK(kvm_bt_classify_insn(0x7d300ba6) == KVM_BT_EXIT_MTSPR, "mtspr pid");
    CHECK(kvm_bt_classify_insn(0x7c008146) == KVM_BT_EXIT_WRTEEI, "wrteei 1");
    CHECK(kvm_bt_classify_insn(0x4c000064) == KVM_BT_EXIT_RFI, "rfi");
    CHECK(kvm_bt_classify_insn(0x7c0007a4) == KVM_BT_EXIT_TLBWE, "tlbwe");
    CHECK(kvm_bt_classify_insn(0x7c001824) == KVM_BT_EXIT_TLBILX, "tlbilx");
    CHECK(kvm_bt_classify_insn(0x60000000) == KVM_BT_EXIT_PRIV_OTHER, "nop is not privileged");
    CHECK(kvm_bt_classify_insn(0xffffffff) == KVM_BT_EXIT_PRIV_OTHER, "garbage");
    CHECK(strcmp(kvm_bt_exit_class_name(KVM_BT_EXIT_DTLB_MISS), "dtlb-miss") == 0, "names");
    CHECK(kvm_bt_exit_is_privileged(KVM_BT_EXIT_DCBI), "dcbi privileged");
    CHECK(!kvm_bt_exit_is_privileged(KVM_BT_EXIT_SYSCALL), "syscall is a reflection");
    for (int c = 0; c < KVM_BT_EXIT__COUNT; c++) {
        CHECK(strcmp(kvm_bt_exit_class_name(c), "?") != 0, "class %d named", c);
    }
}

int main(void)
{
    test_insert_find_grow();
    test_classify();
    return test_summary("test-site-table");
}
