/*
 * kvm-bt translator core: PowerPC instruction decoder, encoder and formatter
 *
 * One table describes every form: its fixed bits and its operands in
 * assembler order. Decoding, encoding and formatting all walk that table, so
 * a form is added in one line. Bits not covered by an operand are part of the
 * form's opcode and must match exactly (reserved bits are zero).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "ppc-insn.h"

#include <stdio.h>
#include <string.h>

typedef enum Operand {
    O_NONE,
    O_RT,       /* GPR at bits 6-10 (RT, RS) */
    O_RA,       /* GPR at bits 11-15 */
    O_RA0,      /* same, where 0 means the value 0 */
    O_RB,       /* GPR at bits 16-20 */
    O_SPR,      /* split 10-bit SPR/PMR number */
    O_D_RA,     /* 16-bit signed displacement and (RA|0) */
    O_SI,       /* 16-bit signed immediate */
    O_UI,       /* 16-bit unsigned immediate */
    O_LI,       /* 24-bit branch displacement, words */
    O_BD,       /* 14-bit branch displacement, words */
    O_BO,       /* bits 6-10 */
    O_BI,       /* bits 11-15, a CR bit */
    O_SH,       /* bits 16-20 */
    O_MB,       /* bits 21-25 */
    O_ME,       /* bits 26-30 */
    O_CRF,      /* BF, bits 6-8 */
    O_CMP_L,    /* cmpi L, bit 10 */
    O_MSR_L,    /* mtmsr L, bit 15 */
    O_E,        /* wrteei E, bit 16 */
    O_T,        /* tlbilx T, bits 9-10 */
    O_WC,       /* wait WC, bits 9-10 */
    O_LEV,      /* sc LEV, bits 20-26 */
    O_FXM,      /* mtcrf FXM, bits 12-19 */
} Operand;

enum {
    F_RC = 1,       /* bit 31 is Rc: mnemonic gets '.' */
    F_AALK = 2,     /* bits 30/31 are AA/LK */
};

typedef struct Form {
    PPCInsnKind kind;
    const char *name;
    uint32_t opcode;
    uint8_t flags;
    Operand ops[5];
} Form;

#define D(op)           ((uint32_t)(op) << 26)
#define X(op, xo)       (D(op) | ((uint32_t)(xo) << 1))

