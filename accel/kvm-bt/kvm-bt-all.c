/*
 * kvm-bt: the accelerator — a software trap-and-emulate monitor with KVM
 * BookE semantics, built on TCG
 *
 * "-accel kvm-bt" is a subclass of the TCG accelerator: TCG is the
 * hardware; the guest kernel runs de-privileged on it and every privileged
 * instruction and interrupt exits to the monitor (kvm-bt-exit.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/accel.h"
#include "qemu/error-report.h"
#include "qemu/notify.h"
#include "qom/object.h"
#include "sysemu/accel-ops.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/reset.h"
#include "sysemu/sysemu.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "migration/blocker.h"
#include "sysemu/runstate.h"
#include "cpu.h"
#include "../tcg/internal.h"
#include "../tcg/tcg-accel-ops.h"
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"

bool kvm_bt_allowed;
KvmBtState kvm_bt_state = {
    .bt = true,             /* translating is the accelerator's point */
    .cluster = true,
    .exit_cost_ns = -1,
    .hot_threshold = KVM_BT_HOT_THRESHOLD_DEFAULT,
};

static void kvm_bt_vcpus_reset(void *opaque);

/* The CPU models whose trap-and-emulate virtualization KVM BookE provides. */
static const char *const supported_cpus[] = { "e500v2", "e500mc" };

/*
 * Neither backend's state travels with the guest: patched guest code and
 * the TC sit in guest RAM, but the site table that knows them, the TC
 * allocator, the shared page and the per-vCPU mirrors do not. Restored
 * elsewhere (or restored here over a running guest), patches would point
 * at stubs nobody owns, so migration, savevm and loadvm are refused.
 */
int kvm_bt_block_migration(const char *backend)
{
    static Error *blocker;
    Error *err = NULL;

    if (runstate_check(RUN_STATE_INMIGRATE)) {
        error_report("%s: -incoming is not supported: the monitor's state "
                     "(translated sites, TC, shared page) is not migrated", backend);
        return -ENOTSUP;
    }
    if (blocker) {
        return 0;
    }
    error_setg(&blocker, "%s: migration and snapshots are not supported: the monitor's "
               "state (translated sites, TC, shared page) is not migrated", backend);
    if (migrate_add_blocker(blocker, &err) < 0) {
        error_report_err(err);
        error_free(blocker);
        blocker = NULL;
        return -EINVAL;
    }
    return 0;
}

static AccelClass *tcg_accel_class(void)
{
    return ACCEL_CLASS(object_class_by_name(ACCEL_CLASS_NAME("tcg")));
}

static int kvm_bt_init_machine(MachineState *ms)
{
    KvmBtState *s = &kvm_bt_state;
    int ret;

    if (!object_dynamic_cast(OBJECT(ms), MACHINE_TYPE_NAME("ppce500"))) {
        error_report("kvm-bt: machine '%s' is not supported; use -M ppce500",
                     MACHINE_GET_CLASS(ms)->name);
        return -ENOTSUP;
    }
    if (s->exit_cost_ns >= 0 && !icount_enabled()) {
        error_report("kvm-bt: exit-cost-ns needs -icount: without it, guest time is "
                     "host time and exits already cost what they cost");
        return -EINVAL;
    }
    if (s->cluster_set && s->cluster && !s->bt) {
        error_report("kvm-bt: cluster=on needs bt=on: exit clusters are the translator's");
        return -EINVAL;
    }
    if (!s->bt) {
        s->cluster = false;
    }
    ret = kvm_bt_block_migration("kvm-bt");
    if (ret < 0) {
        return ret;
    }
    if (s->stats_path) {
        /* fail now, not after the guest ran for an hour */
        s->stats_file = fopen(s->stats_path, "w");
        if (!s->stats_file) {
            error_report("kvm-bt: cannot write stats-file '%s': %s",
                         s->stats_path, strerror(errno));
            return -errno;
        }
    }

    ret = tcg_accel_class()->init_machine(ms);
    if (ret < 0) {
        return ret;
    }
    s->nr_vcpus = ms->smp.max_cpus;
    s->vcpus = g_new0(KvmBtVcpu, s->nr_vcpus);
    for (unsigned i = 0; i < s->nr_vcpus; i++) {
        qemu_mutex_init(&s->vcpus[i].lock);
        kvm_bt_sites_init(&s->vcpus[i].sites);
    }
    kvm_bt_shared_init(ms);
    kvm_bt_bt_init();
    qemu_register_reset(kvm_bt_vcpus_reset, NULL);
    kvm_bt_allowed = true;
    tcg_cpu_exec_hook = kvm_bt_vcpu_exec;
    tcg_code_write_hook = kvm_bt_code_write;
    tcg_code_watched_hook = kvm_bt_code_watched;
    return 0;
}

