/*
 * kvm-bt on real Linux KVM (BookE e500v2): -accel kvm,bt=on
 *
 * The second backend around the translator core. KVM emulates privileged
 * instructions in the host kernel, so QEMU never sees them; this backend
 * finds them through the kvm:kvm_ppc_instr tracepoint, which fires for each
 * instruction KVM emulates, sampled per vCPU thread with perf_event_open
 * (format read from tracefs at run time).
 *
 * - A poll on the main loop drains every vCPU's sample ring, counts exits
 *   per guest-physical site in the core's site table, and asks for the
 *   sites that reached hot-threshold to be translated. Once no site became
 *   hot for a while sampling stops, and comes back for short windows so
 *   new hot code is still found.
 * - KVM's shared page appears in the guest only after the guest asks for
 *   it by hypercall. Each vCPU runs that hypercall once, on its own thread,
 *   on the guest's behalf: "sc; 0x00dddd00" in the first TC slot, entered
 *   with the hypercall registers and left at the debug word's exit, the
 *   guest's registers restored. KVM then maps the page at 0xFFFFF000 for
 *   supervisor data accesses only.
 * - Translations are made by safe work (every vCPU out of KVM_RUN) with the
 *   core's KVM capabilities (kvm_bt_host_kvm: only what KVM itself keeps in
 *   the page; stubs hold `critical`), written to guest RAM, and the host
 *   instruction cache is flushed over them.
 * - There is no write-watch on BookE KVM (no dirty log, no read-only
 *   slots): each poll checks that every translated word still holds our
 *   patch and every stub our code. A word the guest changed is the guest's;
 *   undo only ever restores a word that still holds our own patch.
 * - If the guest's own TLB maps 0xFFFFF000, every translation is undone and
 *   none is made while it does (KVM's page would hide the guest's mapping
 *   from our stubs and our stubs' page from it).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/cacheflush.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qom/object.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "sysemu/kvm.h"
#include "sysemu/kvm_int.h"
#include "sysemu/sysemu.h"
#include "cpu.h"
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"
#include "kvm-bt-vcpu.h"
#include "core/bt-sites.h"
#include "core/bt-translate.h"
#include "core/ppc-insn.h"
#include "core/kvm-para.h"
#include "core/shared-page.h"
#include "trace.h"

/* Where tracefs may be mounted */
static const char *const tracefs_dirs[] = {
    "/sys/kernel/tracing", "/sys/kernel/debug/tracing",
};
#define TRACEPOINT "events/kvm/kvm_ppc_instr"

/* Ring buffer per vCPU: 2^RING_ORDER data pages (a sample is ~32 bytes) */
#define RING_ORDER      6
/*
 * Sampling is not free (measured on the nested host, docs/kvm-bt-real-kvm.rst):
 * while the event is enabled every emulated instruction costs ~950 more
 * host instructions in the tracepoint, and each sample written ~3,950 more,
 * against ~800 for the exit itself. So one sample is taken every
 * SAMPLE_PERIOD_DEFAULT emulated instructions (odd, so that a loop of a
 * few privileged instructions does not always show the same one), and
 * sampling stops once no site became hot for settle-ms. After that it is
 * switched on for one poll at a time, first WINDOW_MIN_MS after settling,
 * the gap doubling up to WINDOW_MAX_MS while windows find nothing new.
 */
#define POLL_MS_DEFAULT     10
#define SAMPLE_PERIOD_DEFAULT 61
#define SETTLE_MS_DEFAULT   200
#define WINDOW_MIN_MS       50
#define WINDOW_MAX_MS       5000
#define VERIFY_MS           500     /* check our words this often */
#define TC_WAIT_MS          30000   /* hot sites but no usable TC this long: give up */

#define INSN_SC                     0x44000002u
#define INSN_DEBUG_EXIT             0x00dddd00u     /* KVMPPC_INST_SW_BREAKPOINT */

#define MSR_WE_BIT  (1u << 18)
#define MSR_CE_BIT  (1u << 17)
#define MSR_EE_BIT  (1u << 15)
#define MSR_PR_BIT  (1u << 14)
#define MSR_DE_BIT  (1u << 9)
#define MSR_IS_BIT  (1u << 5)
#define MSR_DS_BIT  (1u << 4)

/* KVM's per-vCPU binary statistics this backend reports (names as in KVM) */
static const char *const kvm_counter_names[] = {
    "emulated_inst_exits", "syscall_exits", "dec_exits", "ext_intr_exits",
    "dtlb_real_miss_exits", "itlb_real_miss_exits", "dtlb_virt_miss_exits",
    "itlb_virt_miss_exits", "isi_exits", "dsi_exits", "mmio_exits",
    "signal_exits", "halt_wakeup", "dbell_exits", "gdbell_exits",
};
#define NR_KVM_COUNTERS ARRAY_SIZE(kvm_counter_names)

typedef struct KvmBtKvmVcpu {
    CPUState *cs;
    int perf_fd;                /* -1: none */
    struct perf_event_mmap_page *ring;
    size_t ring_len;
    int stats_fd;               /* KVM_GET_STATS_FD, -1: none */
    int64_t stat_offset[NR_KVM_COUNTERS];   /* in the fd; -1: KVM has no such stat */
    bool page_mapped;           /* KVM maps the shared page for this vCPU */
    bool map_queued;
    unsigned map_failures;
} KvmBtKvmVcpu;

typedef struct HotSite {
    uint64_t pa;
    uint32_t ea;
    uint32_t word;
} HotSite;