static const Form forms[] = {
    /* privileged */
    { PPC_INSN_MFMSR,   "mfmsr",   X(31, PPC_XOP31_MFMSR),   0, { O_RT } },
    { PPC_INSN_MTMSR,   "mtmsr",   X(31, PPC_XOP31_MTMSR),   0, { O_RT, O_MSR_L } },
    { PPC_INSN_WRTEE,   "wrtee",   X(31, PPC_XOP31_WRTEE),   0, { O_RT } },
    { PPC_INSN_WRTEEI,  "wrteei",  X(31, PPC_XOP31_WRTEEI),  0, { O_E } },
    { PPC_INSN_MFSPR,   "mfspr",   X(31, PPC_XOP31_MFSPR),   0, { O_RT, O_SPR } },
    { PPC_INSN_MTSPR,   "mtspr",   X(31, PPC_XOP31_MTSPR),   0, { O_SPR, O_RT } },
    { PPC_INSN_RFI,     "rfi",     X(19, PPC_XOP19_RFI),     0, { O_NONE } },
    { PPC_INSN_RFCI,    "rfci",    X(19, PPC_XOP19_RFCI),    0, { O_NONE } },
    { PPC_INSN_RFMCI,   "rfmci",   X(19, PPC_XOP19_RFMCI),   0, { O_NONE } },
    { PPC_INSN_RFDI,    "rfdi",    X(19, PPC_XOP19_RFDI),    0, { O_NONE } },
    { PPC_INSN_TLBWE,   "tlbwe",   X(31, PPC_XOP31_TLBWE),   0, { O_NONE } },
    { PPC_INSN_TLBRE,   "tlbre",   X(31, PPC_XOP31_TLBRE),   0, { O_NONE } },
    { PPC_INSN_TLBSX,   "tlbsx",   X(31, PPC_XOP31_TLBSX),   0, { O_RA0, O_RB } },
    { PPC_INSN_TLBIVAX, "tlbivax", X(31, PPC_XOP31_TLBIVAX), 0, { O_RA0, O_RB } },
    { PPC_INSN_TLBILX,  "tlbilx",  X(31, PPC_XOP31_TLBILX),  0, { O_T, O_RA0, O_RB } },
    { PPC_INSN_TLBSYNC, "tlbsync", X(31, PPC_XOP31_TLBSYNC), 0, { O_NONE } },
    { PPC_INSN_MSGSND,  "msgsnd",  X(31, PPC_XOP31_MSGSND),  0, { O_RB } },
    { PPC_INSN_MSGCLR,  "msgclr",  X(31, PPC_XOP31_MSGCLR),  0, { O_RB } },
    { PPC_INSN_MFPMR,   "mfpmr",   X(31, PPC_XOP31_MFPMR),   0, { O_RT, O_SPR } },
    { PPC_INSN_MTPMR,   "mtpmr",   X(31, PPC_XOP31_MTPMR),   0, { O_SPR, O_RT } },
    { PPC_INSN_DCBI,    "dcbi",    X(31, PPC_XOP31_DCBI),    0, { O_RA0, O_RB } },
    { PPC_INSN_WAIT,    "wait",    X(31, PPC_XOP31_WAIT),    0, { O_WC } },
    /* ordinary */
    { PPC_INSN_SC,      "sc",      D(PPC_OP_SC) | 2,         0, { O_LEV } },
    { PPC_INSN_B,       "b",       D(PPC_OP_B),         F_AALK, { O_LI } },
    { PPC_INSN_BC,      "bc",      D(PPC_OP_BC),        F_AALK, { O_BO, O_BI, O_BD } },
    { PPC_INSN_LWZ,     "lwz",     D(PPC_OP_LWZ),            0, { O_RT, O_D_RA } },
    { PPC_INSN_STW,     "stw",     D(PPC_OP_STW),            0, { O_RT, O_D_RA } },
    { PPC_INSN_ADDI,    "addi",    D(PPC_OP_ADDI),           0, { O_RT, O_RA0, O_SI } },
    { PPC_INSN_ADDIS,   "addis",   D(PPC_OP_ADDIS),          0, { O_RT, O_RA0, O_SI } },
    { PPC_INSN_ORI,     "ori",     D(PPC_OP_ORI),            0, { O_RA, O_RT, O_UI } },
    { PPC_INSN_ORIS,    "oris",    D(PPC_OP_ORIS),           0, { O_RA, O_RT, O_UI } },
    { PPC_INSN_XORI,    "xori",    D(PPC_OP_XORI),           0, { O_RA, O_RT, O_UI } },
    { PPC_INSN_ANDI_,   "andi.",   D(PPC_OP_ANDI_),          0, { O_RA, O_RT, O_UI } },
    { PPC_INSN_RLWINM,  "rlwinm",  D(PPC_OP_RLWINM),      F_RC, { O_RA, O_RT, O_SH, O_MB, O_ME } },
    { PPC_INSN_CMPI,    "cmpi",    D(PPC_OP_CMPI),           0, { O_CRF, O_CMP_L, O_RA, O_SI } },
    { PPC_INSN_OR,      "or",      X(31, PPC_XOP31_OR),   F_RC, { O_RA, O_RT, O_RB } },
    { PPC_INSN_MFCR,    "mfcr",    X(31, PPC_XOP31_MFCR),    0, { O_RT } },
    { PPC_INSN_MTCRF,   "mtcrf",   X(31, PPC_XOP31_MTCRF),   0, { O_FXM, O_RT } },
    { PPC_INSN_ISYNC,   "isync",   X(19, PPC_XOP19_ISYNC),   0, { O_NONE } },
    { PPC_INSN_SYNC,    "sync",    X(31, PPC_XOP31_SYNC),    0, { O_NONE } },
    { PPC_INSN_RLWIMI,  "rlwimi",  D(PPC_OP_RLWIMI),      F_RC, { O_RA, O_RT, O_SH, O_MB, O_ME } },
    { PPC_INSN_CMPL,    "cmpl",    X(31, PPC_XOP31_CMPL),    0, { O_CRF, O_CMP_L, O_RA, O_RB } },
    { PPC_INSN_XOR,     "xor",     X(31, PPC_XOP31_XOR),  F_RC, { O_RA, O_RT, O_RB } },
};

