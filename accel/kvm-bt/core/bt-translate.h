/*
 * kvm-bt translator core: binary translation of one privileged site
 *
 * Turns a hot privileged instruction into either one replacement word (an
 * access to the shared page, see shared-page.h) or a branch to a stub in a
 * translation-cache (TC) slot. Pure function of its inputs, the host among
 * them (KvmBtHostCaps): the caller writes the words into guest memory.
 *
 * Stubs run with the guest's registers and only touch the shared page.
 * When the shortcut is not exact (an interrupt would become deliverable, an
 * MSR bit the host does not let the page change would change, PID really
 * changes) the stub restores everything it touched and executes the
 * original instruction word, the "fallback": it traps to the host, which
 * emulates it and resumes the guest at site + 4.
 *
 * Hosts differ in what they keep and in interrupt delivery:
 * - the TCG monitor keeps its private page area, defers PID writes and
 *   withholds interrupts while the PC is in the TC;
 * - real KVM keeps only struct kvm_vcpu_arch_shared and may deliver an
 *   interrupt at any guest entry, so stubs for it hold the page's
 *   `critical` (= r1, released with r2) while they borrow registers, and
 *   store the MSR before they test int_pending; the private mirrors, mtspr
 *   PID and mtspr SPRG4-7 are not translated for it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_TRANSLATE_H
#define KVM_BT_TRANSLATE_H

#include <stdbool.h>
#include <stdint.h>

/* Longest stub the translator emits; a TC slot should hold at least this */
#define KVM_BT_STUB_MAX_WORDS 32

typedef enum KvmBtXlatKind {
    KVM_BT_XLAT_NONE = 0,   /* not translated: reason says why */
    KVM_BT_XLAT_INPLACE,    /* the site word is replaced by patch */
    KVM_BT_XLAT_STUB,       /* patch is "b stub"; stub[] goes to the TC slot */
} KvmBtXlatKind;

typedef struct KvmBtXlat {
    KvmBtXlatKind kind;
    const char *reason;         /* NONE: short static explanation */
    uint32_t patch;             /* INPLACE, STUB: the new word at the site */
    /* STUB only: */
    uint32_t stub[KVM_BT_STUB_MAX_WORDS];
    unsigned stub_words;
    unsigned fallback;          /* stub[fallback] is the original word */
    uint32_t fallback_ea;       /* tc_ea + 4 * fallback */
    /*
     * Where the monitor resumes after emulating the fallback: site + 4
     * (KVM resumes at fallback_ea + 4, a branch there).
     */
    uint32_t resume_ea;
} KvmBtXlat;

/*
 * What the host running the guest keeps of the shared page and of
 * interrupt delivery, declared by each backend. The translator emits only
 * what is exact on that host; nothing else in the core depends on which
 * host it is.
 */
typedef struct KvmBtHostCaps {
    const char *name;
    /*
     * The host refreshes the monitor-private area (KVM_BT_SH_PRIV_*) at
     * every exit, so constant or exit-changed SPRs (PVR, TCR, HID, L1CSR,
     * BUCSR ...) may be read from it and BUCSR written to it.
     */
    bool private_fields;
    /*
     * The host keeps KVM_BT_SH_PID_CPU and retries a TLB miss with a
     * deferred PID: mtspr PID may become a stub.
     */
    bool pid_defer;
    /*
     * A page write of SPRG4-7 reaches the SPRGnR aliases before anything
     * reads them (the host pulls the page before problem state, and
     * alias reads exit), so mtspr SPRG4-7 may become a page store.
     */
    bool sprg4_7_writes;
    /*
     * The host withholds asynchronous interrupts while the PC is inside
     * the TC. Without it a stub sets the page's `critical` to r1 before
     * it borrows anything and gives it back (a store of r2, as Linux's
     * own paravirt templates do) after it restored everything, and stores
     * MSR before it tests int_pending.
     */
    bool holds_async_in_tc;
    /*
     * The host ignores BUCSR writes (KVM e500 flushes the branch predictor
     * on every guest exit and drops the value; reading BUCSR is not
     * emulated at all), so mtspr BUCSR may become a nop.
     */
    bool bucsr_write_ignored;
    /* MSR bits a stub may change in the page without the host */
    uint32_t msr_page_writable;
    /* Guest writes to patched words reach the backend (write-watch). */
    bool write_watch;
    /* The backend can step exit clusters (core/bt-cluster.h). */
    bool cluster;
} KvmBtHostCaps;

/* The TCG-based monitor (-accel kvm-bt): every field is the monitor's. */
extern const KvmBtHostCaps kvm_bt_host_monitor;
/*
 * Real Linux KVM e500v2 (-accel kvm,bt=on): only the fields of struct
 * kvm_vcpu_arch_shared that KVM itself maintains (see
 * docs/kvm-bt-real-kvm.rst).
 */
extern const KvmBtHostCaps kvm_bt_host_kvm;

/*
 * Translate @word found at @site_ea for @host. @tc_ea is the EA of a free TC slot of
 * @tc_words words (0: no slot, only in-place translations are possible).
 * Returns out->kind.
 */
KvmBtXlatKind kvm_bt_xlat(const KvmBtHostCaps *host, uint32_t site_ea, uint32_t word,
                          uint32_t tc_ea, unsigned tc_words, KvmBtXlat *out);

/*
 * Whether @word would be translated into a stub (so the caller needs a TC
 * slot before calling kvm_bt_xlat). False for in-place translations
 * and for words that are not translated at all.
 */
bool kvm_bt_xlat_needs_stub(const KvmBtHostCaps *host, uint32_t word);

const char *kvm_bt_xlat_kind_name(KvmBtXlatKind kind);

#endif