typedef struct KvmBtKvm {
    /* accelerator properties */
    bool bt;
    uint64_t hot_threshold;
    char *stats_path;
    uint32_t poll_ms, settle_ms, sample_period;

    bool active;                /* bt=on and the host can do it */
    int tp_id;
    unsigned off_inst, off_pc, off_emulate, size_pc;

    QEMUTimer *poll;
    /* The poll (main loop) and safe work; never held while waiting for a vCPU */
    QemuMutex lock;
    KvmBtPatchTable table;
    uint64_t tc_pa;
    uint32_t tc_size;
    uint8_t *tc_host;
    bool tc_live;
    bool blocked;               /* a vCPU's own TLB maps 0xFFFFF000 */
    bool off_reason_told;
    const char *off_reason;     /* BT stopped for good, why */
    GArray *hot;                /* HotSite: waiting for translation */
    bool translate_queued;
    bool sampling;
    unsigned quiet_polls;
    int64_t tc_wait_since_ms;
    int64_t window_gap_ms, next_window_ms;  /* once settled */
    int64_t next_verify_ms;
    uint64_t samples, lost;
    uint64_t translations, drops, undos;
    unsigned nr_vcpus;
    KvmBtKvmVcpu *vcpus;
} KvmBtKvm;

static KvmBtKvm kb = {
    .hot_threshold = KVM_BT_HOT_THRESHOLD_DEFAULT,
    .poll_ms = POLL_MS_DEFAULT,
    .settle_ms = SETTLE_MS_DEFAULT,
    .sample_period = SAMPLE_PERIOD_DEFAULT,
};

bool kvm_bt_kvm_bt_on;

/* ---- properties of the KVM accelerator ---- */

static bool get_bt(Object *obj, Error **errp)
{
    return kb.bt;
}

static void set_bt(Object *obj, bool value, Error **errp)
{
    kb.bt = value;
}

static void get_hot_threshold(Object *obj, Visitor *v, const char *name, void *opaque,
                              Error **errp)
{
    int64_t value = kb.hot_threshold;

    visit_type_int64(v, name, &value, errp);
}

static void set_hot_threshold(Object *obj, Visitor *v, const char *name, void *opaque,
                              Error **errp)
{
    kvm_bt_visit_hot_threshold(v, name, &kb.hot_threshold, errp);
}

static void get_ms(Object *obj, Visitor *v, const char *name, void *opaque, Error **errp)
{
    uint32_t value = *(uint32_t *)opaque;

    visit_type_uint32(v, name, &value, errp);
}

static void set_ms(Object *obj, Visitor *v, const char *name, void *opaque, Error **errp)
{
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value < 1 || value > 3600000) {
        error_setg(errp, "%s must be between 1 and 3600000", name);
        return;
    }
    *(uint32_t *)opaque = value;
}

static char *get_stats_file(Object *obj, Error **errp)
{
    return g_strdup(kb.stats_path);
}

static void set_stats_file(Object *obj, const char *value, Error **errp)
{
    kvm_bt_set_stats_path(&kb.stats_path, value, errp);
}

void kvm_bt_kvm_class_init(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "bt", get_bt, set_bt);
    object_class_property_set_description(oc, "bt",
        "Translate hot privileged instructions in guest memory (BookE e500 hosts; "
        "needs perf access to the kvm:kvm_ppc_instr tracepoint; default off)");
    object_class_property_add(oc, "hot-threshold", "int", get_hot_threshold,
                              set_hot_threshold, NULL, NULL);
    object_class_property_set_description(oc, "hot-threshold",
        "With bt=on, emulated exits at one site before it is translated (default "
        stringify(KVM_BT_HOT_THRESHOLD_DEFAULT) ")");
    object_class_property_add(oc, "x-poll-ms", "uint32", get_ms, set_ms, NULL, &kb.poll_ms);
    object_class_property_set_description(oc, "x-poll-ms",
        "With bt=on, how often the sample rings are read, in ms (default "
        stringify(POLL_MS_DEFAULT) ")");
    object_class_property_add(oc, "x-sample-period", "uint32", get_ms, set_ms, NULL,
                              &kb.sample_period);
    object_class_property_set_description(oc, "x-sample-period",
        "With bt=on, one sample every this many emulated instructions (default "
        stringify(SAMPLE_PERIOD_DEFAULT) ")");
    object_class_property_add(oc, "x-settle-ms", "uint32", get_ms, set_ms, NULL, &kb.settle_ms);
    object_class_property_set_description(oc, "x-settle-ms",
        "With bt=on, stop sampling after this long without a new hot site (default "
        stringify(SETTLE_MS_DEFAULT) ")");
    object_class_property_add_str(oc, "stats-file", get_stats_file, set_stats_file);
    object_class_property_set_description(oc, "stats-file",
        "With bt=on, write kvm-bt's accounting as JSON to this file when QEMU exits");
}

/* ---- the tracepoint ---- */

