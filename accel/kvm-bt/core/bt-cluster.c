/*
 * kvm-bt translator core: exit clusters (see bt-cluster.h for the rules)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bt-cluster.h"
#include "bt-translate.h"
#include "ppc-insn.h"
#include "shared-page.h"

#include <string.h>

#define SPR_XER     1
#define SPR_LR      8
#define SPR_CTR     9
#define SPR_MMUCSR0 1012

/* What one word may be in a run. */
typedef enum Role {
    R_PLAIN,        /* ordinary instruction */
    R_PAGE_LOAD,    /* ordinary load from the shared page (a translated read) */
    R_PRIV,         /* privileged, may start, continue or end a run */
    R_BRANCH,       /* forward relative branch, no link */
    R_LAST,         /* privileged, may only end a run: EE change, interrupt return */
    R_STOP,         /* never in a run */
} Role;

typedef struct Info {
    Role role;
    bool writes_mirror;     /* natively writes a register the shared page mirrors */
    uint8_t tlb;            /* KvmBtClusterTlb */
    const char *why;        /* R_STOP */
} Info;

static Info stop(const char *why)
{
    return (Info){ .role = R_STOP, .why = why };
}

/* Book E: an SPR number with 0x10 set is privileged. */
static bool spr_privileged(unsigned spr)
{
    return spr & 0x10;
}

/*
 * mfspr/mtspr. Privileged SPRs are allowed when they are plain registers:
 * the ones the shared page mirrors (no side effect, no timer), plus PID and
 * MMUCSR0, which change translation. Of the others only XER, LR and CTR.
 */
static Info spr_access(unsigned spr, bool write)
{
    const KvmBtSprMirror *m = kvm_bt_spr_mirror(spr);

    if (spr == SPR_XER || spr == SPR_LR || spr == SPR_CTR) {
        return (Info){ .role = R_PLAIN };
    }
    if (!write && spr >= KVM_BT_SPR_SPRG3R && spr <= KVM_BT_SPR_SPRG7R) {
        /* readable in problem state, but kvm-bt makes the kernel's reads exit */
        return (Info){ .role = R_PRIV };
    }
    if (!spr_privileged(spr)) {
        return stop("unprivileged SPR other than XER, LR, CTR");
    }
    if (write && (spr == KVM_BT_SPR_PID || spr == SPR_MMUCSR0)) {
        return (Info){ .role = R_PRIV, .writes_mirror = spr == KVM_BT_SPR_PID,
                       .tlb = spr == KVM_BT_SPR_PID ? KVM_BT_CLUSTER_TLB_PID
                                                    : KVM_BT_CLUSTER_TLB_OTHER };
    }
    if (!m) {
        return stop("SPR with side effects");
    }
    if (write && m->write == KVM_BT_SPR_EXIT) {
        return stop("SPR write with side effects");
    }
    return (Info){ .role = R_PRIV, .writes_mirror = write };
}

/* XO-form integer arithmetic (9-bit XO: OE may be set) */
static bool xo_arith(unsigned xo9)
{
    switch (xo9) {
    case 8: case 10: case 11: case 40: case 75: case 104: case 136: case 138:
    case 200: case 202: case 234: case 235: case 266: case 459: case 491:
        return true;    /* subfc addc mulhwu subf mulhw neg subfe adde subfze addze
                           addme mullw add divwu divw */
    }
    return false;
}

/* X-form integer logical, shift, compare, extend (10-bit XO) */
static bool x_logical(unsigned xo)
{
    switch (xo) {
    case 0: case 24: case 26: case 28: case 60: case 124: case 284: case 412:
    case 476: case 536: case 792: case 824: case 922: case 954:
        return true;    /* cmp slw cntlzw and andc nor eqv orc nand srw sraw srawi
                           extsh extsb */
    }
    return false;
}

static Info dform_mem(uint32_t w)
{
    unsigned op = ppc_opcd(w);
    bool store = op == 36 || op == 37 || op == 38 || op == 39 || op == 44 || op == 45 ||
                 op == 47;
    bool update = op != 46 && op != 47 && (op & 1);
    int16_t d = (int16_t)(w & 0xffff);

    if (ppc_ra(w) != 0) {
        return (Info){ .role = R_PLAIN };
    }
    if (update) {
        return stop("invalid update form");
    }
    if (d >= 0) {
        return (Info){ .role = R_PLAIN };
    }
    /* RA = 0, negative D: the top 32 KiB, where the shared page is */
    return store ? stop("store to the shared page") : (Info){ .role = R_PAGE_LOAD };
}

/*
 * A privileged word the translator would replace is left to exit until it
 * is hot and translated: taken along by runs, it would never become hot,
 * and a translation costs no exit at all.
 */
static Info translatable(Info i, uint32_t w)
{
    KvmBtXlat x;

    /*
     * A dry run with a nearby, large enough TC slot, as kvm_bt_xlat_needs_stub().
     * Only the monitor steps clusters.
     */
    if ((i.role == R_PRIV || i.role == R_LAST) &&
        kvm_bt_xlat(&kvm_bt_host_monitor, 0x10000, w, 0x20000, KVM_BT_STUB_MAX_WORDS,
                    &x) != KVM_BT_XLAT_NONE) {
        return stop("translatable: left to exit until it is translated");
    }
    return i;
}

