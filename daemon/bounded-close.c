/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closes in a helper process (see bounded-close.h).
 *
 * The helper is a clone3() child with CLONE_VM | CLONE_FILES: it costs no
 * copy of the daemon's memory or fd table, and runs only a few instructions
 * of its own (below), which need no stack: a process on a thread's memory
 * that called C code would run on that thread's TLS and errno at the same
 * time as the thread. Its exit signal is none (nobody else is told of it; it
 * is reaped with __WCLONE), and CLONE_CLEAR_SIGHAND leaves it no handler of
 * the daemon's to run: a signal someone sends it does what it does by
 * default. It has no pidfd: a close_range() of the table it shares would
 * close that too; its exit is waited for as a thread's is joined, on a
 * futex word the kernel clears (CLONE_CHILD_CLEARTID).
 *
 * Whether it is in its close is read from its state: it can sleep nowhere
 * else (clone3() returns to it in user space, and its exit is what follows
 * the close), and the kernel takes the fd out of the table before the close
 * can sleep (close_range() takes each one out before that one's flush).
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounded-close.h"
#include "macro.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif

/* The longest a thread sleeps between two tries to make a helper while the pids limit is full. */
#define RETRY_MAX_MSEC 64

#if defined(__x86_64__)
/*
 * long bounded_close_clone3(struct clone_args *args, size_t size, long nr, long arg)
 *
 * The parent gets clone3()'s raw result (a pid or -errno; errno is not
 * touched). The child names itself BOUNDED_CLOSE_HELPER_NAME, makes the
 * system call nr(arg, ~0U, 0) (close() ignores all but the first argument;
 * close_range() takes them all) and exits, in registers only.
 */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl bounded_close_clone3\n"
        ".hidden bounded_close_clone3\n"
        ".type bounded_close_clone3,@function\n"
        "bounded_close_clone3:\n"
        "        mov %rdx, %r8\n"
        "        mov %rcx, %r9\n"
        "        mov $435, %eax\n" /* __NR_clone3 */
        "        syscall\n"
        "        test %rax, %rax\n"
        "        jz 1f\n"
        "        ret\n"
        "1:      mov $157, %eax\n" /* __NR_prctl */
        "        mov $15, %edi\n"  /* PR_SET_NAME */
        "        lea bounded_close_helper_name(%rip), %rsi\n"
        "        syscall\n"
        "        mov %r8, %rax\n"
        "        mov %r9, %rdi\n"
        "        mov $0xffffffff, %esi\n"
        "        xor %edx, %edx\n"
        "        syscall\n"
        "        mov $60, %eax\n" /* __NR_exit */
        "        xor %edi, %edi\n"
        "        syscall\n"
        "        ud2\n"
        ".size bounded_close_clone3, .-bounded_close_clone3\n"
        ".section .rodata\n"
        "bounded_close_helper_name:\n"
        "        .asciz \"" BOUNDED_CLOSE_HELPER_NAME "\"\n"
        ".text\n");

long bounded_close_clone3(struct clone_args *args, size_t size, long nr, long arg);

/* The kernel wants a stack for a CLONE_VM child; the helper never touches it, so all may share this one. */
static char helper_stack[256] __attribute__((aligned(16)));

/*
 * With exit_word: the kernel writes the helper's pid there before it runs and clears it (with a futex wake)
 * at its exit, as for a thread's join; the word must outlive the helper. Without, waitid() tells.
 */
static int helper_start(long nr, long arg, uint32_t *exit_word, pid_t *ret_pid) {
        struct clone_args args = {
                .flags = CLONE_VM | CLONE_FILES | CLONE_CLEAR_SIGHAND | CLONE_UNTRACED |
                         (exit_word ? CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID : 0),
                .parent_tid = (uint64_t) (uintptr_t) exit_word,
                .child_tid = (uint64_t) (uintptr_t) exit_word,
                .exit_signal = 0,
                .stack = (uint64_t) (uintptr_t) helper_stack,
                .stack_size = sizeof helper_stack,
        };
        long r = bounded_close_clone3(&args, sizeof args, nr, arg);

        if (r < 0)
                return (int) r;
        *ret_pid = (pid_t) r;
        return 0;
}
#else
static int helper_start(long nr, long arg, uint32_t *exit_word, pid_t *ret_pid) {
        return -EOPNOTSUPP;
}
#endif

/* 'S' or 'D': asleep in its close; 'R': not there yet, or on its way out; 0 if it cannot be told. */
static char helper_state(pid_t pid) {
        char path[64], text[256], *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, text, sizeof text - 1);
        (void) close(fd);
        if (n <= 0)
                return 0;
        text[n] = '\0';
        /* "pid (comm) S ...": the name may hold anything, the last ')' ends it. */
        p = strrchr(text, ')');
        return p && p[1] == ' ' ? p[2] : 0;
}

static void sleep_msec(unsigned msec) {
        struct timespec ts = { .tv_sec = msec / 1000, .tv_nsec = (long) (msec % 1000) * 1000000L };

        (void) nanosleep(&ts, NULL);
}

static uint64_t now_msec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

/* Until the helper's exit cleared *exit_word, or timeout_msec passed (-1: no limit); in an interruptible
 * sleep (a futex wait), which a fatal signal ends. */
