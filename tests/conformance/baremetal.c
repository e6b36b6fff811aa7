/*
 * Bare-metal test payloads (tests/conformance): the shared runtime.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>

#include "baremetal.h"

extern char vectors[];      /* start.S: one 256-byte slot per interrupt, 16 the rest */

/* ---- console and power ------------------------------------------------ */

#define UART_THR    ((volatile uint8_t *)(CCSR_EA + 0x4500))
#define GPIO_DIR    ((volatile uint32_t *)(CCSR_EA + 0xff000))
#define GPIO_DAT    ((volatile uint32_t *)(CCSR_EA + 0xff008))

void tlb1_write(unsigned esel, uint32_t mas1, uint32_t mas2, uint32_t mas3, uint32_t mas7)
{
    mtspr(SPR_MAS0, 0x10000000 | (esel << 16));
    mtspr(SPR_MAS1, mas1);
    mtspr(SPR_MAS2, mas2);
    mtspr(SPR_MAS3, mas3);
    mtspr(SPR_MAS7, mas7);
    asm volatile("isync; tlbwe; isync" ::: "memory");
}

void putc_(char c)
{
    if (c == '\n') {
        *UART_THR = '\r';
    }
    *UART_THR = c;
}

void puts_(const char *s)
{
    while (*s) {
        putc_(*s++);
    }
}

void putx(uint32_t v)
{
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4) {
        putc_("0123456789abcdef"[(v >> i) & 0xf]);
    }
}

void putd(uint32_t v)
{
    char buf[12];
    int n = 0;

    do {
        buf[n++] = '0' + v % 10;
        v /= 10;
    } while (v);
    while (n) {
        putc_(buf[--n]);
    }
}

void poweroff(void)
{
    *GPIO_DIR = 0x80000000;
    *GPIO_DAT = 0x80000000;
    for (;;) {
    }
}

/* ---- results ----------------------------------------------------------- */

unsigned passed, failed;

void result(int ok, const char *name, const char *what, uint32_t got, uint32_t want)
{
    if (ok) {
        passed++;
        puts_("PASS ");
        puts_(name);
    } else {
        failed++;
        puts_("FAIL ");
        puts_(name);
        puts_(": ");
        puts_(what);
        puts_(" got ");
        putx(got);
        puts_(" want ");
        putx(want);
    }
    putc_('\n');
}

void note(struct first_bad *b, uint32_t got, uint32_t want)
{
    if (got != want && b->ok) {
        b->ok = 0;
        b->got = got;
        b->want = want;
    }
}

void info(const char *name, uint32_t v)
{
    puts_("INFO ");
    puts_(name);
    putc_('=');
    putx(v);
    putc_('\n');
}

void setup_base_vectors(void)
{
    uint32_t base = (uint32_t)vectors;

    mtspr(SPR_IVPR, base & 0xffff0000);
#define SET_IVOR(n) mtspr(SPR_IVOR(n), (base & 0xffff) + (n) * 0x100)
    SET_IVOR(0); SET_IVOR(1); SET_IVOR(2); SET_IVOR(3);
    SET_IVOR(4); SET_IVOR(5); SET_IVOR(6); SET_IVOR(7);
    SET_IVOR(8); SET_IVOR(9); SET_IVOR(10); SET_IVOR(11);
    SET_IVOR(12); SET_IVOR(13); SET_IVOR(14); SET_IVOR(15);
#undef SET_IVOR
}

void payload_start(int base_vectors_only)
{
    /* console: CCSR at PA 0xf_e000_0000, 1 MiB, cache-inhibited, guarded */
    tlb1_write(1, MAS1_VALID | MAS1_IPROT | MAS1_TSIZE(10), CCSR_EA | 0xa,
               CCSR_EA | 0x05, 0xf);
    if (base_vectors_only) {
        setup_base_vectors();
    } else {
        setup_vectors();
    }
    /* no timer interrupt until a test asks for one */
    mtspr(SPR_TCR, 0);
    mtspr(SPR_DEC, 0x7fffffff);
    mtspr(SPR_TSR, 0xffffffff);
}

void setup_vectors(void)
{
    uint32_t base = (uint32_t)vectors;

    setup_base_vectors();
    mtspr(SPR_IVOR32, (base & 0xffff) + 16 * 0x100);
    mtspr(SPR_IVOR33, (base & 0xffff) + 16 * 0x100);
    mtspr(SPR_IVOR34, (base & 0xffff) + 16 * 0x100);
    mtspr(SPR_IVOR35, (base & 0xffff) + 16 * 0x100);
    mtspr(SPR_IVOR36, (base & 0xffff) + 16 * 0x100);
    mtspr(SPR_IVOR37, (base & 0xffff) + 16 * 0x100);
}