static int perf_open(struct perf_event_attr *attr, pid_t pid)
{
    return syscall(__NR_perf_event_open, attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void tracepoint_attr(struct perf_event_attr *attr)
{
    memset(attr, 0, sizeof(*attr));
    attr->size = sizeof(*attr);
    attr->type = PERF_TYPE_TRACEPOINT;
    attr->config = kb.tp_id;
    attr->sample_period = kb.sample_period;
    attr->sample_type = PERF_SAMPLE_RAW;
    attr->wakeup_events = 1 << 30;  /* polled: never woken */
}

/* "field:unsigned int inst;\toffset:8;\tsize:4;..." -> offset and size */
static bool format_field(const char *format, const char *name, unsigned *off, unsigned *size)
{
    g_autofree char *key = g_strdup_printf(" %s;", name);
    const char *p = strstr(format, key), *o, *s;

    if (!p || !(o = strstr(p, "offset:")) || !(s = strstr(p, "size:"))) {
        return false;
    }
    *off = strtoul(o + 7, NULL, 10);
    *size = strtoul(s + 5, NULL, 10);
    return true;
}

static bool tracepoint_find(Error **errp)
{
    for (size_t i = 0; i < ARRAY_SIZE(tracefs_dirs); i++) {
        g_autofree char *id_path = g_strdup_printf("%s/" TRACEPOINT "/id", tracefs_dirs[i]);
        g_autofree char *fmt_path = g_strdup_printf("%s/" TRACEPOINT "/format",
                                                    tracefs_dirs[i]);
        g_autofree char *id = NULL, *format = NULL;
        unsigned size_inst, size_emulate;

        if (access(id_path, R_OK) != 0 && errno == ENOENT) {
            continue;
        }
        if (!g_file_get_contents(id_path, &id, NULL, NULL) ||
            !g_file_get_contents(fmt_path, &format, NULL, NULL)) {
            errno = access(id_path, R_OK) ? errno : EACCES;
            error_setg_errno(errp, errno, "no permission to sample kvm:kvm_ppc_instr: cannot "
                             "read %s (tracefs: root, or a tracefs this user may read)",
                             id_path);
            return false;
        }
        kb.tp_id = atoi(id);
        if (!format_field(format, "inst", &kb.off_inst, &size_inst) ||
            !format_field(format, "pc", &kb.off_pc, &kb.size_pc) ||
            !format_field(format, "emulate", &kb.off_emulate, &size_emulate) ||
            size_inst != 4 || (kb.size_pc != 4 && kb.size_pc != 8)) {
            error_setg(errp, "unexpected format of kvm:kvm_ppc_instr in %s", fmt_path);
            return false;
        }
        return true;
    }
    error_setg(errp, "the host has no kvm:kvm_ppc_instr tracepoint (looked in "
               "/sys/kernel/tracing and /sys/kernel/debug/tracing; the host kernel needs "
               "CONFIG_FTRACE and tracefs mounted)");
    return false;
}

/* ---- setup ---- */

static Notifier machine_done_notifier;
static Notifier exit_notifier;
static bool guest_maps_page(void);

/*
 * Machine init (kvm_arch_init): refuse what cannot work, before the guest
 * runs. Errors are fatal: the user asked for bt=on.
 */
int kvm_bt_kvm_init(MachineState *ms, KVMState *s)
{
    struct perf_event_attr attr;
    Error *err = NULL;
    int fd;

    if (!kb.bt) {
        if (kb.stats_path) {
            error_report("kvm: stats-file needs bt=on");
            return -EINVAL;
        }
        return 0;
    }
    if (!kvm_check_extension(s, KVM_CAP_PPC_BOOKE_SREGS) ||
        !kvm_check_extension(s, KVM_CAP_SW_TLB)) {
        error_report("kvm: bt=on needs a BookE (e500) KVM host with a software-managed TLB");
        return -ENOTSUP;
    }
    if (!object_dynamic_cast(OBJECT(ms), MACHINE_TYPE_NAME("ppce500"))) {
        error_report("kvm: bt=on: machine '%s' is not supported; use -M ppce500",
                     MACHINE_GET_CLASS(ms)->name);
        return -ENOTSUP;
    }
    if (!tracepoint_find(&err)) {
        error_reportf_err(err, "kvm: bt=on: ");
        return -ENOTSUP;
    }
    /* the permission check: per-thread raw samples of this tracepoint */
    tracepoint_attr(&attr);
    attr.disabled = 1;
    fd = perf_open(&attr, 0);
    if (fd < 0) {
        error_report("kvm: bt=on: no permission to sample kvm:kvm_ppc_instr: %s (needs root, "
                     "CAP_PERFMON or kernel.perf_event_paranoid=-1)", strerror(errno));
        return -errno;
    }
    close(fd);
    if (kvm_bt_block_migration("kvm: bt=on") < 0) {
        return -ENOTSUP;
    }
    if (kb.stats_path) {
        kvm_bt_state.stats_path = g_strdup(kb.stats_path);
        kvm_bt_state.stats_file = fopen(kb.stats_path, "w");
        if (!kvm_bt_state.stats_file) {
            error_report("kvm: cannot write stats-file '%s': %s", kb.stats_path,
                         strerror(errno));
            return -errno;
        }
    }

    kb.nr_vcpus = ms->smp.max_cpus;
    kb.vcpus = g_new0(KvmBtKvmVcpu, kb.nr_vcpus);
    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        kb.vcpus[i].perf_fd = -1;
        kb.vcpus[i].stats_fd = -1;
    }
    /* the accounting QMP and HMP read (kvm-bt-stats.c) */
    kvm_bt_state.bt = true;
    kvm_bt_state.cluster = false;
    kvm_bt_state.pv = false;
    kvm_bt_state.hot_threshold = kb.hot_threshold;
    kvm_bt_state.nr_vcpus = kb.nr_vcpus;
    kvm_bt_state.vcpus = g_new0(KvmBtVcpu, kb.nr_vcpus);
    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        qemu_mutex_init(&kvm_bt_state.vcpus[i].lock);
        kvm_bt_sites_init(&kvm_bt_state.vcpus[i].sites);
    }
    qemu_mutex_init(&kb.lock);
    /*
     * A sample stands for sample_period exits; never less than two samples,
     * so that code which ran a handful of times and was sampled by chance
     * (a CPU's bring-up, say) is not taken for hot.
     */
    kvm_bt_patch_init(&kb.table, MAX(2, DIV_ROUND_UP(kb.hot_threshold, kb.sample_period)));
    kb.hot = g_array_new(false, false, sizeof(HotSite));
    kb.sampling = true;
    kb.active = true;
    kvm_bt_kvm_bt_on = true;
    qemu_add_machine_init_done_notifier(&machine_done_notifier);
    qemu_add_exit_notifier(&exit_notifier);
    kvm_bt_backend = &kvm_bt_kvm_backend;
    return 0;
}

