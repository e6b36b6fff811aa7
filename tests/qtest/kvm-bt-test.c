/*
 * QTest for the kvm-bt accelerator: option errors, query-kvm-bt for a
 * bare-metal loop written into guest RAM before the vCPU starts, and the
 * refusal of migration and snapshots.
 *
 * The guest program is a dozen hand-encoded e500 words: it waits for a
 * "go" word, runs N iterations of mfmsr + mtspr SPRG0 (two privileged
 * instructions, each an exit under trap-and-emulate), reads SPRG0 back,
 * stores what it saw and raises a done flag. Its exits are exact: no
 * interrupt is enabled, nothing else traps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "libqtest.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"
#include "qapi/qmp/qstring.h"

#define CODE_PA     0x1000
#define DONE_PA     0x2000      /* 1 when the loop has finished */
#define MSR_SEEN_PA 0x2004      /* what mfmsr returned */
#define SPRG0_PA    0x2008      /* SPRG0 read back after the loop */
#define GO_PA       0x200c      /* the program spins until this is non-zero */
#define LOOPS       3000

static const uint32_t program[] = {
    0x8100200c,             /* 0x1000: lwz   r8,GO(0)                   */
    0x2c080000,             /*         cmpwi r8,0                       */
    0x4182fff8,             /*         beq   0x1000                     */
    0x38800000 | LOOPS,     /*         li    r4,LOOPS                   */
    0x7c8903a6,             /*         mtctr r4                         */
    0x7ca000a6,             /* loop:   mfmsr r5             privileged  */
    0x7cb043a6,             /*         mtspr SPRG0,r5       privileged  */
    0x4200fff8,             /*         bdnz  loop                       */
    0x7cf042a6,             /*         mfspr r7,SPRG0       privileged  */
    0x90a02004,             /*         stw   r5,MSR_SEEN(0)             */
    0x90e02008,             /*         stw   r7,SPRG0(0)                */
    0x38c00001,             /*         li    r6,1                       */
    0x90c02000,             /*         stw   r6,DONE(0)                 */
    0x48000000,             /*         b     .                          */
};

static char *tmpdir;
static const char *qemu_bin;    /* $QTEST_QEMU_BINARY */
static char *stub_elf;      /* -kernel: the board wants an ELF to boot */

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, v >> 16);
    put_be16(p + 2, v);
}

/*
 * A one-segment ELF32 big-endian PowerPC executable whose only word, at
 * CODE_PA, is "b .": the board loads it and points the boot CPU there;
 * the test then writes the real program over it before starting the vCPU.
 */
static char *write_stub_elf(void)
{
    uint8_t elf[0x84] = { 0x7f, 'E', 'L', 'F', 1 /* 32-bit */, 2 /* BE */, 1 };
    uint8_t *ph = elf + 52;
    char *path = g_build_filename(tmpdir, "stub.elf", NULL);

    put_be16(elf + 16, 2);              /* e_type: ET_EXEC */
    put_be16(elf + 18, 20);             /* e_machine: EM_PPC */
    put_be32(elf + 20, 1);              /* e_version */
    put_be32(elf + 24, CODE_PA);        /* e_entry */
    put_be32(elf + 28, 52);             /* e_phoff */
    put_be16(elf + 40, 52);             /* e_ehsize */
    put_be16(elf + 42, 32);             /* e_phentsize */
    put_be16(elf + 44, 1);              /* e_phnum */
    put_be32(ph + 0, 1);                /* p_type: PT_LOAD */
    put_be32(ph + 4, 0x80);             /* p_offset */
    put_be32(ph + 8, CODE_PA);          /* p_vaddr */
    put_be32(ph + 12, CODE_PA);         /* p_paddr */
    put_be32(ph + 16, 4);               /* p_filesz */
    put_be32(ph + 20, 4);               /* p_memsz */
    put_be32(ph + 24, 5);               /* p_flags: R X */
    put_be32(ph + 28, 4);               /* p_align */
    put_be32(elf + 0x80, 0x48000000);   /* b . */
    g_assert_true(g_file_set_contents(path, (char *)elf, sizeof(elf), NULL));
    return path;
}

static QTestState *start(const char *accel)
{
    QTestState *qts = qtest_initf("-S -M ppce500 -cpu e500mc -m 64 -nodefaults "
                                  "-kernel %s -accel %s", stub_elf, accel);

    for (size_t i = 0; i < ARRAY_SIZE(program); i++) {
        qtest_writel(qts, CODE_PA + 4 * i, program[i]);
    }
    qtest_writel(qts, DONE_PA, 0);
    qtest_writel(qts, GO_PA, 0);
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    return qts;
}

static void wait_done(QTestState *qts)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    while (qtest_readl(qts, DONE_PA) != 1) {
        /* a hang is a failure, reported as one */
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
}

static QDict *query(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-kvm-bt', 'arguments': { 'top': 50 } }");
    QDict *ret;

    g_assert(qdict_haskey(resp, "return"));
    ret = qdict_get_qdict(resp, "return");
    qobject_ref(ret);
    qobject_unref(resp);
    return ret;
}

