/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker threads that clone spawn children on the daemon's own memory
 * (spawn-worker.h says why). Each call is a Job, shared by the caller, the
 * worker and the child, freed by whichever of the caller and the worker is
 * done with it last. The caller waits only until the child exists: the
 * child says so first thing, or the worker's return from clone3(), or its
 * pid (written by the kernel before the child runs), if it is stopped before
 * either. The worker does not wait suspended until the child exec'd
 * (CLONE_VFORK): it would hold its copies of the child's fds until then,
 * and a sandbox's init, which starts the command on the same memory and
 * leaves it by exec'ing nsbox-init only after the command exec'd, would
 * keep the daemon's EOF on the report pipe, and so the reply, waiting for
 * that too. It closes those copies right after clone3() and waits until the
 * job's memory pipe has no writer left: the child holds its write end
 * (close-on-exec) and so does whatever it starts on the same memory, until
 * each exec'd or exited. Only then are the child's stack and the plan
 * reused. A process stopped there (a caller may stop its own sandbox's
 * init) holds the worker no longer than the call's timeout: then the child,
 * the sandbox's top process, is killed, which ends the rest.
 *
 * While the child runs, it shares the worker's TLS, errno included: the
 * worker's own system calls in that time are raw ones that leave errno
 * alone, so a failure of the worker's cannot change what the child reports;
 * only the call's after() (which gives back per-thread state: a failure
 * there is fatal or ignored) may touch errno, and only where it fails.
 *
 * Workers are made on demand (every busy one may be held by a child a caller
 * stopped) up to WORKERS_MAX; past that the caller clones as before, from its
 * own thread. At most IDLE_MAX idle ones of each kind are kept. Their signals
 * are all blocked, so children start with every signal blocked.
 *
 * Two kinds serve two queues: plain workers, and filtered ones, which loaded
 * the system call filter their calls ask for (the daemon's default profile)
 * on their own thread before their first job and keep it: a child inherits
 * its cloning thread's filters, so the kernel builds that filter once per
 * worker instead of once per child (each build costs a few hundred
 * microseconds here, whatever the filter's size: an allocation and a JIT
 * compilation). The worker's own calls pass it: the profile denies nothing
 * a worker makes.
 *
 * Each worker has an fd table of its own, nearly empty: clone3() without
 * CLONE_FILES copies the cloning thread's table into the child, and the
 * daemon's holds a pidfd per live sandbox (dup_fd() of 19,000 fds cost a
 * spawn about 0.75 ms, growing with the sandboxes alive). For each job the
 * worker pulls in the few fds the plan names (pidfd_getfd() on the daemon's
 * own pidfd, while the caller waits, so they are open), renumbered low, and
 * closes them again right after clone3() (EOF on the caller's ends of the
 * child's pipes then means the child is gone). The pidfd the caller gets is
 * opened by the caller, in its own table. Workers are started by a thread of
 * their own whose table never held a caller's fd (below), so making one
 * closes none.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seccomp-profile.h"
#include "spawn-worker.h"

#ifdef __SANITIZE_ADDRESS__
#  define HAVE_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HAVE_ASAN 1
#  endif
#endif
#ifdef HAVE_ASAN
#  include <sanitizer/asan_interface.h>
#endif

#define WORKERS_MAX 256U
#define IDLE_MAX 8U
/* The child's stack is the low end of its worker's (glibc's guard page below it); the worker's own frames
 * stay in the top part. The child needs a few pages (init's command gets 64 KiB of init's); the sanitizers'
 * frames are larger. Only what is touched costs memory. */
#define CHILD_STACK_SIZE (1024U * 1024U)
#define WORKER_STACK_SIZE (CHILD_STACK_SIZE + 512U * 1024U)

enum {
        REAP_CALLER_GAVE_UP = 1,
        REAP_WORKER_DONE = 2,
};

typedef struct Job Job;
struct Job {
        unsigned n_ref; /* atomic: the caller's and the worker's */
        SpawnWorkerCall call;
        /* Written by the kernel before the child runs (CLONE_PARENT_SETTID). */
        pid_t pid;
        /* Who reaps a child the caller killed because it could not open a pidfd of it: REAP_CALLER_GAVE_UP
         * set first, the worker (the child may be dying still); REAP_WORKER_DONE first, the caller (the
         * child has closed its fds, so it is all but a zombie). */
        uint32_t reap;
        uint32_t told;  /* futex word: the caller may read the result */
        uint32_t telling; /* the first of child and worker to tell wins */
        int error;      /* positive errno of a failure, with spawn_error */
        SpawnError spawn_error;
        Job *next;
};

typedef enum WorkerKind {
        WORKER_PLAIN,
        WORKER_FILTERED, /* its thread has the filter of SpawnWorkerCall.filter */
        _WORKER_KIND_MAX,
} WorkerKind;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued[_WORKER_KIND_MAX] = { PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER };
static Job *queue_head[_WORKER_KIND_MAX], *queue_tail[_WORKER_KIND_MAX];
static unsigned n_workers, n_idle[_WORKER_KIND_MAX];

static WorkerKind call_kind(const SpawnWorkerCall *call) {
        return call->filter ? WORKER_FILTERED : WORKER_PLAIN;
}

/* With the lock held. */
static void enqueue(Job *j) {
        WorkerKind k = call_kind(&j->call);

        if (queue_tail[k])
                queue_tail[k]->next = j;
        else
                queue_head[k] = j;
        queue_tail[k] = j;
}

/* With the lock held; NULL if the queue is empty. */
static Job *dequeue(WorkerKind k) {
        Job *j = queue_head[k];

        if (j) {
                queue_head[k] = j->next;
                if (!queue_head[k])
                        queue_tail[k] = NULL;
        }
        return j;
}

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

/* System calls that return -errno and leave errno alone: while a child runs on this thread's TLS. */
static long raw_syscall4(long nr, long a1, long a2, long a3, long a4) {
        register long r10 __asm__("r10") = a4;
        long ret;

        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                         : "rcx", "r11", "memory");
        return ret;
}

