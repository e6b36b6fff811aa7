/*
 * Unit tests for exit clusters (bt-cluster): the runs the monitor may
 * execute in one privileged step.
 *
 * Named cases come from the stock Linux 6.1 guest; a property test builds
 * random sequences from words of known roles and checks every rule of
 * bt-cluster.h against the roles, not against the scanner's own code.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bt-cluster.h"
#include "ppc-insn.h"
#include "shared-page.h"
#include "test-harness.h"

#include <stdlib.h>
#include <string.h>

#define EA 0xc0002738u     /* tlb_write_entry in the stock guest */

static const uint32_t RFI = 0x4c000064, TLBWE = 0x7c0007a4, NOP = 0x60000000;
static const uint32_t TLBSX = 0x7c002724;      /* tlbsx 0,r4 */
static const uint32_t TLBRE = 0x7c000764;
static const uint32_t TLBIVAX = 0x7c001e24;    /* tlbivax 0,r3 */

static uint32_t ppc_enc_mflr(unsigned rt)
{
    return ppc_enc_mfspr(rt, 8);
}

static uint32_t page_lwz(unsigned rt, unsigned off)
{
    return ppc_enc_lwz(rt, KVM_BT_SHARED_D(off), 0);
}

static uint32_t page_stw(unsigned rs, unsigned off)
{
    return ppc_enc_stw(rs, KVM_BT_SHARED_D(off), 0);
}

static unsigned scan(const uint32_t *w, unsigned n, KvmBtCluster *c)
{
    return kvm_bt_cluster_scan(EA, w, n, c);
}

static void test_tlb_miss_tail(void)
{
    /*
     * tlb_write_entry: tlbwe; r10 = thread (SPRG3); skip four loads if cr6.eq;
     * restore CR, r11-r13; r10 = SPRG0; rfi
     */
    uint32_t w[] = {
        TLBWE, ppc_enc_mfspr(10, KVM_BT_SPR_SPRG3), 0x419a0014 /* beq cr6,+20 */,
        0x81ca0050, 0x81ea0054, 0x820a0058, 0x822a005c, /* lwz r14-r17,80..92(r10) */
        0x816a004c, 0x7d6ff120 /* mtcr r11 */, 0x81aa0048, 0x818a0044, 0x816a0040,
        ppc_enc_mfspr(10, KVM_BT_SPR_SPRG0), RFI,
        0x60000000,
    };
    KvmBtCluster c;

    /* the SPRG reads are translatable: they must stay exits until translated */
    CHECK(scan(w, 15, &c) == 0 && strstr(c.reason, "translatable"), "untranslated: %s",
          c.reason);

    /* once they are page loads, the whole tail is one run */
    w[1] = page_lwz(10, KVM_BT_SH_SPRG3);
    w[12] = page_lwz(10, KVM_BT_SH_SPRG0);
    CHECK(scan(w, 15, &c) == 14 && c.words == 14, "whole tail: %u (%s)", c.words,
          c.reason ? c.reason : "");
    CHECK(c.absorbed == 1 && c.privileged == (1 | 1 << 13) && c.branches == 1 << 2,
          "absorbed %u mask %#x branches %#x", c.absorbed, c.privileged, c.branches);
    CHECK(c.tlb == KVM_BT_CLUSTER_TLB_TLBWE && !c.reason, "tlbwe noted");

    /* fewer words supplied than the run needs */
    CHECK(scan(w, 13, &c) == 0 && c.reason, "no privileged word within 13: %u", c.words);
}

