/*
 * Minimal unit-test harness for kvm-bt's translator core: one PASS/FAIL line
 * per check that fails, a closing "N passed, N failed" line.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef KVM_BT_TEST_HARNESS_H
#define KVM_BT_TEST_HARNESS_H

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

static inline int test_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
