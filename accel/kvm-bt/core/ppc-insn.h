/*
 * kvm-bt translator core: PowerPC instruction decoder, encoder and formatter
 *
 * Covers the Book E privileged instructions a Linux e500 guest executes and
 * the handful of ordinary forms the translator emits or inspects (branches,
 * loads/stores, logical immediates). Plain C, no QEMU dependency.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_PPC_INSN_H
#define KVM_BT_PPC_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Primary opcodes */
enum {
    PPC_OP_CMPI = 11,
    PPC_OP_ADDI = 14,
    PPC_OP_ADDIS = 15,
    PPC_OP_BC = 16,
    PPC_OP_SC = 17,
    PPC_OP_B = 18,
    PPC_OP_19 = 19,
    PPC_OP_RLWIMI = 20,
    PPC_OP_RLWINM = 21,
    PPC_OP_ORI = 24,
    PPC_OP_ORIS = 25,
    PPC_OP_XORI = 26,
    PPC_OP_ANDI_ = 28,
    PPC_OP_31 = 31,
    PPC_OP_LWZ = 32,
    PPC_OP_STW = 36,
};

/* Extended opcodes under primary 19 */
enum {
    PPC_XOP19_RFMCI = 38,
    PPC_XOP19_RFDI = 39,
    PPC_XOP19_RFI = 50,
    PPC_XOP19_RFCI = 51,
    PPC_XOP19_ISYNC = 150,
};

/* Extended opcodes under primary 31 */
enum {
    PPC_XOP31_TLBILX = 18,
    PPC_XOP31_MFCR = 19,
    PPC_XOP31_CMPL = 32,
    PPC_XOP31_WAIT = 62,
    PPC_XOP31_MFMSR = 83,
    PPC_XOP31_WRTEE = 131,
    PPC_XOP31_MTCRF = 144,
    PPC_XOP31_MTMSR = 146,
    PPC_XOP31_WRTEEI = 163,
    PPC_XOP31_MSGSND = 206,
    PPC_XOP31_MSGCLR = 238,
    PPC_XOP31_MFPMR = 334,
    PPC_XOP31_XOR = 316,
    PPC_XOP31_MFSPR = 339,
    PPC_XOP31_OR = 444,
    PPC_XOP31_MTPMR = 462,
    PPC_XOP31_MTSPR = 467,
    PPC_XOP31_DCBI = 470,
    PPC_XOP31_TLBSYNC = 566,
    PPC_XOP31_SYNC = 598,
    PPC_XOP31_TLBIVAX = 786,
    PPC_XOP31_TLBSX = 914,
    PPC_XOP31_TLBRE = 946,
    PPC_XOP31_TLBWE = 978,
};

/* What an instruction is, independent of its operands. */
typedef enum PPCInsnKind {
    PPC_INSN_UNKNOWN = 0,
    /* privileged (supervisor-only on Book E) */
    PPC_INSN_MFMSR,
    PPC_INSN_MTMSR,
    PPC_INSN_WRTEE,
    PPC_INSN_WRTEEI,
    PPC_INSN_MFSPR,     /* privileged or not depending on the SPR */
    PPC_INSN_MTSPR,
    PPC_INSN_RFI,
    PPC_INSN_RFCI,
    PPC_INSN_RFMCI,
    PPC_INSN_RFDI,
    PPC_INSN_TLBWE,
    PPC_INSN_TLBRE,
    PPC_INSN_TLBSX,
    PPC_INSN_TLBIVAX,
    PPC_INSN_TLBILX,
    PPC_INSN_TLBSYNC,
    PPC_INSN_MSGSND,
    PPC_INSN_MSGCLR,
    PPC_INSN_MFPMR,     /* privileged or not depending on the PMR */
    PPC_INSN_MTPMR,
    PPC_INSN_DCBI,
    PPC_INSN_WAIT,
    /* ordinary */
    PPC_INSN_SC,
    PPC_INSN_B,
    PPC_INSN_BC,
    PPC_INSN_LWZ,
    PPC_INSN_STW,
    PPC_INSN_ADDI,
    PPC_INSN_ADDIS,
    PPC_INSN_ORI,
    PPC_INSN_ORIS,
    PPC_INSN_XORI,
    PPC_INSN_ANDI_,
    PPC_INSN_RLWINM,
    PPC_INSN_CMPI,
    PPC_INSN_OR,
    PPC_INSN_MFCR,
    PPC_INSN_MTCRF,
    PPC_INSN_ISYNC,
    PPC_INSN_SYNC,
    /* added for the translator's stubs; kept last so older kinds keep their values */
    PPC_INSN_RLWIMI,
    PPC_INSN_CMPL,
    PPC_INSN_XOR,
    PPC_INSN__COUNT
} PPCInsnKind;