/* Where a KVM binary-stats descriptor's value lives, by name. */
static void stats_fd_index(KvmBtKvmVcpu *v)
{
    struct kvm_stats_header hdr;
    size_t desc_size;
    g_autofree uint8_t *descs = NULL;

    for (size_t i = 0; i < NR_KVM_COUNTERS; i++) {
        v->stat_offset[i] = -1;
    }
    if (pread(v->stats_fd, &hdr, sizeof(hdr), 0) != sizeof(hdr)) {
        return;
    }
    desc_size = sizeof(struct kvm_stats_desc) + hdr.name_size;
    descs = g_malloc0(desc_size * hdr.num_desc);
    if (pread(v->stats_fd, descs, desc_size * hdr.num_desc, hdr.desc_offset) !=
        (ssize_t)(desc_size * hdr.num_desc)) {
        return;
    }
    for (uint32_t d = 0; d < hdr.num_desc; d++) {
        struct kvm_stats_desc *desc = (void *)(descs + d * desc_size);

        for (size_t i = 0; i < NR_KVM_COUNTERS; i++) {
            if (!strncmp(desc->name, kvm_counter_names[i], hdr.name_size)) {
                v->stat_offset[i] = hdr.data_offset + desc->offset;
            }
        }
    }
}

/* kvm_arch_init_vcpu, on the vCPU's own thread: its sampler and its stats. */
int kvm_bt_kvm_init_vcpu(CPUState *cs)
{
    KvmBtKvmVcpu *v;
    struct perf_event_attr attr;
    long page = qemu_real_host_page_size();

    if (!kb.active) {
        return 0;
    }
    v = &kb.vcpus[cs->cpu_index];
    v->cs = cs;
    tracepoint_attr(&attr);
    v->perf_fd = perf_open(&attr, 0);
    if (v->perf_fd < 0) {
        error_report("kvm: bt=on: cannot sample kvm:kvm_ppc_instr on vCPU %d: %s",
                     cs->cpu_index, strerror(errno));
        return -errno;
    }
    v->ring_len = (1 + (1 << RING_ORDER)) * page;
    v->ring = mmap(NULL, v->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, v->perf_fd, 0);
    if (v->ring == MAP_FAILED) {
        error_report("kvm: bt=on: cannot map the sample ring of vCPU %d: %s",
                     cs->cpu_index, strerror(errno));
        return -errno;
    }
    v->stats_fd = kvm_vcpu_ioctl(cs, KVM_GET_STATS_FD, NULL);
    if (v->stats_fd >= 0) {
        stats_fd_index(v);
    }
    return 0;
}

static void sampling_set(bool on)
{
    if (kb.sampling == on) {
        return;
    }
    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        if (kb.vcpus[i].perf_fd >= 0) {
            ioctl(kb.vcpus[i].perf_fd, on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0);
        }
    }
    kb.sampling = on;
    trace_kvm_bt_kvm_sampling(on);
}

/* ---- guest memory ---- */

static uint32_t *ram_word(uint64_t pa)
{
    return (pa & 3) ? NULL : kvm_bt_guest_ram(pa, 4, NULL);
}

/* We changed guest code: the CPU must fetch it anew. */
static void code_changed(void *host, size_t len)
{
    flush_idcache_range((uintptr_t)host, (uintptr_t)host, len);
}

static bool tc_contains_ea(uint32_t ea)
{
    return kb.tc_live && ea - kb.table.tc.ea < kb.tc_size;
}

/*
 * The TC's effective address: the site's mapping offset applied to the TC,
 * which the kernel must map executable there on every vCPU (AS 0).
 */
static bool tc_make_live(uint32_t ea, uint64_t pa)
{
    uint32_t tc_ea = (uint32_t)(ea - pa + kb.tc_pa);
    uint64_t got;
    int slot;

    if (kb.tc_live) {
        return true;
    }
    if (!kb.tc_size) {
        return false;
    }
    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        CPUState *cs = kb.vcpus[i].cs;

        if (!cs || !kvm_bt_translate_kernel(cs, tc_ea, true, &got) || got != kb.tc_pa ||
            !kvm_bt_translate_kernel(cs, tc_ea + kb.tc_size - 4, true, &got) ||
            got != kb.tc_pa + kb.tc_size - 4) {
            return false;
        }
    }
    kb.tc_host = kvm_bt_guest_ram(kb.tc_pa, kb.tc_size, NULL);
    if (!kb.tc_host || !kvm_bt_tc_init(&kb.table, kb.tc_pa, tc_ea, kb.tc_size,
                                       KVM_BT_TC_SLOT_WORDS_DEFAULT)) {
        return false;
    }
    /* slot 0: the map hypercall's trampoline, never a stub */
    slot = kvm_bt_tc_alloc(&kb.table);
    assert(slot == 0);
    stl_be_p(kb.tc_host, INSN_SC);
    stl_be_p(kb.tc_host + 4, INSN_DEBUG_EXIT);
    code_changed(kb.tc_host, 8);
    kb.tc_live = true;
    trace_kvm_bt_kvm_tc(tc_ea, kb.tc_pa, kb.tc_size);
    return true;
}

/* ---- the shared page, asked for on the guest's behalf ---- */

static bool kvm_run_until_debug(CPUState *cs, uint32_t at)
{
    struct kvm_run *run = cs->kvm_run;

    for (int tries = 0; tries < 16; tries++) {
        int ret;

        run->immediate_exit = 0;
        ret = kvm_vcpu_ioctl(cs, KVM_RUN, 0);
        if (ret == -EINTR || ret == -EAGAIN) {
            continue;
        }
        if (ret < 0) {
            return false;
        }
        return run->exit_reason == KVM_EXIT_DEBUG && run->debug.arch.address == at;
    }
    return false;
}

/*
 * On the vCPU's thread, outside KVM_RUN: run KVM's map hypercall as the
 * guest's kernel would, in the TC's first slot. No MMIO is pending here:
 * QEMU completes an MMIO exit by re-entering KVM_RUN before it returns to
 * its work queue.
 */