static void test_stops(void)
{
    KvmBtCluster c;

    /* forward branches stay in (a skip, or a way out that ends the run) */
    {
        uint32_t w[] = { TLBSX, TLBRE, NOP, ppc_enc_b(EA + 12, EA + 64, false), RFI };
        CHECK(scan(w, 5, &c) == 5 && c.absorbed == 2 && c.branches == 1 << 3,
              "b out of the run: %u", c.words);
    }
    {
        uint32_t w[] = { TLBWE, NOP, ppc_enc_bc(EA + 8, EA + 12, PPC_BO_IF_TRUE, 2), RFI,
                         ppc_enc_b(EA + 16, EA + 24, false) };
        CHECK(scan(w, 5, &c) == 4 && c.branches == 1 << 2, "bc skip, trailing b not in: %u %#x",
              c.words, c.branches);
    }
    /* and a way back, a call, an indirect branch or sc stop it */
    {
        uint32_t w[] = { TLBSX, TLBRE, ppc_enc_b(EA + 8, EA, false), RFI };
        CHECK(scan(w, 4, &c) == 2 && c.absorbed == 1, "backward b: %u", c.words);
    }
    {
        uint32_t w[] = { TLBWE, ppc_enc_bc(EA + 4, EA, PPC_BO_IF_TRUE, 2), RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "backward"), "backward bc: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, ppc_enc_b(EA + 4, EA + 64, true), RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "call"), "bl: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, 0x4e800020 /* blr */, RFI };
        CHECK(scan(w, 3, &c) == 0, "blr: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, 0x44000002 /* sc */, RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "system call"), "sc: %s", c.reason);
    }
    /* a store to the shared page (translated mtspr) never runs in a step */
    {
        uint32_t w[] = { TLBWE, page_stw(3, KVM_BT_SH_SRR0), RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "shared page"), "page store: %s",
              c.reason);
    }
    /* a page load after a native write of a mirrored register would read stale */
    {
        uint32_t w[] = { TLBSX, page_lwz(4, KVM_BT_SH_MAS1), RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "after a native"), "stale load: %s",
              c.reason);
    }
    {
        uint32_t w[] = { TLBWE, page_lwz(4, KVM_BT_SH_MAS1), RFI };
        CHECK(scan(w, 3, &c) == 3 && c.absorbed == 1, "page load after tlbwe: %u", c.words);
    }
    /* two translation changes, or a MAS write after one: the monitor checks one */
    {
        uint32_t w[] = { TLBWE, NOP, TLBWE, RFI };
        CHECK(scan(w, 4, &c) == 0 && strstr(c.reason, "second"), "two tlbwe: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, TLBSX, RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "after a translation change"),
              "tlbsx after tlbwe: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBSX, TLBIVAX, RFI };
        CHECK(scan(w, 3, &c) == 3 && c.tlb == KVM_BT_CLUSTER_TLB_OTHER && c.absorbed == 2,
              "tlbsx, tlbivax, rfi: %u", c.words);
    }
    {
        uint32_t w[] = { ppc_enc_mtspr(1012, 3) /* MMUCSR0 */, NOP, RFI };
        CHECK(scan(w, 3, &c) == 3 && c.tlb == KVM_BT_CLUSTER_TLB_OTHER, "MMUCSR0: %u",
              c.words);
    }
    /* what the translator replaces is left to exit until it is translated */
    {
        uint32_t w[] = { ppc_enc_mtspr(KVM_BT_SPR_SRR0, 3), RFI };
        CHECK(scan(w, 2, &c) == 0 && strstr(c.reason, "translatable"), "mtspr SRR0 head: %s",
              c.reason);
    }
    {
        static const uint32_t later[] = {
            0x7c0000a6,                             /* mfmsr r0 */
            0x7c008146,                             /* wrteei 1 */
            0x7c600124,                             /* mtmsr r3 */
        };
        uint32_t w[3] = { TLBWE, 0, RFI };
        bool ok = true;

        for (unsigned i = 0; i < 3; i++) {
            w[1] = later[i];
            ok &= scan(w, 3, &c) == 0 && strstr(c.reason, "translatable");
        }
        w[1] = ppc_enc_mtspr(KVM_BT_SPR_PID, 9);
        ok &= scan(w, 3, &c) == 0 && strstr(c.reason, "translatable");
        w[1] = ppc_enc_mfspr(3, KVM_BT_SPR_SPRG3R);
        ok &= scan(w, 3, &c) == 0 && strstr(c.reason, "translatable");
        CHECK(ok, "mfmsr, wrteei, mtmsr, mtspr PID, mfspr SPRG3R stop a run");
    }
    /* interrupt returns only end a run */
    {
        uint32_t w[] = { RFI, TLBWE };
        CHECK(scan(w, 2, &c) == 0 && strstr(c.reason, "only ends"), "rfi head: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, NOP, 0x4c000066 /* rfci */, TLBRE };
        CHECK(scan(w, 4, &c) == 3 && c.absorbed == 1, "rfci ends the run: %u", c.words);
    }
    /* registers with side effects, and what the monitor handles itself */
    {
        uint32_t w[] = { TLBWE, ppc_enc_mfspr(3, 22) /* DEC */, RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "side effects"), "DEC: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, ppc_enc_mfspr(3, 268) /* TBL, user readable */, RFI };
        CHECK(scan(w, 3, &c) == 0, "TBL read stops: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, 0x7c00007c /* wait */, RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "on its own"), "wait: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, 0x7c6300d6 /* an unknown word */, RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "not know"), "unknown: %s", c.reason);
    }
    {
        uint32_t w[] = { TLBWE, 0x84610008 /* lwzu r3,8(r1) */, 0x7c632214 /* add */,
                         0x7c6318f8 /* nor */, ppc_enc_mflr(0), RFI };
        CHECK(scan(w, 6, &c) == 6 && c.absorbed == 1, "update form, XO and X forms, mflr: %u",
              c.words);
    }
    {
        uint32_t w[] = { TLBWE, 0x84600008 /* lwzu r3,8(0): invalid */, RFI };
        CHECK(scan(w, 3, &c) == 0 && strstr(c.reason, "invalid"), "lwzu RA=0: %s", c.reason);
    }
    {
        uint32_t w[] = { NOP, RFI };
        CHECK(scan(w, 2, &c) == 0 && strstr(c.reason, "not a privileged"), "nop head: %s",
              c.reason);
    }
    CHECK(kvm_bt_cluster_scan(EA + 2, (uint32_t[]){ TLBWE, RFI }, 2, &c) == 0,
          "misaligned");
}

