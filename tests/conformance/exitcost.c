/*
 * Exit-cost microbenchmark: each exit kind in a tight loop of its own, so
 * that an observer counting the machine's instructions (the nested KVM rig's
 * phase-insns plugin on the outer QEMU) can divide a phase's instructions by
 * its iterations: the host path length of one exit of that kind under real
 * KVM. Before each phase the payload executes the workload's phase marker
 * (xori r0,r0,0) and prints "EXITCOST phase=NAME iters=N"; one more marker
 * closes the last phase.
 *
 * The loops are written in assembly so that each iteration is exactly the
 * instruction under test plus a two-instruction loop (addic./bne); "loop" is
 * that loop alone, to subtract. The system call and DTLB miss phases use
 * handlers of their own that do the least a guest can: the system call
 * handler is a bare rfi (sc leaves SRR0 at the next instruction); the DTLB
 * miss handler steps over the faulting load (mfsrr0, addic, mtsrr0, rfi), so
 * each of its iterations also pays for three emulated instructions, which the
 * phases "mfsrr0", "mtsrr0" and "rfi" measure alone.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>

#include "baremetal.h"

#define ITERS 2000
#define UNMAPPED_EA 0x80000000u     /* no TLB entry maps it: every load misses */

static inline void phase_marker(void)
{
    asm volatile("xori 0,0,0" ::: "memory");
}

/* Minimal handlers, near the vectors (an IVOR is a 16-bit offset from IVPR). */
asm(".section .vectors, \"ax\"\n"
    ".balign 16\n"
    "sc_stub: rfi\n"
    ".balign 16\n"
    "dtlb_stub: mfsrr0 0\n"
    "    addic 0, 0, 4\n"
    "    mtsrr0 0\n"
    "    rfi\n"
    ".text\n");
extern char sc_stub[], dtlb_stub[];

/* "addic. r3,r3,-1; bne 1b" around @insn; r3 = iterations. */
#define LOOP(insn, ...) do {                                                \
        uint32_t n_ = ITERS;                                                \
        asm volatile("1: " insn "\n addic. %0,%0,-1\n bne 1b"               \
                     : "+r"(n_) : __VA_ARGS__ : "r0", "memory", "cr0");     \
    } while (0)

/* start.S's run_user() state; this payload never enters user mode */
volatile uint32_t user_resume_pc, user_resume_msr;

/* Any interrupt but the two measured ones is a broken measurement. */
void exception_dispatch(int vec, uint32_t *frame);
void exception_dispatch(int vec, uint32_t *frame)
{
    (void)frame;
    puts_("EXITCOST error=unexpected-interrupt vector=");
    putd(vec);
    puts_(" srr0=");
    putx(mfspr(SPR_SRR0));
    putc_('\n');
    poweroff();
}

static void phase(const char *name)
{
    phase_marker();
    puts_("EXITCOST phase=");
    puts_(name);
    puts_(" iters=");
    putd(ITERS);
    putc_('\n');
}

void payload_main(void);
void payload_main(void)
{
    uint32_t base = (uint32_t)sc_stub & 0xffff0000;
    uint32_t msr;

    payload_start(1);
    asm volatile("wrteei 0");
    if (((uint32_t)sc_stub & 0xffff0000) != base || ((uint32_t)dtlb_stub & 0xffff0000) != base) {
        puts_("EXITCOST error=stubs-out-of-ivpr-range\n");
        poweroff();
    }
    mtspr(SPR_IVOR(8), (uint32_t)sc_stub & 0xffff);
    mtspr(SPR_IVOR(13), (uint32_t)dtlb_stub & 0xffff);
    puts_("EXITCOST start\n");

    phase("loop");
    LOOP("nop", "i"(0));
    phase("mfmsr");
    LOOP("mfmsr 0", "i"(0));
    phase("mtspr");             /* SPRG0: a plain register KVM keeps */
    LOOP("mtspr 272,0", "i"(0));
    phase("mfsrr0");
    LOOP("mfsrr0 0", "i"(0));
    phase("mtsrr0");
    LOOP("mtsrr0 0", "i"(0));
    phase("wrteei");
    LOOP("wrteei 0", "i"(0));
    /* rfi to its own loop head: SRR0/SRR1 survive rfi, one exit a round */
    msr = mfmsr();
    phase("rfi");
    {
        uint32_t n = ITERS, head;
        asm volatile("lis %1,1f@ha\n addi %1,%1,1f@l\n mtsrr0 %1\n mtsrr1 %2\n"
                     "1: addic. %0,%0,-1\n beq 2f\n rfi\n2:"
                     : "+r"(n), "=&b"(head) : "r"(msr) : "memory", "cr0");
    }
    phase("tlbwe");             /* rewrite one TLB1 entry that maps nothing we use */
    mtspr(SPR_MAS0, 0x10000000 | (3 << 16));
    mtspr(SPR_MAS1, MAS1_VALID | MAS1_TSIZE(2));   /* 4 KiB */
    mtspr(SPR_MAS2, 0x70000000);
    mtspr(SPR_MAS3, 0x00000015);
    mtspr(SPR_MAS7, 0);
    LOOP("tlbwe", "i"(0));
    phase("syscall");           /* sc reflected to sc_stub, which returns at once */
    LOOP("li 0,0\n sc", "i"(0));
    phase("dtlb-miss");         /* reflected to dtlb_stub, which skips the load */
    LOOP("lwz 0,0(%1)", "b"(UNMAPPED_EA));
    phase_marker();
    puts_("EXITCOST done\n");
    poweroff();
}
