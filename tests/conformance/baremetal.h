/*
 * Bare-metal test payloads (tests/conformance): what every payload shares —
 * SPR access, the console, results, power-off.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_BAREMETAL_H
#define KVM_BT_BAREMETAL_H

#include <stdint.h>

/* Book E registers and bits the payloads share (Power ISA 2.06, e500mc) */
#define MAS1_IPROT  0x40000000
#define MAS1_TSIZE(t) ((t) << 7)
#define MAS1_VALID  0x80000000
#define MSR_EE      0x00008000
#define MSR_PR      0x00004000
#define SPR_IVOR(n) (400 + (n))
#define SPR_DEC     22
#define SPR_SRR0    26
#define SPR_SRR1    27
#define SPR_PID     48
#define SPR_CSRR0   58
#define SPR_CSRR1   59
#define SPR_DEAR    61
#define SPR_ESR     62
#define SPR_IVPR    63
#define SPR_TBL_R   268
#define SPR_SPRG0   272
#define SPR_SPRG1   273
#define SPR_SPRG2   274
#define SPR_SPRG3   275
#define SPR_SPRG4   276
#define SPR_SPRG5   277
#define SPR_SPRG6   278
#define SPR_SPRG7   279
#define SPR_PIR     286
#define SPR_PVR     287
#define SPR_TSR     336
#define SPR_TCR     340
#define SPR_IVOR32  528
#define SPR_IVOR33  529
#define SPR_IVOR34  530
#define SPR_IVOR35  531
#define SPR_IVOR36  532
#define SPR_IVOR37  533
#define SPR_MAS0    624
#define SPR_MAS1    625
#define SPR_MAS2    626
#define SPR_MAS3    627
#define SPR_MAS4    628
#define SPR_MAS6    630
#define SPR_MAS7    944
#define TCR_DIE     0x04000000
#define TSR_DIS     0x08000000
#define USER_EXIT_MAGIC 0x5555      /* r3 of the sc that ends a run_user() (start.S) */

/* "memory": page stores and loads stay on their side of each mfspr/mtspr */
#define mfspr(n) ({ uint32_t v_; asm volatile("mfspr %0,%1" : "=r"(v_) : "i"(n) : "memory"); v_; })
#define mtspr(n, v) asm volatile("mtspr %0,%1" :: "i"(n), "r"((uint32_t)(v)) : "memory")

static inline uint32_t mfmsr(void)
{
    uint32_t v;

    asm volatile("mfmsr %0" : "=r"(v) :: "memory");
    return v;
}

/* Where each payload maps the board's CCSR (PA 0xf_e000_0000) first. */
#define CCSR_EA     0xe0000000u

/* IVPR/IVORs: every interrupt to start.S's vectors, which call exception_dispatch(). */
void setup_vectors(void);
/* IVPR and IVOR0-15 only: KVM e500v2 cannot emulate IVOR36/37 (e500mc's
 * doorbells) and stops the VM at such an mtspr. */
void setup_base_vectors(void);

/*
 * What most payloads do first: map the console, install the vectors (only
 * IVOR0-15 if @base_vectors_only, for KVM e500v2), silence the timers.
 */
void payload_start(int base_vectors_only);

/* A TLB1 (variable-size) entry, written with tlbwe. */
void tlb1_write(unsigned esel, uint32_t mas1, uint32_t mas2, uint32_t mas3, uint32_t mas7);

/* The console (the board's first 16550) and the GPIO power-off. */
void putc_(char c);
void puts_(const char *s);
void putx(uint32_t v);
void putd(uint32_t v);
void poweroff(void);

/* "PASS name" / "FAIL name: what got X want Y", counted in passed/failed. */
extern unsigned passed, failed;
void result(int ok, const char *name, const char *what, uint32_t got, uint32_t want);
/* "INFO name=value": implementation-defined values, not checks. */
void info(const char *name, uint32_t v);

#define CHECK_EQ(name, what, got, want) do {                        \
        uint32_t g_ = (got), w_ = (want);                           \
        result(g_ == w_, name, what, g_, w_);                       \
    } while (0)

/* a loop's first mismatch: what it read and what it expected */
struct first_bad {
    uint32_t ok, got, want;
};

void note(struct first_bad *b, uint32_t got, uint32_t want);

#define FIRST_BAD_INIT { 1, 0, 0 }
#define REPORT(name, what, b) result((b).ok, name, what, (b).got, (b).want)

#endif