static void map_page_work(CPUState *cs, run_on_cpu_data data)
{
    KvmBtKvmVcpu *v = &kb.vcpus[cs->cpu_index];
    struct kvm_regs saved, regs;
    uint32_t tramp = kb.table.tc.ea;
    uint64_t got;
    bool ok = false, refused = true;
    const char *why = "no exit at the trampoline";

    v->map_queued = false;
    if (v->page_mapped) {
        return;
    }
    if (cs->vcpu_dirty) {
        kvm_arch_put_registers(cs, KVM_PUT_RUNTIME_STATE);
        cs->vcpu_dirty = false;
    }
    if (kvm_vcpu_ioctl(cs, KVM_GET_REGS, &saved) < 0) {
        why = "KVM_GET_REGS failed";
        goto out;
    }
    /* once asked for, KVM's page cannot be withdrawn: never over the guest's own */
    if (guest_maps_page()) {
        why = "the guest maps 0xFFFFF000";
        refused = false;        /* not a failure: asked again once it stops */
        goto out;
    }
    /* the trampoline must be reachable in the context we enter it in */
    if (!kvm_bt_translate_kernel(cs, tramp, true, &got) || got != kb.tc_pa) {
        why = "the TC is not mapped on this vCPU";
        goto out;
    }
    regs = saved;
    regs.pc = tramp;
    regs.msr &= ~(uint64_t)(MSR_PR_BIT | MSR_EE_BIT | MSR_CE_BIT | MSR_DE_BIT | MSR_WE_BIT |
                            MSR_IS_BIT | MSR_DS_BIT);
    regs.gpr[0] = KVM_BT_SC_MAGIC_R0;
    regs.gpr[11] = KVM_BT_KVM_HCALL_TOKEN(KVM_BT_HC_PPC_MAP_MAGIC_PAGE);
    regs.gpr[3] = KVM_BT_SHARED_EA;
    regs.gpr[4] = KVM_BT_SHARED_EA | KVM_BT_MAGIC_PAGE_FLAG_NOT_MAPPED_NX;
    if (kvm_vcpu_ioctl(cs, KVM_SET_REGS, &regs) < 0) {
        why = "KVM_SET_REGS failed";
        goto out;
    }
    if (kvm_run_until_debug(cs, tramp + 4)) {
        struct kvm_regs after;

        if (kvm_vcpu_ioctl(cs, KVM_GET_REGS, &after) == 0) {
            /* EV_SUCCESS, and the page has the e500 MAS/SPRG layout */
            ok = after.gpr[3] == 0 && (after.gpr[4] & 2);
            why = ok ? NULL : "the hypercall failed";
        }
    }
    kvm_vcpu_ioctl(cs, KVM_SET_REGS, &saved);
out:
    trace_kvm_bt_kvm_map_page(cs->cpu_index, ok, why ? why : "");
    if (ok) {
        v->page_mapped = true;
    } else if (refused && ++v->map_failures == 3) {
        warn_report("kvm: bt=on: cannot map KVM's shared page on vCPU %d (%s); "
                    "binary translation stays off", cs->cpu_index, why);
        kb.off_reason = "the shared page could not be mapped";
    }
}

static bool pages_ready(void)
{
    bool ready = true;

    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        KvmBtKvmVcpu *v = &kb.vcpus[i];

        if (!v->cs || v->page_mapped) {
            continue;
        }
        ready = false;
        if (!v->map_queued) {
            v->map_queued = true;
            async_run_on_cpu(v->cs, map_page_work, RUN_ON_CPU_NULL);
        }
    }
    return ready;
}

/* ---- translation (safe work) ---- */

/* Put the guest's word back if it still holds our patch. */
static void undo_site(KvmBtPatchSite *s, const char *reason)
{
    uint32_t *host = ram_word(s->pa);

    if (host && ldl_be_p(host) == s->patch) {
        stl_be_p(host, s->orig);
        code_changed(host, 4);
        kvm_bt_patch_undone(&kb.table, s->pa, reason);
        kb.undos++;
    } else {
        kvm_bt_patch_dropped(&kb.table, s->pa);
        kb.drops++;
    }
    trace_kvm_bt_undo(s->ea, s->pa, reason);
}

static bool undo_cb(KvmBtPatchSite *s, void *opaque)
{
    if (s->state == KVM_BT_PATCH_TRANSLATED) {
        undo_site(s, opaque);
    }
    return true;
}

/*
 * Is @ea also mapped in address space 1 on some vCPU? e500 kernels run
 * their TLB1 set-up there (Linux: switch_to_as1, loadcam_multi), and KVM
 * maps its page for address space 0 only.
 */
static bool site_in_as1(uint32_t ea)
{
    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        CPUState *cs = kb.vcpus[i].cs;

        if (cs && kvm_bt_mapped_in_as1(cs, ea)) {
            return true;
        }
    }
    return false;
}

static void translate_one(const HotSite *h)
{
    KvmBtPatchSite *site = kvm_bt_patch_lookup(&kb.table, h->pa);
    uint32_t *host = ram_word(h->pa), *stub_host = NULL;
    uint32_t slot_ea = 0;
    KvmBtXlat x;

    if (!site || site->state != KVM_BT_PATCH_COUNTING) {
        return;
    }
    if (!host || ldl_be_p(host) != h->word) {
        trace_kvm_bt_skip(h->ea, h->pa, "the word changed");
        kvm_bt_patch_recount(&kb.table, h->pa);
        return;
    }
    if (site_in_as1(h->ea)) {
        /* KVM maps its page for address space 0 only: a page access there would fault */
        kvm_bt_patch_refused(&kb.table, h->pa, "code mapped in address space 1");
        trace_kvm_bt_refuse(h->ea, h->pa, h->word, "code mapped in address space 1");
        return;
    }
    if (kvm_bt_xlat_needs_stub(&kvm_bt_host_kvm, h->word)) {
        int slot = kvm_bt_tc_peek(&kb.table);

        if (slot >= 0) {
            slot_ea = kvm_bt_tc_slot_ea(&kb.table, slot);
            stub_host = (uint32_t *)(kb.tc_host + (kvm_bt_tc_slot_pa(&kb.table, slot) -
                                                   kb.tc_pa));
        }
    }
    kvm_bt_xlat(&kvm_bt_host_kvm, h->ea, h->word, stub_host ? slot_ea : 0,
                stub_host ? kb.table.tc.slot_words : 0, &x);
    if (x.kind == KVM_BT_XLAT_NONE) {
        kvm_bt_patch_refused(&kb.table, h->pa, x.reason);
        trace_kvm_bt_refuse(h->ea, h->pa, h->word, x.reason);
        return;
    }
    if (!kvm_bt_patch_translated(&kb.table, h->pa, &x)) {
        trace_kvm_bt_skip(h->ea, h->pa, "site table refused the translation");
        return;
    }
    if (x.kind == KVM_BT_XLAT_STUB) {
        for (unsigned i = 0; i < x.stub_words; i++) {
            stl_be_p(&stub_host[i], x.stub[i]);
        }
        code_changed(stub_host, 4 * x.stub_words);
    }
    stl_be_p(host, x.patch);
    code_changed(host, 4);
    kb.translations++;
    trace_kvm_bt_translate(h->ea, h->pa, h->word, x.patch, kvm_bt_xlat_kind_name(x.kind),
                           x.kind == KVM_BT_XLAT_STUB ? slot_ea : 0);
}

