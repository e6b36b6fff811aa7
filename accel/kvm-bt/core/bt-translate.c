/*
 * kvm-bt translator core: binary translation of one privileged site
 *
 * In-place translations are single page accesses (shared-page.h):
 *   mfmsr rD        -> lwz rD,msr
 *   mfspr rD,X      -> lwz rD,X's field      (X has a read mirror)
 *   mtspr X,rS      -> stw rS,X's field      (X has a write policy)
 * Stub translations (a "b" to a TC slot):
 *   wrtee rS, wrteei 0/1, mtmsr rS, mtspr PID,rS
 *
 * What is emitted depends on the host (KvmBtHostCaps). The monitor keeps
 * everything: its private mirrors, PID deferral, SPRG4-7 writes, and it
 * withholds interrupts while the PC is in the TC. Real KVM keeps only
 * struct kvm_vcpu_arch_shared (offsets < KVM_BT_SH_KVM_END), so mirrors in
 * the private area, mtspr PID and mtspr SPRG4-7 keep trapping there, and
 * mtmsr may change only EE and RI in the page.
 *
 * Every stub has the same shape:
 *   enter:    [KVM: stw r1,critical] save the one scratch GPR (never the
 *             source) in scratch1 and, if the stub compares, CR in scratch3
 *   body:     test whether the shortcut is exact; if so update the page
 *   exit:     restore CR0 and the scratch GPR, [KVM: stw r2,critical],
 *             "b site+4"
 *   fallback: restore CR0 and the scratch GPR, [KVM: stw r2,critical], the
 *             original word (it traps; the host emulates it), "b site+4"
 *             (the monitor resumes at site+4 itself; KVM resumes at the
 *             next word, this branch)
 * The monitor withholds asynchronous interrupts while the PC is inside the
 * TC, so its stubs need not set "critical", and they test int_pending
 * before they store the MSR (its tests count the exits that causes).
 * KVM delivers at any guest entry unless critical == r1 (low word on a
 * 32-bit host), and sets int_pending at every entry: its stubs hold
 * critical from before they borrow anything until everything is given
 * back, and store the new MSR before they load int_pending, so an
 * interrupt noted by an entry after the store is either seen by the test
 * (fallback: KVM emulates the word, then delivers) or delivered later by
 * KVM itself since the page already says EE.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bt-translate.h"
#include "ppc-insn.h"
#include "shared-page.h"

#include <string.h>

const KvmBtHostCaps kvm_bt_host_monitor = {
    .name = "monitor",
    .private_fields = true,
    .pid_defer = true,
    .sprg4_7_writes = true,
    .holds_async_in_tc = true,
    .msr_page_writable = KVM_BT_MSR_PAGE_WRITABLE,
    .write_watch = true,
    .cluster = true,
};

const KvmBtHostCaps kvm_bt_host_kvm = {
    .name = "kvm",
    .private_fields = false,
    .pid_defer = false,
    .sprg4_7_writes = false,
    .holds_async_in_tc = false,
    .bucsr_write_ignored = true,
    /* what Linux's own PV templates change without trapping */
    .msr_page_writable = KVM_BT_MSR_EE | KVM_BT_MSR_RI,
    .write_watch = false,
    .cluster = false,
};

/* Page displacement for "lwz/stw r,D(0)" */
#define PAGE(off)   KVM_BT_SHARED_D(off)

/* MSR bits in Power ISA bit numbering (bit 0 = MSB), for rlwinm/rlwimi masks */
#define MSR_CE_BIT  14
#define MSR_EE_BIT  16
#define MSR_RI_BIT  30
_Static_assert((0x80000000u >> MSR_CE_BIT) == KVM_BT_MSR_CE, "CE bit");
_Static_assert((0x80000000u >> MSR_EE_BIT) == KVM_BT_MSR_EE, "EE bit");
_Static_assert((0x80000000u >> MSR_RI_BIT) == KVM_BT_MSR_RI, "RI bit");

/* mtcrf mask of CR0, the only CR field a stub changes */
#define FXM_CR0     0x80

/* ---- stub assembler ---- */

typedef enum Label {
    L_STORE,        /* the shortcut is exact: update the page */
    L_DONE,         /* the end of the body: nothing (more) to do */
    L_FALLBACK,     /* restore and execute the original word */
    L__COUNT
} Label;

