/*
 * kvm-bt translator core: where to put the translation cache
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdbool.h>
#include <stdlib.h>
#include "tc-place.h"

/* ELF32 facts (System V ABI): offsets into the header, program and section headers */
#define EI_CLASS        4
#define EI_DATA         5
#define ELFCLASS32      1
#define ELFDATA2MSB     2
#define E_PHOFF         28
#define E_SHOFF         32
#define E_PHENTSIZE     42
#define E_PHNUM         44
#define E_SHENTSIZE     46
#define E_SHNUM         48
#define PT_LOAD         1
#define PF_X            1
#define SHF_ALLOC       2
#define SHT_NOBITS      8
#define PAGE            4096u

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

typedef struct Range {
    uint32_t start, end;
} Range;

static int range_cmp(const void *a, const void *b)
{
    const Range *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

uint32_t kvm_bt_tc_gap(const uint8_t *elf, size_t len, uint32_t min, uint32_t max,
                       uint64_t *pa)
{
    uint32_t best = 0;
    uint32_t phoff, shoff;
    uint16_t phent, phnum, shent, shnum;
    Range *secs;

    if (len < 52 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' ||
        elf[EI_CLASS] != ELFCLASS32 || elf[EI_DATA] != ELFDATA2MSB) {
        return 0;
    }
    phoff = be32(elf + E_PHOFF);
    shoff = be32(elf + E_SHOFF);
    phent = be16(elf + E_PHENTSIZE);
    phnum = be16(elf + E_PHNUM);
    shent = be16(elf + E_SHENTSIZE);
    shnum = be16(elf + E_SHNUM);
    if (phent < 32 || shent < 40 || phoff > len || shoff > len ||
        (size_t)phnum * phent > len - phoff || (size_t)shnum * shent > len - shoff) {
        return 0;
    }
    secs = calloc(shnum ? shnum : 1, sizeof(*secs));
    if (!secs) {
        return 0;
    }
    for (unsigned p = 0; p < phnum; p++) {
        const uint8_t *ph = elf + phoff + (size_t)p * phent;
        uint32_t vaddr = be32(ph + 8), paddr = be32(ph + 12), memsz = be32(ph + 20);
        unsigned n = 0;

        if (be32(ph) != PT_LOAD || !(be32(ph + 24) & PF_X)) {
            continue;
        }
        /* the allocated sections inside this segment, in address order */
        for (unsigned s = 0; s < shnum; s++) {
            const uint8_t *sh = elf + shoff + (size_t)s * shent;
            uint32_t addr = be32(sh + 12), size = be32(sh + 20);

            if ((be32(sh + 8) & SHF_ALLOC) && size && addr >= vaddr &&
                addr - vaddr < memsz && size <= memsz - (addr - vaddr)) {
                secs[n++] = (Range){ addr, addr + size };
            }
        }
        qsort(secs, n, sizeof(*secs), range_cmp);
        for (unsigned i = 0; i + 1 < n; i++) {
            uint32_t start = (secs[i].end + PAGE - 1) & ~(PAGE - 1);
            uint32_t end = secs[i + 1].start & ~(PAGE - 1);
            uint32_t size;

            /* a later section may overlap an earlier one's end */
            for (unsigned j = 0; j <= i; j++) {
                if (secs[j].end > start) {
                    start = (secs[j].end + PAGE - 1) & ~(PAGE - 1);
                }
            }
            if (end <= start) {
                continue;
            }
            size = end - start > max ? max : end - start;
            if (size >= min && size > best) {
                best = size;
                *pa = (uint64_t)paddr + (start - vaddr);
            }
        }
    }
    free(secs);
    return best;
}
