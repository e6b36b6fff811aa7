/*
 * kvm-bt: the guest cannot tell its code was patched (bt=on, issue 15)
 *
 * Three things a guest could otherwise see of in-place translation:
 *
 * - The shared page at 0xFFFFF000. Only kvm-bt's own words (a patched site
 *   holding its patch, a live stub in the translation cache) reach it:
 *   TCG gives their memory accesses an MMU index of their own
 *   (KVM_BT_MMU_IDX, patches/qemu-7.2/0014), decided here when a block is
 *   translated, and only that index resolves the page (kvm-bt-shared.c).
 *   Any other supervisor access to 0xFFFFF000 goes through the guest's own
 *   TLB, as on hardware. A page the guest asked for by hypercall (pv=on)
 *   stays visible to every supervisor access, as KVM's ABI has it.
 *   Translated blocks are invalidated whenever a patch is written or goes,
 *   so the decision made at translation holds for the block's life.
 *
 * - Loads of a patched word. Once a guest-physical page holds a patch,
 *   QEMU's TLB entries for it (every vCPU, every index) are flushed, and
 *   refilled (patches/qemu-7.2/0015) so that instruction fetches map RAM
 *   itself and data accesses map a view of guest RAM above the guest's
 *   physical address space (1 << 37 + PA): the view's reads return RAM with
 *   every patched word replaced by the guest's own word, at any width,
 *   alignment and form (lmw, lwarx, string and FP loads: they all go through
 *   QEMU's slow path); its writes go to RAM the way the guest's stores do.
 *   A fetch and a data access need different entries, so a page holding
 *   both patched code and data the guest uses often is slower, never
 *   wrong. Linux keeps data off its text pages: booted with the tests'
 *   workload the stock guest read its patched pages as data once (trace
 *   event kvm_bt_textview_read).
 *
 * - A store narrower than a word into a patched word. Before the guest's
 *   store lands (or, for DMA, right after it), the word becomes the
 *   guest's own word with the stored bytes merged in (kvm_bt_textview_unpatch),
 *   and the translation is dropped as for any write.
 *
 * Pages stay marked until reset: a page whose patches all went keeps
 * leaving the fast path for data, which costs a little and changes nothing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/bswap.h"
#include "qemu/stats64.h"
#include "qapi/error.h"
#include "cpu.h"
#include "exec/address-spaces.h"
#include "exec/exec-all.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "sysemu/reset.h"
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"
#include "kvm-bt-vcpu.h"
#include "trace.h"

/* where the view of guest RAM lives in QEMU's physical address space */
#define KVM_BT_TEXTVIEW_PA  (1ULL << 37)

bool kvm_bt_textview_live;

static struct {
    MemoryRegion mr;
    uint64_t ram_size;
    ram_addr_t ram_base;
    unsigned long *sites;       /* guest pages holding a patched site */
    unsigned long *ours;        /* ... or a stub: words that may be ours */
    Stat64 reads;               /* data reads the view served (64-bit on 32-bit hosts too) */
} tv;

static bool page_marked(unsigned long *map, uint64_t pa)
{
    return pa < tv.ram_size && test_bit(pa >> TARGET_PAGE_BITS, map);
}

bool kvm_bt_own_insn(ram_addr_t first, vaddr offset, uint32_t insn)
{
    uint64_t pa;

    if (first == (ram_addr_t)-1 || first < tv.ram_base) {
        return false;
    }
    pa = first - tv.ram_base + offset;
    return page_marked(tv.ours, pa) && kvm_bt_word_is_ours(pa, insn);
}

void kvm_bt_tlb_fill(CPUState *cs, MMUAccessType access_type, hwaddr *raddrp, int *protp)
{
    if (!page_marked(tv.sites, *raddrp)) {
        return;
    }
    if (access_type == MMU_INST_FETCH) {
        *protp &= PAGE_EXEC;            /* data accesses miss, and come here */
    } else {
        *raddrp += KVM_BT_TEXTVIEW_PA;
        *protp &= ~PAGE_EXEC;           /* fetches miss, and map RAM itself */
    }
}

/*
 * Safe work (no vCPU runs) has just written a patch at @pa, and its stub at
 * [@stub_pa, + @stub_len) if any. A page that had no patch loses every
 * mapping QEMU's TLBs hold for it: they may read it fast.
 */