bool spawn_worker_supported(void) {
        return true;
}
#else
static long raw_syscall4(long nr, long a1, long a2, long a3, long a4) {
        return -ENOSYS;
}

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
        free(j);
}

/*
 * The worker's own fd table: the daemon's pidfd (to pull fds from), and the fds pulled for the current
 * job, by the daemon's number. Only the worker's thread touches these.
 */
typedef struct Pulled {
        int daemon_fd;
        int fd;
} Pulled;

/*
 * Workers are started by the factory thread, which is started once, before the daemon holds any fd a
 * caller controls, and gives up everything but stdio and a pidfd of the daemon: a thread shares the fd
 * table of the thread that made it, so each worker starts from that small table and copies it.
 */
static pthread_cond_t factory_wake = PTHREAD_COND_INITIALIZER;
static unsigned n_to_start[_WORKER_KIND_MAX];
static bool factory_running = false;
static int factory_pidfd = -EBADF;

static __thread bool fds_private = false;
static __thread int daemon_pidfd = -EBADF;
static __thread Pulled *pulled;
static __thread size_t n_pulled, n_pulled_max;
/* The write end of the current job's memory pipe, for the child. */
static __thread int memory_fd = -EBADF;
/* This worker's thread loaded its calls' filter. */
static __thread bool filtered = false;

int spawn_worker_memory_fd(void) {
        return memory_fd;
}

bool spawn_worker_filtered(void) {
        return filtered;
}

int spawn_worker_take_fd(int fd) {
        int copy;

        if (fd < 0 || !fds_private)
                return fd;
        for (size_t i = 0; i < n_pulled; i++)
                if (pulled[i].daemon_fd == fd)
                        return pulled[i].fd;
        if (n_pulled == n_pulled_max) {
                size_t n = n_pulled_max > 0 ? n_pulled_max * 2 : 16;
                Pulled *a = reallocarray(pulled, n, sizeof *a);

                if (!a)
                        return -ENOMEM;
                pulled = a;
                n_pulled_max = n;
        }
        /* Always close-on-exec. */
        copy = (int) syscall(SYS_pidfd_getfd, daemon_pidfd, fd, 0);
        if (copy < 0)
                return -errno;
        pulled[n_pulled++] = (Pulled) { .daemon_fd = fd, .fd = copy };
        return copy;
}

/* Closes what the job pulled. Raw: a child may be running on this thread's TLS. */
static void close_pulled(void) {
        for (size_t i = 0; i < n_pulled; i++)
                (void) raw_syscall4(SYS_close, pulled[i].fd, 0, 0, 0);
        n_pulled = 0;
}

/*
 * The worker's own table: a copy of the factory's (below), which holds only the daemon's stdio and its
 * pidfd, at the same number in every copy. Nothing is closed here: closing even a copy of a caller's fd
 * can block (FUSE flushes on every close), so the table is never copied from one that had any.
 */
static int worker_private_fds(void) {
        if (unshare(CLONE_FILES) < 0)
                return -errno;
        daemon_pidfd = factory_pidfd;
        fds_private = true;
        return 0;
}

/* Lets the caller read the result; by the child (first thing) or the worker, whoever is first. Raw system
 * calls only: the child and the worker share errno. */