/*
 * A system reset (vCPUs paused): a new guest starts, and so does the
 * accounting. Each vCPU's site table goes (the records it cached went with
 * the translator's table, kvm-bt-translate.c), so a site hot before the
 * reset is counted from zero after it; so do its exit counts, so that the
 * sites still add up to the privileged exits; and a step or cluster
 * pending from before (its site is gone).
 */
static void kvm_bt_vcpus_reset(void *opaque)
{
    KvmBtState *s = &kvm_bt_state;

    for (unsigned i = 0; i < s->nr_vcpus; i++) {
        KvmBtVcpu *v = &s->vcpus[i];

        qemu_mutex_lock(&v->lock);
        kvm_bt_sites_destroy(&v->sites);
        kvm_bt_sites_init(&v->sites);
        memset(v->exits, 0, sizeof(v->exits));
        v->cluster_runs = v->absorbed = 0;
        v->step_pending = false;
        v->run.words = 0;
        v->run_site = NULL;
        v->stub_resume = 0;
        v->tlb_op = false;
        v->nr_pid_pages = 0;
        stat64_init(&v->pid_flushes, 0);
        stat64_init(&v->pid_flushes_full, 0);
        qemu_mutex_unlock(&v->lock);
    }
}

static void kvm_bt_exit_notify(Notifier *n, void *data)
{
    kvm_bt_stats_write_file();
}
static Notifier kvm_bt_exit_notifier = { .notify = kvm_bt_exit_notify };

/* After the board is built: check the CPU model, then start trapping. */
static void kvm_bt_setup_post(MachineState *ms, AccelState *accel)
{
    const char *model = ms->cpu_type;
    CPUState *cs;
    bool ok = false;

    for (size_t i = 0; i < ARRAY_SIZE(supported_cpus); i++) {
        ok |= model && g_str_has_prefix(model, supported_cpus[i]);
    }
    if (!ok) {
        error_report("kvm-bt: CPU model '%s' is not supported; use -cpu e500mc or -cpu e500v2",
                     model ? model : "(none)");
        exit(1);
    }
    kvm_bt_bt_board_ready(ms);
    if (kvm_bt_state.bt) {
        kvm_bt_textview_init(ms);
    }
    CPU_FOREACH(cs) {
        kvm_bt_vcpu_enable_trap(cs);
    }
    qemu_add_exit_notifier(&kvm_bt_exit_notifier);
}

static bool kvm_bt_get_bt(Object *obj, Error **errp)
{
    return kvm_bt_state.bt;
}

static void kvm_bt_set_bt(Object *obj, bool value, Error **errp)
{
    kvm_bt_state.bt = value;
}

static bool kvm_bt_get_cluster(Object *obj, Error **errp)
{
    return kvm_bt_state.cluster;
}

static void kvm_bt_set_cluster(Object *obj, bool value, Error **errp)
{
    kvm_bt_state.cluster = value;
    kvm_bt_state.cluster_set = true;
}

static bool kvm_bt_get_pv(Object *obj, Error **errp)
{
    return kvm_bt_state.pv;
}

static void kvm_bt_set_pv(Object *obj, bool value, Error **errp)
{
    kvm_bt_state.pv = value;
}

static void kvm_bt_get_hot_threshold(Object *obj, Visitor *v, const char *name,
                                     void *opaque, Error **errp)
{
    int64_t value = kvm_bt_state.hot_threshold;

    visit_type_int64(v, name, &value, errp);
}

/* Both backends' hot-threshold and stats-file properties check their values here. */
void kvm_bt_visit_hot_threshold(Visitor *v, const char *name, uint64_t *threshold,
                                Error **errp)
{
    int64_t value;

    if (!visit_type_int64(v, name, &value, errp)) {
        return;
    }
    if (value < 1 || value > UINT32_MAX) {
        error_setg(errp, "hot-threshold must be between 1 and %" PRIu32, UINT32_MAX);
        return;
    }
    *threshold = value;
}