typedef struct Fixup {
    unsigned at;        /* stub index of the bc */
    Label to;
    unsigned bo, bi;
} Fixup;

typedef struct Stub {
    const KvmBtHostCaps *host;
    KvmBtXlat *x;
    uint32_t site;      /* EA of the translated instruction */
    uint32_t base;      /* EA of stub[0] */
    unsigned cap;       /* usable words */
    unsigned scratch;   /* the GPR the stub borrows */
    bool uses_cr;
    const char *err;
    int label_at[L__COUNT];
    Fixup fix[8];
    unsigned nfix;
} Stub;

static uint32_t stub_pc(const Stub *s)
{
    return s->base + 4 * s->x->stub_words;
}

static void emit(Stub *s, uint32_t word)
{
    if (s->err) {
        return;
    }
    if (s->x->stub_words >= s->cap) {
        s->err = "stub does not fit the TC slot";
        return;
    }
    /* 0 is every constructor's "cannot encode": a translator bug */
    if (!word) {
        s->err = "internal: operand out of range";
        return;
    }
    s->x->stub[s->x->stub_words++] = word;
}

/* Conditional branch on CR0 bit @bi to @to, resolved by stub_finish */
static void emit_bc(Stub *s, unsigned bo, unsigned bi, Label to)
{
    if (s->nfix < sizeof(s->fix) / sizeof(s->fix[0])) {
        s->fix[s->nfix++] = (Fixup){ s->x->stub_words, to, bo, bi };
    } else {
        s->err = "internal: too many branches";
    }
    emit(s, ppc_enc_bc(stub_pc(s), stub_pc(s), bo, bi));    /* placeholder */
}

static void label(Stub *s, Label l)
{
    s->label_at[l] = s->x->stub_words;
}

static void emit_b_resume(Stub *s)
{
    uint32_t w = ppc_enc_b(stub_pc(s), s->site + 4, false);

    if (!w && !s->err) {
        s->err = "site+4 out of branch range of the TC";
    }
    emit(s, w);
}

static void stub_finish(Stub *s)
{
    for (unsigned i = 0; i < s->nfix && !s->err; i++) {
        int to = s->label_at[s->fix[i].to];

        if (to < 0) {
            s->err = "internal: unplaced label";
            break;
        }
        s->x->stub[s->fix[i].at] = ppc_enc_bc(s->base + 4 * s->fix[i].at, s->base + 4 * to,
                                              s->fix[i].bo, s->fix[i].bi);
    }
}

/*
 * Save what the stub borrows. A host that may deliver an interrupt inside
 * the TC holds it from here on: its handler could run another stub, which
 * would overwrite scratch1/3.
 */
static void stub_enter(Stub *s)
{
    if (!s->host->holds_async_in_tc) {
        emit(s, ppc_enc_stw(1, PAGE(KVM_BT_SH_CRITICAL), 0));
    }
    emit(s, ppc_enc_stw(s->scratch, PAGE(KVM_BT_SH_SCRATCH1), 0));
    if (s->uses_cr) {
        emit(s, ppc_enc_mfcr(s->scratch));
        emit(s, ppc_enc_stw(s->scratch, PAGE(KVM_BT_SH_SCRATCH3), 0));
    }
}

/*
 * Give back what stub_enter saved; compares only change CR0. Then let the
 * host deliver again: critical != r1 once it holds r2, which the guest
 * never makes equal to r1 (r2 is Linux's current task, r1 its stack).
 */
static void stub_restore(Stub *s)
{
    if (s->uses_cr) {
        emit(s, ppc_enc_lwz(s->scratch, PAGE(KVM_BT_SH_SCRATCH3), 0));
        emit(s, ppc_enc_mtcrf(FXM_CR0, s->scratch));
    }
    emit(s, ppc_enc_lwz(s->scratch, PAGE(KVM_BT_SH_SCRATCH1), 0));
    if (!s->host->holds_async_in_tc) {
        emit(s, ppc_enc_stw(2, PAGE(KVM_BT_SH_CRITICAL), 0));
    }
}

/* Fast-path end, then the fallback path (always last, same for every stub). */
static void stub_leave(Stub *s, uint32_t original)
{
    stub_restore(s);
    emit_b_resume(s);

    label(s, L_FALLBACK);
    stub_restore(s);
    s->x->fallback = s->x->stub_words;
    emit(s, original);
    emit_b_resume(s);
}

