/*
 * Unit tests for the PowerPC decoder/encoder: the words of the hottest
 * privileged sites of a stock Linux 6.1 e500mc guest
 * (shared/baseline/privileged-hot-sites.txt), field accessors, the
 * translator's constructors and branch reachability. The exhaustive check
 * against binutils is ppc-insn-oracle.py.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "ppc-insn.h"
#include "test-harness.h"

#include <string.h>

static void expect(uint32_t word, PPCInsnKind kind, const char *text)
{
    PPCInsn insn;
    char buf[64];
    bool ok = ppc_insn_decode(word, &insn);

    CHECK(ok && insn.kind == kind, "%08x: kind %d, want %d", word, insn.kind, kind);
    CHECK(ppc_insn_encode(&insn) == word, "%08x: re-encodes to %08x", word,
          ppc_insn_encode(&insn));
    ppc_insn_format(&insn, 0x1000, buf, sizeof(buf));
    CHECK(strcmp(buf, text) == 0, "%08x: '%s', want '%s'", word, buf, text);
}

static void test_hot_sites(void)
{
    expect(0x7d300ba6, PPC_INSN_MTSPR,  "mtspr   48,r9");
    expect(0x7cfa03a6, PPC_INSN_MTSPR,  "mtspr   26,r7");
    expect(0x7c000146, PPC_INSN_WRTEEI, "wrteei  0");
    expect(0x7c008146, PPC_INSN_WRTEEI, "wrteei  1");
    expect(0x7d5342a6, PPC_INSN_MFSPR,  "mfspr   r10,275");
    expect(0x7d75fba6, PPC_INSN_MTSPR,  "mtspr   1013,r11");
    expect(0x4c000064, PPC_INSN_RFI,    "rfi");
    expect(0x7c800106, PPC_INSN_WRTEE,  "wrtee   r4");
    expect(0x7c6000a6, PPC_INSN_MFMSR,  "mfmsr   r3");
    expect(0x7c0007a4, PPC_INSN_TLBWE,  "tlbwe");
    expect(0x7d50eba6, PPC_INSN_MTSPR,  "mtspr   944,r10");
}

static void test_fields(void)
{
    PPCInsn insn;

    CHECK(ppc_opcd(0x7d300ba6) == 31 && ppc_xo_x(0x7d300ba6) == PPC_XOP31_MTSPR, "mtspr fields");
    CHECK(ppc_spr(0x7d75fba6) == 1013, "spr %u", ppc_spr(0x7d75fba6));
    CHECK(ppc_insn_decode(0x7d75fba6, &insn) && insn.rt == 11 && insn.spr == 1013, "mtspr operands");
    /* reserved bits set: not an instruction we recognise */
    CHECK(!ppc_insn_decode(0x7c6000a7, &insn), "mfmsr with Rc set");
    CHECK(!ppc_insn_decode(0x7c0107a4, &insn), "tlbwe with RA set");
    CHECK(!ppc_insn_decode(0x00000000, &insn) && insn.kind == PPC_INSN_UNKNOWN, "zero word");
}

static void test_constructors(void)
{
    PPCInsn insn;

    /* lwz r3,-4096(0): the shared page's first word */
    CHECK(ppc_enc_lwz(3, -4096, 0) == 0x8060f000, "lwz %08x", ppc_enc_lwz(3, -4096, 0));
    CHECK(ppc_enc_stw(31, 8, 1) == 0x93e10008, "stw %08x", ppc_enc_stw(31, 8, 1));
    CHECK(ppc_enc_b(0xc0000000, 0xc0000008, false) == 0x48000008, "b forward");
    CHECK(ppc_enc_b(0xc0000008, 0xc0000000, true) == 0x4bfffff9, "bl backward");
    CHECK(ppc_branch_reaches(0xc0000000, 0xc1fffffc), "+32 MiB - 4 reaches");
    CHECK(!ppc_branch_reaches(0xc0000000, 0xc2000000), "+32 MiB does not");
    CHECK(ppc_branch_reaches(0xc2000000, 0xc0000000), "-32 MiB reaches");
    CHECK(!ppc_branch_reaches(0xc2000004, 0xc0000000), "-32 MiB - 4 does not");
    CHECK(ppc_enc_b(0xc0000000, 0xc2000000, false) == 0, "out of range encodes to 0");
    CHECK(ppc_enc_b(0xc0000000, 0xc0000002, false) == 0, "misaligned target");
    /* out-of-range operands are refused, not truncated */
    insn = (PPCInsn){ .kind = PPC_INSN_MFSPR, .rt = 3, .spr = 1024 };
    CHECK(ppc_insn_encode(&insn) == 0, "spr 1024");
    insn = (PPCInsn){ .kind = PPC_INSN_LWZ, .rt = 32 };
    CHECK(ppc_insn_encode(&insn) == 0, "rt 32");
    insn = (PPCInsn){ .kind = PPC_INSN_ADDI, .rt = 1, .ra = 1, .imm = 40000 };
    CHECK(ppc_insn_encode(&insn) == 0, "si 40000");
}