void kvm_bt_set_stats_path(char **path, const char *value, Error **errp)
{
    if (!*value) {
        error_setg(errp, "stats-file must name a file");
        return;
    }
    g_free(*path);
    *path = g_strdup(value);
}

static void kvm_bt_set_hot_threshold(Object *obj, Visitor *v, const char *name,
                                     void *opaque, Error **errp)
{
    kvm_bt_visit_hot_threshold(v, name, &kvm_bt_state.hot_threshold, errp);
}

static char *kvm_bt_get_stats_file(Object *obj, Error **errp)
{
    return g_strdup(kvm_bt_state.stats_path);
}

static void kvm_bt_set_stats_file(Object *obj, const char *value, Error **errp)
{
    kvm_bt_set_stats_path(&kvm_bt_state.stats_path, value, errp);
}

static void kvm_bt_get_exit_cost(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    int64_t value = kvm_bt_exit_cost_ns();

    visit_type_int64(v, name, &value, errp);
}

static void kvm_bt_set_exit_cost(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    int64_t value;

    if (!visit_type_int64(v, name, &value, errp)) {
        return;
    }
    if (value < 0 || value > 1000000000) {
        error_setg(errp, "exit-cost-ns must be between 0 and 1000000000");
        return;
    }
    kvm_bt_state.exit_cost_ns = value;
}

static void kvm_bt_accel_class_init(ObjectClass *oc, void *data)
{
    AccelClass *ac = ACCEL_CLASS(oc);

    ac->name = "kvm-bt";
    ac->init_machine = kvm_bt_init_machine;
    ac->setup_post = kvm_bt_setup_post;

    object_class_property_add_bool(oc, "bt", kvm_bt_get_bt, kvm_bt_set_bt);
    object_class_property_set_description(oc, "bt",
        "Translate hot privileged instructions in guest memory (binary translation)");
    object_class_property_add_bool(oc, "cluster", kvm_bt_get_cluster, kvm_bt_set_cluster);
    object_class_property_set_description(oc, "cluster",
        "With bt=on, step short straight-line runs of privileged instructions "
        "in one exit (default on)");
    object_class_property_add_bool(oc, "pv", kvm_bt_get_pv, kvm_bt_set_pv);
    object_class_property_set_description(oc, "pv",
        "Offer the KVM paravirtual interface (magic page, hypercalls)");
    object_class_property_add(oc, "hot-threshold", "int", kvm_bt_get_hot_threshold,
                              kvm_bt_set_hot_threshold, NULL, NULL);
    object_class_property_set_description(oc, "hot-threshold",
        "Exits at one site on one vCPU before bt=on translates it (default "
        stringify(KVM_BT_HOT_THRESHOLD_DEFAULT) ")");
    object_class_property_add_str(oc, "stats-file", kvm_bt_get_stats_file,
                                  kvm_bt_set_stats_file);
    object_class_property_set_description(oc, "stats-file",
        "Write exit accounting as JSON to this file when QEMU exits");
    object_class_property_add(oc, "exit-cost-ns", "int", kvm_bt_get_exit_cost,
                              kvm_bt_set_exit_cost, NULL, NULL);
    object_class_property_set_description(oc, "exit-cost-ns",
        "Virtual time charged per exit under -icount (default "
        stringify(KVM_BT_DEFAULT_EXIT_COST_NS) ")");
}

static const TypeInfo kvm_bt_accel_type = {
    .name = TYPE_KVM_BT_ACCEL,
    .parent = ACCEL_CLASS_NAME("tcg"),
    .class_init = kvm_bt_accel_class_init,
};

/* The vCPU threads are TCG's; kvm_bt_vcpu_exec() runs inside them. */
static const TypeInfo kvm_bt_accel_ops_type = {
    .name = ACCEL_OPS_NAME("kvm-bt"),
    .parent = ACCEL_OPS_NAME("tcg"),
};

static void kvm_bt_register_types(void)
{
    type_register_static(&kvm_bt_accel_type);
    type_register_static(&kvm_bt_accel_ops_type);
}
type_init(kvm_bt_register_types);
