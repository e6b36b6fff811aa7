/*
 * phase-insns: a TCG plugin (QEMU 7.2 plugin API) that counts every
 * instruction the emulated machine executes and writes the running count each
 * time a phase-marker instruction executes, in any mode:
 *
 *     xori r1,r1,0  (0x68210000)  the nested runner, around each inner QEMU
 *     xori r0,r0,0  (0x68000000)  the workload, before each phase
 *
 * Under the nested KVM rig the outer machine is the KVM host, so the count
 * between two markers is what the real KVM code path cost: host kernel, KVM,
 * the inner QEMU and the guest's own instructions together.
 *
 * Usage: -plugin phase-insns.so,out=FILE (one vCPU). Each line of FILE:
 *     marker=0x68210000 pc=0x100005f0 insns=123456789
 * and a last line "total insns=N" at exit.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static const uint32_t markers[] = { 0x68210000, 0x68000000 };

static uint64_t insns;
static FILE *out;

static void on_marker(unsigned int vcpu_index, void *udata)
{
    uint64_t word_pc = (uintptr_t)udata;

    /* the marker itself has been counted: its inline add runs first */
    fprintf(out, "marker=0x%08" PRIx32 " pc=0x%08" PRIx32 " insns=%" PRIu64 "\n",
            (uint32_t)(word_pc >> 32), (uint32_t)word_pc, insns);
    fflush(out);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);

    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *b = qemu_plugin_insn_data(insn);
        uint32_t word;

        /* exact per instruction: a TB cut short by a trap counts only what ran */
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &insns, 1);
        if (qemu_plugin_insn_size(insn) != 4) {
            continue;
        }
        word = (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
        for (size_t m = 0; m < sizeof(markers) / sizeof(markers[0]); m++) {
            if (word == markers[m]) {
                uint64_t udata = (uint64_t)word << 32 | (uint32_t)qemu_plugin_insn_vaddr(insn);

                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)udata);
            }
        }
    }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *p)
{
    fprintf(out, "total insns=%" PRIu64 "\n", insns);
    fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *path = NULL;

    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        }
    }
    if (!path) {
        fprintf(stderr, "phase-insns: out=FILE is required\n");
        return -1;
    }
    if (info->system_emulation && info->system.max_vcpus > 1) {
        fprintf(stderr, "phase-insns: one vCPU only (the count is not per vCPU)\n");
        return -1;
    }
    out = fopen(path, "w");
    if (!out) {
        perror(path);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