static void test_window(void)
{
    uint32_t w[KVM_BT_CLUSTER_MAX_WORDS + 4];
    KvmBtCluster c;

    CHECK(kvm_bt_cluster_window(0xc0000000) == KVM_BT_CLUSTER_MAX_WORDS, "full window");
    CHECK(kvm_bt_cluster_window(0xc0000ff8) == 2, "two words to the page end");
    CHECK(kvm_bt_cluster_window(0xc0000ffc) == 1, "last word of a page");

    for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        w[i] = NOP;
    }
    w[0] = TLBWE;
    w[KVM_BT_CLUSTER_MAX_WORDS - 1] = RFI;
    CHECK(kvm_bt_cluster_scan(0xc0001000, w, 20, &c) == KVM_BT_CLUSTER_MAX_WORDS,
          "rfi at the window's last word: %u", c.words);
    w[KVM_BT_CLUSTER_MAX_WORDS - 1] = NOP;
    w[KVM_BT_CLUSTER_MAX_WORDS] = RFI;
    CHECK(kvm_bt_cluster_scan(0xc0001000, w, 20, &c) == 0, "rfi past the window");
    w[1] = RFI;
    CHECK(kvm_bt_cluster_scan(0xc0001ffc, w, 20, &c) == 0, "the next page is not scanned");
    CHECK(kvm_bt_cluster_scan(0xc0001ff8, w, 20, &c) == 2, "up to the page end");
}

/* ---- property: random runs against the roles of their words ---- */

typedef enum Kind {
    K_PLAIN, K_FWD, K_PAGE_LOAD, K_PAGE_STORE, K_WRITE, K_TLB, K_LAST, K_STOP, K__N
} Kind;

static uint64_t rng = 0x636c757374657221ull;

static uint32_t rnd(void)
{
    return test_rnd(&rng);
}

#define PICK(...) ({ const uint32_t w_[] = { __VA_ARGS__ }; \
                     w_[rnd() % (sizeof(w_) / sizeof(w_[0]))]; })

static uint32_t word_of(Kind k)
{
    unsigned r = rnd() % 32;

    switch (k) {
    case K_PLAIN:
        /* nop add addi slwi lwz stw mtcr isync mflr */
        return PICK(0x60000000, 0x7c632214, 0x38630001, 0x5463103a, 0x81610008, 0x91610008,
                    0x7d6ff120, 0x4c00012c, 0x7c0802a6);
    case K_FWD:         /* b +16, beq +8, bdnz +64 */
        return PICK(0x48000010, 0x41820008, 0x42000040);
    case K_PAGE_LOAD:   return page_lwz(r, KVM_BT_SH_SPRG0 + 8 * (rnd() % 4));
    case K_PAGE_STORE:  return page_stw(r, KVM_BT_SH_SRR0);
    case K_WRITE:       return PICK(TLBSX, TLBRE);      /* write MAS natively */
    case K_TLB:         return PICK(TLBWE, TLBIVAX, ppc_enc_mtspr(1012, 3));
    case K_LAST:        return PICK(RFI, 0x4c000066, 0x4c00004c);   /* rfi rfci rfmci */
    default:
        /* b -16, beq -16, bl, sc, wait, mfspr DEC, unknown, blr; translatable: mfspr
           SRR0, mtspr SPRG2, mfmsr, wrteei 1, mtmsr, mtspr PID */
        return PICK(0x4bfffff0, 0x4182fff0, 0x48000011, 0x44000002, 0x7c00007c, 0x7c0002a6 | 22 << 16,
                    0x7c6300d6, 0x4e800020, ppc_enc_mfspr(3, KVM_BT_SPR_SRR0),
                    ppc_enc_mtspr(KVM_BT_SPR_SPRG2, 4), 0x7c0000a6, 0x7c008146, 0x7c600124,
                    ppc_enc_mtspr(KVM_BT_SPR_PID, 9));
    }
}

