/*
 * Bare-metal conformance payload: entry and interrupt vectors.
 *
 * Each vector saves the volatile registers on the current stack, calls
 * exception_dispatch(vector) in C, restores and returns with the return
 * instruction of its class (rfi, rfci for critical, rfmci for machine check).
 * The C side may change SRR0/SRR1 (CSRR0/1) to resume elsewhere.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define FRAME 96

.macro SAVE
    stwu    1, -FRAME(1)
    stw     0, 8(1)
    stw     3, 12(1)
    stw     4, 16(1)
    stw     5, 20(1)
    stw     6, 24(1)
    stw     7, 28(1)
    stw     8, 32(1)
    stw     9, 36(1)
    stw     10, 40(1)
    stw     11, 44(1)
    stw     12, 48(1)
    mflr    0
    stw     0, 52(1)
    mfcr    0
    stw     0, 56(1)
    mfctr   0
    stw     0, 60(1)
    mfxer   0
    stw     0, 64(1)
.endm

.macro RESTORE
    lwz     0, 64(1)
    mtxer   0
    lwz     0, 60(1)
    mtctr   0
    lwz     0, 56(1)
    mtcr    0
    lwz     0, 52(1)
    mtlr    0
    lwz     0, 8(1)
    lwz     3, 12(1)
    lwz     4, 16(1)
    lwz     5, 20(1)
    lwz     6, 24(1)
    lwz     7, 28(1)
    lwz     8, 32(1)
    lwz     9, 36(1)
    lwz     10, 40(1)
    lwz     11, 44(1)
    lwz     12, 48(1)
    addi    1, 1, FRAME
.endm

.macro VECTOR n, ret
    .org \n * 0x100
vec\n:
    SAVE
    li      3, \n
    mr      4, 1
    bl      exception_dispatch
    RESTORE
    \ret
.endm

    .section .vectors, "ax"
    .globl vectors
vectors:
    VECTOR 0, rfci      /* critical input */
    VECTOR 1, rfmci     /* machine check */
    VECTOR 2, rfi       /* DSI */
    VECTOR 3, rfi       /* ISI */
    VECTOR 4, rfi       /* external */
    VECTOR 5, rfi       /* alignment */
    VECTOR 6, rfi       /* program */
    VECTOR 7, rfi       /* FP unavailable */
    VECTOR 8, rfi       /* system call */
    VECTOR 9, rfi       /* APU unavailable */
    VECTOR 10, rfi      /* decrementer */
    VECTOR 11, rfi      /* fixed-interval timer */
    VECTOR 12, rfci     /* watchdog */
    VECTOR 13, rfi      /* DTLB miss */
    VECTOR 14, rfi      /* ITLB miss */
    VECTOR 15, rfci     /* debug */
    VECTOR 16, rfi      /* SPE / embedded FP / perfmon / doorbell (IVOR32+) */

    .section .text.start, "ax"
    .globl _start
_start:
    lis     1, stack_top@h
    ori     1, 1, stack_top@l
    li      0, 0
    stwu    0, -16(1)
    bl      payload_main
1:  b       1b

/*
 * void run_user(void (*fn)(void)): call fn in problem state (MSR[PR]=1) and
 * come back in supervisor state once it returns. fn returns to
 * user_trampoline, whose "sc" with r0 = USER_EXIT_MAGIC the system call
 * handler turns into a return to label 1 with the saved supervisor MSR.
 */
    .globl run_user
run_user:
    mflr    0
    stw     0, 4(1)
    stwu    1, -32(1)
    stw     31, 28(1)
    lis     4, user_trampoline@ha
    addi    4, 4, user_trampoline@l
    mtsrr0  4
    mfmsr   5
    lis     6, user_resume_msr@ha
    stw     5, user_resume_msr@l(6)
    ori     5, 5, 0x4000
    mtsrr1  5
    lis     4, 1f@ha
    addi    4, 4, 1f@l
    lis     6, user_resume_pc@ha
    stw     4, user_resume_pc@l(6)
    rfi
1:  lwz     31, 28(1)
    addi    1, 1, 32
    lwz     0, 4(1)
    mtlr    0
    blr

user_trampoline:
    mtctr   3
    bctrl
    li      0, 0x5555
    sc
2:  b       2b

    .section .bss
    .align 4
    .space 65536
stack_top:
    .section .note.GNU-stack, "", @progbits
