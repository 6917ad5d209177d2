/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker threads that clone spawn children on the daemon's own memory
 * (spawn-worker.h says why). Each call is a Job, shared by the caller, the
 * worker, the child and, while the child may outstay its time, the watchdog;
 * freed by whichever of them is done with it last.
 *
 * The worker clones with CLONE_VFORK and so waits, suspended in the kernel,
 * until the child exec'd or exited. That is what keeps the daemon alive when
 * the child's cgroup runs out of memory: the OOM killer never picks a process
 * in the middle of a vfork (in_vfork()), and a child on the daemon's memory,
 * picked, would take down every process sharing it. It also means nothing
 * runs on the worker's stack, TLS or errno but the child until then.
 *
 * The child shares its worker's fd table (CLONE_FILES) until its exec: the
 * worker pulls the fds the plan names into it before clone3() (pidfd_getfd()
 * on a pidfd of the daemon, while the caller waits, so they are open; where
 * a system call filter refuses that, the caller sends them with the job,
 * below), and what the child, or the sandbox's init, closes there is closed
 * for good.
 * A table of its own would keep the worker's copies open while it waits: a
 * sandbox's init waits for the daemon's answer before its exec
 * (sandbox-init.c), and the answer waits for EOF on the child's report pipe,
 * whose write end init closes, so a copy kept by the worker would never let
 * either go on. At the exec the kernel gives the child a copy of the table;
 * the worker then closes what is left in its own (the report pipe's write
 * end among it: its EOF waits for that) and makes the table its own again.
 *
 * The worker cannot time out a child it is suspended on; the watchdog thread
 * does, with a pidfd of the child the caller sends it: a child that stays
 * on the daemon's memory past the call's timeout (a caller may stop its own
 * sandbox's init there, after the spawn was answered) is killed, which ends
 * the vfork and frees the worker.
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
 * Each worker has an fd table of its own, nearly empty: stdio and a pidfd
 * of the daemon. The daemon's holds a pidfd per live sandbox, and a child
 * born with a copy of it would cost a dup_fd() of every one (19,000 fds cost
 * a spawn about 0.75 ms, growing with the sandboxes alive). The pidfd the
 * caller gets is opened by the caller, in its own table. Workers are started
 * by a thread of their own whose table never held a caller's fd (below), so
 * making one closes none.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounded-close.h"
#include "fd-util.h"
#include "sanitizer.h"
#include "seccomp-profile.h"
#include "short-slice.h"
#include "spawn-worker.h"

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
        unsigned n_ref; /* atomic: the caller's, the worker's and, while it watches, the watchdog's */
        SpawnWorkerCall call;
        /* Written by the kernel before the child runs (CLONE_PARENT_SETTID). */
        pid_t pid;
        /* Who reaps a child the caller killed because it could not open a pidfd of it: REAP_CALLER_GAVE_UP
         * set first, the worker (the child may be dying still); REAP_WORKER_DONE first, the caller (the
         * child is gone, all but its zombie). */
        uint32_t reap;
        uint32_t told;  /* futex word: the caller may read the result */
        uint32_t telling; /* the first of child and worker to tell wins */
        int error;      /* positive errno of a failure, with spawn_error */
        SpawnError spawn_error;
        Job *next;

        bool vfork_over;        /* atomic: the worker's clone3() returned, nothing of the job is on the memory */
        uint64_t started_nsec;  /* CLOCK_MONOTONIC, when the worker cloned */
        /* The watchdog's alone: */
        int watch_pidfd;        /* the child's, in the watchdog's table */
        uint64_t deadline_nsec; /* CLOCK_MONOTONIC; 0 until known (an armed timeout not set yet) */
        Job *watch_next;
};

typedef enum WorkerKind {
        WORKER_PLAIN,
        WORKER_FILTERED, /* its thread has the filter of SpawnWorkerCall.filter */
        _WORKER_KIND_MAX,
} WorkerKind;

/* The owners whose calls hold workers (SpawnWorkerCall.owner), with how many each: at most one entry per
 * worker. With the lock held. */
typedef struct OwnerCount {
        uid_t owner;
        unsigned n;
} OwnerCount;

static OwnerCount owners[WORKERS_MAX];
static size_t n_owners;

static OwnerCount *owner_find(uid_t owner) {
        for (size_t i = 0; i < n_owners; i++)
                if (owners[i].owner == owner)
                        return &owners[i];
        return NULL;
}

/* Counts one more call of owner's, unless it holds its share already. */
static bool owner_take(uid_t owner) {
        OwnerCount *o;

        if (owner == 0)
                return true;
        o = owner_find(owner);
        if (!o) {
                if (n_owners >= ELEMENTSOF(owners))
                        return false;
                o = &owners[n_owners++];
                *o = (OwnerCount) { .owner = owner };
        }
        if (o->n >= SPAWN_WORKERS_PER_OWNER_MAX)
                return false;
        o->n++;
        return true;
}

static void owner_release(uid_t owner) {
        OwnerCount *o;

        if (owner == 0 || !(o = owner_find(owner)))
                return;
        if (--o->n == 0)
                *o = owners[--n_owners];
}

/*
 * n_idle[kind] is the workers of that kind, running or being started, that no job has claimed: the ones
 * without a job less the jobs queued. A caller claims one (n_idle--) or has one started for its job, so a
 * queued job always has a thread coming for it; a thread that cannot be started takes a queued job with it
 * (failed), or, with none queued, its place in n_idle.
 */
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

