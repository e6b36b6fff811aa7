/*
 * kvm-bt guest workload: the /init of the test initramfs.
 *
 * Prints a boot marker with the guest's uptime, runs lmbench-style
 * microbenchmarks (null syscall, fork+exit, fork+exec, page faults on fresh
 * memory, pipe round trip, context switch), one machine-readable line each,
 * then powers the machine off.
 *
 * Output lines are "KVMBT-<WHAT> key=value ...". Fields whose name ends in
 * "_ns" are timings; everything else is deterministic, so two runs on
 * different accelerators must print the same lines once timings are removed.
 *
 * Repetition counts come from the kernel command line: wl.<name>=N (e.g.
 * wl.null=100000); 0 skips that benchmark. Before each phase the program executes "xori r0,r0,0", a
 * no-op the privcount TCG plugin uses as a phase marker. wl.settle_ms=N makes it drain
 * the console and sleep N ms after each line, so that an observer outside the
 * guest (the nested KVM rig) can read counters at a quiet line boundary.
 *
 * Run as "/init --exit" it exits at once: the fork+exec benchmark's child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <termios.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct bench {
    const char *name;
    long iters;             /* default repetition count */
    uint64_t (*run)(long iters, uint64_t *check);
};

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void phase_marker(void)
{
#if defined(__powerpc__)
    asm volatile("xori 0,0,0" ::: "r0");
#endif
}

static void fail(const char *what)
{
    printf("KVMBT-ERROR what=%s errno=%d\n", what, errno);
    fflush(stdout);
    _exit(1);
}

static uint64_t bench_null(long iters, uint64_t *check)
{
    uint64_t sum = 0;

    for (long i = 0; i < iters; i++) {
        sum += syscall(SYS_getppid);
    }
    *check = sum / (iters ? iters : 1);     /* our parent: pid 0 for init */
    return 0;
}

static void wait_child(pid_t pid, uint64_t *check)
{
    int status;

    if (waitpid(pid, &status, 0) != pid) {
        fail("waitpid");
    }
    *check += WIFEXITED(status) ? WEXITSTATUS(status) : 1000;
}

static uint64_t bench_fork(long iters, uint64_t *check)
{
    for (long i = 0; i < iters; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fail("fork");
        } else if (pid == 0) {
            _exit(7);
        }
        wait_child(pid, check);
    }
    return 0;
}

static const char *self_path = "/init";

static uint64_t bench_exec(long iters, uint64_t *check)
{
    for (long i = 0; i < iters; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fail("fork");
        } else if (pid == 0) {
            char *argv[] = { (char *)self_path, (char *)"--exit", NULL };
            char *envp[] = { NULL };
            execve(self_path, argv, envp);
            _exit(127);
        }
        wait_child(pid, check);
    }
    return 0;
}

/* Touch every page of a fresh anonymous mapping: one page fault each. */
static uint64_t bench_pagefault(long iters, uint64_t *check)
{
    const long page = sysconf(_SC_PAGESIZE);
    const size_t len = (size_t)iters * page;
    volatile char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (mem == MAP_FAILED) {
        fail("mmap");
    }
    for (long i = 0; i < iters; i++) {
        mem[i * page] = (char)i;
    }
    for (long i = 0; i < iters; i++) {
        *check += (unsigned char)mem[i * page];
    }
    munmap((void *)mem, len);
    return 0;
}

static void xfer(int rfd, int wfd, char *c)
{
    if (read(rfd, c, 1) != 1) {
        fail("read");
    }
    (*c)++;
    if (write(wfd, c, 1) != 1) {
        fail("write");
    }
}

/*
 * A ring of nproc processes passing one byte through pipes, each adding one.
 * With nproc == 2 this is the pipe round trip; with more, each hop is a
 * context switch between distinct processes.
 */