static bool privileged(Kind k)
{
    return k == K_WRITE || k == K_TLB || k == K_LAST;
}

static void test_property(void)
{
    unsigned found = 0, absorbed = 0;
    bool ok_rules = true, ok_max = true;

    for (int iter = 0; iter < 20000; iter++) {
        Kind kind[20];
        uint32_t w[20];
        unsigned n = 1 + rnd() % 20, len, priv = 0, tlbs = 0;
        bool wrote = false, tlb_seen = false;
        KvmBtCluster c;

        for (unsigned i = 0; i < n; i++) {
            kind[i] = i == 0 && rnd() % 4 ? (Kind)(K_WRITE + rnd() % 2) : (Kind)(rnd() % K__N);
            /* mostly plain, as in real code */
            if (i && rnd() % 3 == 0) {
                kind[i] = K_PLAIN;
            }
            w[i] = word_of(kind[i]);
        }
        len = kvm_bt_cluster_scan(0xc0100000, w, n, &c);
        if (!len) {
            ok_rules &= c.reason && c.words == 0;
            continue;
        }
        found++;
        absorbed += c.absorbed;
        ok_rules &= len >= 2 && len <= n && len <= KVM_BT_CLUSTER_MAX_WORDS && !c.reason;
        ok_rules &= privileged(kind[0]) && kind[0] != K_LAST && privileged(kind[len - 1]);
        for (unsigned i = 0; i < len; i++) {
            ok_rules &= kind[i] != K_STOP && kind[i] != K_PAGE_STORE;
            ok_rules &= kind[i] != K_LAST || i == len - 1;
            ok_rules &= kind[i] != K_PAGE_LOAD || !wrote;
            ok_rules &= !(tlb_seen && (kind[i] == K_WRITE || kind[i] == K_TLB));
            ok_rules &= !!(c.privileged & (1u << i)) == privileged(kind[i]);
            ok_rules &= !!(c.branches & (1u << i)) == (kind[i] == K_FWD);
            priv += privileged(kind[i]);
            tlbs += kind[i] == K_TLB;
            wrote |= kind[i] == K_WRITE;
            tlb_seen |= kind[i] == K_TLB;
        }
        ok_rules &= c.absorbed == priv - 1 && tlbs <= 1;
        ok_rules &= (c.tlb != KVM_BT_CLUSTER_TLB_NONE) == (tlbs == 1);
        /* maximal: nothing privileged follows before a word that must stop it */
        if (len < n && kind[len - 1] != K_LAST) {
            for (unsigned i = len; i < n && i < KVM_BT_CLUSTER_MAX_WORDS; i++) {
                if (kind[i] == K_STOP || kind[i] == K_PAGE_STORE ||
                    (kind[i] == K_PAGE_LOAD && wrote) ||
                    (tlb_seen && (kind[i] == K_WRITE || kind[i] == K_TLB))) {
                    break;
                }
                ok_max &= !privileged(kind[i]);
                wrote |= kind[i] == K_WRITE;
                tlb_seen |= kind[i] == K_TLB;
            }
        }
    }
    CHECK(ok_rules, "every run obeys the rules of its words");
    CHECK(ok_max, "every run is as long as the rules allow");
    CHECK(found > 1000 && absorbed > found, "runs found: %u, absorbed %u", found, absorbed);
}

int main(void)
{
    test_tlb_miss_tail();
    test_stops();
    test_window();
    test_property();
    return test_summary("unit-cluster");
}