static uint64_t now_nsec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
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
 * Workers are started by the factory thread, which is started once, before the daemon holds any fd a
 * caller controls, and gives up everything but stdio and a pidfd of the daemon: a thread shares the fd
 * table of the thread that made it, so each worker starts from that small table and copies it.
 */
static pthread_cond_t factory_wake = PTHREAD_COND_INITIALIZER;
static unsigned n_to_start[_WORKER_KIND_MAX];
static bool factory_running = false;

/*
 * The filtered kind's own factory (filtered_factory_main()), once a worker noted the kind's filter: a thread
 * that loaded it, so that the workers it starts are born with it (a thread shares the filters of the thread
 * that made it; the kernel builds nothing) instead of each building it as it starts, a few hundred
 * microseconds of CPU, per spawn where fds come by socket. Started by the factory, whose fd table it
 * shares; where it cannot be, or cannot load the filter, the factory starts that kind too.
 */
static bool filtered_factory_running = false, filtered_factory_failed = false; /* with the lock held */
static pthread_cond_t filtered_factory_wake = PTHREAD_COND_INITIALIZER;

/* worker_main()'s argument: the kind, and whether the thread is born with the kind's filter. */
#define WORKER_BORN_FILTERED 0x100

static int factory_pidfd = -EBADF;

/*
 * The worker's own fd table: a pidfd of the daemon (to pull fds from), and the fds pulled for the current
 * job, by the daemon's number. Only the worker's thread touches these.
 */
typedef struct Pulled {
        int daemon_fd;
        int fd;
} Pulled;

/*
 * Where pidfd_getfd() is refused (a container manager's system call filter older than the call, as
 * systemd-nspawn's of systemd 252), the caller sends the fds with the job instead: over a SOCK_SEQPACKET
 * socket per worker kind, its sending end in the daemon's table, its receiving end in the factory's at the
 * same number, and so in every worker's. The caller sends a job's message and queues the job with the lock
 * held, and the thread that dequeues a job receives one message with the lock held: the queue's order is
 * the socket's, and the message names its job, which the receiver checks, so no fd ever reaches another
 * job's child. The child closes that end with everything else in the table it shares, so such a worker
 * serves one job that cloned and goes, and leaves a fresh one waiting in its place.
 */
static bool fds_by_socket = false;
static int job_socket_send[_WORKER_KIND_MAX] = { -EBADF, -EBADF };
static int job_socket_receive[_WORKER_KIND_MAX] = { -EBADF, -EBADF };

/* A job's message: the daemon's numbers of the fds that come with it, in the same order. */
typedef struct JobFds {
        const Job *job;
        unsigned n;
        int daemon_fds[FD_SEND_MAX];
} JobFds;

static __thread bool fds_private = false;
static __thread int daemon_pidfd = -EBADF;
static __thread Pulled *pulled;
static __thread size_t n_pulled, n_pulled_max;
/* This worker's thread loaded its calls' filter. */
static __thread bool filtered = false;

/* spawn_worker_close_first()'s fds, and which files they were. */
typedef struct EofFd {
        const int *fd;
        dev_t dev;
        ino_t ino;
} EofFd;
static __thread EofFd eof_fds[2];
static __thread size_t n_eof_fds;

/* The filter every filtered call passes (SpawnWorkerCall.filter), once a worker loaded it: the filtered
 * starter thread loads it (filtered_factory_start()). With the lock held. */
static const struct sock_filter *kind_filter;
static unsigned short kind_filter_n;
static unsigned kind_filter_flags;

/* Loads the filtered kind's filter on this worker's thread, for good. */
static bool load_filter(const struct sock_filter *filter, unsigned short n, unsigned flags) {
        if (seccomp_program_load(filter, n, flags) < 0)
                return false;
        (void) pthread_mutex_lock(&lock);
        if (!kind_filter) {
                kind_filter = filter;
                kind_filter_n = n;
                kind_filter_flags = flags;
        }
        (void) pthread_mutex_unlock(&lock);
        return true;
}

bool spawn_worker_filtered(void) {
        return filtered;
}

/* Room for n more in pulled. */
static bool pulled_make_room(size_t n) {
        size_t max = n_pulled_max > 0 ? n_pulled_max : 16;
        Pulled *a;

        if (n_pulled + n <= n_pulled_max)
                return true;
        while (max < n_pulled + n)
                max *= 2;
        a = reallocarray(pulled, max, sizeof *a);
        if (!a)
                return false;
        pulled = a;
        n_pulled_max = max;
        return true;
}

int spawn_worker_take_fd(int fd) {
        int copy;

        if (fd < 0 || !fds_private)
                return fd;
        for (size_t i = 0; i < n_pulled; i++)
                if (pulled[i].daemon_fd == fd)
                        return pulled[i].fd;
        /* Sent with the job or not at all: the caller's list missed it. */
        if (fds_by_socket)
                return -EBADF;
        if (!pulled_make_room(1))
                return -ENOMEM;
        /* Always close-on-exec. */
        copy = (int) syscall(SYS_pidfd_getfd, daemon_pidfd, fd, 0);
        if (copy < 0)
                return -errno;
        pulled[n_pulled++] = (Pulled) { .daemon_fd = fd, .fd = copy };
        return copy;
}