/* Where each operand lives in the word: shift and width. */
typedef struct Field {
    uint8_t shift, bits;
} Field;

static Field operand_field(Operand op)
{
    switch (op) {
    case O_RT: case O_BO:           return (Field){ 21, 5 };
    case O_RA: case O_RA0: case O_BI: return (Field){ 16, 5 };
    case O_RB: case O_SH:           return (Field){ 11, 5 };
    case O_SPR:                     return (Field){ 11, 10 };
    case O_D_RA:                    return (Field){ 0, 21 };   /* D and RA */
    case O_SI: case O_UI:           return (Field){ 0, 16 };
    case O_LI:                      return (Field){ 2, 24 };
    case O_BD:                      return (Field){ 2, 14 };
    case O_MB:                      return (Field){ 6, 5 };
    case O_ME:                      return (Field){ 1, 5 };
    case O_CRF:                     return (Field){ 23, 3 };
    case O_CMP_L:                   return (Field){ 21, 1 };
    case O_MSR_L:                   return (Field){ 16, 1 };
    case O_E:                       return (Field){ 15, 1 };
    case O_T: case O_WC:            return (Field){ 21, 2 };
    case O_LEV:                     return (Field){ 5, 7 };
    case O_FXM:                     return (Field){ 12, 8 };
    default:                        return (Field){ 0, 0 };
    }
}

static uint32_t field_mask(Field f)
{
    return f.bits ? (uint32_t)(((1ull << f.bits) - 1) << f.shift) : 0;
}

static uint32_t form_operand_mask(const Form *f)
{
    uint32_t m = 0;

    for (int i = 0; i < 5 && f->ops[i] != O_NONE; i++) {
        m |= field_mask(operand_field(f->ops[i]));
    }
    if (f->flags & F_RC) {
        m |= 1;
    }
    if (f->flags & F_AALK) {
        m |= 3;
    }
    return m;
}

static int32_t sext(uint32_t v, unsigned bits)
{
    uint32_t sign = 1u << (bits - 1);

    return (int32_t)((v ^ sign) - sign);
}

static const Form *form_of_kind(PPCInsnKind kind)
{
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        if (forms[i].kind == kind) {
            return &forms[i];
        }
    }
    return NULL;
}

const char *ppc_insn_name(PPCInsnKind kind)
{
    const Form *f = form_of_kind(kind);

    return f ? f->name : "?";
}

/*
 * Power ISA 2.06 BO encodings (Book E e500mc): 0000z, 0001z, 001at, 0100z,
 * 0101z, 011at, 1a00t, 1a01t, 1z1zz, where z bits must be zero and the hint
 * "at" = 0b01 is reserved. Anything else is an invalid form, not a branch.
 */
static bool bo_valid(unsigned bo)
{
    switch (bo & 0x14) {
    case 0x00: return !(bo & 0x01);
    case 0x04: return (bo & 0x03) != 0x01;
    case 0x10: return (bo & 0x09) != 0x01;
    default:   return bo == 0x14;
    }
}

