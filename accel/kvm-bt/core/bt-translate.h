/*
 * kvm-bt translator core: binary translation of one privileged site
 *
 * Turns a hot privileged instruction into either one replacement word (an
 * access to the shared page, see shared-page.h) or a branch to a stub in a
 * translation-cache (TC) slot. Pure function of its inputs: the caller
 * writes the words into guest memory.
 *
 * Stubs run with the guest's registers and only touch the shared page.
 * When the shortcut is not exact (an interrupt would become deliverable, an
 * MSR bit other than EE/RI would change, PID really changes) the stub
 * restores everything it touched and executes the original instruction
 * word, the "fallback": it traps to the monitor, which emulates it and
 * resumes the guest at site + 4.
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
    uint32_t resume_ea;         /* where the fallback's emulation resumes: site + 4 */
} KvmBtXlat;

/*
 * Translate @word found at @site_ea. @tc_ea is the EA of a free TC slot of
 * @tc_words words (0: no slot, only in-place translations are possible).
 * Returns out->kind.
 */
KvmBtXlatKind kvm_bt_xlat(uint32_t site_ea, uint32_t word, uint32_t tc_ea,
                          unsigned tc_words, KvmBtXlat *out);

/*
 * Whether @word would be translated into a stub (so the caller needs a TC
 * slot before calling kvm_bt_xlat). False for in-place translations
 * and for words that are not translated at all.
 */
bool kvm_bt_xlat_needs_stub(uint32_t word);

const char *kvm_bt_xlat_kind_name(KvmBtXlatKind kind);

#endif