static Info role(uint32_t w)
{
    unsigned op = ppc_opcd(w);
    PPCInsn in;

    switch (op) {
    case 7: case 8: case 10: case 11: case 12: case 13: case 14: case 15:
    case 20: case 21: case 23: case 24: case 25: case 26: case 27: case 28: case 29:
        return (Info){ .role = R_PLAIN };     /* integer immediate, rotate */
    case PPC_OP_19:
        if (ppc_xo_x(w) == PPC_XOP19_ISYNC) {
            return (Info){ .role = R_PLAIN };
        }
        break;
    case PPC_OP_31:
        if (xo_arith(ppc_xo_x(w) & 0x1ff) || x_logical(ppc_xo_x(w))) {
            return (Info){ .role = R_PLAIN };
        }
        break;
    default:
        if (op >= 32 && op <= 47) {
            return dform_mem(w);
        }
        break;
    }
    if (!ppc_insn_decode(w, &in)) {
        return stop("an instruction the scan does not know");
    }
    switch (in.kind) {
    case PPC_INSN_OR: case PPC_INSN_XOR: case PPC_INSN_MFCR: case PPC_INSN_MTCRF:
    case PPC_INSN_CMPL: case PPC_INSN_SYNC:
        return (Info){ .role = R_PLAIN };
    case PPC_INSN_MFMSR:
        return (Info){ .role = R_PRIV };
    case PPC_INSN_MFSPR:
        return spr_access(in.spr, false);
    case PPC_INSN_MTSPR:
        return spr_access(in.spr, true);
    case PPC_INSN_TLBWE:
        return (Info){ .role = R_PRIV, .tlb = KVM_BT_CLUSTER_TLB_TLBWE };
    case PPC_INSN_TLBIVAX: case PPC_INSN_TLBILX:
        return (Info){ .role = R_PRIV, .tlb = KVM_BT_CLUSTER_TLB_OTHER };
    case PPC_INSN_TLBRE: case PPC_INSN_TLBSX:
        return (Info){ .role = R_PRIV, .writes_mirror = true };     /* MAS */
    case PPC_INSN_MTMSR: case PPC_INSN_WRTEE: case PPC_INSN_WRTEEI:
    case PPC_INSN_RFI: case PPC_INSN_RFCI: case PPC_INSN_RFMCI: case PPC_INSN_RFDI:
        return (Info){ .role = R_LAST };
    case PPC_INSN_B: case PPC_INSN_BC:
        if (in.lk || in.aa || in.imm <= 0) {
            return stop("call, absolute or backward branch");
        }
        return (Info){ .role = R_BRANCH };
    case PPC_INSN_SC:
        return stop("system call");
    default:
        return stop("privileged instruction the monitor handles on its own");
    }
}

unsigned kvm_bt_cluster_window(uint32_t ea)
{
    unsigned to_page_end = (4096 - (ea & 4095)) / 4;

    return to_page_end < KVM_BT_CLUSTER_MAX_WORDS ? to_page_end : KVM_BT_CLUSTER_MAX_WORDS;
}

static unsigned none(KvmBtCluster *out, const char *why)
{
    memset(out, 0, sizeof(*out));
    out->reason = why;
    return 0;
}

unsigned kvm_bt_cluster_scan(uint32_t ea, const uint32_t *words, unsigned n,
                             KvmBtCluster *out)
{
    unsigned limit = kvm_bt_cluster_window(ea), last = 0;
    const char *why = "no privileged instruction follows within the window";
    uint16_t priv = 1, branches = 0;
    uint8_t tlb;
    bool wrote;
    Info head;

    if (ea & 3) {
        return none(out, "misaligned site");
    }
    if (n < limit) {
        limit = n;
    }
    if (!limit) {
        return none(out, "no words");
    }
    head = translatable(role(words[0]), words[0]);
    if (head.role == R_LAST) {
        return none(out, "an interrupt return or EE change only ends a run");
    }
    if (head.role != R_PRIV) {
        return none(out, head.role == R_STOP ? head.why : "not a privileged instruction");
    }
    tlb = head.tlb;
    wrote = head.writes_mirror;
    for (unsigned i = 1; i < limit; i++) {
        Info w = translatable(role(words[i]), words[i]);

        if (w.role == R_STOP) {
            why = w.why;
            break;
        }
        if (w.role == R_PAGE_LOAD && wrote) {
            why = "reads the shared page after a native register write";
            break;
        }
        if (w.tlb && tlb) {
            why = "a second translation change";
            break;
        }
        if (w.writes_mirror && tlb) {
            why = "a register write after a translation change";
            break;
        }
        if (w.role == R_BRANCH) {
            branches |= 1u << i;
        }
        if (w.role == R_PRIV || w.role == R_LAST) {
            last = i;
            priv |= 1u << i;
            tlb = tlb ? tlb : w.tlb;
        }
        wrote |= w.writes_mirror;
        if (w.role == R_LAST) {
            break;
        }
    }
    if (!last) {
        return none(out, why);
    }
    memset(out, 0, sizeof(*out));
    out->words = last + 1;
    out->privileged = priv;
    out->branches = branches & ((1u << last) - 1);
    out->absorbed = __builtin_popcount(priv) - 1;
    out->tlb = tlb;
    return out->words;
}