bool ppc_insn_decode(uint32_t word, PPCInsn *insn)
{
    memset(insn, 0, sizeof(*insn));
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        const Form *f = &forms[i];
        uint32_t opmask = form_operand_mask(f);

        if ((word & ~opmask) != f->opcode) {
            continue;
        }
        if (f->kind == PPC_INSN_BC && !bo_valid(ppc_rt(word))) {
            break;
        }
        insn->kind = f->kind;
        for (int k = 0; k < 5 && f->ops[k] != O_NONE; k++) {
            Field fl = operand_field(f->ops[k]);
            uint32_t v = (word & field_mask(fl)) >> fl.shift;

            switch (f->ops[k]) {
            case O_RT: case O_BO:   insn->rt = v; break;
            case O_RA: case O_RA0: case O_BI: insn->ra = v; break;
            case O_RB:              insn->rb = v; break;
            case O_SH:              insn->sh = v; break;
            case O_MB:              insn->mb = v; break;
            case O_ME:              insn->me = v; break;
            case O_SPR:             insn->spr = ppc_spr(word); break;
            case O_D_RA:
                insn->imm = (int16_t)(word & 0xffff);
                insn->ra = ppc_ra(word);
                break;
            case O_SI:              insn->imm = (int16_t)v; break;
            case O_UI:              insn->imm = v; break;
            case O_LI:              insn->imm = sext(v, 24) * 4; break;
            case O_BD:              insn->imm = sext(v, 14) * 4; break;
            case O_CRF:             insn->crf = v; break;
            case O_FXM:             insn->crm = v; break;
            default:                insn->l = v; break;
            }
        }
        if (f->flags & F_RC) {
            insn->rc = word & 1;
        }
        if (f->flags & F_AALK) {
            insn->aa = (word >> 1) & 1;
            insn->lk = word & 1;
        }
        return true;
    }
    return false;
}

/* Put @v into field @fl of *word; false if it does not fit. */
static bool insert(uint32_t *word, Field fl, uint32_t v)
{
    if (fl.bits < 32 && (v >> fl.bits) != 0) {
        return false;
    }
    *word |= v << fl.shift;
    return true;
}

static bool insert_signed(uint32_t *word, Field fl, int32_t v)
{
    int32_t lo = -(1 << (fl.bits - 1)), hi = (1 << (fl.bits - 1)) - 1;

    if (v < lo || v > hi) {
        return false;
    }
    *word |= ((uint32_t)v << fl.shift) & field_mask(fl);
    return true;
}

uint32_t ppc_insn_encode(const PPCInsn *insn)
{
    const Form *f = form_of_kind(insn->kind);
    uint32_t w;
    bool ok = true;

    if (!f) {
        return 0;
    }
    w = f->opcode;
    for (int k = 0; k < 5 && f->ops[k] != O_NONE; k++) {
        Field fl = operand_field(f->ops[k]);

        switch (f->ops[k]) {
        case O_RT: case O_BO:   ok &= insert(&w, fl, insn->rt); break;
        case O_RA: case O_RA0: case O_BI: ok &= insert(&w, fl, insn->ra); break;
        case O_RB:              ok &= insert(&w, fl, insn->rb); break;
        case O_SH:              ok &= insert(&w, fl, insn->sh); break;
        case O_MB:              ok &= insert(&w, fl, insn->mb); break;
        case O_ME:              ok &= insert(&w, fl, insn->me); break;
        case O_SPR:
            ok &= insn->spr < 1024;
            w |= ((insn->spr & 0x1f) << 16) | (((insn->spr >> 5) & 0x1f) << 11);
            break;
        case O_D_RA:
            ok &= insert_signed(&w, (Field){ 0, 16 }, insn->imm);
            ok &= insert(&w, (Field){ 16, 5 }, insn->ra);
            break;
        case O_SI:              ok &= insert_signed(&w, fl, insn->imm); break;
        case O_UI:              ok &= insn->imm >= 0 && insert(&w, fl, insn->imm); break;
        case O_LI: case O_BD:
            ok &= (insn->imm & 3) == 0 && insert_signed(&w, fl, insn->imm / 4);
            break;
        case O_CRF:             ok &= insert(&w, fl, insn->crf); break;
        case O_FXM:             ok &= insert(&w, fl, insn->crm); break;
        default:                ok &= insert(&w, fl, insn->l); break;
        }
    }
    if (f->flags & F_RC) {
        w |= insn->rc;
    }
    if (f->flags & F_AALK) {
        w |= (insn->aa << 1) | insn->lk;
    }
    return ok ? w : 0;
}

