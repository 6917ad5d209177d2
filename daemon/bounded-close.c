/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closes whose lingering is cut short (see bounded-close.h). The kernel ends
 * a lingering close when a signal is pending (sk_stream_wait_close()), and
 * only a signal the thread does not block is pending; so the thread unblocks
 * the signal just around its close and arms its timer to send it then. A
 * timer that fires after the close leaves the signal pending, blocked, and
 * it is taken (doing nothing) at the next unblock, before that close.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "bounded-close.h"
#include "log.h"

/* glibc's SIGRTMIN is 34 (it keeps 32 and 33); nothing else in the daemon uses a real-time signal. */
#define BOUNDED_CLOSE_SIGNAL (SIGRTMIN + 2)

static __thread timer_t timer;
static __thread bool have_timer = false;

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static int setup_result;
static bool said_no_timer = false;

static void on_signal(int sig) {
}

static void setup(void) {
        /* SA_RESTART: should anyone send the signal to the daemon, no system call of the loop's fails. */
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

        (void) sigemptyset(&sa.sa_mask);
        setup_result = sigaction(BOUNDED_CLOSE_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int bounded_close_setup(void) {
        (void) pthread_once(&setup_once, setup);
        return setup_result;
}

void bounded_close_thread_init(void) {
        struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = BOUNDED_CLOSE_SIGNAL };

        if (have_timer || bounded_close_setup() < 0)
                return;
        /* glibc 2.36 has no name for the field yet. */
        ev._sigev_un._tid = gettid();
        have_timer = timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0;
        /* Each timer takes one of root's RLIMIT_SIGPENDING signals. Said once: every thread would say the same. */
        if (!have_timer && !__atomic_exchange_n(&said_no_timer, true, __ATOMIC_RELAXED))
                log_warning_errno(errno, "Cannot make a timer for a closing thread, a caller's lingering socket may "
                                         "hold it as long as the socket asks: %m");
}

void bounded_close_thread_done(void) {
        if (have_timer)
                (void) timer_delete(timer);
        have_timer = false;
}

static void arm(long msec) {
        struct itimerspec t = { .it_value = { .tv_sec = msec / 1000, .tv_nsec = (msec % 1000) * 1000000L } };

        (void) timer_settime(timer, 0, &t, NULL);
}

/* Runs close_one(arg) with the signal unblocked and the timer armed. */
static void bounded(void (*close_one)(int), int arg) {
        sigset_t only;

        if (!have_timer) {
                close_one(arg);
                return;
        }
        (void) sigemptyset(&only);
        (void) sigaddset(&only, BOUNDED_CLOSE_SIGNAL);
        arm(BOUNDED_CLOSE_GRACE_MSEC);
        (void) pthread_sigmask(SIG_UNBLOCK, &only, NULL);
        close_one(arg);
        (void) pthread_sigmask(SIG_BLOCK, &only, NULL);
        arm(0);
}

static void close_fd(int fd) {
        /* Linux releases the fd even when close() fails or is interrupted: never retry. */
        (void) close(fd);
}

static void close_from(int first) {
        (void) close_range((unsigned) first, ~0U, 0);
}

void bounded_close(int fd) {
        if (fd >= 0)
                bounded(close_fd, fd);
}

void bounded_close_range(unsigned first) {
        bounded(close_from, (int) first);
}