static void drain_all(void);

/* Every vCPU is out of KVM_RUN: nothing executes what we write. */
static void translate_work(CPUState *cs, run_on_cpu_data data)
{
    qemu_mutex_lock(&kb.lock);
    trace_kvm_bt_kvm_translate_batch(kb.hot->len);
    /* samples taken before now refer to the code as it is now */
    drain_all();
    /* the guest may have mapped 0xFFFFF000 since the poll looked */
    kb.blocked = kb.blocked || guest_maps_page();
    if (!kb.blocked && !kb.off_reason) {
        for (guint i = 0; i < kb.hot->len; i++) {
            translate_one(&g_array_index(kb.hot, HotSite, i));
        }
    }
    g_array_set_size(kb.hot, 0);
    kb.translate_queued = false;
    qemu_mutex_unlock(&kb.lock);
}

/* Does guest memory at @host hold the words @words (big-endian there)? */
static bool holds_words(const uint8_t *host, const uint32_t *words, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (ldl_be_p(host + 4 * i) != words[i]) {
            return false;
        }
    }
    return true;
}

typedef struct VerifyCtx {
    GArray *broken;             /* uint64_t pa of sites to drop or undo */
    const char *why;
} VerifyCtx;

/*
 * No write-watch on BookE KVM: a translated word that no longer holds our
 * patch was written by the guest (keep its word), a stub that no longer
 * holds our code must not run (undo the site).
 */
static bool verify_cb(KvmBtPatchSite *s, void *opaque)
{
    uint32_t *host;

    if (s->state != KVM_BT_PATCH_TRANSLATED) {
        return true;
    }
    host = ram_word(s->pa);
    if (!host || ldl_be_p(host) != s->patch) {
        kvm_bt_patch_dropped(&kb.table, s->pa);
        kb.drops++;
        trace_kvm_bt_drop(s->ea, s->pa);
        return true;
    }
    if (s->kind == KVM_BT_XLAT_STUB) {
        KvmBtXlat x;

        /* translation is a pure function: rebuild the stub and compare */
        if (kvm_bt_xlat(&kvm_bt_host_kvm, s->ea, s->orig, s->stub_ea,
                        (s->stub_end - s->stub_ea) / 4, &x) != KVM_BT_XLAT_STUB ||
            !holds_words(kb.tc_host + (s->stub_pa - kb.tc_pa), x.stub, x.stub_words)) {
            g_array_append_val(((VerifyCtx *)opaque)->broken, s->pa);
        }
    }
    return true;
}

static void undo_all_work(CPUState *cs, run_on_cpu_data data)
{
    qemu_mutex_lock(&kb.lock);
    kvm_bt_patch_foreach(&kb.table, undo_cb, data.host_ptr);
    qemu_mutex_unlock(&kb.lock);
}

static void undo_list_work(CPUState *cs, run_on_cpu_data data)
{
    GArray *pas = data.host_ptr;

    qemu_mutex_lock(&kb.lock);
    for (guint i = 0; i < pas->len; i++) {
        KvmBtPatchSite *s = kvm_bt_patch_lookup(&kb.table, g_array_index(pas, uint64_t, i));

        if (s && s->state == KVM_BT_PATCH_TRANSLATED) {
            undo_site(s, "the guest wrote into the stub");
        }
    }
    qemu_mutex_unlock(&kb.lock);
    g_array_free(pas, true);
}

/* ---- sampling ---- */

/*
 * The kernel's code pages, EA -> PA, as seen by this poll: a guest TLB
 * lookup walks every entry, and a poll's samples mostly share a few pages.
 * Forgotten at each poll; translate_one() checks the word at the PA anyway.
 */
#define XLATE_CACHE 64
static struct {
    uint32_t page;
    uint64_t pa_page;
    bool valid;
} xlate_cache[XLATE_CACHE];

static bool code_pa(CPUState *cs, uint32_t ea, uint64_t *pa)
{
    unsigned i = (ea >> 12) % XLATE_CACHE;

    if (xlate_cache[i].valid && xlate_cache[i].page == (ea >> 12)) {
        *pa = xlate_cache[i].pa_page | (ea & 0xfff);
        return true;
    }
    if (!kvm_bt_translate_kernel(cs, ea, true, pa)) {
        return false;
    }
    xlate_cache[i].page = ea >> 12;
    xlate_cache[i].pa_page = *pa & ~0xfffull;
    xlate_cache[i].valid = true;
    return true;
}