static bool helper_exited(const uint32_t *exit_word, int timeout_msec) {
        uint64_t deadline = timeout_msec >= 0 ? now_msec() + (uint64_t) timeout_msec : 0;

        for (;;) {
                uint32_t v = __atomic_load_n(exit_word, __ATOMIC_ACQUIRE);
                struct timespec ts;
                uint64_t now;

                if (v == 0)
                        return true;
                if (timeout_msec >= 0) {
                        now = now_msec();
                        if (now >= deadline)
                                return false;
                        ts = (struct timespec) { .tv_sec = (time_t) ((deadline - now) / 1000U),
                                                 .tv_nsec = (long) ((deadline - now) % 1000U) * 1000000L };
                }
                (void) syscall(SYS_futex, exit_word, FUTEX_WAIT, v, timeout_msec >= 0 ? &ts : NULL, NULL, 0);
        }
}

static int helper_reap(pid_t pid, int flags) {
        siginfo_t si = {};
        int r;

        while ((r = waitid(P_PID, (id_t) pid, &si, WEXITED | __WCLONE | flags)) < 0 && errno == EINTR)
                ;
        return r < 0 ? -errno : si.si_pid == pid;
}

/*
 * Waits for the helper, giving it SIGKILL once it sleeps in its close past a grace period, and reaps it. Not
 * before: killed before its close, it would leave the fd open. Its pid stays its own until it is reaped.
 */
static void helper_finish(pid_t pid, const uint32_t *exit_word) {
        while (!helper_exited(exit_word, BOUNDED_CLOSE_GRACE_MSEC)) {
                char state = helper_state(pid);

                /* The word again, right before the kill: once it is clear bounded_close_reap_helpers() may
                 * have reaped the helper, and its pid may be another process's. */
                if ((state == 'S' || state == 'D') && __atomic_load_n(exit_word, __ATOMIC_ACQUIRE) != 0) {
                        (void) kill(pid, SIGKILL);
                        /* Killably, for as long as a FUSE flush keeps it. */
                        (void) helper_exited(exit_word, -1);
                        break;
                }
        }
        /* ECHILD if bounded_close_reap_helpers() was first. */
        (void) helper_reap(pid, 0);
}

static void close_elsewhere(long nr, long arg) {
        uint32_t exit_word = 0;
        unsigned backoff = 1;
        pid_t pid = 0;
        int r;

        while ((r = helper_start(nr, arg, &exit_word, &pid)) == -EAGAIN || r == -ENOMEM) {
                /* The pids limit is full (or the kernel is out of memory): the fd waits, never this thread
                 * in its close. */
                sleep_msec(backoff);
                backoff = MIN(backoff * 2, (unsigned) RETRY_MAX_MSEC);
        }
        if (r < 0) {
                /* No helper here at all: as close() does, unbounded. */
                (void) syscall(nr, arg, ~0U, 0);
                return;
        }
        helper_finish(pid, &exit_word);
}

void bounded_close(int fd) {
        /* Linux releases the fd even when close() fails or is interrupted: never retry. */
        if (fd >= 0)
                close_elsewhere(SYS_close, fd);
}

void bounded_close_range(unsigned first) {
        close_elsewhere(SYS_close_range, (long) first);
}

/* 1 when the helper is done (and reaped), 0 while it sleeps in its close, -EAGAIN when it is not there yet. */
static int helper_check(pid_t pid) {
        char state;
        int r;

        r = helper_reap(pid, WNOHANG);
        if (r != 0)
                return r < 0 ? r : 1;
        state = helper_state(pid);
        return state == 'S' || state == 'D' ? 0 : -EAGAIN;
}

size_t bounded_close_many_at_once(const int *fds, size_t n, unsigned timeout_msec, bool *ret_started) {
        uint64_t deadline = now_msec() + timeout_msec, reap_until = 0;
        size_t left = 0, killed = 0;
        pid_t *pids;
        int r;

        pids = calloc(MAX(n, 1U), sizeof *pids);
        for (size_t i = 0; i < n; i++) {
                ret_started[i] = false;
                if (!pids || fds[i] < 0)
                        continue;
                /* No exit word: the helper may outlive the wait, and the word with it. */
                while ((r = helper_start(SYS_close, fds[i], NULL, &pids[i])) == -EAGAIN && now_msec() < deadline)
                        sleep_msec(1);
                ret_started[i] = r >= 0;
                left += ret_started[i];
        }
        /* pids[i] > 0: not out of the table yet; < 0: out, killed, not reaped yet. */
        while (left > 0 || killed > 0) {
                for (size_t i = 0; i < n; i++) {
                        if (pids[i] > 0) {
                                r = helper_check(pids[i]);
                                if (r == -EAGAIN)
                                        continue;
                                left--;
                                if (r == 0) {
                                        /* Out of the table, asleep in its close: a lingering socket's ends
                                         * now; a FUSE flush's does not, and that helper stays behind. */
                                        (void) kill(pids[i], SIGKILL);
                                        pids[i] = -pids[i];
                                        killed++;
                                        reap_until = now_msec() + BOUNDED_CLOSE_GRACE_MSEC;
                                } else
                                        pids[i] = 0;
                        } else if (pids[i] < 0 && helper_reap(-pids[i], WNOHANG) != 0) {
                                pids[i] = 0;
                                killed--;
                        }
                }
                if (now_msec() >= deadline || (left == 0 && now_msec() >= reap_until))
                        break;
                sleep_msec(1);
        }
        free(pids);
        return left;
}

void bounded_close_reap_helpers(void) {
        siginfo_t si;

        /* Only children whose exit signal is not SIGCHLD (__WCLONE): the helpers, and no sandbox. */
        for (;;) {
                si.si_pid = 0;
                if (waitid(P_ALL, 0, &si, WEXITED | __WCLONE | WNOHANG) < 0 || si.si_pid == 0)
                        break;
        }
}
