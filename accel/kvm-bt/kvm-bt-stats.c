/*
 * kvm-bt: exit accounting for users — QMP query-kvm-bt, HMP info kvm-bt and
 * the stats file written at exit
 *
 * Readers take each vCPU's lock in turn, so a query never stops more than
 * one vCPU at a time, and only for as long as it takes to copy its counts.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-kvm-bt-target.h"
#include "qemu/error-report.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qjson.h"
#include "qapi/qmp/qlist.h"
#include "qapi/qmp/qstring.h"
#include "qapi/qobject-output-visitor.h"
#include "qapi/qapi-visit-kvm-bt-target.h"
#include "kvm-bt-hooks.h"
#include "kvm-bt-internal.h"
#include "core/bt-translate.h"
#include "core/ppc-insn.h"

#define DEFAULT_TOP 20

const KvmBtBackend *kvm_bt_backend;

typedef struct Snapshot {
    uint64_t (*exits)[KVM_BT_EXIT__COUNT];   /* per vCPU */
    uint64_t total[KVM_BT_EXIT__COUNT];
    uint64_t cluster_runs, absorbed;    /* all vCPUs */
    KvmBtSite *sites;       /* top sites over all vCPUs, most first */
    unsigned *site_cpu;
    size_t nr_sites;
} Snapshot;

typedef struct TopSite {
    KvmBtSite site;
    unsigned cpu;
} TopSite;

static int top_site_cmp(const void *a, const void *b)
{
    const TopSite *x = a, *y = b;

    if (x->site.exits != y->site.exits) {
        return x->site.exits < y->site.exits ? 1 : -1;
    }
    return x->cpu != y->cpu ? (x->cpu < y->cpu ? -1 : 1) : (x->site.ea < y->site.ea ? -1 : 1);
}

/* Copy counts and the @top busiest sites of every vCPU (@top < 0: all). */
static void snapshot(Snapshot *snap, long top)
{
    KvmBtState *s = &kvm_bt_state;
    g_autofree TopSite *all = NULL;
    size_t n = 0;

    memset(snap, 0, sizeof(*snap));
    snap->exits = g_malloc0(MAX(s->nr_vcpus, 1) * sizeof(*snap->exits));
    for (unsigned c = 0; c < s->nr_vcpus; c++) {
        KvmBtVcpu *v = &s->vcpus[c];
        size_t want;

        qemu_mutex_lock(&v->lock);
        memcpy(snap->exits[c], v->exits, sizeof(v->exits));
        snap->cluster_runs += v->cluster_runs;
        snap->absorbed += v->absorbed;
        want = top < 0 ? v->sites.count : MIN((size_t)top, v->sites.count);
        all = g_renew(TopSite, all, n + want);
        {
            g_autofree KvmBtSite *tmp = g_new(KvmBtSite, want ? want : 1);
            size_t got = kvm_bt_sites_top(&v->sites, tmp, want);

            for (size_t i = 0; i < got; i++) {
                all[n++] = (TopSite){ .site = tmp[i], .cpu = c };
            }
        }
        qemu_mutex_unlock(&v->lock);
        for (int k = 0; k < KVM_BT_EXIT__COUNT; k++) {
            snap->total[k] += snap->exits[c][k];
        }
    }
    if (n) {
        qsort(all, n, sizeof(*all), top_site_cmp);
    }
    if (top >= 0 && n > (size_t)top) {
        n = top;
    }
    snap->sites = g_new(KvmBtSite, n ? n : 1);
    snap->site_cpu = g_new(unsigned, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        snap->sites[i] = all[i].site;
        snap->site_cpu[i] = all[i].cpu;
    }
    snap->nr_sites = n;
}

static void snapshot_free(Snapshot *snap)
{
    g_free(snap->exits);
    g_free(snap->sites);
    g_free(snap->site_cpu);
}

/* The core's names are the schema's: the QAPI enums list them in the same order. */
QEMU_BUILD_BUG_ON((int)KVM_BT_EXIT__COUNT != (int)KVM_BT_QAPI_EXIT__MAX);
QEMU_BUILD_BUG_ON((int)KVM_BT_PATCH__COUNT != (int)KVM_BT_SITE_STATE__MAX);

static KvmBtExitType exit_type(KvmBtExitClass cls)
{
    return qapi_enum_parse(&KvmBtExitType_lookup, kvm_bt_exit_class_name(cls), -1,
                           &error_abort);
}

enum { PRIVILEGED = 1, REFLECTED = 2, HANDLED = 4, ALL = 7 };

static uint64_t sum(const uint64_t *counts, unsigned which)
{
    uint64_t t = 0;

    for (int k = 0; k < KVM_BT_EXIT__COUNT; k++) {
        unsigned what = kvm_bt_exit_is_privileged(k) ? PRIVILEGED :
                        kvm_bt_exit_is_handled(k) ? HANDLED : REFLECTED;
        if (what & which) {
            t += counts[k];
        }
    }
    return t;
}