static void job_tell(Job *j) {
        if (__atomic_exchange_n(&j->telling, 1, __ATOMIC_ACQ_REL))
                return;
        __atomic_store_n(&j->told, 1, __ATOMIC_RELEASE);
        (void) raw_syscall4(SYS_futex, (long) &j->told, FUTEX_WAKE_PRIVATE, 1, 0);
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

static struct timespec msec_to_timespec(unsigned msec) {
        return (struct timespec) { .tv_sec = msec / 1000U, .tv_nsec = (long) (msec % 1000U) * 1000000L };
}

/*
 * Until the memory pipe has no writer left: whatever ran on this memory has exec'd or exited. Past
 * timeout_msec (0: none, unless armed gets one later) the child is killed, and with it what it started
 * here (init's pid namespace ends with it, a command outside one has init's death as its
 * PR_SET_PDEATHSIG); then the wait goes on.
 */
static void wait_memory_free(int fd, int pidfd, unsigned timeout_msec, const unsigned *armed) {
        struct timespec left = msec_to_timespec(timeout_msec), tick = msec_to_timespec(1000U);
        bool killed = timeout_msec == 0 && !armed, unarmed = timeout_msec == 0 && armed;

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = 0 };
                long n;

                /* ppoll() writes back the time left, so an interrupted wait resumes where it was. */
                n = raw_syscall4(SYS_ppoll, (long) &pfd, 1, killed ? 0 : unarmed ? (long) &tick : (long) &left, 0);
                if (n > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
                        return;
                if (n == 0 && unarmed) {
                        unsigned t = __atomic_load_n(armed, __ATOMIC_ACQUIRE);

                        tick = msec_to_timespec(1000U);
                        if (t > 0) {
                                left = msec_to_timespec(t);
                                unarmed = false;
                        }
                        continue;
                }
                if (n == 0 && !killed) {
                        (void) raw_syscall4(SYS_pidfd_send_signal, pidfd, SIGKILL, 0, 0);
                        killed = true;
                }
        }
}

static void reap(pid_t pid) {
        siginfo_t si;

        while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0 && errno == EINTR)
                ;
}

static void job_fail(Job *j, const char *stage, int error, const char *context) {
        spawn_error_set(&j->spawn_error, stage, error, context);
        j->error = error;
        job_tell(j);
        j->call.done(j->call.userdata, false);
}

static void run_job(Job *j, char *stack, size_t stack_size) {
        int pidfd = -EBADF;
        struct clone_args args = {
                .flags = j->call.flags | CLONE_VM | CLONE_PARENT_SETTID | CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .parent_tid = (uint64_t) (uintptr_t) &j->pid,
                .exit_signal = SIGCHLD,
                .stack = (uint64_t) (uintptr_t) stack,
                .stack_size = stack_size,
        };
        SpawnError e = {};
        int memory[2], cgroup_fd;
        long r;

        /* Before anything else: the caller keeps these open only until it is told. */
        cgroup_fd = spawn_worker_take_fd(j->call.cgroup_fd);
        if (j->call.cgroup_fd >= 0 && cgroup_fd < 0) {
                job_fail(j, "prepare", -cgroup_fd, "the spawn worker's fds");
                return;
        }
        if (cgroup_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) cgroup_fd;
        }
        if (pipe2(memory, O_CLOEXEC) < 0) {
                job_fail(j, "prepare", errno, "the spawn worker's memory pipe");
                return;
        }
        memory_fd = memory[1];
#ifdef HAVE_ASAN
        /* A child never returns from its frames (it execs or exits), so under AddressSanitizer the shadow of
         * its stack, shared as the memory is, keeps the redzones of the last child's deepest frames, which
         * the next child's would run into: a report from a process with nowhere to write it. */
        ASAN_UNPOISON_MEMORY_REGION(stack, stack_size);
#endif

        r = j->call.before ? j->call.before(j->call.userdata, &e) : 0;
        if (r < 0) {
                memory_fd = -EBADF;
                (void) close(memory[0]);
                (void) close(memory[1]);
                j->spawn_error = e;
                j->error = (int) -r;
                job_tell(j);
                j->call.done(j->call.userdata, false);
                return;
        }

        r = spawn_worker_clone3(&args, sizeof args, child_entry, j);
        /* From here until the memory is free, a child may run on this thread's TLS: errno is its. */
        memory_fd = -EBADF;
        (void) raw_syscall4(SYS_close, memory[1], 0, 0, 0);
        if (j->call.after)
                j->call.after(j->call.userdata);
        if (r < 0) {
                (void) close(memory[0]);
                job_fail(j, "clone3", (int) -r, NULL);
                return;
        }

        /* Only the child may hold its ends: EOF on the caller's must mean it is gone. */
        close_pulled();
        job_tell(j);
        wait_memory_free(memory[0], pidfd, j->call.timeout_msec, j->call.armed_timeout_msec);
        (void) close(memory[0]);
        (void) close(pidfd);
        if (__atomic_exchange_n(&j->reap, REAP_WORKER_DONE, __ATOMIC_ACQ_REL) == REAP_CALLER_GAVE_UP)
                reap(j->pid);
        j->call.done(j->call.userdata, true);
}

