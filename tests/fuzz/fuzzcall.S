/*
 * fuzz_call(entry, save): run one generated program (tests/fuzz/gen.py).
 * A program may set every GPR but r1 (the stack) and r30 (the save area,
 * passed here); it ends with "sc" r0 = FUZZ_END, whose handler resumes at
 * fuzz_return in supervisor state. The caller's non-volatile registers
 * live on the stack meanwhile.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .section .text
    .globl fuzz_call
fuzz_call:
    mflr    0
    stw     0, 4(1)
    stwu    1, -96(1)
    stw     2, 16(1)
    stmw    13, 20(1)
    lis     5, fuzz_sp@ha
    stw     1, fuzz_sp@l(5)
    mtctr   3
    mr      30, 4
    bctr

    .globl fuzz_return
fuzz_return:
    lis     5, fuzz_sp@ha
    lwz     1, fuzz_sp@l(5)
    lwz     2, 16(1)
    lmw     13, 20(1)
    addi    1, 1, 96
    lwz     0, 4(1)
    mtlr    0
    blr

    .section .bss
    .align 2
fuzz_sp:
    .space 4
    .section .note.GNU-stack, "", @progbits