/*
 * CR0.EQ clear -> fallback if an interrupt is pending: enabling EE then
 * must deliver it, which only the host can do (it emulates the original
 * word, then delivers).
 */
static void emit_pending_check(Stub *s)
{
    emit(s, ppc_enc_lwz(s->scratch, PAGE(KVM_BT_SH_INT_PENDING), 0));
    emit(s, ppc_enc_cmpwi(0, s->scratch, 0));
    emit_bc(s, PPC_BO_IF_FALSE, PPC_CR_EQ, L_FALLBACK);
}

/* ---- stub bodies ---- */

/* page MSR.EE := rS.EE */
static void emit_store_ee(Stub *s, unsigned rs)
{
    unsigned t = s->scratch;

    emit(s, ppc_enc_lwz(t, PAGE(KVM_BT_SH_MSR), 0));
    emit(s, ppc_enc_rlwimi(t, rs, 0, MSR_EE_BIT, MSR_EE_BIT, false));
    emit(s, ppc_enc_stw(t, PAGE(KVM_BT_SH_MSR), 0));
}

/*
 * wrtee rS: copy rS's EE into the page MSR.
 *
 * A host that withholds interrupts in the TC gets test, then store. Else
 * the store comes first: KVM sets int_pending at every guest entry, so
 * one that an exit between store and test brings is seen by the test,
 * and one after the test is delivered by KVM at a later entry because the
 * page already says EE. With the test first, an interrupt noted between
 * test and store would wait with EE set.
 */
static void body_wrtee(Stub *s, const PPCInsn *in)
{
    unsigned t = s->scratch;

    if (!s->host->holds_async_in_tc) {
        emit_store_ee(s, in->rt);
        /* EE := 0 never makes an interrupt deliverable */
        emit(s, ppc_enc_andi_(t, in->rt, KVM_BT_MSR_EE));
        emit_bc(s, PPC_BO_IF_TRUE, PPC_CR_EQ, L_DONE);
        emit_pending_check(s);
        label(s, L_DONE);
        return;
    }
    emit(s, ppc_enc_andi_(t, in->rt, KVM_BT_MSR_EE));
    /* EE := 0 never makes an interrupt deliverable */
    emit_bc(s, PPC_BO_IF_TRUE, PPC_CR_EQ, L_STORE);
    emit_pending_check(s);
    label(s, L_STORE);
    emit_store_ee(s, in->rt);
}

/* wrteei 0: clear EE (no compare, CR untouched; the fallback is unreachable) */
static void body_wrteei0(Stub *s, const PPCInsn *in)
{
    unsigned t = s->scratch;

    (void)in;
    emit(s, ppc_enc_lwz(t, PAGE(KVM_BT_SH_MSR), 0));
    emit(s, ppc_enc_rlwinm(t, t, 0, MSR_EE_BIT + 1, MSR_EE_BIT - 1, false));
    emit(s, ppc_enc_stw(t, PAGE(KVM_BT_SH_MSR), 0));
}

/* wrteei 1: set EE unless an interrupt is pending (order: see wrtee) */
static void body_wrteei1(Stub *s, const PPCInsn *in)
{
    unsigned t = s->scratch;
    bool store_first = !s->host->holds_async_in_tc;

    (void)in;
    if (!store_first) {
        emit_pending_check(s);
    }
    emit(s, ppc_enc_lwz(t, PAGE(KVM_BT_SH_MSR), 0));
    emit(s, ppc_enc_ori(t, t, KVM_BT_MSR_EE));
    emit(s, ppc_enc_stw(t, PAGE(KVM_BT_SH_MSR), 0));
    if (store_first) {
        emit_pending_check(s);
    }
}

static unsigned msr_bit_count(uint32_t mask)
{
    unsigned n = 0;

    for (; mask; mask &= mask - 1) {
        n++;
    }
    return n;
}

/* t &= ~@mask, one rlwinm per bit (MSB first); CR0 from the result */
static void emit_clear_bits(Stub *s, unsigned t, uint32_t mask)
{
    unsigned left = msr_bit_count(mask);

    if (!left) {
        emit(s, ppc_enc_cmpwi(0, t, 0));
        return;
    }
    for (unsigned b = 0; b < 32; b++) {
        if (mask & (0x80000000u >> b)) {
            left--;
            emit(s, ppc_enc_rlwinm(t, t, 0, (b + 1) & 31, (b + 31) & 31, !left));
        }
    }
}