static void *worker_main(void *arg) {
        WorkerKind kind = (WorkerKind) (intptr_t) arg;
        pthread_attr_t attr;
        void *stack = NULL;
        size_t size = 0;
        bool have_stack, filter_failed = false;
        int fds_error;

        fds_error = worker_private_fds();
        have_stack = pthread_getattr_np(pthread_self(), &attr) == 0;
        if (have_stack) {
                have_stack = pthread_attr_getstack(&attr, &stack, &size) == 0 && size >= WORKER_STACK_SIZE;
                (void) pthread_attr_destroy(&attr);
        }

        for (;;) {
                Job *j;

                (void) pthread_mutex_lock(&lock);
                while (!(j = dequeue(kind)))
                        (void) pthread_cond_wait(&queued[kind], &lock);
                (void) pthread_mutex_unlock(&lock);

                /* Once, for good; a worker that could not load it serves this job unfiltered (the child loads
                 * the filter itself: spawn_worker_filtered() says so) and then goes. */
                if (kind == WORKER_FILTERED && !filtered && !filter_failed) {
                        filter_failed = seccomp_program_load(j->call.filter, j->call.n_filter, j->call.filter_flags) < 0;
                        filtered = !filter_failed;
                }

                if (have_stack && fds_error == 0)
                        run_job(j, stack, CHILD_STACK_SIZE);
                else if (!have_stack)
                        job_fail(j, "clone3", ENOMEM, "worker stack");
                else
                        job_fail(j, "prepare", -fds_error, "the spawn worker's fd table");
                /* Whatever the job pulled, however it ended. */
                close_pulled();
                job_unref(j);

                (void) pthread_mutex_lock(&lock);
                if (n_idle[kind] >= IDLE_MAX || !have_stack || fds_error < 0 || filter_failed) {
                        n_workers--;
                        (void) pthread_mutex_unlock(&lock);
                        /* Its fd table goes with the thread. */
                        free(pulled);
                        pulled = NULL;
                        n_pulled = n_pulled_max = 0;
                        return NULL;
                }
                n_idle[kind]++;
                (void) pthread_mutex_unlock(&lock);
        }
}

/* With the lock held. The new worker is the one the job being queued has reserved; the factory starts it. */
static int start_worker(WorkerKind kind) {
        if (n_workers >= WORKERS_MAX)
                return -EBUSY;
        n_to_start[kind]++;
        n_workers++;
        (void) pthread_cond_signal(&factory_wake);
        return 0;
}

static int factory_start_worker(WorkerKind kind) {
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
        if (r == 0)
                r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* Its signals are blocked from its first instruction, as the factory's: no daemon handler ever
         * runs there. */
        if (r == 0)
                r = pthread_create(&thread, &attr, worker_main, (void *) (intptr_t) kind);
        if (r == 0)
                (void) pthread_setname_np(thread, SPAWN_WORKER_NAME);
        (void) pthread_attr_destroy(&attr);
        return -r;
}

_noreturn_ static void *factory_main(void *arg) {
        for (;;) {
                WorkerKind kind;
                Job *j;
                int r;

                (void) pthread_mutex_lock(&lock);
                while (n_to_start[WORKER_PLAIN] == 0 && n_to_start[WORKER_FILTERED] == 0)
                        (void) pthread_cond_wait(&factory_wake, &lock);
                kind = n_to_start[WORKER_PLAIN] > 0 ? WORKER_PLAIN : WORKER_FILTERED;
                n_to_start[kind]--;
                (void) pthread_mutex_unlock(&lock);

                r = factory_start_worker(kind);
                if (r >= 0)
                        continue;

                /* The job that reserved it has no worker: it fails (the caller is waiting for it). */
                (void) pthread_mutex_lock(&lock);
                n_workers--;
                j = dequeue(kind);
                (void) pthread_mutex_unlock(&lock);
                if (j) {
                        job_fail(j, "clone3", -r, "spawn worker");
                        job_unref(j);
                }
        }
}

typedef struct FactoryStart {
        pthread_mutex_t lock;
        pthread_cond_t done;
        int result; /* 1 until the factory set itself up */
} FactoryStart;