static KvmBtClassCountList *class_list(const uint64_t *counts)
{
    KvmBtClassCountList *head = NULL, **tail = &head;

    for (int k = 0; k < KVM_BT_EXIT__COUNT; k++) {
        if (counts[k]) {
            KvmBtClassCount *e = g_new0(KvmBtClassCount, 1);
            e->q_class = exit_type(k);
            e->count = counts[k];
            QAPI_LIST_APPEND(tail, e);
        }
    }
    return head;
}

static char *insn_text(const KvmBtSite *site)
{
    PPCInsn insn;
    char buf[64];

    if (!ppc_insn_decode(site->word, &insn)) {
        return g_strdup_printf(".long 0x%08" PRIx32, site->word);
    }
    ppc_insn_format(&insn, site->ea, buf, sizeof(buf));
    return g_strdup(buf);
}

/* What bt=on did with a site, as this vCPU saw it. */
static bool site_translation(const KvmBtSite *site, KvmBtPatchSite *ps,
                             uint64_t *before, uint64_t *after)
{
    if (!kvm_bt_backend->site_translation(site->pa, ps) || ps->orig != site->word) {
        return false;
    }
    *before = site->exits_hot ? site->exits_hot : site->exits;
    *after = site->exits - *before;
    return true;
}

/* The site's exit cluster, if it has one now or had one. */
static bool site_cluster(const KvmBtSite *site)
{
    return kvm_bt_state.cluster && site->cluster_gen &&
           (site->cluster.words > 1 || site->cluster_absorbed);
}

/* Instructions in the site's run now (0: it has none any more). */
static unsigned site_cluster_words(const KvmBtSite *site)
{
    return site->cluster.words > 1 ? site->cluster.words : 0;
}

static KvmBtTranslatorInfo *translator_info(const Snapshot *snap)
{
    KvmBtTranslatorInfo *t = g_new0(KvmBtTranslatorInfo, 1);
    KvmBtSummary sum;

    kvm_bt_backend->summary(&sum);
    t->translated = sum.translated;
    t->refused = sum.refused;
    t->dropped = sum.dropped;
    t->undone = sum.undone;
    t->tc_used = sum.tc_live + sum.tc_retired;
    t->tc_total = sum.tc_total;
    t->tc_pa = sum.tc_pa;
    t->tc_ea = sum.tc_ea;
    t->page_blocked = sum.page_blocked;
    t->hot_threshold = kvm_bt_state.hot_threshold;
    t->cluster = kvm_bt_state.cluster;
    t->cluster_runs = snap->cluster_runs;
    t->absorbed = snap->absorbed;
    t->translations = sum.translations;
    t->churn_refused = sum.churn_refused;
    t->stubs_lost = sum.stubs_lost;
    return t;
}