/* t = rS & @mask (MSB first, @mask not empty); CR0 from the result */
static void emit_select_bits(Stub *s, unsigned t, unsigned rs, uint32_t mask)
{
    unsigned left = msr_bit_count(mask);
    bool first = true;

    for (unsigned b = 0; b < 32; b++) {
        if (mask & (0x80000000u >> b)) {
            left--;
            emit(s, first ? ppc_enc_rlwinm(t, rs, 0, b, b, !left)
                          : ppc_enc_rlwimi(t, rs, 0, b, b, !left));
            first = false;
        }
    }
}

/*
 * mtmsr rS: only changes of the host's page-writable bits are shortcut;
 * the page holds the full MSR, so storing rS is then exact. Setting a bit
 * that enables interrupts (CE, EE) tests int_pending: before the store if
 * the host withholds interrupts in the TC, after it otherwise (see wrtee).
 */
static void body_mtmsr(Stub *s, const PPCInsn *in)
{
    unsigned t = s->scratch;
    uint32_t writable = s->host->msr_page_writable;
    uint32_t enabling = writable & (KVM_BT_MSR_CE | KVM_BT_MSR_EE);
    bool store_first = !s->host->holds_async_in_tc;

    emit(s, ppc_enc_lwz(t, PAGE(KVM_BT_SH_MSR), 0));
    emit(s, ppc_enc_xor(t, t, in->rt, false));
    /* any other changed bit -> the host (MMU, PR, ME, DE...) */
    emit_clear_bits(s, t, writable);
    emit_bc(s, PPC_BO_IF_FALSE, PPC_CR_EQ, L_FALLBACK);
    if (store_first) {
        emit(s, ppc_enc_stw(in->rt, PAGE(KVM_BT_SH_MSR), 0));
    }
    if (enabling) {
        /* none of them set: nothing becomes deliverable */
        emit_select_bits(s, t, in->rt, enabling);
        emit_bc(s, PPC_BO_IF_TRUE, PPC_CR_EQ, store_first ? L_DONE : L_STORE);
        emit_pending_check(s);
    }
    if (store_first) {
        label(s, L_DONE);
    } else {
        label(s, L_STORE);
        emit(s, ppc_enc_stw(in->rt, PAGE(KVM_BT_SH_MSR), 0));
    }
}

/*
 * mtspr PID,rS. Rewriting the current PID changes nothing, so it is
 * skipped. While the CPU translates with PID 0 (the monitor's PID_CPU
 * field), a change is deferred: it only reaches the page, and the monitor
 * applies it at its next pull. Until then only TID 0 entries match, and
 * those match under any PID: an access that needs the new PID misses, and
 * the monitor retries it with the PID applied instead of delivering the
 * miss. While the CPU translates with a non-zero PID a change goes to the
 * monitor: access through that PID must stop at once. For Linux that takes
 * off the exits the user-access lock after a system call's entry (the
 * monitor drops the CPU's PID at that exit) and the unlock on the way back
 * to user mode (its next exit is the rfi).
 */
static void body_mtspr_pid(Stub *s, const PPCInsn *in)
{
    unsigned t = s->scratch;

    emit(s, ppc_enc_lwz(t, PAGE(KVM_BT_SH_PRIV_PID), 0));
    emit(s, ppc_enc_cmplw(0, t, in->rt));
    emit_bc(s, PPC_BO_IF_TRUE, PPC_CR_EQ, L_DONE);
    emit(s, ppc_enc_lwz(t, PAGE(KVM_BT_SH_PID_CPU), 0));
    emit(s, ppc_enc_cmpwi(0, t, 0));
    emit_bc(s, PPC_BO_IF_FALSE, PPC_CR_EQ, L_FALLBACK);
    emit(s, ppc_enc_stw(in->rt, PAGE(KVM_BT_SH_PRIV_PID), 0));
    label(s, L_DONE);
}

typedef struct StubRule {
    void (*body)(Stub *s, const PPCInsn *in);
    bool uses_cr;       /* the body compares: save and restore CR0 */
    bool has_source;    /* insn.rt is a GPR the body reads */
} StubRule;

static const StubRule stub_wrtee = { body_wrtee, true, true };
static const StubRule stub_wrteei0 = { body_wrteei0, false, false };
static const StubRule stub_wrteei1 = { body_wrteei1, true, false };
static const StubRule stub_mtmsr = { body_mtmsr, true, true };
static const StubRule stub_mtspr_pid = { body_mtspr_pid, true, true };

