/*
 * kvm-nested runner: the /init of the nested KVM host's initramfs.
 *
 * The host is Linux with KVM e500v2, itself running under an outer QEMU
 * (TCG). This program mounts what KVM's counters and tracepoints live in,
 * checks that the host can run KVM guests at all, then runs each inner
 * "qemu-system-ppc -accel kvm ..." listed in /runs, one after another:
 * it streams the guest's console out unchanged and reports KVM's own debugfs
 * counters for that VM, at each workload line the guest prints and once more
 * after the guest powered off (QEMU is paused then, so the VM still exists:
 * KVM's debugfs sums only live VMs). Finally it powers the host off.
 *
 * Everything it says itself is one line starting with "KVMNEST-"; the
 * outer side (tests/guest/nestedlib.py) parses those. Around each inner run
 * it executes "xori r1,r1,0", a no-op that the outer QEMU's phase-insns
 * plugin records with its executed-instruction count.
 *
 * /runs holds blocks of lines:
 *     run NAME
 *     timeout SECONDS
 *     arg ARGUMENT          (one per QEMU argument, in order)
 *     end
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INNER_QEMU      "/qemu-system-ppc"
#define RUNS_FILE       "/runs"
#define KVM_DEBUGFS     "/sys/kernel/debug/kvm"
#define KVM_TRACEPOINT  "/sys/kernel/tracing/events/kvm/kvm_ppc_instr/id"
#define MAX_ARGS        128
#define MAX_LINE        4096

struct run {
    char name[64];
    int timeout_s;
    char dump[256];             /* a file the inner QEMU writes: printed after it exits */
    int nqmp;
    char *qmp[8];
    int uid;                    /* run the inner QEMU as this user (0: root) */
    bool no_tracefs;            /* ... and without tracefs in its view */               /* QMP commands sent after power-off, answers printed */
    int argc;
    char *argv[MAX_ARGS];
};

/* The outer QEMU's phase-insns plugin logs the instruction count here. */
static inline void insn_marker(void)
{
    asm volatile("xori 1,1,0");
}

static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void power_off(void)
{
    sync();
    reboot(RB_POWER_OFF);
    say("KVMNEST-ERROR what=poweroff detail=\"reboot(RB_POWER_OFF): %s\"", strerror(errno));
    for (;;) {
        pause();
    }
}

/* One clear line, then the host goes down: the outer side fails the run. */
static void fatal(const char *what, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    say("KVMNEST-ERROR what=%s detail=\"%s\"", what, detail);
    power_off();
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
    mkdir(dir, 0755);
    if (mount(src, dir, type, 0, NULL) < 0 && errno != EBUSY) {
        say("KVMNEST-WARN mount %s on %s: %s", type, dir, strerror(errno));
    }
}

static void check_host(void)
{
    struct utsname u;
    int fd;

    uname(&u);
    say("KVMNEST-HOST release=%s machine=%s", u.release, u.machine);
    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fatal("no-kvm", "/dev/kvm: %s: the host kernel has no KVM (CONFIG_KVM_E500V2)",
              strerror(errno));
    }
    close(fd);
    if (access(KVM_DEBUGFS, R_OK) < 0) {
        fatal("no-kvm-debugfs", "%s: %s: KVM's counters need CONFIG_DEBUG_FS",
              KVM_DEBUGFS, strerror(errno));
    }
    if (access(KVM_TRACEPOINT, R_OK) < 0) {
        fatal("no-tracepoint", "%s: %s: the host kernel has no kvm_ppc_instr tracepoint "
              "(CONFIG_EVENT_TRACING)", KVM_TRACEPOINT, strerror(errno));
    }
    if (access(INNER_QEMU, X_OK) < 0) {
        fatal("no-inner-qemu", "%s: %s", INNER_QEMU, strerror(errno));
    }
}

static int read_runs(struct run *runs, int max)
{
    FILE *f = fopen(RUNS_FILE, "r");
    char line[MAX_LINE];
    int n = 0;
    struct run *cur = NULL;

    if (!f) {
        fatal("no-runs", "%s: %s", RUNS_FILE, strerror(errno));
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "run ", 4) == 0) {
            if (n == max) {
                fatal("bad-runs", "more than %d runs", max);
            }
            cur = &runs[n++];
            memset(cur, 0, sizeof(*cur));
            snprintf(cur->name, sizeof(cur->name), "%.63s", line + 4);
            cur->timeout_s = 600;
            cur->argv[cur->argc++] = INNER_QEMU;
        } else if (cur && strncmp(line, "timeout ", 8) == 0) {
            cur->timeout_s = atoi(line + 8);
        } else if (cur && strcmp(line, "no-tracefs") == 0) {
            cur->no_tracefs = true;
        } else if (cur && strncmp(line, "user ", 5) == 0) {
            cur->uid = atoi(line + 5);
        } else if (cur && strncmp(line, "qmp ", 4) == 0) {
            if (cur->nqmp == 8) {
                fatal("bad-runs", "run %s: too many qmp lines", cur->name);
            }
            cur->qmp[cur->nqmp++] = strdup(line + 4);
        } else if (cur && strncmp(line, "dump ", 5) == 0) {
            snprintf(cur->dump, sizeof(cur->dump), "%.255s", line + 5);
        } else if (cur && strncmp(line, "arg ", 4) == 0) {
            if (cur->argc >= MAX_ARGS - 8) {
                fatal("bad-runs", "run %s: too many arguments", cur->name);
            }
            cur->argv[cur->argc++] = strdup(line + 4);
        } else if (cur && strcmp(line, "end") == 0) {
            cur = NULL;
        } else if (line[0]) {
            fatal("bad-runs", "unexpected line '%s'", line);
        }
    }
    fclose(f);
    return n;
}