/* The accounting as QAPI's KvmBtInfo, with the @top busiest sites (< 0: all). */
static KvmBtInfo *kvm_bt_info(long top)
{
    KvmBtInfo *info = g_new0(KvmBtInfo, 1);
    KvmBtVcpuExitsList **vtail = &info->vcpus;
    KvmBtSiteInfoList **stail = &info->sites;
    Snapshot snap;

    info->enabled = kvm_bt_active();
    if (!info->enabled) {
        /* another accelerator: nothing runs that could be counted */
        return info;
    }
    info->bt = kvm_bt_state.bt;
    info->cluster = kvm_bt_state.cluster;
    info->pv = kvm_bt_state.pv;
    info->exit_cost_ns = kvm_bt_allowed ? kvm_bt_exit_cost_ns() : 0;
    snapshot(&snap, top);
    info->privileged = sum(snap.total, PRIVILEGED);
    info->reflected = sum(snap.total, REFLECTED);
    info->handled = sum(snap.total, HANDLED);
    info->total = info->privileged + info->reflected + info->handled;
    info->by_class = class_list(snap.total);
    for (unsigned c = 0; c < kvm_bt_state.nr_vcpus; c++) {
        KvmBtVcpuExits *e = g_new0(KvmBtVcpuExits, 1);
        KvmBtVcpu *v = &kvm_bt_state.vcpus[c];

        e->cpu = c;
        e->pid_drop = qatomic_read(&v->pid_drop);
        e->total = sum(snap.exits[c], ALL);
        e->by_class = class_list(snap.exits[c]);
        e->pid_flushes = stat64_get(&v->pid_flushes);
        e->pid_flushes_full = stat64_get(&v->pid_flushes_full);
        QAPI_LIST_APPEND(vtail, e);
    }
    for (size_t i = 0; i < snap.nr_sites; i++) {
        const KvmBtSite *site = &snap.sites[i];
        KvmBtSiteInfo *e = g_new0(KvmBtSiteInfo, 1);

        e->cpu = snap.site_cpu[i];
        e->ea = site->ea;
        e->pa = site->pa;
        e->word = site->word;
        e->insn = insn_text(site);
        e->q_class = exit_type(site->cls);
        e->count = site->exits;
        if (kvm_bt_state.bt) {
            KvmBtPatchSite ps;
            uint64_t before, after;

            if (site_translation(site, &ps, &before, &after)) {
                KvmBtTranslationInfo *t = g_new0(KvmBtTranslationInfo, 1);

                t->kind = qapi_enum_parse(&KvmBtTranslationKind_lookup,
                                          kvm_bt_xlat_kind_name(ps.kind), -1, &error_abort);
                t->state = qapi_enum_parse(&KvmBtSiteState_lookup,
                                           kvm_bt_patch_state_name(ps.state), -1, &error_abort);
                t->has_reason = ps.reason != NULL;
                t->reason = g_strdup(ps.reason);
                t->exits_before = before;
                t->exits_after = after;
                t->patch = ps.patch;
                t->has_stub = ps.kind == KVM_BT_XLAT_STUB;
                t->stub = ps.stub_ea;
                e->has_translation = true;
                e->translation = t;
            }
        }
        if (site_cluster(site)) {
            e->has_cluster = true;
            e->cluster = g_new0(KvmBtClusterInfo, 1);
            e->cluster->words = site_cluster_words(site);
            e->cluster->runs = site->cluster_runs;
            e->cluster->absorbed = site->cluster_absorbed;
        }
        QAPI_LIST_APPEND(stail, e);
    }
    if (kvm_bt_state.bt) {
        info->has_translator = true;
        info->translator = translator_info(&snap);
    }
    if (kvm_bt_active() && kvm_bt_backend->host_info) {
        info->has_kvm = true;
        info->kvm = g_new0(KvmBtKvmInfo, 1);
        kvm_bt_backend->host_info(info->kvm);
    }
    snapshot_free(&snap);
    return info;
}

KvmBtInfo *qmp_query_kvm_bt(bool has_top, int64_t top, Error **errp)
{
    if (has_top && top < 0) {
        error_setg(errp, "'top' must not be negative");
        return NULL;
    }
    return kvm_bt_info(has_top ? top : DEFAULT_TOP);
}

void hmp_info_kvm_bt(Monitor *mon, const QDict *qdict)
{
    Snapshot snap;
    uint64_t priv, refl, handled;

    if (!kvm_bt_active()) {
        monitor_printf(mon, "kvm-bt is not running (-accel kvm-bt, or -accel kvm,bt=on)\n");
        return;
    }
    snapshot(&snap, DEFAULT_TOP);
    priv = sum(snap.total, PRIVILEGED);
    refl = sum(snap.total, REFLECTED);
    handled = sum(snap.total, HANDLED);
    monitor_printf(mon, "kvm-bt: bt=%s cluster=%s pv=%s exit-cost-ns=%" PRId64 "\n",
                   kvm_bt_state.bt ? "on" : "off", kvm_bt_state.cluster ? "on" : "off",
                   kvm_bt_state.pv ? "on" : "off", kvm_bt_exit_cost_ns());
    monitor_printf(mon, "exits: %" PRIu64 " (privileged %" PRIu64 ", reflected %" PRIu64
                   ", handled by the monitor %" PRIu64 ")\n",
                   priv + refl + handled, priv, refl, handled);
    for (int k = 0; k < KVM_BT_EXIT__COUNT; k++) {
        if (snap.total[k]) {
            monitor_printf(mon, "  %-16s %12" PRIu64 "\n", kvm_bt_exit_class_name(k),
                           snap.total[k]);
        }
    }
    if (kvm_bt_state.bt) {
        KvmBtSummary sum;

        kvm_bt_backend->summary(&sum);
        monitor_printf(mon, "translator: %zu translated, %zu refused, %zu dropped, %zu undone; "
                       "TC %u/%u slots at 0x%08" PRIx32 " (pa 0x%" PRIx64 ")%s; "
                       "hot-threshold %" PRIu64 "; %" PRIu64 " translations made, %" PRIu64
                       " refused for churn, %" PRIu64 " stubs lost\n",
                       sum.translated, sum.refused, sum.dropped, sum.undone,
                       sum.tc_live + sum.tc_retired, sum.tc_total, sum.tc_ea, sum.tc_pa,
                       sum.page_blocked ? "; blocked: the guest maps 0xFFFFF000" : "",
                       kvm_bt_state.hot_threshold, sum.translations, sum.churn_refused,
                       sum.stubs_lost);
        monitor_printf(mon, "exit clusters: %" PRIu64 " exits took along %" PRIu64
                       " privileged instructions\n", snap.cluster_runs, snap.absorbed);
    }
    if (kvm_bt_backend->host_info) {
        g_autoptr(KvmBtKvmInfo) k = g_new0(KvmBtKvmInfo, 1);

        kvm_bt_backend->host_info(k);
        monitor_printf(mon, "real KVM: sampling %s, %" PRIu64 " samples (%" PRIu64 " lost), "
                       "shared page mapped on %" PRId64 " vCPUs; privileged exits above are "
                       "sampled\n", k->sampling ? "on" : "off", k->samples, k->samples_lost,
                       k->pages_mapped);
        for (KvmBtExitCountList *l = k->kvm_counters; l; l = l->next) {
            monitor_printf(mon, "  %-22s %12" PRId64 "\n", l->value->q_class, l->value->count);
        }
    }
    monitor_printf(mon, "top sites:\n%4s %10s %10s %-20s %12s  %s\n",
                   "cpu", "ea", "pa", "instruction", "exits", "translation");
    for (size_t i = 0; i < snap.nr_sites; i++) {
        g_autofree char *text = insn_text(&snap.sites[i]);
        g_autofree char *xl = NULL;
        KvmBtPatchSite ps;
        uint64_t before, after;

        if (kvm_bt_state.bt && site_translation(&snap.sites[i], &ps, &before, &after)) {
            xl = g_strdup_printf("%s %s (%" PRIu64 " exits after)",
                                 kvm_bt_xlat_kind_name(ps.kind),
                                 kvm_bt_patch_state_name(ps.state), after);
        }
        if (site_cluster(&snap.sites[i])) {
            g_autofree char *prev = xl;

            xl = g_strdup_printf("%s%scluster of %u (%" PRIu64 " absorbed)", prev ? prev : "",
                                 prev ? ", " : "", site_cluster_words(&snap.sites[i]),
                                 snap.sites[i].cluster_absorbed);
        }
        monitor_printf(mon, "%4u 0x%08" PRIx32 " 0x%08" PRIx64 " %-20s %12" PRIu64 "  %s\n",
                       snap.site_cpu[i], snap.sites[i].ea, snap.sites[i].pa, text,
                       snap.sites[i].exits, xl ? xl : "-");
    }
    snapshot_free(&snap);
}

