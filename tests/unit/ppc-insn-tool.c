/*
 * ppc-insn-tool: decode/re-encode/format PowerPC words read from stdin, one
 * "ADDR WORD" pair (hex) per line, printing "ADDR WORD KIND REENCODED TEXT".
 * Drives the binutils oracle test (ppc-insn-oracle.py).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "ppc-insn.h"

#include <inttypes.h>
#include <stdio.h>

int main(void)
{
    uint32_t addr, word;

    while (scanf("%" SCNx32 " %" SCNx32, &addr, &word) == 2) {
        PPCInsn insn;
        char text[128];

        if (!ppc_insn_decode(word, &insn)) {
            printf("%08" PRIx32 " %08" PRIx32 " - - -\n", addr, word);
            continue;
        }
        ppc_insn_format(&insn, addr, text, sizeof(text));
        printf("%08" PRIx32 " %08" PRIx32 " %s %08" PRIx32 " %s\n", addr, word,
               ppc_insn_name(insn.kind), ppc_insn_encode(&insn), text);
    }
    return 0;
}