/*
 * A decoded instruction. Fields an instruction does not have are zero.
 * rt also holds RS (stores, mtspr, wrtee) and BO (bc); ra holds BI (bc).
 */
typedef struct PPCInsn {
    PPCInsnKind kind;
    uint8_t rt;
    uint8_t ra;
    uint8_t rb;
    uint8_t sh, mb, me;
    uint8_t crf;        /* cmpi, cmpl: BF */
    uint8_t l;          /* cmpi, cmpl: L; mtmsr: L; wait: WC; tlbilx: T; sc: LEV; wrteei: E */
    uint8_t crm;        /* mtcrf: FXM */
    bool aa, lk, rc;
    uint16_t spr;       /* mfspr/mtspr SPR, mfpmr/mtpmr PMR */
    int32_t imm;        /* D, SI, UI, or branch displacement in bytes */
} PPCInsn;

/* Instruction fields, by their Power ISA bit numbering (bit 0 = MSB). */
static inline unsigned ppc_opcd(uint32_t w) { return w >> 26; }
static inline unsigned ppc_xo_x(uint32_t w) { return (w >> 1) & 0x3ff; }
static inline unsigned ppc_rt(uint32_t w)   { return (w >> 21) & 0x1f; }
static inline unsigned ppc_ra(uint32_t w)   { return (w >> 16) & 0x1f; }
static inline unsigned ppc_rb(uint32_t w)   { return (w >> 11) & 0x1f; }
/* The SPR number is stored with its two 5-bit halves swapped. */
static inline unsigned ppc_spr(uint32_t w)
{
    return ((w >> 16) & 0x1f) | (((w >> 11) & 0x1f) << 5);
}

/* Decode @word; returns false (kind UNKNOWN) for anything not covered. */
bool ppc_insn_decode(uint32_t word, PPCInsn *insn);
/* Encode; returns 0 if a field is out of range for the instruction's form. */
uint32_t ppc_insn_encode(const PPCInsn *insn);
/*
 * Disassemble in binutils' "objdump -M raw" syntax; @pc resolves branch
 * targets. Returns the length snprintf would have written.
 */
int ppc_insn_format(const PPCInsn *insn, uint32_t pc, char *buf, size_t len);
/* Base mnemonic of a kind ("mfspr"); "?" for UNKNOWN. */
const char *ppc_insn_name(PPCInsnKind kind);

/* Constructors for what the translator emits. */
uint32_t ppc_enc_lwz(unsigned rt, int16_t d, unsigned ra);
uint32_t ppc_enc_stw(unsigned rs, int16_t d, unsigned ra);
/* Branch from @from to @to; 0 if out of range or misaligned. */
uint32_t ppc_enc_b(uint32_t from, uint32_t to, bool link);
bool ppc_branch_reaches(uint32_t from, uint32_t to);
/*
 * Conditional branch (BO, BI) from @from to @to; 0 if out of the 16-bit
 * displacement's range, misaligned or BO is not a valid encoding.
 */
uint32_t ppc_enc_bc(uint32_t from, uint32_t to, unsigned bo, unsigned bi);
bool ppc_bc_reaches(uint32_t from, uint32_t to);
/* BO values for "branch if CR bit BI is set / clear" */
enum {
    PPC_BO_IF_FALSE = 4,
    PPC_BO_IF_TRUE = 12,
    PPC_BO_ALWAYS = 20,
};
/* CR bit within a field (BI = 4 * crf + bit) */
enum {
    PPC_CR_LT = 0,
    PPC_CR_GT = 1,
    PPC_CR_EQ = 2,
    PPC_CR_SO = 3,
};
uint32_t ppc_enc_addi(unsigned rt, unsigned ra, int16_t si);
uint32_t ppc_enc_ori(unsigned ra, unsigned rs, uint16_t ui);
uint32_t ppc_enc_andi_(unsigned ra, unsigned rs, uint16_t ui);
uint32_t ppc_enc_xor(unsigned ra, unsigned rs, unsigned rb, bool rc);
uint32_t ppc_enc_rlwinm(unsigned ra, unsigned rs, unsigned sh, unsigned mb, unsigned me,
                        bool rc);
uint32_t ppc_enc_rlwimi(unsigned ra, unsigned rs, unsigned sh, unsigned mb, unsigned me,
                        bool rc);
/* cmpwi / cmplw: the 32-bit (L = 0) compares */
uint32_t ppc_enc_cmpwi(unsigned crf, unsigned ra, int16_t si);
uint32_t ppc_enc_cmplw(unsigned crf, unsigned ra, unsigned rb);
uint32_t ppc_enc_mfcr(unsigned rt);
uint32_t ppc_enc_mtcrf(unsigned fxm, unsigned rs);
uint32_t ppc_enc_mfspr(unsigned rt, unsigned spr);
uint32_t ppc_enc_mtspr(unsigned spr, unsigned rs);

#endif
