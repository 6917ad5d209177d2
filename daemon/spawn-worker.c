/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker threads that clone spawn children on the daemon's own memory
 * (spawn-worker.h says why). Each call is a Job, shared by the caller, the
 * worker and the child, freed by whichever of the caller and the worker is
 * done with it last. The caller waits only until the child exists: the
 * child says so first thing; if it is stopped or killed before it can, its
 * pid (written by the kernel before the child runs) or the worker's return
 * from clone3() says it. The worker then stays suspended until the child
 * exec'd or died, and after that until the report pipe has no writer left:
 * a sandbox's init starts the command on the same memory, and if init is
 * killed meanwhile, the command may still run on the worker's stack and read
 * the plan for a moment; the pipe tells when nothing does.
 *
 * Workers are made on demand (every busy one may be held by a child a caller
 * stopped) up to WORKERS_MAX; past that the caller clones as before, from its
 * own thread. At most IDLE_MAX idle ones are kept. Their signals are all
 * blocked, so children start with every signal blocked.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "spawn-worker.h"

#define WORKERS_MAX 256U
#define IDLE_MAX 8U
/* The child's stack is the low end of its worker's (glibc's guard page below it); the worker's own frames
 * stay in the top part. The child needs a few pages (init's command gets 64 KiB of init's); the sanitizers'
 * frames are larger. Only what is touched costs memory. */
#define CHILD_STACK_SIZE (1024U * 1024U)
#define WORKER_STACK_SIZE (CHILD_STACK_SIZE + 512U * 1024U)

typedef struct Job Job;
struct Job {
        unsigned n_ref; /* atomic: the caller's and the worker's */
        SpawnWorkerCall call;
        int report_fd;  /* the worker's copy of the read end */
        /* Written by the kernel before the child runs (CLONE_PARENT_SETTID, CLONE_PIDFD). */
        pid_t pid;
        int pidfd;
        uint32_t told;  /* futex word: the caller may read the result */
        uint32_t telling; /* the first of child and worker to tell wins */
        int error;      /* positive errno of a failure, with spawn_error */
        SpawnError spawn_error;
        Job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static Job *queue_head, *queue_tail;
static unsigned n_workers, n_idle;

#if defined(__x86_64__)
/*
 * long spawn_worker_clone3(struct clone_args *args, size_t size, void (*fn)(void *), void *arg)
 *
 * clone3() leaves the child on a new, empty stack: it cannot return through
 * a C function's frame as fork() does. fn and arg are kept in registers the
 * system call preserves; the child calls fn(arg), which never returns. The
 * parent gets the raw result (a pid or -errno): errno is not touched.
 */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl spawn_worker_clone3\n"
        ".hidden spawn_worker_clone3\n"
        ".type spawn_worker_clone3,@function\n"
        "spawn_worker_clone3:\n"
        "        mov %rdx, %r8\n"
        "        mov %rcx, %r9\n"
        "        mov $435, %eax\n" /* __NR_clone3 */
        "        syscall\n"
        "        test %rax, %rax\n"
        "        jz 1f\n"
        "        ret\n"
        "1:      xor %ebp, %ebp\n"
        "        mov %r9, %rdi\n"
        "        call *%r8\n"
        "        ud2\n"
        ".size spawn_worker_clone3, .-spawn_worker_clone3\n");

long spawn_worker_clone3(struct clone_args *args, size_t size, void (*fn)(void *), void *arg);

bool spawn_worker_supported(void) {
        return true;
}
#else
static long spawn_worker_clone3(struct clone_args *args, size_t size, void (*fn)(void *), void *arg) {
        return -ENOSYS;
}

bool spawn_worker_supported(void) {
        return false;
}
#endif

