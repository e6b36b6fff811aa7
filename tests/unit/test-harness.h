/*
 * Minimal unit-test harness for kvm-bt's translator core: one PASS/FAIL line
 * per check that fails, a closing "N passed, N failed" line.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_TEST_HARNESS_H
#define KVM_BT_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>

static int test_passed, test_failed;

#define CHECK(cond, ...) do {                                       \
        if (cond) {                                                 \
            test_passed++;                                          \
        } else {                                                    \
            test_failed++;                                          \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            printf(__VA_ARGS__);                                    \
            printf("\n");                                           \
        }                                                           \
    } while (0)

/* Deterministic random numbers (xorshift64*) from the caller's @state. */
static inline uint32_t test_rnd(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545f4914f6cdd1dull) >> 32);
}

static inline int test_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