static uint64_t token_ring(int nproc, long rounds, uint64_t *check)
{
    int fds[8][2];
    pid_t pids[8];
    char c = 0;

    for (int i = 0; i < nproc; i++) {
        if (pipe(fds[i]) < 0) {
            fail("pipe");
        }
    }
    for (int i = 1; i < nproc; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            fail("fork");
        } else if (pids[i] == 0) {
            for (long r = 0; r < rounds; r++) {
                xfer(fds[i - 1][0], fds[i][1], &c);
            }
            _exit(0);
        }
    }
    for (long r = 0; r < rounds; r++) {
        if (write(fds[0][1], &c, 1) != 1) {
            fail("write");
        }
        if (read(fds[nproc - 1][0], &c, 1) != 1) {
            fail("read");
        }
        *check += (unsigned char)c;
    }
    for (int i = 1; i < nproc; i++) {
        wait_child(pids[i], check);
    }
    for (int i = 0; i < nproc; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    return (uint64_t)rounds * nproc;    /* hops */
}

static uint64_t bench_pipe(long iters, uint64_t *check)
{
    token_ring(2, iters, check);
    return 0;
}

static uint64_t bench_ctxsw(long iters, uint64_t *check)
{
    return token_ring(4, iters, check);
}

static struct bench benches[] = {
    { "null",      100000, bench_null },
    { "fork",         200, bench_fork },
    { "exec",         200, bench_exec },
    { "pagefault",   5120, bench_pagefault },   /* 20 MiB of 4 KiB pages */
    { "pipe",       10000, bench_pipe },
    { "ctxsw",       2500, bench_ctxsw },
};

static long settle_ms;

/* After a line: let an outside observer see it before the next phase starts. */
static void settle(void)
{
    struct timespec ts = { settle_ms / 1000, (settle_ms % 1000) * 1000000 };

    if (settle_ms > 0) {
        fflush(stdout);
        tcdrain(STDOUT_FILENO);
        nanosleep(&ts, NULL);
    }
}

/* wl.<name>=N on the kernel command line overrides a repetition count. */
static void read_cmdline(void)
{
    char buf[4096];
    int fd = open("/proc/cmdline", O_RDONLY);
    ssize_t n;

    if (fd < 0) {
        return;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = 0;
    for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
        if (strncmp(tok, "wl.", 3) != 0) {
            continue;
        }
        if (strncmp(tok, "wl.settle_ms=", 13) == 0) {
            settle_ms = strtol(tok + 13, NULL, 0);
        }
        for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
            size_t len = strlen(benches[i].name);
            if (strncmp(tok + 3, benches[i].name, len) == 0 && tok[3 + len] == '=') {
                benches[i].iters = strtol(tok + 4 + len, NULL, 0);
            }
        }
    }
}

int main(int argc, char **argv)
{
    uint64_t t0, t;

    if (argc > 1 && strcmp(argv[1], "--exit") == 0) {
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getpid() == 1) {
        mkdir("/proc", 0555);
        mount("proc", "/proc", "proc", 0, NULL);
    }
    t = now_ns(CLOCK_BOOTTIME);
    read_cmdline();
    printf("KVMBT-BOOT uptime_ns=%llu\n", (unsigned long long)t);
    settle();

    t0 = now_ns(CLOCK_MONOTONIC);
    for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
        struct bench *b = &benches[i];
        uint64_t check = 0, ops, start, ns;

        if (b->iters <= 0) {
            continue;       /* wl.<name>=0 skips a benchmark */
        }
        phase_marker();
        start = now_ns(CLOCK_MONOTONIC);
        ops = b->run(b->iters, &check);
        ns = now_ns(CLOCK_MONOTONIC) - start;
        if (!ops) {
            ops = b->iters;
        }
        printf("KVMBT-RESULT bench=%s iters=%ld ops=%llu check=%llu total_ns=%llu per_op_ns=%llu\n",
               b->name, b->iters, (unsigned long long)ops, (unsigned long long)check,
               (unsigned long long)ns, (unsigned long long)(ops ? ns / ops : 0));
        settle();
    }
    phase_marker();
    printf("KVMBT-DONE benches=%zu total_ns=%llu\n", sizeof(benches) / sizeof(benches[0]),
           (unsigned long long)(now_ns(CLOCK_MONOTONIC) - t0));
    if (getpid() != 1) {
        return 0;
    }
    /* the console's transmit buffer empties before power-off, not after */
    fflush(stdout);
    tcdrain(STDOUT_FILENO);
    sync();
    reboot(RB_POWER_OFF);
    /* Power-off did not happen: say so, then let the kernel panic on init's exit. */
    printf("KVMBT-ERROR what=poweroff errno=%d\n", errno);
    return 1;
}