static void job_unref(Job *j) {
        if (__atomic_sub_fetch(&j->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        if (j->report_fd >= 0)
                (void) close(j->report_fd);
        free(j);
}

/* Lets the caller read the result; by the child (first thing) or the worker, whoever is first. Raw system
 * calls only: in the child errno is the suspended worker's. */
static void job_tell(Job *j) {
        if (__atomic_exchange_n(&j->telling, 1, __ATOMIC_ACQ_REL))
                return;
        __atomic_store_n(&j->told, 1, __ATOMIC_RELEASE);
        (void) syscall(SYS_futex, &j->told, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The caller's wait: until told, or until the kernel wrote the pid, which it does only for a child it
 * made, once its pidfd is installed; so a child stopped before its first instruction holds up nothing. */
static void job_wait(Job *j) {
        long ns = 1000000;

        for (;;) {
                struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

                if (__atomic_load_n(&j->told, __ATOMIC_ACQUIRE) || __atomic_load_n(&j->pid, __ATOMIC_ACQUIRE) > 0)
                        return;
                (void) syscall(SYS_futex, &j->told, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
                if (ns < 64 * 1000000L)
                        ns *= 2;
        }
}

_noreturn_ static void child_entry(void *arg) {
        Job *j = arg;

        job_tell(j);
        j->call.child(j->call.userdata);
}

/* Until nothing can write to the report pipe: whatever ran on this memory has exec'd or died. */
static void wait_no_writer(int fd) {
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = 0 };

                /* errno is not read: a command whose init was killed may share this thread's until it exits. */
                if (syscall(SYS_ppoll, &pfd, 1, NULL, NULL, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
                        return;
        }
}

static void run_job(Job *j, char *stack, size_t stack_size) {
        struct clone_args args = {
                .flags = j->call.flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_PARENT_SETTID |
                         (j->call.cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .pidfd = (uint64_t) (uintptr_t) &j->pidfd,
                .parent_tid = (uint64_t) (uintptr_t) &j->pid,
                .exit_signal = SIGCHLD,
                .stack = (uint64_t) (uintptr_t) stack,
                .stack_size = stack_size,
                .cgroup = j->call.cgroup_fd >= 0 ? (uint64_t) j->call.cgroup_fd : 0,
        };
        SpawnError e = {};
        long r;

        r = j->call.before ? j->call.before(j->call.userdata, &e) : 0;
        if (r < 0) {
                j->spawn_error = e;
                j->error = (int) -r;
                job_tell(j);
                j->call.done(j->call.userdata, false);
                return;
        }

        r = spawn_worker_clone3(&args, sizeof args, child_entry, j);
        if (j->call.after)
                j->call.after(j->call.userdata);
        if (r < 0) {
                spawn_error_set(&j->spawn_error, "clone3", (int) -r, NULL);
                j->error = (int) -r;
                job_tell(j);
                j->call.done(j->call.userdata, false);
                return;
        }

        /* The child exec'd or died; if it died before it could tell, the caller learns it here. */
        job_tell(j);
        wait_no_writer(j->report_fd);
        j->call.done(j->call.userdata, true);
}

static void *worker_main(void *arg) {
        pthread_attr_t attr;
        void *stack = NULL;
        size_t size = 0;
        bool have_stack;

        have_stack = pthread_getattr_np(pthread_self(), &attr) == 0;
        if (have_stack) {
                have_stack = pthread_attr_getstack(&attr, &stack, &size) == 0 && size >= WORKER_STACK_SIZE;
                (void) pthread_attr_destroy(&attr);
        }

        for (;;) {
                Job *j;

                (void) pthread_mutex_lock(&lock);
                while (!queue_head)
                        (void) pthread_cond_wait(&queued, &lock);
                j = queue_head;
                queue_head = j->next;
                if (!queue_head)
                        queue_tail = NULL;
                (void) pthread_mutex_unlock(&lock);

                if (have_stack)
                        run_job(j, stack, CHILD_STACK_SIZE);
                else {
                        spawn_error_set(&j->spawn_error, "clone3", ENOMEM, "worker stack");
                        j->error = ENOMEM;
                        job_tell(j);
                        j->call.done(j->call.userdata, false);
                }
                job_unref(j);

                (void) pthread_mutex_lock(&lock);
                if (n_idle >= IDLE_MAX || !have_stack) {
                        n_workers--;
                        (void) pthread_mutex_unlock(&lock);
                        return NULL;
                }
                n_idle++;
                (void) pthread_mutex_unlock(&lock);
        }
}

/* With the lock held. The new worker is the one the job being queued has reserved. */
static int start_worker(void) {
        pthread_attr_t attr;
        pthread_t thread;
        sigset_t all, saved;
        int r;

        if (n_workers >= WORKERS_MAX)
                return -EBUSY;
        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
        if (r == 0)
                r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r == 0) {
                /* Its signals blocked from its first instruction: no daemon handler ever runs there. */
                sigfillset(&all);
                (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
                r = pthread_create(&thread, &attr, worker_main, NULL);
                (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
                if (r == 0)
                        (void) pthread_setname_np(thread, SPAWN_WORKER_NAME);
        }
        (void) pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        n_workers++;
        return 0;
}

int spawn_worker_clone(const SpawnWorkerCall *call, pid_t *ret_pid, int *ret_pidfd, SpawnError *ret_error) {
        Job *j;
        int r;

        if (!call || !call->child || !call->done || !ret_pid || !ret_pidfd || !ret_error)
                return -EINVAL;
        if (!spawn_worker_supported())
                return -EBUSY;

        j = calloc(1, sizeof *j);
        if (!j)
                return -EBUSY;
        j->n_ref = 2;
        j->call = *call;
        j->pidfd = -EBADF;
        j->report_fd = fcntl(call->report_fd, F_DUPFD_CLOEXEC, 3);
        if (j->report_fd < 0) {
                free(j);
                return -EBUSY;
        }

        (void) pthread_mutex_lock(&lock);
        if (n_idle > 0)
                n_idle--;
        else if (start_worker() < 0) {
                (void) pthread_mutex_unlock(&lock);
                (void) close(j->report_fd);
                free(j);
                return -EBUSY;
        }
        if (queue_tail)
                queue_tail->next = j;
        else
                queue_head = j;
        queue_tail = j;
        (void) pthread_cond_signal(&queued);
        (void) pthread_mutex_unlock(&lock);

        job_wait(j);
        if (j->error > 0) {
                *ret_error = j->spawn_error;
                r = -j->error;
        } else {
                *ret_pid = j->pid;
                *ret_pidfd = j->pidfd;
                r = 0;
        }
        job_unref(j);
        return r;
}

void spawn_worker_stats(unsigned *ret_workers, unsigned *ret_idle) {
        (void) pthread_mutex_lock(&lock);
        if (ret_workers)
                *ret_workers = n_workers;
        if (ret_idle)
                *ret_idle = n_idle;
        (void) pthread_mutex_unlock(&lock);
}