/* KVM's debugfs folder of the VM that process @pid created ("PID-FD"). */
static bool find_vm_dir(pid_t pid, char *path, size_t len)
{
    DIR *d = opendir(KVM_DEBUGFS);
    struct dirent *e;
    char prefix[32];
    bool found = false;

    if (!d) {
        return false;
    }
    snprintf(prefix, sizeof(prefix), "%d-", (int)pid);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(path, len, "%s/%.200s", KVM_DEBUGFS, e->d_name);
            found = true;
            break;
        }
    }
    closedir(d);
    return found;
}

/* Every counter file of the VM (sums over its vCPUs) as " name=value". */
static void read_counters(const char *vmdir, char *out, size_t len)
{
    DIR *d = opendir(vmdir);
    struct dirent *e;
    size_t used = 0;

    out[0] = 0;
    if (!d) {
        return;
    }
    while ((e = readdir(d)) && used + 64 < len) {
        char path[600], buf[64];
        unsigned long long v;
        char *end;
        ssize_t n;
        int fd;

        if (e->d_name[0] == '.' || e->d_type == DT_DIR) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", vmdir, e->d_name);
        fd = open(path, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0) {
            continue;
        }
        buf[n] = 0;
        v = strtoull(buf, &end, 10);
        if (end == buf || (*end && *end != '\n')) {
            continue;
        }
        used += snprintf(out + used, len - used, " %s=%llu", e->d_name, v);
    }
    closedir(d);
}

/*
 * QMP over a pair of FIFOs (QEMU's "pipe" chardev reads PATH.in and writes
 * PATH.out): the host kernel needs no networking for it. Both ends are
 * opened read-write, so neither open blocks and neither side sees a hangup.
 */