int spawn_worker_close_first(const int *fd) {
        struct stat st;

        if (*fd < 0)
                return 0;
        if (!fds_private)
                return -EBADF;
        if (n_eof_fds >= ELEMENTSOF(eof_fds))
                return -E2BIG;
        if (fstat(*fd, &st) < 0)
                return -errno;
        eof_fds[n_eof_fds++] = (EofFd) { .fd = fd, .dev = st.st_dev, .ino = st.st_ino };
        return 0;
}

/*
 * Right after the clone: the EOF fds where the child left them. The child may also have closed them and
 * opened something else at that number, so each is looked at first, without asking a file system
 * (AT_STATX_DONT_SYNC: what the number now holds may be a caller's FUSE file): a close here must be of the
 * daemon's own pipe or socket, which cannot wait.
 */
static void close_eof_fds(void) {
        for (size_t i = 0; i < n_eof_fds; i++) {
                int fd = __atomic_load_n(eof_fds[i].fd, __ATOMIC_ACQUIRE);
                struct statx sx;

                if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &sx) == 0 &&
                    makedev(sx.stx_dev_major, sx.stx_dev_minor) == eof_fds[i].dev && sx.stx_ino == eof_fds[i].ino)
                        (void) close(fd);
        }
        n_eof_fds = 0;
}

/* What a job that cloned nothing pulled: bounded, as after a clone (worker_clear_fds()), so that a caller's
 * lingering socket holds the worker a moment only. */
static void close_pulled(void) {
        for (size_t i = 0; i < n_pulled; i++)
                bounded_close(pulled[i].fd);
        n_pulled = 0;
}

/*
 * The caller's, with the lock held, before it queues j: sends the fds j's worker is to take (call.cgroup_fd
 * and call.fds). -errno if they could not go (then nothing went).
 */
static int job_send_fds(const Job *j) {
        JobFds m = { .job = j };
        int *fds = m.daemon_fds;

        if (j->call.n_fds + 1 > ELEMENTSOF(m.daemon_fds))
                return -E2BIG;
        if (j->call.cgroup_fd >= 0)
                fds[m.n++] = j->call.cgroup_fd;
        for (size_t i = 0; i < j->call.n_fds; i++)
                if (j->call.fds[i] >= 0)
                        fds[m.n++] = j->call.fds[i];
        /* Never waits: a full socket sends the caller to fork instead. */
        return fd_send(job_socket_send[call_kind(&j->call)], &m, offsetof(JobFds, daemon_fds) + m.n * sizeof(int),
                       fds, m.n, MSG_DONTWAIT);
}

/*
 * With the lock held: takes the next message off the kind's socket without installing its fds. The kernel
 * drops its references to them, which closes no fd: no flush to a caller's FUSE server waits here.
 */