static const char *const cr_bit_names[4] = { "lt", "gt", "eq", "so" };

/* Append one operand, objdump-style, to @p; returns the length written. */
static int format_operand(char *p, size_t room, Operand op, const PPCInsn *insn, uint32_t pc)
{
    switch (op) {
    case O_RT:  return snprintf(p, room, "r%u", insn->rt);
    case O_RA:  return snprintf(p, room, "r%u", insn->ra);
    case O_RB:  return snprintf(p, room, "r%u", insn->rb);
    case O_RA0: return insn->ra ? snprintf(p, room, "r%u", insn->ra) : snprintf(p, room, "0");
    case O_SPR: return snprintf(p, room, "%u", insn->spr);
    case O_D_RA:
        return insn->ra ? snprintf(p, room, "%d(r%u)", insn->imm, insn->ra)
                        : snprintf(p, room, "%d(0)", insn->imm);
    case O_SI: case O_UI:
        return snprintf(p, room, "%d", insn->imm);
    case O_LI: case O_BD:
        return snprintf(p, room, "0x%x", (uint32_t)insn->imm + (insn->aa ? 0 : pc));
    case O_BO:  return snprintf(p, room, "%u", insn->rt);
    case O_BI:
        return insn->ra < 4
            ? snprintf(p, room, "%s", cr_bit_names[insn->ra])
            : snprintf(p, room, "4*cr%u+%s", insn->ra / 4, cr_bit_names[insn->ra % 4]);
    case O_SH:  return snprintf(p, room, "%u", insn->sh);
    case O_MB:  return snprintf(p, room, "%u", insn->mb);
    case O_ME:  return snprintf(p, room, "%u", insn->me);
    case O_CRF: return snprintf(p, room, "cr%u", insn->crf);
    case O_FXM: return snprintf(p, room, "%u", insn->crm);
    default:    return snprintf(p, room, "%u", insn->l);
    }
}

int ppc_insn_format(const PPCInsn *insn, uint32_t pc, char *buf, size_t len)
{
    const Form *f = form_of_kind(insn->kind);
    char mnem[16], ops[80];
    int n = 0;

    if (!f) {
        return snprintf(buf, len, "?");
    }
    snprintf(mnem, sizeof(mnem), "%s%s%s%s", f->name,
             (f->flags & F_AALK) && insn->lk ? "l" : "",
             (f->flags & F_AALK) && insn->aa ? "a" : "",
             (f->flags & F_RC) && insn->rc ? "." : "");
    ops[0] = 0;
    for (int k = 0; k < 5 && f->ops[k] != O_NONE; k++) {
        if (k) {
            n += snprintf(ops + n, sizeof(ops) - n, ",");
        }
        n += format_operand(ops + n, sizeof(ops) - n, f->ops[k], insn, pc);
    }
    /* objdump pads the mnemonic to 8 columns when operands follow */
    return n ? snprintf(buf, len, "%-7s %s", mnem, ops) : snprintf(buf, len, "%s", mnem);
}