/* The count of exit class @cls in @info's "by-class" list (0 if absent). */
static int64_t class_count(QDict *info, const char *cls)
{
    QList *list = qdict_get_qlist(info, "by-class");
    QListEntry *e;

    g_assert(list);
    QLIST_FOREACH_ENTRY(list, e) {
        QDict *c = qobject_to(QDict, qlist_entry_obj(e));

        if (g_str_equal(qdict_get_str(c, "class"), cls)) {
            return qdict_get_int(c, "count");
        }
    }
    return 0;
}

static int64_t class_sum(QDict *info)
{
    QList *list = qdict_get_qlist(info, "by-class");
    QListEntry *e;
    int64_t sum = 0;

    QLIST_FOREACH_ENTRY(list, e) {
        sum += qdict_get_int(qobject_to(QDict, qlist_entry_obj(e)), "count");
    }
    return sum;
}

static uint32_t tcg_msr;     /* what the program saw under -accel tcg */

/* What every mode must agree on: the program saw tcg's MSR, in SPRG0 too. */
static void check_result(QTestState *qts)
{
    uint32_t msr = qtest_readl(qts, MSR_SEEN_PA);

    g_assert_cmphex(qtest_readl(qts, SPRG0_PA), ==, msr);
    g_assert_cmphex(msr, ==, tcg_msr);
}

/* The reference run; the other tests compare with it. */
static void test_tcg_reference(void)
{
    QTestState *qts = start("tcg");
    QDict *info;

    qtest_writel(qts, GO_PA, 1);
    wait_done(qts);
    tcg_msr = qtest_readl(qts, MSR_SEEN_PA);
    g_assert_cmphex(qtest_readl(qts, SPRG0_PA), ==, tcg_msr);
    g_assert_cmphex(tcg_msr & 0x4000, ==, 0);     /* supervisor: PR clear */
    info = query(qts);
    g_assert_false(qdict_get_bool(info, "enabled"));
    g_assert_cmpint(qdict_get_int(info, "total"), ==, 0);
    g_assert_false(qdict_haskey(info, "translator"));
    qobject_unref(info);
    qtest_quit(qts);
}

static void test_trap_counts(void)
{
    QTestState *qts = start("kvm-bt,bt=off");
    QDict *info;

    qtest_writel(qts, GO_PA, 1);
    wait_done(qts);
    check_result(qts);
    info = query(qts);
    g_assert_true(qdict_get_bool(info, "enabled"));
    g_assert_false(qdict_get_bool(info, "bt"));
    g_assert_false(qdict_get_bool(info, "pv"));
    /* every privileged instruction exited, nothing else did */
    g_assert_cmpint(class_count(info, "mfmsr"), ==, LOOPS);
    g_assert_cmpint(class_count(info, "mtspr"), ==, LOOPS);
    g_assert_cmpint(class_count(info, "mfspr"), ==, 1);
    g_assert_cmpint(qdict_get_int(info, "privileged"), ==, 2 * LOOPS + 1);
    g_assert_cmpint(qdict_get_int(info, "total"), ==, class_sum(info));
    g_assert_false(qdict_haskey(info, "translator"));
    qobject_unref(info);
    qtest_quit(qts);
}

static void test_bt_counts(void)
{
    QTestState *qts = start("kvm-bt,bt=on,hot-threshold=10");
    QDict *info, *tr;

    qtest_writel(qts, GO_PA, 1);
    wait_done(qts);
    check_result(qts);
    info = query(qts);
    g_assert_true(qdict_get_bool(info, "bt"));
    /*
     * Each loop site exits until it is hot (10 exits on this vCPU), then
     * runs translated; a vCPU may leave a block made before the patch once
     * more. The single mfspr after the loop always exits.
     */
    g_assert_cmpint(class_count(info, "mfmsr"), >=, 1);
    g_assert_cmpint(class_count(info, "mfmsr") + class_count(info, "mtspr"), <=, 2 * 10 + 4);
    g_assert_cmpint(class_count(info, "mfspr"), ==, 1);
    g_assert_cmpint(qdict_get_int(info, "total"), ==, class_sum(info));
    tr = qdict_get_qdict(info, "translator");
    g_assert(tr);
    g_assert_cmpint(qdict_get_int(tr, "translated"), >=, 1);
    qobject_unref(info);
    qtest_quit(qts);
}