static void job_discard_fds(WorkerKind kind) {
        JobFds m;
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        do
                n = recvmsg(job_socket_receive[kind], &mh, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
}

/*
 * With the lock held, by the worker that just dequeued j: receives the fds sent with j into this thread's
 * table, as pulled copies of the daemon's. Nothing is closed here: a message that is not j's (which the lock
 * rules out) fails the job, and its fds, kept where no number of j's matches, are closed with the pulled
 * ones once j's caller was told.
 */
static int job_receive_fds(WorkerKind kind, const Job *j) {
        JobFds m;
        int fds[FD_SEND_MAX];
        size_t n_fds;
        ssize_t n;
        bool bad;

        if (!pulled_make_room(ELEMENTSOF(fds))) {
                job_discard_fds(kind);
                return -ENOMEM;
        }
        n = fd_recv(job_socket_receive[kind], &m, sizeof m, fds, ELEMENTSOF(fds), &n_fds, MSG_DONTWAIT);
        if (n < 0)
                return (int) n;
        bad = (size_t) n < offsetof(JobFds, daemon_fds) || m.job != j || m.n != n_fds ||
              (size_t) n != offsetof(JobFds, daemon_fds) + n_fds * sizeof(int);
        for (size_t i = 0; i < n_fds; i++)
                pulled[n_pulled++] = (Pulled) { .daemon_fd = bad ? -EBADF : m.daemon_fds[i], .fd = fds[i] };
        return bad ? -EBADMSG : 0;
}

/*
 * The worker's own table: a copy of the factory's (below), which holds only the daemon's stdio and its
 * pidfd (or, where fds come by socket, the jobs' sockets), at the same number in every copy. Nothing is
 * closed here: closing even a copy of a caller's fd can block (FUSE flushes on every close), so the table is
 * never copied from one that had any.
 */
static int worker_private_fds(void) {
        if (unshare(CLONE_FILES) < 0)
                return -errno;
        daemon_pidfd = factory_pidfd;
        fds_private = true;
        return 0;
}

/*
 * After a job that cloned, and after close_eof_fds(): the table the child shared until its exec or exit is the
 * worker's alone again. Whatever is left there goes (the child may have closed, replaced or renumbered
 * anything, the worker's own fds included), in a helper process (bounded-close.h).
 *
 * Such a close is often the last one of a caller's file: the caller and the loop may have let go of theirs
 * while the child ran, and a child that failed before its exec leaves its copies here. A lingering socket
 * among them holds the worker a moment, a FUSE file until its server answers its flush: this worker's wait,
 * killable, never the loop's.
 */
static void worker_clear_fds(void) {
        n_pulled = 0;
        daemon_pidfd = -EBADF;
        bounded_close_range(0);
}

/* Then, with the worker's own credentials back: stdio and a pidfd of the daemon, afresh. Fails only where the
 * worker cannot go on: always where fds come by socket (its end of the jobs' socket is gone). */
static int worker_reopen_fds(void) {
        int fd;

        if (fds_by_socket)
                return -EOPNOTSUPP;

        fd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        if (fd < 0)
                return -errno;
        daemon_pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        (void) close(fd);
        if (daemon_pidfd < 0)
                return -errno;
        /* The daemon's stdio at 0, 1 and 2 (where it has them), so that nothing the worker writes there, a
         * sanitizer's report, say, lands in a caller's file pulled to a low number. */
        for (int i = 0; i < 3; i++)
                (void) syscall(SYS_pidfd_getfd, daemon_pidfd, i, 0);
        return 0;
}

/* Lets the caller read the result; by the child (first thing) or the worker, whoever is first. */
static void job_tell(Job *j) {
        if (__atomic_exchange_n(&j->telling, 1, __ATOMIC_ACQ_REL))
                return;
        __atomic_store_n(&j->told, 1, __ATOMIC_RELEASE);
        (void) raw_syscall4(SYS_futex, (long) &j->told, FUTEX_WAKE_PRIVATE, 1, 0);
}

/* The caller's wait: until told, or until the kernel wrote the pid, which it does only for a child it
 * made; so a child stopped before its first instruction holds up nothing. */
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

/* ---- the watchdog ---- */

/*
 * The watchdog has a fd table of its own, and a socket the callers send it their children's pidfds on
 * (watch_socket, the daemon's end). The pidfds it holds are not the daemon's to count or to close, and it lets
 * go of each whenever it next wakes after the vfork ended.
 */
static int watch_socket = -EBADF;

/* The job's deadline, once it has one. */
static void job_update_deadline(Job *j) {
        unsigned armed;

        if (j->deadline_nsec > 0 || !j->call.armed_timeout_msec)
                return;
        armed = __atomic_load_n(j->call.armed_timeout_msec, __ATOMIC_ACQUIRE);
        if (armed > 0)
                j->deadline_nsec = now_nsec() + armed * 1000000ULL;
}

/* What the callers sent: each a job and the child's pidfd. */
static void watch_receive(int fd, Job **head) {
        for (;;) {
                Job *j = NULL;
                size_t n_fds;
                ssize_t n;
                int pidfd;

                /* Only the callers send here, each a job it holds a reference of for the watchdog. */
                n = fd_recv(fd, &j, sizeof j, &pidfd, 1, &n_fds, MSG_DONTWAIT);
                if (n != (ssize_t) sizeof j || !j) {
                        close_many(&pidfd, n_fds);
                        return;
                }
                if (n_fds != 1) {
                        job_unref(j);
                        continue;
                }
                j->watch_pidfd = pidfd;
                if (j->call.timeout_msec > 0)
                        j->deadline_nsec = j->started_nsec + j->call.timeout_msec * 1000000ULL;
                j->watch_next = *head;
                *head = j;
        }
}

/*
 * Kills what outstays its deadline on the daemon's memory. Looks every second while an armed timeout may be
 * set (the caller sets it without a word), otherwise sleeps until the next deadline or a new job.
 */
_noreturn_ static void watchdog_main(int fd) {
        Job *head = NULL;

        for (;;) {
                uint64_t now = now_nsec(), next = now + 3600ULL * 1000000000ULL;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                for (Job **link = &head; *link;) {
                        Job *j = *link;

                        if (__atomic_load_n(&j->vfork_over, __ATOMIC_ACQUIRE)) {
                                /* A pidfd: closing it cannot block. */
                                *link = j->watch_next;
                                (void) close(j->watch_pidfd);
                                job_unref(j);
                                continue;
                        }
                        job_update_deadline(j);
                        if (j->deadline_nsec > 0 && now >= j->deadline_nsec) {
                                (void) syscall(SYS_pidfd_send_signal, j->watch_pidfd, SIGKILL, NULL, 0);
                                /* Let go of once the kill ended the vfork. */
                                j->deadline_nsec = UINT64_MAX;
                        } else if (j->deadline_nsec > 0 && j->deadline_nsec < next)
                                next = j->deadline_nsec;
                        else if (j->deadline_nsec == 0 && now + 1000000000ULL < next)
                                next = now + 1000000000ULL;
                        link = &j->watch_next;
                }

                if (poll(&pfd, 1, (int) ((next - now) / 1000000ULL) + 1) > 0)
                        watch_receive(fd, &head);
        }
}

/* Whether the watchdog has anything to keep for j: a timeout, and the watchdog to keep it. */
static bool job_wants_watch(const Job *j) {
        return (j->call.timeout_msec > 0 || j->call.armed_timeout_msec) && watch_socket >= 0;
}

static bool job_vfork_over(const Job *j) {
        return __atomic_load_n(&j->vfork_over, __ATOMIC_ACQUIRE);
}

/* The caller's: hands the watchdog a child the worker may still be suspended on, with its pidfd. Without the
 * watchdog (or room in its socket), the daemon's own deadlines still end the child, and with it the vfork. */
static void watch_job(Job *j, int pidfd) {
        if (!job_wants_watch(j) || job_vfork_over(j))
                return;
        __atomic_add_fetch(&j->n_ref, 1, __ATOMIC_ACQ_REL);
        if (fd_send(watch_socket, &j, sizeof j, &pidfd, 1, MSG_DONTWAIT) < 0)
                job_unref(j);
}

/*
 * Children handed to the watchdog only once the caller is done with the spawn's own path
 * (spawn_worker_flush_watches()): a sendmsg() with an fd, and the watchdog's thread woken, on every spawn
 * before its release, held the child up for nothing where it execs at once, and most children have left the
 * daemon's memory by the caller's next iteration. Each holds a reference of its job and a copy of the
 * child's pidfd. The caller's thread only.
 */
typedef struct PendingWatch {
        Job *job;
        int pidfd;
        bool aged; /* a flush saw it: the next one hands it over */
} PendingWatch;

static PendingWatch *pending_watches;
static size_t n_pending_watches, n_pending_watches_max;

/* watch_job() later, or at once where the copy or the room for it cannot be had. */
static void watch_job_later(Job *j, int pidfd) {
        int copy;

        if (!job_wants_watch(j))
                return;
        if (n_pending_watches == n_pending_watches_max) {
                size_t max = n_pending_watches_max ? n_pending_watches_max * 2 : 8;
                PendingWatch *a = reallocarray(pending_watches, max, sizeof *a);

                if (!a) {
                        watch_job(j, pidfd);
                        return;
                }
                pending_watches = a;
                n_pending_watches_max = max;
        }
        copy = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0) {
                watch_job(j, pidfd);
                return;
        }
        __atomic_add_fetch(&j->n_ref, 1, __ATOMIC_ACQ_REL);
        pending_watches[n_pending_watches++] = (PendingWatch) { .job = j, .pidfd = copy };
}