uint32_t ppc_enc_lwz(unsigned rt, int16_t d, unsigned ra)
{
    PPCInsn i = { .kind = PPC_INSN_LWZ, .rt = rt, .ra = ra, .imm = d };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_stw(unsigned rs, int16_t d, unsigned ra)
{
    PPCInsn i = { .kind = PPC_INSN_STW, .rt = rs, .ra = ra, .imm = d };

    return ppc_insn_encode(&i);
}

bool ppc_branch_reaches(uint32_t from, uint32_t to)
{
    int64_t disp = (int64_t)to - (int64_t)from;

    return ((from | to) & 3) == 0 && disp >= -(1 << 25) && disp < (1 << 25);
}

uint32_t ppc_enc_b(uint32_t from, uint32_t to, bool link)
{
    PPCInsn i = { .kind = PPC_INSN_B, .lk = link, .imm = (int32_t)(to - from) };

    return ppc_branch_reaches(from, to) ? ppc_insn_encode(&i) : 0;
}

bool ppc_bc_reaches(uint32_t from, uint32_t to)
{
    int64_t disp = (int64_t)to - (int64_t)from;

    return ((from | to) & 3) == 0 && disp >= -(1 << 15) && disp < (1 << 15);
}

uint32_t ppc_enc_bc(uint32_t from, uint32_t to, unsigned bo, unsigned bi)
{
    PPCInsn i = { .kind = PPC_INSN_BC, .rt = bo, .ra = bi, .imm = (int32_t)(to - from) };

    if (!ppc_bc_reaches(from, to) || bo >= 32 || !bo_valid(bo)) {
        return 0;
    }
    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_addi(unsigned rt, unsigned ra, int16_t si)
{
    PPCInsn i = { .kind = PPC_INSN_ADDI, .rt = rt, .ra = ra, .imm = si };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_ori(unsigned ra, unsigned rs, uint16_t ui)
{
    PPCInsn i = { .kind = PPC_INSN_ORI, .ra = ra, .rt = rs, .imm = ui };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_andi_(unsigned ra, unsigned rs, uint16_t ui)
{
    PPCInsn i = { .kind = PPC_INSN_ANDI_, .ra = ra, .rt = rs, .imm = ui };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_xor(unsigned ra, unsigned rs, unsigned rb, bool rc)
{
    PPCInsn i = { .kind = PPC_INSN_XOR, .ra = ra, .rt = rs, .rb = rb, .rc = rc };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_rlwinm(unsigned ra, unsigned rs, unsigned sh, unsigned mb, unsigned me,
                        bool rc)
{
    PPCInsn i = { .kind = PPC_INSN_RLWINM, .ra = ra, .rt = rs, .sh = sh, .mb = mb, .me = me,
                  .rc = rc };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_rlwimi(unsigned ra, unsigned rs, unsigned sh, unsigned mb, unsigned me,
                        bool rc)
{
    PPCInsn i = { .kind = PPC_INSN_RLWIMI, .ra = ra, .rt = rs, .sh = sh, .mb = mb, .me = me,
                  .rc = rc };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_cmpwi(unsigned crf, unsigned ra, int16_t si)
{
    PPCInsn i = { .kind = PPC_INSN_CMPI, .crf = crf, .ra = ra, .imm = si };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_cmplw(unsigned crf, unsigned ra, unsigned rb)
{
    PPCInsn i = { .kind = PPC_INSN_CMPL, .crf = crf, .ra = ra, .rb = rb };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_mfcr(unsigned rt)
{
    PPCInsn i = { .kind = PPC_INSN_MFCR, .rt = rt };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_mtcrf(unsigned fxm, unsigned rs)
{
    PPCInsn i = { .kind = PPC_INSN_MTCRF, .crm = fxm, .rt = rs };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_mfspr(unsigned rt, unsigned spr)
{
    PPCInsn i = { .kind = PPC_INSN_MFSPR, .rt = rt, .spr = spr };

    return ppc_insn_encode(&i);
}

uint32_t ppc_enc_mtspr(unsigned spr, unsigned rs)
{
    PPCInsn i = { .kind = PPC_INSN_MTSPR, .spr = spr, .rt = rs };

    return ppc_insn_encode(&i);
}