/* Migration and snapshots are refused with the reason; the guest runs on. */
static void check_refusals(const char *accel)
{
    QTestState *qts = start(accel);
    QDict *resp, *status;
    char *out;

    resp = qtest_qmp(qts, "{ 'execute': 'migrate', 'arguments': "
                          "{ 'uri': 'exec:cat > /dev/null' } }");
    g_assert(qdict_haskey(resp, "error"));
    g_assert(strstr(qdict_get_str(qdict_get_qdict(resp, "error"), "desc"),
                    "migration and snapshots are not supported"));
    qobject_unref(resp);

    out = qtest_hmp(qts, "savevm kvmbt");
    g_assert(strstr(out, "migration and snapshots are not supported"));
    g_free(out);
    resp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
    status = qdict_get_qdict(resp, "return");
    g_assert_true(qdict_get_bool(status, "running"));
    qobject_unref(resp);

    /*
     * loadvm is refused before it changes anything; like any failed
     * loadvm, HMP leaves the VM stopped, and "cont" goes on.
     */
    out = qtest_hmp(qts, "loadvm kvmbt");
    g_assert(strstr(out, "migration and snapshots are not supported"));
    g_free(out);
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    resp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
    status = qdict_get_qdict(resp, "return");
    g_assert_true(qdict_get_bool(status, "running"));
    qobject_unref(resp);

    /* unharmed: the program still runs to the same result */
    qtest_writel(qts, GO_PA, 1);
    wait_done(qts);
    check_result(qts);
    qtest_quit(qts);
}

static void test_refuse_trap(void)
{
    check_refusals("kvm-bt,bt=off");
}

static void test_refuse_bt(void)
{
    check_refusals("kvm-bt,bt=on,hot-threshold=1");
}

static void test_refuse_pv(void)
{
    check_refusals("kvm-bt,pv=on");
}

/*
 * Start QEMU outside libqtest (which would fall back to its own
 * accelerator if kvm-bt refused to start) and return its exit status and
 * stderr. A run that does not exit within 30 s is killed by timeout(1)
 * and fails the caller's status check.
 */
static int run_qemu(const char *accel, const char *extra, char **err)
{
    g_autofree char *cmd = g_strdup_printf(
        "timeout 30 %s -M ppce500 -cpu e500mc -display none -nodefaults -kernel %s "
        "-accel %s %s", qemu_bin, stub_elf, accel, extra);
    GError *gerr = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, NULL, err, &status, &gerr));
    g_assert_no_error(gerr);
    return status;
}

static void check_refused(const char *accel, const char *extra, const char *reason)
{
    g_autofree char *err = NULL;
    int status = run_qemu(accel, extra, &err);

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || !strstr(err, reason)) {
        g_test_message("-accel %s %s: status %d, stderr: %s", accel, extra, status, err);
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert(strstr(err, reason));
}

static void test_bad_options(void)
{
    check_refused("kvm-bt,hot-threshold=0", "", "hot-threshold must be between 1 and");
    check_refused("kvm-bt,bt=maybe", "", "'bt'");
    check_refused("kvm-bt,stats-file=", "", "stats-file must name a file");
    check_refused("kvm-bt,exit-cost-ns=5", "", "exit-cost-ns needs -icount");
    check_refused("kvm-bt,bt=off,cluster=on", "", "cluster=on needs bt=on");
    check_refused("kvm-bt", "-incoming defer", "-incoming is not supported");
    check_refused("kvm-bt", "-only-migratable", "migration and snapshots are not supported");
}

static void test_bad_board(void)
{
    g_autofree char *err = NULL;
    g_autofree char *cmd = g_strdup_printf("timeout 30 %s -M none -accel kvm-bt -display none",
                                           qemu_bin);
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, NULL, &err, &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    g_assert(strstr(err, "machine 'none' is not supported; use -M ppce500"));
}

static void test_accel_help(void)
{
    g_autofree char *out = NULL;
    g_autofree char *cmd = g_strdup_printf("%s -accel help", qemu_bin);
    g_autofree char *cmd2 = g_strdup_printf("%s -accel kvm-bt,help", qemu_bin);
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert(strstr(out, "kvm-bt"));
    g_free(out);
    out = NULL;
    g_assert_true(g_spawn_command_line_sync(cmd2, &out, NULL, &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert(strstr(out, "hot-threshold"));
    g_assert(strstr(out, "stats-file"));
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_bin = getenv("QTEST_QEMU_BINARY");
    g_assert(qemu_bin);
    tmpdir = g_dir_make_tmp("kvm-bt-test-XXXXXX", NULL);
    g_assert(tmpdir);
    stub_elf = write_stub_elf();

    qtest_add_func("kvm-bt/options/bad", test_bad_options);
    qtest_add_func("kvm-bt/options/board", test_bad_board);
    qtest_add_func("kvm-bt/options/help", test_accel_help);
    qtest_add_func("kvm-bt/query/tcg", test_tcg_reference);
    qtest_add_func("kvm-bt/query/trap", test_trap_counts);
    qtest_add_func("kvm-bt/query/bt", test_bt_counts);
    qtest_add_func("kvm-bt/migration/refused-trap", test_refuse_trap);
    qtest_add_func("kvm-bt/migration/refused-bt", test_refuse_bt);
    qtest_add_func("kvm-bt/migration/refused-pv", test_refuse_pv);
    ret = g_test_run();

    unlink(stub_elf);
    rmdir(tmpdir);
    g_free(stub_elf);
    g_free(tmpdir);
    return ret;
}