/* Goes through the pending watches: hand: hands over those still there that a previous pass saw (all: every
 * one still there), and marks the others; else only forgets those whose child left the daemon's memory. */
static void pending_watches_pass(bool hand, bool all) {
        size_t kept = 0;

        for (size_t i = 0; i < n_pending_watches; i++) {
                PendingWatch *w = &pending_watches[i];

                if (!job_vfork_over(w->job) && (!hand || (!all && !w->aged))) {
                        w->aged = w->aged || hand;
                        pending_watches[kept++] = *w;
                        continue;
                }
                /* Nothing to send for a child that exec'd or exited meanwhile (watch_job() looks). */
                watch_job(w->job, w->pidfd);
                (void) close(w->pidfd);
                job_unref(w->job);
        }
        n_pending_watches = kept;
}

void spawn_worker_flush_watches(bool all) {
        pending_watches_pass(/* hand= */ true, all);
}

/* The worker's, once its clone3() returned. */
static void unwatch_job(Job *j) {
        __atomic_store_n(&j->vfork_over, true, __ATOMIC_RELEASE);
}

/* ---- the workers ---- */

/* Returns 0 when the worker's fd table is fit for another job, else -errno (the worker goes). What a job that
 * cloned nothing pulled stays for the caller to close, once the job's caller was told. */
static int run_job(Job *j, char *stack, size_t stack_size) {
        int cgroup_fd;
        struct clone_args args = {
                .flags = j->call.flags | CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PARENT_SETTID,
                .parent_tid = (uint64_t) (uintptr_t) &j->pid,
                .exit_signal = SIGCHLD,
                .stack = (uint64_t) (uintptr_t) stack,
                .stack_size = stack_size,
        };
        SpawnError e = {};
        long r;

        n_eof_fds = 0;
        /* Before anything else: the caller keeps these open only until it is told. */
        cgroup_fd = spawn_worker_take_fd(j->call.cgroup_fd);
        if (j->call.cgroup_fd >= 0 && cgroup_fd < 0) {
                job_fail(j, "prepare", -cgroup_fd, "the spawn worker's fds");
                return 0;
        }
        if (cgroup_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) cgroup_fd;
        }
        /* The last child's frames, for the next child (sanitizer.h): a report from a process with nowhere to
         * write it. */
        sanitizer_forget_stack(stack, stack_size);

        r = j->call.before ? j->call.before(j->call.userdata, &e) : 0;
        if (r < 0) {
                j->spawn_error = e;
                j->error = (int) -r;
                job_tell(j);
                j->call.done(j->call.userdata, false);
                return 0;
        }

        j->started_nsec = now_nsec();
        /* Suspended here until the child exec'd or exited. */
        r = spawn_worker_clone3(&args, sizeof args, child_entry, j);
        unwatch_job(j);
        if (r >= 0)
                close_eof_fds();
        else
                n_eof_fds = 0;
        /* The worker's own credentials and namespaces back before it starts a helper for the rest: one
         * born with the caller's ids, or into the sandbox's pid namespace, would be theirs to signal. */
        if (j->call.after)
                j->call.after(j->call.userdata);
        if (r >= 0)
                worker_clear_fds();
        if (r < 0) {
                job_fail(j, "clone3", (int) -r, NULL);
                return 0;
        }

        /* Told already, unless the child was killed before its first instruction. */
        job_tell(j);
        r = worker_reopen_fds();
        if (__atomic_exchange_n(&j->reap, REAP_WORKER_DONE, __ATOMIC_ACQ_REL) == REAP_CALLER_GAVE_UP)
                reap(j->pid);
        j->call.done(j->call.userdata, true);
        return r < 0 ? (int) r : 0;
}

/* With the lock held. The new worker is the one the job being queued has reserved (or a spare,
 * counted idle); the factory starts it. */
static int start_worker(WorkerKind kind) {
        if (n_workers >= WORKERS_MAX)
                return -EBUSY;
        n_to_start[kind]++;
        n_workers++;
        (void) pthread_cond_signal(kind == WORKER_FILTERED && filtered_factory_running ? &filtered_factory_wake
                                                                                     : &factory_wake);
        return 0;
}