static void note_sample(unsigned cpu, uint32_t word, uint32_t pc)
{
    KvmBtVcpu *v = &kvm_bt_state.vcpus[cpu];
    CPUState *cs = kb.vcpus[cpu].cs;
    KvmBtPatchSite *ps;
    KvmBtSite *site;
    PPCInsn insn;
    uint64_t pa;
    KvmBtExitClass cls;

    /* MMIO loads and stores and KVM's own debug word: not ours */
    if (!ppc_insn_decode(word, &insn) || insn.kind < PPC_INSN_MFMSR ||
        insn.kind > PPC_INSN_WAIT) {
        return;
    }
    if (tc_contains_ea(pc)) {
        pa = kb.tc_pa + (pc - kb.table.tc.ea);
    } else if (!cs || !code_pa(cs, pc, &pa)) {
        return;
    }
    cls = kvm_bt_classify_insn(word);
    qemu_mutex_lock(&v->lock);
    v->exits[cls]++;
    site = kvm_bt_sites_get(&v->sites, pc, word, pa, cls);
    if (site) {
        site->exits++;
    }
    qemu_mutex_unlock(&v->lock);
    if (kb.off_reason || kb.blocked) {
        return;
    }
    if (kvm_bt_patch_note_exit(&kb.table, pa, pc, word, &ps) && ps) {
        HotSite h = { .pa = pa, .ea = pc, .word = word };

        for (guint i = 0; i < kb.hot->len; i++) {
            if (g_array_index(kb.hot, HotSite, i).pa == pa) {
                return;
            }
        }
        if (site && !site->exits_hot) {
            site->exits_hot = site->exits;
        }
        g_array_append_val(kb.hot, h);
        kb.quiet_polls = 0;
    }
}

static void drain_ring(unsigned cpu)
{
    KvmBtKvmVcpu *v = &kb.vcpus[cpu];
    uint8_t *data;
    uint64_t head, tail, size;

    if (!v->ring) {
        return;
    }
    data = (uint8_t *)v->ring + v->ring->data_offset;
    size = v->ring->data_size;
    /* 64-bit fields on a 32-bit host: plain reads with perf's barriers */
    head = *(volatile uint64_t *)&v->ring->data_head;
    smp_rmb();
    tail = v->ring->data_tail;
    while (tail < head) {
        struct perf_event_header hdr;
        uint8_t rec[256];
        size_t len;

        for (size_t i = 0; i < sizeof(hdr); i++) {
            ((uint8_t *)&hdr)[i] = data[(tail + i) % size];
        }
        len = MIN(hdr.size, sizeof(rec));
        for (size_t i = 0; i < len; i++) {
            rec[i] = data[(tail + i) % size];
        }
        if (hdr.type == PERF_RECORD_SAMPLE && len >= sizeof(hdr) + 4) {
            uint32_t raw_size = *(uint32_t *)(rec + sizeof(hdr));
            uint8_t *raw = rec + sizeof(hdr) + 4;

            if (sizeof(hdr) + 4 + raw_size <= len &&
                kb.off_pc + kb.size_pc <= raw_size && kb.off_inst + 4 <= raw_size) {
                uint32_t inst = *(uint32_t *)(raw + kb.off_inst);
                uint64_t pc = kb.size_pc == 8 ? *(uint64_t *)(raw + kb.off_pc)
                                              : *(uint32_t *)(raw + kb.off_pc);

                kb.samples++;
                note_sample(cpu, inst, (uint32_t)pc);
            }
        } else if (hdr.type == PERF_RECORD_LOST && len >= sizeof(hdr) + 16) {
            kb.lost += *(uint64_t *)(rec + sizeof(hdr) + 8);
        }
        if (!hdr.size) {
            break;
        }
        tail += hdr.size;
    }
    smp_mb();
    *(volatile uint64_t *)&v->ring->data_tail = tail;
}

static void drain_all(void)
{
    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        drain_ring(i);
    }
}

/* Does any vCPU's own TLB map 0xFFFFF000 for the kernel? */
static bool guest_maps_page(void)
{
    uint64_t pa;

    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        CPUState *cs = kb.vcpus[i].cs;

        if (cs && kvm_bt_translate_kernel(cs, KVM_BT_SHARED_EA, false, &pa)) {
            return true;
        }
    }
    return false;
}