static void qmp_open(const char *path, int *to_qemu, int *from_qemu)
{
    char in[128], out[128];

    snprintf(in, sizeof(in), "%.100s.in", path);
    snprintf(out, sizeof(out), "%.100s.out", path);
    unlink(in);
    unlink(out);
    if (mkfifo(in, 0600) < 0 || mkfifo(out, 0600) < 0) {
        fatal("mkfifo", "%s: %s", path, strerror(errno));
    }
    *to_qemu = open(in, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    *from_qemu = open(out, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (*to_qemu < 0 || *from_qemu < 0) {
        fatal("fifo", "%s: %s", path, strerror(errno));
    }
}

static void qmp_send(int fd, const char *cmd)
{
    size_t len = strlen(cmd);

    if (fd >= 0 && write(fd, cmd, len) != (ssize_t)len) {
        say("KVMNEST-WARN qmp write: %s", strerror(errno));
    }
}

/* Send @cmd and print its answer (events in between are skipped). */
static void qmp_ask(const struct run *r, int k, int to_qemu, int from_qemu)
{
    static char acc[65536];
    size_t len = 0;
    uint64_t deadline = 0;

    qmp_send(to_qemu, r->qmp[k]);
    qmp_send(to_qemu, "\n");
    for (;;) {
        struct pollfd p = { from_qemu, POLLIN, 0 };
        char *nl;
        ssize_t n;

        if (!deadline) {
            deadline = now_ns() + 10000000000ull;
        }
        if (now_ns() > deadline || poll(&p, 1, 1000) < 0) {
            say("KVMNEST-ERROR run=%s what=qmp detail=\"no answer to qmp line %d\"", r->name, k);
            return;
        }
        n = read(from_qemu, acc + len, sizeof(acc) - 1 - len);
        if (n > 0) {
            len += n;
        }
        acc[len] = 0;
        while ((nl = strchr(acc, '\n'))) {
            *nl = 0;
            if (strstr(acc, "\"return\"") || strstr(acc, "\"error\"")) {
                acc[strcspn(acc, "\r")] = 0;
                say("KVMNEST-QMP run=%s i=%d %s", r->name, k, acc);
                return;
            }
            len -= nl + 1 - acc;
            memmove(acc, nl + 1, len + 1);
        }
        if (len == sizeof(acc) - 1) {
            len = 0;            /* an overlong event: drop it */
        }
    }
}

struct console {
    char line[MAX_LINE];
    size_t len;
    int workload_lines;
};

/* Forward guest console bytes; after each complete workload line, snapshot. */
static void console_feed(struct console *c, const char *buf, size_t n, const struct run *r,
                         const char *vmdir)
{
    static char counters[8192];
    size_t done = 0;

    for (size_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            if (c->len < sizeof(c->line) - 1) {
                c->line[c->len++] = buf[i];
            }
            continue;
        }
        /* the line goes out whole before anything of ours follows it */
        fwrite(buf + done, 1, i + 1 - done, stdout);
        fflush(stdout);
        done = i + 1;
        c->line[c->len] = 0;
        if (strncmp(c->line, "KVMBT-", 6) == 0 && vmdir[0]) {
            read_counters(vmdir, counters, sizeof(counters));
            c->workload_lines++;
            say("KVMNEST-SNAP run=%s line=%d t_ns=%llu%s", r->name, c->workload_lines,
                (unsigned long long)now_ns(), counters);
        }
        c->len = 0;
    }
    fwrite(buf + done, 1, n - done, stdout);
    fflush(stdout);
}

/* Run one inner QEMU to the guest's power-off; false if it failed. */
/* The file the run named (e.g. kvm-bt's stats file), one line per line. */
static void dump_file(const struct run *r)
{
    FILE *f = fopen(r->dump, "r");
    char line[MAX_LINE];

    if (!f) {
        say("KVMNEST-ERROR run=%s what=no-dump detail=\"%s: %s\"", r->name, r->dump,
            strerror(errno));
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        say("KVMNEST-DUMP run=%s %s", r->name, line);
    }
    fclose(f);
    unlink(r->dump);
}

static bool run_one(struct run *r)
{
    char qmp_path[96], chardev[160], vmdir[256] = "", buf[4096];
    static char counters[8192];
    struct console con = { .len = 0 };
    int out[2], to_qemu, from_qemu, status;
    bool negotiated = false, shutdown = false, stopped = false, ok = false;
    uint64_t start, deadline;
    pid_t pid;

    snprintf(qmp_path, sizeof(qmp_path), "/tmp/qmp-%s", r->name);
    snprintf(chardev, sizeof(chardev), "pipe,id=kvmnest-qmp,path=%s", qmp_path);
    qmp_open(qmp_path, &to_qemu, &from_qemu);
    if (r->uid) {
        /* an unprivileged user may use KVM and its monitor, nothing more */
        char fifo[128];

        chmod("/dev/kvm", 0666);
        snprintf(fifo, sizeof(fifo), "%s.in", qmp_path);
        chmod(fifo, 0666);
        snprintf(fifo, sizeof(fifo), "%s.out", qmp_path);
        chmod(fifo, 0666);
    }
    r->argv[r->argc++] = "-chardev";
    r->argv[r->argc++] = chardev;
    r->argv[r->argc++] = "-mon";
    r->argv[r->argc++] = "chardev=kvmnest-qmp,mode=control";
    /* Paused, not gone, after power-off: its VM's counters stay readable. */
    r->argv[r->argc++] = "-action";
    r->argv[r->argc++] = "shutdown=pause";
    /*
     * Start stopped: QMP drops events until capabilities are negotiated, so
     * the guest runs ("cont") only once they are, or a VM that stops at
     * once would go unnoticed until the timeout.
     */
    r->argv[r->argc++] = "-S";
    r->argv[r->argc] = NULL;
    /* read by QEMU once its monitor is up */
    qmp_send(to_qemu, "{\"execute\":\"qmp_capabilities\"}\n");

    if (pipe2(out, O_CLOEXEC) < 0) {
        fatal("pipe", "%s", strerror(errno));
    }
    start = now_ns();
    say("KVMNEST-RUN run=%s timeout_s=%d t_ns=%llu", r->name, r->timeout_s,
        (unsigned long long)start);
    insn_marker();
    pid = fork();
    if (pid < 0) {
        fatal("fork", "%s", strerror(errno));
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);

        dup2(null, 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        /* a host without tracefs, as this inner QEMU sees it: its own mount namespace */
        /* (debugfs goes too: its "tracing" folder mounts tracefs again on access) */
        if (r->no_tracefs &&
            (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
             umount2("/sys/kernel/tracing", MNT_DETACH) < 0 ||
             umount2("/sys/kernel/debug", MNT_DETACH) < 0)) {
            dprintf(2, "no-tracefs: %s\n", strerror(errno));
            _exit(127);
        }
        if (r->uid && (setgid(r->uid) < 0 || setuid(r->uid) < 0)) {
            dprintf(2, "setuid %d: %s\n", r->uid, strerror(errno));
            _exit(127);
        }
        execv(INNER_QEMU, r->argv);
        dprintf(2, "exec %s: %s\n", INNER_QEMU, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    deadline = start + (uint64_t)r->timeout_s * 1000000000ull;

    for (;;) {
        struct pollfd p[2] = { { out[0], POLLIN, 0 }, { from_qemu, POLLIN, 0 } };

        if (!vmdir[0]) {
            find_vm_dir(pid, vmdir, sizeof(vmdir));
        }
        if (now_ns() > deadline) {
            say("KVMNEST-ERROR run=%s what=timeout detail=\"no power-off within %d s\"",
                r->name, r->timeout_s);
            kill(pid, SIGKILL);
            break;
        }
        if (poll(p, 2, vmdir[0] ? 200 : 10) < 0 && errno != EINTR) {
            fatal("poll", "%s", strerror(errno));
        }
        if (p[0].revents) {
            ssize_t n = read(out[0], buf, sizeof(buf));

            if (n <= 0) {
                break;          /* QEMU closed its output: it is gone */
            }
            console_feed(&con, buf, n, r, vmdir);
        }
        if (p[1].revents & POLLIN) {
            ssize_t n = read(from_qemu, buf, sizeof(buf) - 1);

            if (n <= 0) {
                continue;
            }
            buf[n] = 0;
            if (!negotiated && strstr(buf, "\"return\"")) {
                negotiated = true;
                qmp_send(to_qemu, "{\"execute\":\"cont\"}\n");
            }
            /* our own quit after a stop also raises SHUTDOWN: not a power-off */
            if (!shutdown && !stopped && strstr(buf, "\"SHUTDOWN\"")) {
                shutdown = true;
                if (!vmdir[0] && !find_vm_dir(pid, vmdir, sizeof(vmdir))) {
                    say("KVMNEST-ERROR run=%s what=no-vm detail=\"no %s/%d-* for the inner "
                        "QEMU\"", r->name, KVM_DEBUGFS, (int)pid);
                } else {
                    read_counters(vmdir, counters, sizeof(counters));
                    say("KVMNEST-KVM run=%s%s", r->name, counters);
                }
                insn_marker();
                say("KVMNEST-MARK run=%s at=end t_ns=%llu", r->name,
                    (unsigned long long)(now_ns() - start));
                for (int k = 0; k < r->nqmp; k++) {
                    qmp_ask(r, k, to_qemu, from_qemu);
                }
                qmp_send(to_qemu, "{\"execute\":\"quit\"}\n");
            } else if (!shutdown && !stopped && strstr(buf, "\"STOP\"")) {
                /* e.g. an instruction KVM cannot emulate: QEMU stops the VM */
                stopped = true;
                say("KVMNEST-ERROR run=%s what=vm-stopped detail=\"the VM stopped before the "
                    "guest powered off (see QEMU's message above)\"", r->name);
                qmp_send(to_qemu, "{\"execute\":\"quit\"}\n");
            }
        }
    }
    if (con.len) {
        console_feed(&con, "\n", 1, r, "");
    }
    close(out[0]);
    close(to_qemu);
    close(from_qemu);
    waitpid(pid, &status, 0);
    if (stopped) {
        ok = false;             /* already reported as vm-stopped */
    } else if (!shutdown) {
        say("KVMNEST-ERROR run=%s what=inner-qemu detail=\"inner QEMU %s %d before the guest "
            "powered off\"", r->name, WIFEXITED(status) ? "exited with status" :
            "was killed by signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    } else {
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok) {
            say("KVMNEST-ERROR run=%s what=inner-qemu detail=\"inner QEMU did not quit "
                "cleanly (status 0x%x)\"", r->name, status);
        }
    }
    if (r->dump[0]) {
        dump_file(r);
    }
    say("KVMNEST-EXIT run=%s ok=%d", r->name, ok);
    return ok;
}

int main(void)
{
    static struct run runs[64];
    int n, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    mount_fs("proc", "/proc", "proc");
    mount_fs("sysfs", "/sys", "sysfs");
    mount_fs("devtmpfs", "/dev", "devtmpfs");
    mount_fs("debugfs", "/sys/kernel/debug", "debugfs");
    mount_fs("tracefs", "/sys/kernel/tracing", "tracefs");
    mkdir("/tmp", 01777);
    check_host();
    n = read_runs(runs, sizeof(runs) / sizeof(runs[0]));
    for (int i = 0; i < n; i++) {
        failed += !run_one(&runs[i]);
    }
    say("KVMNEST-ALLDONE runs=%d failed=%d", n, failed);
    power_off();
    return 0;
}