/* ---- translation rules ---- */

typedef struct Ctx {
    const KvmBtHostCaps *host;
    uint32_t site, word, tc_ea;
    unsigned tc_words;
    KvmBtXlat *x;
} Ctx;

static KvmBtXlatKind none(Ctx *c, const char *why)
{
    memset(c->x, 0, sizeof(*c->x));
    c->x->kind = KVM_BT_XLAT_NONE;
    c->x->reason = why;
    return KVM_BT_XLAT_NONE;
}

static KvmBtXlatKind inplace(Ctx *c, uint32_t word)
{
    if (!word) {
        return none(c, "internal: operand out of range");
    }
    c->x->kind = KVM_BT_XLAT_INPLACE;
    c->x->patch = word;
    return KVM_BT_XLAT_INPLACE;
}

static KvmBtXlatKind stub(Ctx *c, const PPCInsn *in, const StubRule *rule)
{
    /* r0 is a fine scratch (only RA = 0 means "no register"), unless it is the source */
    Stub s = {
        .host = c->host, .x = c->x, .site = c->site, .base = c->tc_ea,
        .cap = c->tc_words < KVM_BT_STUB_MAX_WORDS ? c->tc_words : KVM_BT_STUB_MAX_WORDS,
        .scratch = rule->has_source && in->rt == 0 ? 12 : 0,
        .uses_cr = rule->uses_cr,
        .label_at = { -1, -1, -1 },
    };

    if (!c->tc_ea) {
        return none(c, "no TC slot");
    }
    c->x->patch = ppc_enc_b(c->site, c->tc_ea, false);
    if (!c->x->patch) {
        return none(c, "TC out of branch range of the site");
    }
    stub_enter(&s);
    rule->body(&s, in);
    stub_leave(&s, c->word);
    stub_finish(&s);
    if (s.err) {
        return none(c, s.err);
    }
    c->x->kind = KVM_BT_XLAT_STUB;
    c->x->fallback_ea = c->tc_ea + 4 * c->x->fallback;
    c->x->resume_ea = c->site + 4;
    return KVM_BT_XLAT_STUB;
}

static KvmBtXlatKind xlat_mfmsr(Ctx *c, const PPCInsn *in)
{
    return inplace(c, ppc_enc_lwz(in->rt, PAGE(KVM_BT_SH_MSR), 0));
}

static KvmBtXlatKind xlat_mfspr(Ctx *c, const PPCInsn *in)
{
    const KvmBtSprMirror *m = kvm_bt_spr_mirror(in->spr);

    if (!m || m->read == KVM_BT_SPR_EXIT) {
        return none(c, "SPR has no read mirror");
    }
    if (m->read == KVM_BT_SPR_PRIVATE && !c->host->private_fields) {
        return none(c, "SPR's private mirror is not kept by this host");
    }
    return inplace(c, ppc_enc_lwz(in->rt, PAGE(m->offset), 0));
}

static KvmBtXlatKind xlat_mtspr(Ctx *c, const PPCInsn *in)
{
    const KvmBtSprMirror *m = kvm_bt_spr_mirror(in->spr);

    if (in->spr == KVM_BT_SPR_PID) {
        if (!c->host->pid_defer) {
            return none(c, "PID write: this host applies PID at once, not deferred");
        }
        if (!c->host->private_fields) {
            return none(c, "PID's private mirror is not kept by this host");
        }
        return stub(c, in, &stub_mtspr_pid);
    }
    if (in->spr == KVM_BT_SPR_BUCSR && c->host->bucsr_write_ignored) {
        return inplace(c, ppc_enc_ori(0, 0, 0));    /* nop */
    }
    if (!m) {
        return none(c, "SPR not mirrored");
    }
    if (m->write == KVM_BT_SPR_EXIT) {
        return none(c, "SPR write has effects beyond the page");
    }
    if (m->write == KVM_BT_SPR_PRIVATE && !c->host->private_fields) {
        return none(c, "SPR's private mirror is not kept by this host");
    }
    if (in->spr >= KVM_BT_SPR_SPRG4 && in->spr <= KVM_BT_SPR_SPRG7 &&
        !c->host->sprg4_7_writes) {
        /* the host copies the page into SPRG4-7 only at entry; SPRGnR reads do not trap */
        return none(c, "SPRG4-7 write: the SPRGnR aliases would read the old value");
    }
    return inplace(c, ppc_enc_stw(in->rt, PAGE(m->offset), 0));
}