static void *worker_main(void *arg) {
        WorkerKind kind = (WorkerKind) ((intptr_t) arg & ~WORKER_BORN_FILTERED);
        pthread_attr_t attr;
        void *stack = NULL;
        size_t size = 0;
        bool have_stack, filter_failed = false;
        int fds_error;

        fds_error = worker_private_fds();
        /* The kernel wakes a worker at its child's execve(), on the CPU the command then runs on: with the
         * default slice it waited there behind the command's exec and start, about a millisecond, and the
         * answer waits for it (the report pipe's EOF needs its close). */
        thread_take_short_slice("a spawn worker");
        filtered = (intptr_t) arg & WORKER_BORN_FILTERED;
        have_stack = pthread_getattr_np(pthread_self(), &attr) == 0;
        if (have_stack) {
                have_stack = pthread_attr_getstack(&attr, &stack, &size) == 0 && size >= WORKER_STACK_SIZE;
                (void) pthread_attr_destroy(&attr);
        }

        for (;;) {
                int job_fds_error = 0;
                uid_t owner;
                Job *j;

                (void) pthread_mutex_lock(&lock);
                while (!(j = dequeue(kind)))
                        (void) pthread_cond_wait(&queued[kind], &lock);
                /* Whatever becomes of the job: the next message is the next job's. */
                if (fds_by_socket)
                        job_fds_error = job_receive_fds(kind, j);
                (void) pthread_mutex_unlock(&lock);
                owner = j->call.owner;

                /* Once, for good; a worker that could not load it serves this job unfiltered (the child loads
                 * the filter itself: spawn_worker_filtered() says so) and then goes. */
                if (kind == WORKER_FILTERED && !filtered && !filter_failed) {
                        filtered = load_filter(j->call.filter, j->call.n_filter, j->call.filter_flags);
                        filter_failed = !filtered;
                }

                if (job_fds_error < 0)
                        job_fail(j, "prepare", -job_fds_error, "the fds sent to the spawn worker");
                else if (have_stack && fds_error == 0)
                        fds_error = run_job(j, stack, CHILD_STACK_SIZE);
                else if (!have_stack)
                        job_fail(j, "clone3", ENOMEM, "worker stack");
                else
                        job_fail(j, "prepare", -fds_error, "the spawn worker's fd table");
                /* A job that cloned nothing: its caller was told first (closing a copy of a caller's FUSE
                 * file waits for the server's answer to its flush: this worker's wait, never the loop's). */
                close_pulled();
                job_unref(j);

                (void) pthread_mutex_lock(&lock);
                /* Only now: the worker was the owner's until its last close of what the child left. */
                owner_release(owner);
                if (n_idle[kind] >= IDLE_MAX || !have_stack || fds_error < 0 || filter_failed) {
                        n_workers--;
                        /* Used up by a job, where fds come by socket: a fresh worker waits in its place, so
                         * that the next spawn finds one without waiting for a thread to be made. */
                        if (fds_error == -EOPNOTSUPP && n_idle[kind] == 0 && start_worker(kind) >= 0)
                                n_idle[kind]++;
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

static int factory_start_worker(WorkerKind kind, bool born_filtered) {
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
                r = pthread_create(&thread, &attr, worker_main,
                                   (void *) (intptr_t) (kind | (born_filtered ? WORKER_BORN_FILTERED : 0)));
        if (r == 0)
                (void) pthread_setname_np(thread, SPAWN_WORKER_NAME);
        (void) pthread_attr_destroy(&attr);
        return -r;
}

/* A worker of kind that could not be started (r): see n_idle. */
static void worker_start_failed(WorkerKind kind, int r) {
        Job *j;

        /* One worker less: a queued job fails with it (its caller is waiting for it), or, with none queued,
         * the idle place it was counted in goes (a spare, or one whose job a worker that came free took): a
         * caller counting on it would wait for good. */
        (void) pthread_mutex_lock(&lock);
        n_workers--;
        j = dequeue(kind);
        if (!j && n_idle[kind] > 0)
                n_idle[kind]--;
        if (j) {
                owner_release(j->call.owner);
                /* Its message goes with it, its fds never installed: a factory closes no caller's file. */
                if (fds_by_socket)
                        job_discard_fds(kind);
        }
        (void) pthread_mutex_unlock(&lock);
        if (j) {
                job_fail(j, "clone3", -r, "spawn worker");
                job_unref(j);
        }
}

_noreturn_ static void *filtered_factory_main(void *arg) {
        for (;;) {
                int r;

                (void) pthread_mutex_lock(&lock);
                while (n_to_start[WORKER_FILTERED] == 0)
                        (void) pthread_cond_wait(&filtered_factory_wake, &lock);
                n_to_start[WORKER_FILTERED]--;
                (void) pthread_mutex_unlock(&lock);

                r = factory_start_worker(WORKER_FILTERED, true);
                if (r < 0)
                        worker_start_failed(WORKER_FILTERED, r);
        }
}

static void *filtered_factory_setup(void *arg) {
        bool loaded = seccomp_program_load(kind_filter, kind_filter_n, kind_filter_flags) >= 0;

        if (loaded)
                filtered_factory_main(NULL);
        /* Back to the factory, for good. */
        (void) pthread_mutex_lock(&lock);
        filtered_factory_running = false;
        filtered_factory_failed = true;
        (void) pthread_cond_signal(&factory_wake);
        (void) pthread_mutex_unlock(&lock);
        return NULL;
}

/* With the lock held, in the factory: starts the filtered factory if it is time. */
static void filtered_factory_start(void) {
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        if (filtered_factory_running || filtered_factory_failed || !kind_filter)
                return;
        r = pthread_attr_init(&attr);
        if (r == 0) {
                r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                if (r == 0)
                        r = pthread_create(&thread, &attr, filtered_factory_setup, NULL);
                if (r == 0)
                        (void) pthread_setname_np(thread, SPAWN_WORKER_NAME "-ff");
                (void) pthread_attr_destroy(&attr);
        }
        filtered_factory_running = r == 0;
        filtered_factory_failed = r != 0;
}

_noreturn_ static void *factory_main(void *arg) {
        for (;;) {
                WorkerKind kind;
                int r;

                (void) pthread_mutex_lock(&lock);
                for (;;) {
                        if (n_to_start[WORKER_FILTERED] > 0)
                                filtered_factory_start();
                        if (n_to_start[WORKER_PLAIN] > 0 ||
                            (n_to_start[WORKER_FILTERED] > 0 && !filtered_factory_running))
                                break;
                        (void) pthread_cond_wait(&factory_wake, &lock);
                }
                kind = n_to_start[WORKER_PLAIN] > 0 ? WORKER_PLAIN : WORKER_FILTERED;
                n_to_start[kind]--;
                (void) pthread_mutex_unlock(&lock);

                r = factory_start_worker(kind, false);
                if (r < 0)
                        worker_start_failed(kind, r);
        }
}

/* A thread's start, waited for by the daemon's thread that made it. */
typedef struct ThreadStart {
        pthread_mutex_t lock;
        pthread_cond_t done;
        int result;  /* 1 until the thread set itself up */
        int keep[2]; /* the daemon's fds the thread is to keep in its own table, ascending */
        size_t n_keep;
} ThreadStart;

#define THREAD_START_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, { -EBADF, -EBADF }, 0 }

/* Gives the calling thread a table of its own, with only stdio and the fds start says to keep. The daemon is
 * starting: nothing it holds is a caller's, so no close here can block. */
static int thread_keep_only(const ThreadStart *start) {
        unsigned from = 3;

        if (unshare(CLONE_FILES) < 0)
                return -errno;
        for (size_t i = 0; i < start->n_keep; i++) {
                unsigned keep = (unsigned) start->keep[i];

                if (keep < from)
                        continue;
                if (keep > from)
                        (void) close_range(from, keep - 1, 0);
                from = keep + 1;
        }
        (void) close_range(from, ~0U, 0);
        return 0;
}

static void thread_started(ThreadStart *start, int result) {
        (void) pthread_mutex_lock(&start->lock);
        start->result = result;
        (void) pthread_cond_signal(&start->done);
        (void) pthread_mutex_unlock(&start->lock);
}

static void *factory_setup(void *arg) {
        ThreadStart *start = arg;
        int r = 0;

        /* Only the daemon's stdio (and what it opened before, none of it a caller's) was copied, and the
         * receiving ends of the jobs' sockets where fds come by socket. */
        r = thread_keep_only(start);
        /* Nor any supplementary group of whoever started the daemon: a worker holds groups only around its
         * clone3() (spawn.c), and the workers this thread starts begin with its none, whether or not they
         * ever get a job. This thread alone: the raw system call. */
        if (r == 0 && syscall(SYS_setgroups, 0, NULL) < 0)
                r = -errno;
        if (r == 0 && !fds_by_socket) {
                factory_pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
                if (factory_pidfd < 0)
                        r = -errno;
        }
        thread_started(start, r);
        if (r < 0)
                return NULL;
        return factory_main(NULL);
}

/* The watchdog's own table: stdio and its end of the socket. */
static void *watchdog_setup(void *arg) {
        ThreadStart *start = arg;
        int keep = start->keep[0], r;

        r = thread_keep_only(start);
        thread_started(start, r);
        if (r < 0)
                return NULL;
        watchdog_main(keep);
}

/* Starts a thread with every signal blocked (no daemon handler ever runs there) and waits until it set itself
 * up: its setup closes only copies of the daemon's own fds, so this waits for nobody else. */
static int start_thread(void *(*setup)(void *), ThreadStart *start, const char *name) {
        pthread_attr_t attr;
        pthread_t thread;
        sigset_t all, saved;
        int r;

        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r == 0) {
                sigfillset(&all);
                (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
                r = pthread_create(&thread, &attr, setup, start);
                (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        }
        (void) pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        (void) pthread_setname_np(thread, name);

        (void) pthread_mutex_lock(&start->lock);
        while (start->result > 0)
                (void) pthread_cond_wait(&start->done, &start->lock);
        r = start->result;
        (void) pthread_mutex_unlock(&start->lock);
        return r;
}

/* Without it, children a worker is suspended on are ended by the daemon's own deadlines only. */
static void watchdog_start(void) {
        ThreadStart start = THREAD_START_INIT;
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
                return;
        start.keep[start.n_keep++] = sv[1];
        if (start_thread(watchdog_setup, &start, SPAWN_WORKER_NAME "-w") < 0) {
                (void) close(sv[0]);
                (void) close(sv[1]);
                return;
        }
        /* The watchdog has its copy. */
        (void) close(sv[1]);
        watch_socket = sv[0];
}

/* Whether this process may copy fds from its own table with pidfd_getfd(), which a system call filter may
 * refuse (a container manager's allow-list older than the call). */
static bool pidfd_getfd_works(void) {
        int pidfd, copy;

        pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        if (pidfd < 0)
                return false;
        copy = (int) syscall(SYS_pidfd_getfd, pidfd, pidfd, 0);
        (void) close(pidfd);
        if (copy < 0)
                return false;
        (void) close(copy);
        return true;
}

/* The jobs' sockets, where fds come by socket; the receiving ends go into start's list to keep. */
static int job_sockets_open(ThreadStart *start) {
        for (WorkerKind k = 0; k < _WORKER_KIND_MAX; k++) {
                int sv[2];

                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                        return -errno;
                job_socket_send[k] = sv[0];
                job_socket_receive[k] = sv[1];
                start->keep[start->n_keep++] = sv[1];
        }
        /* socketpair() numbers them upwards; thread_keep_only() wants them so. */
        if (start->keep[0] > start->keep[1]) {
                int t = start->keep[0];

                start->keep[0] = start->keep[1];
                start->keep[1] = t;
        }
        return 0;
}

/* Once the factory has its copies: the daemon keeps only the sending ends (and, failing, none). The receiving
 * ends' numbers stay, as the factory's and the workers' tables have them. */
static void job_sockets_close(bool all) {
        for (WorkerKind k = 0; k < _WORKER_KIND_MAX; k++) {
                (void) safe_close(job_socket_receive[k]);
                if (all)
                        job_socket_send[k] = safe_close(job_socket_send[k]);
        }
}

int spawn_worker_setup(void) {
        ThreadStart start = THREAD_START_INIT;
        int r;

        if (factory_running || !spawn_worker_supported())
                return 0;
        fds_by_socket = !pidfd_getfd_works();
        if (fds_by_socket) {
                r = job_sockets_open(&start);
                if (r < 0) {
                        job_sockets_close(true);
                        return r;
                }
        }
        r = start_thread(factory_setup, &start, SPAWN_WORKER_NAME "-f");
        if (fds_by_socket)
                job_sockets_close(r < 0);
        if (r < 0)
                return r;
        watchdog_start();
        factory_running = true;
        return 0;
}

bool spawn_worker_running(void) {
        return factory_running;
}

bool spawn_worker_fds_by_socket(void) {
        return factory_running && fds_by_socket;
}

int spawn_worker_clone(const SpawnWorkerCall *call, pid_t *ret_pid, int *ret_pidfd, SpawnError *ret_error) {
        Job *j;
        int r;

        if (!call || !call->child || !call->done || !ret_pid || !ret_pidfd || !ret_error)
                return -EINVAL;
        if (!spawn_worker_supported() || !factory_running)
                return -EBUSY;
        /* Never a hand-over here, on the spawn's path (several spawns may come in one iteration): only the
         * watches whose children left go. */
        pending_watches_pass(/* hand= */ false, false);

        j = calloc(1, sizeof *j);
        if (!j)
                return -EBUSY;
        j->n_ref = 2;
        j->call = *call;

        (void) pthread_mutex_lock(&lock);
        if (!owner_take(call->owner)) {
                (void) pthread_mutex_unlock(&lock);
                free(j);
                return -EBUSY;
        }
        if (n_idle[call_kind(call)] > 0)
                n_idle[call_kind(call)]--;
        else if (start_worker(call_kind(call)) < 0) {
                owner_release(call->owner);
                (void) pthread_mutex_unlock(&lock);
                free(j);
                return -EBUSY;
        }
        if (fds_by_socket && job_send_fds(j) < 0) {
                /* The worker it took, or the one being started for it, waits for the next job instead. */
                n_idle[call_kind(call)]++;
                owner_release(call->owner);
                (void) pthread_mutex_unlock(&lock);
                free(j);
                return -EBUSY;
        }
        enqueue(j);
        (void) pthread_mutex_unlock(&lock);
        /* After the unlock: a worker woken with the lock still held went straight back to sleep on it, and
         * the unlock woke it a second time (two more context switches per spawn). The worker finds the job
         * queued under the lock either way, so no wake-up is lost. */
        (void) pthread_cond_signal(&queued[call_kind(call)]);

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
                        /* Untrackable: it must not go on, whether it waits for its release or not. */
                        (void) kill(j->pid, SIGKILL);
                        if (__atomic_exchange_n(&j->reap, REAP_CALLER_GAVE_UP, __ATOMIC_ACQ_REL) == REAP_WORKER_DONE)
                                reap(j->pid);
                } else {
                        watch_job_later(j, pidfd);
                        *ret_pid = j->pid;
                        *ret_pidfd = pidfd;
                        r = 0;
                }
        }
        job_unref(j);
        return r;
}

unsigned spawn_worker_owner_busy(uid_t owner) {
        OwnerCount *o;
        unsigned n;

        (void) pthread_mutex_lock(&lock);
        o = owner_find(owner);
        n = o ? o->n : 0;
        (void) pthread_mutex_unlock(&lock);
        return n;
}

void spawn_worker_stats(unsigned *ret_workers, unsigned *ret_idle) {
        (void) pthread_mutex_lock(&lock);
        if (ret_workers)
                *ret_workers = n_workers;
        if (ret_idle)
                *ret_idle = n_idle[WORKER_PLAIN] + n_idle[WORKER_FILTERED];
        (void) pthread_mutex_unlock(&lock);
}