static void *factory_setup(void *arg) {
        FactoryStart *start = arg;
        int r = 0;

        /* Only the daemon's stdio (and what it opened before, none of it a caller's) was copied. */
        if (close_range(3, ~0U, CLOSE_RANGE_UNSHARE) < 0)
                r = -errno;
        /* Nor any supplementary group of whoever started the daemon: a worker holds groups only around its
         * clone3() (spawn.c), and the workers this thread starts begin with its none, whether or not they
         * ever get a job. This thread alone: the raw system call. */
        if (r == 0 && syscall(SYS_setgroups, 0, NULL) < 0)
                r = -errno;
        if (r == 0) {
                factory_pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
                if (factory_pidfd < 0)
                        r = -errno;
        }
        /* Workers pull the plan's fds with pidfd_getfd(), which a seccomp filter may refuse (a container
         * manager's allow-list older than the call): then no workers, and every spawn forks. */
        if (r == 0) {
                int probe = (int) syscall(SYS_pidfd_getfd, factory_pidfd, factory_pidfd, 0);

                if (probe < 0)
                        r = -errno;
                else
                        (void) close(probe);
        }
        (void) pthread_mutex_lock(&start->lock);
        start->result = r;
        (void) pthread_cond_signal(&start->done);
        (void) pthread_mutex_unlock(&start->lock);
        if (r < 0)
                return NULL;
        return factory_main(NULL);
}

int spawn_worker_setup(void) {
        FactoryStart start = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1 };
        pthread_attr_t attr;
        pthread_t thread;
        sigset_t all, saved;
        int r;

        if (factory_running || !spawn_worker_supported())
                return 0;
        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r == 0) {
                sigfillset(&all);
                (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
                r = pthread_create(&thread, &attr, factory_setup, &start);
                (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        }
        (void) pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        (void) pthread_setname_np(thread, SPAWN_WORKER_NAME "-f");

        /* Its setup closes only copies of the daemon's own fds: this waits for nobody else. */
        (void) pthread_mutex_lock(&start.lock);
        while (start.result > 0)
                (void) pthread_cond_wait(&start.done, &start.lock);
        r = start.result;
        (void) pthread_mutex_unlock(&start.lock);
        if (r < 0)
                return r;
        factory_running = true;
        return 0;
}

int spawn_worker_clone(const SpawnWorkerCall *call, pid_t *ret_pid, int *ret_pidfd, SpawnError *ret_error) {
        Job *j;
        int r;

        if (!call || !call->child || !call->done || !ret_pid || !ret_pidfd || !ret_error)
                return -EINVAL;
        if (!spawn_worker_supported() || !factory_running)
                return -EBUSY;

        j = calloc(1, sizeof *j);
        if (!j)
                return -EBUSY;
        j->n_ref = 2;
        j->call = *call;

        (void) pthread_mutex_lock(&lock);
        if (n_idle[call_kind(call)] > 0)
                n_idle[call_kind(call)]--;
        else if (start_worker(call_kind(call)) < 0) {
                (void) pthread_mutex_unlock(&lock);
                free(j);
                return -EBUSY;
        }
        enqueue(j);
        (void) pthread_cond_signal(&queued[call_kind(call)]);
        (void) pthread_mutex_unlock(&lock);

        job_wait(j);
        if (j->error > 0) {
                *ret_error = j->spawn_error;
                r = -j->error;
        } else {
                /* Not reaped before the caller has this: the daemon reaps only by pidfd. */
                int pidfd = (int) syscall(SYS_pidfd_open, j->pid, 0);

                if (pidfd < 0) {
                        r = -errno;
                        spawn_error_set(ret_error, "clone3", -r, "pidfd_open");
                        /* It waits for its release, which it will not get: it has not exec'd. */
                        (void) kill(j->pid, SIGKILL);
                        if (__atomic_exchange_n(&j->reap, REAP_CALLER_GAVE_UP, __ATOMIC_ACQ_REL) == REAP_WORKER_DONE)
                                reap(j->pid);
                } else {
                        *ret_pid = j->pid;
                        *ret_pidfd = pidfd;
                        r = 0;
                }
        }
        job_unref(j);
        return r;
}

void spawn_worker_stats(unsigned *ret_workers, unsigned *ret_idle) {
        (void) pthread_mutex_lock(&lock);
        if (ret_workers)
                *ret_workers = n_workers;
        if (ret_idle)
                *ret_idle = n_idle[WORKER_PLAIN] + n_idle[WORKER_FILTERED];
        (void) pthread_mutex_unlock(&lock);
}