static KvmBtXlatKind xlat_wrtee(Ctx *c, const PPCInsn *in)
{
    return stub(c, in, &stub_wrtee);
}

static KvmBtXlatKind xlat_wrteei(Ctx *c, const PPCInsn *in)
{
    return stub(c, in, in->l ? &stub_wrteei1 : &stub_wrteei0);
}

static KvmBtXlatKind xlat_mtmsr(Ctx *c, const PPCInsn *in)
{
    if (in->l) {
        return none(c, "mtmsr with L=1");
    }
    return stub(c, in, &stub_mtmsr);
}

typedef struct Rule {
    PPCInsnKind kind;
    KvmBtXlatKind (*fn)(Ctx *c, const PPCInsn *in);   /* NULL: never translated */
    const char *why;                                    /* ... because */
} Rule;

static const Rule rules[] = {
    { PPC_INSN_MFMSR,   xlat_mfmsr, NULL },
    { PPC_INSN_MFSPR,   xlat_mfspr, NULL },
    { PPC_INSN_MTSPR,   xlat_mtspr, NULL },
    { PPC_INSN_WRTEE,   xlat_wrtee, NULL },
    { PPC_INSN_WRTEEI,  xlat_wrteei, NULL },
    { PPC_INSN_MTMSR,   xlat_mtmsr, NULL },
    /* why the other privileged instructions keep exiting */
    { PPC_INSN_RFI,     NULL, "interrupt return: context change" },
    { PPC_INSN_RFCI,    NULL, "interrupt return: context change" },
    { PPC_INSN_RFMCI,   NULL, "interrupt return: context change" },
    { PPC_INSN_RFDI,    NULL, "interrupt return: context change" },
    { PPC_INSN_TLBWE,   NULL, "TLB operation" },
    { PPC_INSN_TLBRE,   NULL, "TLB operation" },
    { PPC_INSN_TLBSX,   NULL, "TLB operation" },
    { PPC_INSN_TLBIVAX, NULL, "TLB operation" },
    { PPC_INSN_TLBILX,  NULL, "TLB operation" },
    { PPC_INSN_TLBSYNC, NULL, "TLB operation" },
    { PPC_INSN_WAIT,    NULL, "wait: the monitor idles the vCPU" },
    { PPC_INSN_MSGSND,  NULL, "inter-processor message" },
    { PPC_INSN_MSGCLR,  NULL, "inter-processor message" },
    { PPC_INSN_MFPMR,   NULL, "performance monitor register" },
    { PPC_INSN_MTPMR,   NULL, "performance monitor register" },
    { PPC_INSN_DCBI,    NULL, "cache operation" },
};

KvmBtXlatKind kvm_bt_xlat(const KvmBtHostCaps *host, uint32_t site_ea, uint32_t word,
                          uint32_t tc_ea, unsigned tc_words, KvmBtXlat *out)
{
    Ctx c = {
        .host = host, .site = site_ea, .word = word, .tc_ea = tc_ea, .tc_words = tc_words,
        .x = out,
    };
    PPCInsn in;

    memset(out, 0, sizeof(*out));
    if (site_ea & 3) {
        return none(&c, "misaligned site");
    }
    if (!ppc_insn_decode(word, &in)) {
        return none(&c, "unknown instruction");
    }
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        if (rules[i].kind == in.kind) {
            return rules[i].fn ? rules[i].fn(&c, &in) : none(&c, rules[i].why);
        }
    }
    return none(&c, "not a privileged instruction");
}

bool kvm_bt_xlat_needs_stub(const KvmBtHostCaps *host, uint32_t word)
{
    KvmBtXlat x;

    /* a dry run with a nearby, large enough slot */
    return kvm_bt_xlat(host, 0x10000, word, 0x20000, KVM_BT_STUB_MAX_WORDS, &x) ==
           KVM_BT_XLAT_STUB;
}

const char *kvm_bt_xlat_kind_name(KvmBtXlatKind kind)
{
    switch (kind) {
    case KVM_BT_XLAT_NONE:      return "none";
    case KVM_BT_XLAT_INPLACE:   return "inplace";
    case KVM_BT_XLAT_STUB:      return "stub";
    }
    return "?";
}