static void poll_cb(void *opaque)
{
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    g_autoptr(GArray) broken = g_array_new(false, false, sizeof(uint64_t));
    VerifyCtx vc = { .broken = broken };
    bool maps;

    timer_mod(kb.poll, now + kb.poll_ms);
    qemu_mutex_lock(&kb.lock);
    memset(xlate_cache, 0, sizeof(xlate_cache));
    drain_all();

    maps = guest_maps_page();
    if (maps != kb.blocked) {
        kb.blocked = maps;
        trace_kvm_bt_page_blocked(-1, maps);
        /* what was hot meanwhile could not be translated: look again */
        kb.quiet_polls = 0;
        if (maps) {
            warn_report_once("kvm: bt=on: the guest maps 0xFFFFF000 itself; "
                             "translations are undone while it does");
            async_safe_run_on_cpu(first_cpu, undo_all_work,
                                  RUN_ON_CPU_HOST_PTR((void *)"guest maps 0xFFFFF000"));
        }
    }
    if (kb.off_reason && !kb.off_reason_told) {
        kb.off_reason_told = true;
        async_safe_run_on_cpu(first_cpu, undo_all_work,
                              RUN_ON_CPU_HOST_PTR((void *)kb.off_reason));
    }

    if (kb.table.translated && now >= kb.next_verify_ms) {
        kb.next_verify_ms = now + VERIFY_MS;
        kvm_bt_patch_foreach(&kb.table, verify_cb, &vc);
        if (broken->len) {
            async_safe_run_on_cpu(first_cpu, undo_list_work,
                                  RUN_ON_CPU_HOST_PTR(g_array_ref(broken)));
        }
    }

    trace_kvm_bt_kvm_poll(kb.samples, kb.hot->len, kb.translate_queued, kb.blocked,
                          kb.sampling);
    if (kb.hot->len && !kb.translate_queued && !kb.blocked && !kb.off_reason) {
        const HotSite *h = &g_array_index(kb.hot, HotSite, 0);

        if (tc_make_live(h->ea, h->pa)) {
            if (pages_ready()) {
                kb.translate_queued = true;
                async_safe_run_on_cpu(first_cpu, translate_work, RUN_ON_CPU_NULL);
            }
        } else if (!kb.tc_wait_since_ms) {
            kb.tc_wait_since_ms = now;
        } else if (now - kb.tc_wait_since_ms > TC_WAIT_MS) {
            /* the trampoline, and so the shared page, needs the TC */
            warn_report("kvm: bt=on: the guest kernel does not map the translation cache "
                        "(guest-physical 0x%" PRIx64 ", %u KiB) executable on every vCPU; "
                        "binary translation stays off", kb.tc_pa, kb.tc_size / 1024);
            kb.off_reason = "the TC is not mapped";
        }
    }

    if (kb.blocked || kb.off_reason) {
        /* nothing can be translated now: what is hot stays COUNTING, asked again later */
        g_array_set_size(kb.hot, 0);
    }
    /* sample while sites still become hot; then only in short windows */
    if (kb.hot->len || ++kb.quiet_polls < kb.settle_ms / kb.poll_ms) {
        /* still finding hot sites: keep sampling, windows start short again */
        kb.window_gap_ms = WINDOW_MIN_MS;
        kb.next_window_ms = now + kb.window_gap_ms;
        sampling_set(true);
    } else if (kb.sampling) {
        sampling_set(false);    /* a window (or the search) found nothing new */
    } else if (now >= kb.next_window_ms) {
        sampling_set(true);
        kb.window_gap_ms = MIN(kb.window_gap_ms * 2, WINDOW_MAX_MS);
        kb.next_window_ms = now + kb.window_gap_ms;
    }
    /*
     * Settled: wake up only for the next window or verification. While the
     * guest maps 0xFFFFF000, keep looking often: when it stops, what became
     * hot meanwhile is to be found again at once.
     */
    if (!kb.sampling && !kb.hot->len && !kb.blocked) {
        timer_mod(kb.poll, MIN(kb.next_window_ms, now + VERIFY_MS));
    }
    qemu_mutex_unlock(&kb.lock);
}

static void write_stats(Notifier *n, void *data)
{
    kvm_bt_stats_write_file();
}
static Notifier exit_notifier = { .notify = write_stats };

/* After the board is built and the vCPUs exist: start polling. */
static void machine_done(Notifier *n, void *data)
{
    kb.poll = timer_new_ms(QEMU_CLOCK_REALTIME, poll_cb, NULL);
    timer_mod(kb.poll, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + kb.poll_ms);
}
static Notifier machine_done_notifier = { .notify = machine_done };

/* The e500 board built its device tree: reserve the TC like the monitor. */
void kvm_bt_kvm_fdt(void *fdt, hwaddr kernel_base, hwaddr kernel_size)
{
    kvm_bt_tc_reserve(fdt, kernel_base, kernel_size, &kb.tc_pa, &kb.tc_size);
}

/* ---- accounting (kvm-bt-stats.c through kvm_bt_backend) ---- */

static void kvm_summary(KvmBtSummary *sum)
{
    memset(sum, 0, sizeof(*sum));
    sum->translated = kvm_bt_patch_count(&kb.table, KVM_BT_PATCH_TRANSLATED);
    sum->refused = kvm_bt_patch_count(&kb.table, KVM_BT_PATCH_REFUSED);
    sum->dropped = kvm_bt_patch_count(&kb.table, KVM_BT_PATCH_DROPPED);
    sum->undone = kvm_bt_patch_count(&kb.table, KVM_BT_PATCH_UNDONE);
    if (kb.tc_live) {
        kvm_bt_tc_usage(&kb.table, &sum->tc_live, &sum->tc_retired, &sum->tc_total);
        sum->tc_ea = kb.table.tc.ea;
    }
    sum->tc_pa = kb.tc_pa;
    sum->page_blocked = kb.blocked;
}

static bool kvm_site_translation(uint64_t pa, KvmBtPatchSite *out)
{
    KvmBtPatchSite *s = kvm_bt_patch_lookup(&kb.table, pa);

    if (s) {
        *out = *s;
    }
    return s != NULL;
}

static void kvm_host_info(KvmBtKvmInfo *info)
{
    uint64_t total[NR_KVM_COUNTERS] = { 0 };
    KvmBtExitCountList **tail = &info->kvm_counters;
    unsigned mapped = 0;

    for (unsigned i = 0; i < kb.nr_vcpus; i++) {
        KvmBtKvmVcpu *v = &kb.vcpus[i];

        mapped += v->page_mapped;
        for (size_t k = 0; k < NR_KVM_COUNTERS && v->stats_fd >= 0; k++) {
            uint64_t val;

            if (v->stat_offset[k] >= 0 &&
                pread(v->stats_fd, &val, sizeof(val), v->stat_offset[k]) == sizeof(val)) {
                total[k] += val;
            }
        }
    }
    for (size_t k = 0; k < NR_KVM_COUNTERS; k++) {
        KvmBtExitCount *e = g_new0(KvmBtExitCount, 1);

        e->q_class = g_strdup(kvm_counter_names[k]);
        e->count = total[k];
        QAPI_LIST_APPEND(tail, e);
    }
    info->host = g_strdup("kvm");
    info->sampling = kb.sampling;
    info->samples = kb.samples;
    info->samples_lost = kb.lost;
    info->pages_mapped = mapped;
    info->translations = kb.translations;
    info->drops = kb.drops;
    info->undos = kb.undos;
}

const KvmBtBackend kvm_bt_kvm_backend = {
    .name = "kvm",
    .caps = &kvm_bt_host_kvm,
    .summary = kvm_summary,
    .site_translation = kvm_site_translation,
    .host_info = kvm_host_info,
};
