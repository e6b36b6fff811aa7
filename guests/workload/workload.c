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
 * wl.null=100000); 0 skips that benchmark. The lines after ctxsw (signal,
 * fileio, poll, yield, mmap) default to 0, so the default workload and every
 * count measured on it stay as they were; the neutrality matrix of
 * bench/bench.py turns them on. Before each phase the program executes "xori r0,r0,0", a
 * no-op the privcount TCG plugin uses as a phase marker. wl.settle_ms=N makes it drain
 * the console and sleep N ms after each line, so that an observer outside the
 * guest (the nested KVM rig) can read counters at a quiet line boundary.
 *
 * Run as "/init --exit" it exits at once: the fork+exec benchmark's child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
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

static volatile sig_atomic_t caught;

static void on_usr1(int sig)
{
    caught += sig == SIGUSR1;
}

/* Signal round trip: kill() to ourselves, the handler, sigreturn. */
static uint64_t bench_signal(long iters, uint64_t *check)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    pid_t self = getpid();

    if (sigaction(SIGUSR1, &sa, NULL) < 0) {
        fail("sigaction");
    }
    caught = 0;
    for (long i = 0; i < iters; i++) {
        if (kill(self, SIGUSR1) < 0) {
            fail("kill");
        }
    }
    *check = caught;
    signal(SIGUSR1, SIG_DFL);
    return 0;
}

/* 4 KiB pwrite and pread of one file on tmpfs. */
static uint64_t bench_fileio(long iters, uint64_t *check)
{
    static char buf[4096];
    int fd;

    mkdir("/tmpfs", 0755);
    if (mount("tmpfs", "/tmpfs", "tmpfs", 0, "size=1m") < 0) {
        fail("mount tmpfs");
    }
    fd = open("/tmpfs/f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fail("open");
    }
    for (long i = 0; i < iters; i++) {
        buf[0] = (char)i;
        if (pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf) ||
            pread(fd, buf, sizeof(buf), 0) != sizeof(buf)) {
            fail("pwrite/pread");
        }
        *check += (unsigned char)buf[0];
    }
    close(fd);
    unlink("/tmpfs/f");
    umount("/tmpfs");
    return 0;
}

/* poll() on a pipe that holds a byte: readable at once. */
static uint64_t bench_poll(long iters, uint64_t *check)
{
    int fds[2];
    struct pollfd pfd;

    if (pipe(fds) < 0 || write(fds[1], "x", 1) != 1) {
        fail("pipe");
    }
    pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
    for (long i = 0; i < iters; i++) {
        if (poll(&pfd, 1, 0) != 1) {
            fail("poll");
        }
        *check += !!(pfd.revents & POLLIN);
    }
    close(fds[0]);
    close(fds[1]);
    return 0;
}

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    /* one vCPU: both stay where they are */
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1 && sched_setaffinity(0, sizeof(set), &set) < 0) {
        fail("sched_setaffinity");
    }
}

/*
 * Two processes, on different vCPUs when there are two, take turns through
 * a shared word, each calling sched_yield() while it waits.
 */
static uint64_t bench_yield(long iters, uint64_t *check)
{
    volatile long *turn = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid;

    if (turn == MAP_FAILED) {
        fail("mmap");
    }
    *turn = 0;
    pid = fork();
    if (pid < 0) {
        fail("fork");
    } else if (pid == 0) {
        pin(1);
        for (long i = 0; i < iters; i++) {
            while (__atomic_load_n(turn, __ATOMIC_ACQUIRE) != 2 * i + 1) {
                sched_yield();
            }
            __atomic_store_n(turn, 2 * i + 2, __ATOMIC_RELEASE);
        }
        _exit(0);
    }
    pin(0);
    for (long i = 0; i < iters; i++) {
        __atomic_store_n(turn, 2 * i + 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(turn, __ATOMIC_ACQUIRE) != 2 * i + 2) {
            sched_yield();
        }
        *check += 1;
    }
    wait_child(pid, check);
    munmap((void *)turn, sizeof(long));
    pin(0);
    return 0;
}

/* Map a fresh page, touch it, unmap it. */
static uint64_t bench_mmap(long iters, uint64_t *check)
{
    const long page = sysconf(_SC_PAGESIZE);

    for (long i = 0; i < iters; i++) {
        volatile char *mem = mmap(NULL, page, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (mem == MAP_FAILED) {
            fail("mmap");
        }
        mem[0] = (char)i;
        *check += (unsigned char)mem[0];
        munmap((void *)mem, page);
    }
    return 0;
}

static struct bench benches[] = {
    { "null",      100000, bench_null },
    { "fork",         200, bench_fork },
    { "exec",         200, bench_exec },
    { "pagefault",   5120, bench_pagefault },   /* 20 MiB of 4 KiB pages */
    { "pipe",       10000, bench_pipe },
    { "ctxsw",       2500, bench_ctxsw },
    /* off unless asked for (wl.<name>=N): see the top of this file */
    { "signal",         0, bench_signal },
    { "fileio",         0, bench_fileio },
    { "poll",           0, bench_poll },
    { "yield",          0, bench_yield },
    { "mmap",           0, bench_mmap },
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

/*
 * The console's transmit buffer must be empty before power-off, or the
 * kernel's "reboot: Power down" cuts our last line. tcdrain() alone gives
 * up after a few character times, which a vCPU on a loaded host can
 * exceed: wait until the tty queue and the UART's transmitter are empty
 * (up to 10 s; a console that is not a serial port returns at once).
 */
static void drain_console(void)
{
    for (int i = 0; i < 1000; i++) {
        int queued = 0;
        unsigned int lsr = 0;

        tcdrain(STDOUT_FILENO);
        if (ioctl(STDOUT_FILENO, TIOCOUTQ, &queued) < 0 ||
            ioctl(STDOUT_FILENO, TIOCSERGETLSR, &lsr) < 0 ||
            (queued == 0 && (lsr & TIOCSER_TEMT))) {
            return;
        }
        usleep(10000);
    }
}

int main(int argc, char **argv)
{
    uint64_t t0, t;
    size_t ran = 0;

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
        ran++;
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
    printf("KVMBT-DONE benches=%zu total_ns=%llu\n", ran,
           (unsigned long long)(now_ns(CLOCK_MONOTONIC) - t0));
    if (getpid() != 1) {
        return 0;
    }
    fflush(stdout);
    drain_console();
    sync();
    reboot(RB_POWER_OFF);
    /* Power-off did not happen: say so, then let the kernel panic on init's exit. */
    printf("KVMBT-ERROR what=poweroff errno=%d\n", errno);
    return 1;
}