void kvm_bt_textview_mark(uint64_t pa, uint64_t stub_pa, unsigned stub_len)
{
    bool flush = false;
    CPUState *cs;

    if (pa >= tv.ram_size) {
        return;
    }
    if (!test_and_set_bit(pa >> TARGET_PAGE_BITS, tv.sites)) {
        trace_kvm_bt_textview_page(pa & TARGET_PAGE_MASK);
        flush = true;
    }
    set_bit(pa >> TARGET_PAGE_BITS, tv.ours);
    for (uint64_t p = stub_pa & TARGET_PAGE_MASK; stub_len && p < stub_pa + stub_len;
         p += TARGET_PAGE_SIZE) {
        if (p < tv.ram_size) {
            set_bit(p >> TARGET_PAGE_BITS, tv.ours);
        }
    }
    qatomic_set(&kvm_bt_textview_live, true);
    if (flush) {
        CPU_FOREACH(cs) {
            tlb_flush(cs);
        }
    }
}

/*
 * A guest write covers [@start, @end) (guest-physical) of the word at @pa,
 * which held @patch over the guest's @orig. Make the word the guest's own
 * word with what the write stores merged in: before the write lands the
 * bytes it covers are still the patch's and it overwrites them; after it
 * (DMA) they are the guest's already. Bytes it does not cover must still
 * be the patch's, or someone else wrote them and they stay.
 */
void kvm_bt_textview_unpatch(uint32_t *host, uint64_t pa, uint32_t orig, uint32_t patch,
                             uint64_t start, uint64_t end)
{
    uint32_t mask = 0, cur;

    for (unsigned i = 0; i < 4; i++) {
        if (pa + i >= start && pa + i < end) {
            mask |= 0xff000000u >> (8 * i);
        }
    }
    if (mask == 0xffffffffu) {
        return;                         /* the write replaces it all */
    }
    cur = be32_to_cpu(qatomic_read(host));
    if ((cur & ~mask) != (patch & ~mask)) {
        return;
    }
    qatomic_cmpxchg(host, cpu_to_be32(cur), cpu_to_be32((orig & ~mask) | (cur & mask)));
}

/* The view: RAM, with the guest's own word wherever a patch is. */
static uint64_t view_read(void *opaque, hwaddr addr, unsigned size)
{
    uint8_t buf[16];
    uint64_t w0 = addr & ~3ull;
    /* whole words; within one page (TCG splits accesses that cross one) */
    unsigned len = ((addr + size + 3) & ~3ull) - w0;
    uint8_t *host = kvm_bt_guest_ram(w0, len, NULL);

    if (!host) {
        return 0;
    }
    memcpy(buf, host, len);
    for (uint64_t w = w0; w < addr + size; w += 4) {
        uint32_t orig;

        if (kvm_bt_patched_orig(w, ldl_be_p(buf + (w - w0)), &orig)) {
            stl_be_p(buf + (w - w0), orig);
        }
    }
    stat64_add(&tv.reads, 1);
    trace_kvm_bt_textview_read(addr, size);
    return ldn_be_p(buf + (addr - w0), size);
}

static void view_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    uint8_t buf[8];

    stn_be_p(buf, size, val);
    /* the guest's own words first: a narrow store merges into them */
    kvm_bt_code_write(tv.ram_base + addr, tv.ram_base + addr + size);
    address_space_write(&address_space_memory, addr, MEMTXATTRS_UNSPECIFIED, buf, size);
}

static const MemoryRegionOps view_ops = {
    .read = view_read,
    .write = view_write,
    .endianness = DEVICE_BIG_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
};

uint64_t kvm_bt_textview_reads(void)
{
    return stat64_get(&tv.reads);
}

static void textview_reset(void *opaque)
{
    qatomic_set(&kvm_bt_textview_live, false);
    bitmap_zero(tv.sites, tv.ram_size >> TARGET_PAGE_BITS);
    bitmap_zero(tv.ours, tv.ram_size >> TARGET_PAGE_BITS);
}

/* bt=on, once the board has its RAM (guest-physical 0 .. ram_size). */
void kvm_bt_textview_init(MachineState *ms)
{
    tv.ram_size = ms->ram_size & TARGET_PAGE_MASK;
    tv.ram_base = memory_region_get_ram_addr(ms->ram);
    tv.sites = bitmap_new(tv.ram_size >> TARGET_PAGE_BITS);
    tv.ours = bitmap_new(tv.ram_size >> TARGET_PAGE_BITS);
    memory_region_init_io(&tv.mr, NULL, &view_ops, NULL, "kvm-bt.textview", tv.ram_size);
    memory_region_add_subregion(get_system_memory(), KVM_BT_TEXTVIEW_PA, &tv.mr);
    qemu_register_reset(textview_reset, NULL);
}