/*
 * @obj as JSON, its top-level lists one element a line: a site a line keeps
 * the file readable, diffable, and short-lined for the nested KVM host's
 * runner, which relays it line by line (guests/kvm-host/runner.c).
 */
static void json_by_lines(GString *out, QDict *obj)
{
    const QDictEntry *e;
    bool first = true;

    g_string_append(out, "{");
    for (e = qdict_first(obj); e; e = qdict_next(obj, e)) {
        QObject *val = qdict_entry_value(e);
        QString *name = qstring_from_str(qdict_entry_key(e));
        g_autoptr(GString) key = qobject_to_json(QOBJECT(name));

        qobject_unref(name);

        g_string_append_printf(out, "%s\n  %s: ", first ? "" : ",", key->str);
        first = false;
        if (qobject_type(val) == QTYPE_QLIST) {
            const QListEntry *le;
            bool first_el = true;

            g_string_append(out, "[");
            QLIST_FOREACH_ENTRY(qobject_to(QList, val), le) {
                g_autoptr(GString) el = qobject_to_json(qlist_entry_obj(le));

                g_string_append_printf(out, "%s\n    %s", first_el ? "" : ",", el->str);
                first_el = false;
            }
            g_string_append(out, first_el ? "]" : "\n  ]");
        } else {
            g_autoptr(GString) v = qobject_to_json(val);

            g_string_append(out, v->str);
        }
    }
    g_string_append(out, "\n}\n");
}

/*
 * The stats file: what query-kvm-bt returns, with every site of every vCPU,
 * rendered from the same QAPI types by QEMU's QObject output visitor
 * (docs/kvm-bt.rst).
 */
void kvm_bt_stats_write_file(void)
{
    FILE *f = kvm_bt_state.stats_file;
    g_autoptr(KvmBtInfo) info = NULL;
    g_autoptr(GString) out = g_string_new("");
    QObject *obj = NULL;
    Visitor *v;

    if (!f) {
        return;
    }
    info = kvm_bt_info(-1);
    v = qobject_output_visitor_new(&obj);
    visit_type_KvmBtInfo(v, NULL, &info, &error_abort);
    visit_complete(v, &obj);
    visit_free(v);
    json_by_lines(out, qobject_to(QDict, obj));
    qobject_unref(obj);

    if (fwrite(out->str, 1, out->len, f) != out->len || fclose(f) != 0) {
        error_report("kvm-bt: writing stats-file '%s' failed: %s",
                     kvm_bt_state.stats_path, strerror(errno));
    }
    kvm_bt_state.stats_file = NULL;
}