/* The forms the translator's stubs use (words from binutils) */
static void test_stub_forms(void)
{
    expect(0x50830420, PPC_INSN_RLWIMI, "rlwimi  r3,r4,0,16,16");
    expect(0x53e02845, PPC_INSN_RLWIMI, "rlwimi. r0,r31,5,1,2");
    expect(0x7c032040, PPC_INSN_CMPL,   "cmpl    cr0,0,r3,r4");
    expect(0x7f80f840, PPC_INSN_CMPL,   "cmpl    cr7,0,r0,r31");
    expect(0x7c832a78, PPC_INSN_XOR,    "xor     r3,r4,r5");
    expect(0x7c000279, PPC_INSN_XOR,    "xor.    r0,r0,r0");
    expect(0x7c680120, PPC_INSN_MTCRF,  "mtcrf   128,r3");

    CHECK(ppc_enc_rlwimi(3, 4, 0, 16, 16, false) == 0x50830420, "rlwimi");
    CHECK(ppc_enc_rlwimi(0, 31, 5, 1, 2, true) == 0x53e02845, "rlwimi.");
    CHECK(ppc_enc_cmplw(0, 3, 4) == 0x7c032040, "cmplw");
    CHECK(ppc_enc_cmplw(7, 0, 31) == 0x7f80f840, "cmplw cr7");
    CHECK(ppc_enc_xor(3, 4, 5, false) == 0x7c832a78, "xor");
    CHECK(ppc_enc_xor(0, 0, 0, true) == 0x7c000279, "xor.");
    CHECK(ppc_enc_cmpwi(0, 3, 0) == 0x2c030000, "cmpwi");
    CHECK(ppc_enc_mtcrf(0x80, 3) == 0x7c680120, "mtcrf");
    CHECK(ppc_enc_mfcr(5) == 0x7ca00026, "mfcr %08x", ppc_enc_mfcr(5));
    CHECK(ppc_enc_bc(0x20, 0x28, PPC_BO_IF_FALSE, PPC_CR_EQ) == 0x40820008, "bne");
    CHECK(ppc_enc_bc(0x24, 0x1c, PPC_BO_IF_TRUE, 4 * 7 + PPC_CR_EQ) == 0x419efff8, "beq cr7");
    CHECK(ppc_enc_bc(0x1000, 0x1000 + 0x8000, PPC_BO_ALWAYS, 0) == 0, "bc +32 KiB");
    CHECK(ppc_enc_bc(0x9000, 0x1000, PPC_BO_ALWAYS, 0) == 0x42808000,
          "bc -32 KiB %08x", ppc_enc_bc(0x9000, 0x1000, PPC_BO_ALWAYS, 0));
    CHECK(ppc_enc_bc(0x1000, 0x1008, 1, 0) == 0, "invalid BO");
    CHECK(ppc_enc_andi_(3, 4, 0x8000) == 0x70838000, "andi.");
    CHECK(ppc_enc_ori(3, 3, 0x8000) == 0x60638000, "ori");
    CHECK(ppc_enc_rlwinm(3, 3, 0, 17, 15, false) == 0x5463045e, "rlwinm %08x",
          ppc_enc_rlwinm(3, 3, 0, 17, 15, false));
    CHECK(ppc_enc_mfspr(3, 275) == 0x7c7342a6, "mfspr");
    CHECK(ppc_enc_mtspr(48, 9) == 0x7d300ba6, "mtspr");
    CHECK(ppc_enc_addi(3, 0, -1) == 0x3860ffff, "li");
}

static void test_every_kind_named(void)
{
    for (int k = PPC_INSN_UNKNOWN + 1; k < PPC_INSN__COUNT; k++) {
        CHECK(strcmp(ppc_insn_name(k), "?") != 0, "kind %d has no form", k);
    }
}

int main(void)
{
    test_hot_sites();
    test_fields();
    test_constructors();
    test_stub_forms();
    test_every_kind_named();
    return test_summary("test-ppc-insn");
}
