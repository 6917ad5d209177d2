/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbox-bench: how fast nsboxd makes sandboxes, against the least work the
 * kernel needs for the same namespaces (a raw clone3() loop compiled in) and
 * against unshare(1) and bwrap doing the same, per namespace set and number
 * of concurrent clients; and what the daemon's memory costs per live sandbox.
 *
 * Every client is a thread of its own running blocking calls: each method
 * (clone3, nsboxd, unshare, bwrap) then goes through the same harness, with
 * the timestamps taken by the thread that waits, so no event-loop dispatch
 * delay lands in one method's numbers and not another's. The clients spend
 * nearly all their time blocked in the kernel, so 32 threads on 2 CPUs cost
 * little; the work being measured (the daemon, the children) gets the CPUs.
 */

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench-client.h"
#include "bench-memory.h"
#include "bench-raw.h"
#include "bench-results.h"
#include "bench-stats.h"
#include "fd-util.h"
#include "sandbox-protocol.h"

#define SETS_MAX 16
#define CONCURRENCY_MAX 16
#define CLIENTS_MAX 1024U
#define TOOL_ARGV_MAX 32

typedef struct Options {
        const char *socket_path;
        const char *socket_no_cgroups; /* a second nsboxd, with --no-cgroups */
        const char *socket_pool;       /* a third nsboxd, with a warm-pool budget for root */
        pid_t daemon_pid;
        size_t daemon_children_idle; /* the daemon's children before the first cell: none of them a sandbox */
        const char *program;
        unsigned iterations;
        unsigned warmup;
        unsigned pace_msec; /* each client's pause after every sandbox, off the clock */
        unsigned live;
        NamespaceSet live_sets[LIVE_SETS_MAX];
        size_t n_live_sets;
        uint32_t map_host_id;
        uint32_t map_size;
        bool methods[_METHOD_MAX];
        const char *unshare_path;
        const char *bwrap_path;
        int init; /* nsboxd's "init": -1 its default, 0 off */
        const char *json_path; /* also write the JSON here */
        unsigned timeout_sec;  /* per daemon call and per tool run */
        bool json;
        bool quiet;
        NamespaceSet sets[SETS_MAX];
        size_t n_sets;
        unsigned concurrency[CONCURRENCY_MAX];
        size_t n_concurrency;
} Options;

/* The errors the harness itself makes up read better in its own words. */
static const char *bench_strerror(int error) {
        switch (error) {
        case -ETIMEDOUT:
                return "timed out (see --timeout)";
        case -EPROTO:
                return "the command did not exit with status 0";
        default:
                return strerror(-error);
        }
}

/* ---- namespace sets ---- */

static int namespace_set_parse(const char *s, NamespaceSet *ret) {
        _cleanup_free_ char *copy = strdup(s);
        NamespaceSet set = {};
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        if (strlen(s) >= sizeof set.name)
                return -EINVAL;
        strcpy(set.name, s);

        if (strcmp(s, "none") == 0) {
                *ret = set;
                return 0;
        }
        if (strcmp(s, "all") == 0) {
                set.mask = NAMESPACE_ALL;
                *ret = set;
                return 0;
        }
        for (char *w = strtok_r(copy, "+", &save); w; w = strtok_r(NULL, "+", &save)) {
                NamespaceType t = namespace_type_from_string(w);

                if (t < 0)
                        return -EINVAL;
                set.mask |= NAMESPACE_BIT(t);
        }
        if (set.mask == 0)
                return -EINVAL;
        *ret = set;
        return 0;
}

/* ---- the external tools ---- */

/* unshare(1) as cheaply as it goes: no propagation change, the caller mapped to 0 inside. */
static int unshare_argv(const char *path, unsigned mask, char **argv, char *note, size_t note_size) {
        static const struct {
                NamespaceType type;
                const char *option;
        } options[] = {
                { NAMESPACE_USER, "--user" },     { NAMESPACE_PID, "--pid" },   { NAMESPACE_MOUNT, "--mount" },
                { NAMESPACE_UTS, "--uts" },       { NAMESPACE_IPC, "--ipc" },   { NAMESPACE_NET, "--net" },
                { NAMESPACE_CGROUP, "--cgroup" }, { NAMESPACE_TIME, "--time" },
        };
        size_t n = 0;

        argv[n++] = (char *) path;
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (mask & NAMESPACE_BIT(options[i].type))
                        argv[n++] = (char *) options[i].option;
        if (mask & NAMESPACE_BIT(NAMESPACE_USER)) {
                /* --map-users=... runs newuidmap, which needs /etc/subuid entries for the caller;
                 * map-root-user writes one extent itself, the same kernel work as our one-extent range. */
                argv[n++] = (char *) "--map-root-user";
                snprintf(note, note_size, "maps 1 id (0->caller) instead of a range");
        }
        if (mask & NAMESPACE_BIT(NAMESPACE_MOUNT))
                argv[n++] = (char *) "--propagation=unchanged";
        /* A new pid or time namespace applies to children only: the command must be forked. */
        if (mask & (NAMESPACE_BIT(NAMESPACE_PID) | NAMESPACE_BIT(NAMESPACE_TIME)))
                argv[n++] = (char *) "--fork";
        argv[n++] = (char *) "--";
        argv[n] = NULL;
        return (int) n;
}

static int bwrap_argv(const char *path, unsigned mask, char **argv, char *note, size_t note_size) {
        static const struct {
                NamespaceType type;
                const char *option;
        } options[] = {
                { NAMESPACE_USER, "--unshare-user" },     { NAMESPACE_PID, "--unshare-pid" },
                { NAMESPACE_UTS, "--unshare-uts" },       { NAMESPACE_IPC, "--unshare-ipc" },
                { NAMESPACE_NET, "--unshare-net" },       { NAMESPACE_CGROUP, "--unshare-cgroup" },
        };
        size_t n = 0, l = 0;

        note[0] = 0;
        argv[n++] = (char *) path;
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (mask & NAMESPACE_BIT(options[i].type))
                        argv[n++] = (char *) options[i].option;
        if (mask & NAMESPACE_BIT(NAMESPACE_USER)) {
                argv[n++] = (char *) "--uid";
                argv[n++] = (char *) "0";
                argv[n++] = (char *) "--gid";
                argv[n++] = (char *) "0";
                l += snprintf(note + l, note_size - l, "maps 1 id; ");
        }
        /* bwrap always builds a root in a mount namespace of its own: the cheapest is / bound onto itself. */
        argv[n++] = (char *) "--bind";
        argv[n++] = (char *) "/";
        argv[n++] = (char *) "/";
        if (!(mask & NAMESPACE_BIT(NAMESPACE_MOUNT)) && l < note_size)
                l += snprintf(note + l, note_size - l, "always adds a mount namespace; ");
        if ((mask & NAMESPACE_BIT(NAMESPACE_TIME)) && l < note_size)
                l += snprintf(note + l, note_size - l, "has no time namespace; ");
        if (l >= 2 && l < note_size)
                note[l - 2] = 0;
        argv[n] = NULL;
        return (int) n;
}

/* ---- the harness ---- */

typedef struct Client {
        Method method;
        int timeout_ms;
        RawPlan raw;
        char *const *tool_argv;
        int devnull_fd;
        DaemonClient *daemon;
} Client;

static bool method_is_daemon(Method m) {
        return m == METHOD_NSBOXD || m == METHOD_NSBOXD_LIMITS || m == METHOD_NSBOXD_NO_CGROUP ||
               m == METHOD_NSBOXD_POOL;
}

static int client_run_one(Client *c, uint64_t *ret_spawn_ns, uint64_t *ret_exit_ns) {
        switch (c->method) {
        case METHOD_CLONE3:
        case METHOD_CLONE_VM:
                return raw_run_one(&c->raw, ret_spawn_ns, ret_exit_ns);
        case METHOD_NSBOXD:
        case METHOD_NSBOXD_LIMITS:
        case METHOD_NSBOXD_NO_CGROUP:
        case METHOD_NSBOXD_POOL:
                return daemon_client_run_one(c->daemon, ret_spawn_ns, ret_exit_ns);
        case METHOD_UNSHARE:
        case METHOD_BWRAP:
                *ret_spawn_ns = 0;
                return tool_run_one(c->tool_argv, c->devnull_fd, c->timeout_ms, ret_exit_ns);
        default:
                return -EINVAL;
        }
}

typedef struct Worker {
        pthread_t thread;
        Client client;
        pthread_barrier_t *barrier; /* twice: once every client is warm (the main thread reads the daemon's
                                     * counters then), and to start */
        unsigned warmup;
        unsigned iterations;
        unsigned pace_msec;
        Samples spawn;
        Samples exit;
        uint64_t start_ns;
        uint64_t end_ns;
        int error;
} Worker;

static void *worker_main(void *userdata) {
        Worker *w = userdata;
        uint64_t spawn_ns, exit_ns;
        int r = 0;

        for (unsigned i = 0; i < w->warmup && r >= 0; i++)
                r = client_run_one(&w->client, &spawn_ns, &exit_ns);

        /* Everyone waits here, failed or not, so the barrier never hangs. */
        (void) pthread_barrier_wait(w->barrier);
        (void) pthread_barrier_wait(w->barrier);
        w->start_ns = now_ns();

        for (unsigned i = 0; i < w->iterations && r >= 0; i++) {
                r = client_run_one(&w->client, &spawn_ns, &exit_ns);
                if (r < 0)
                        break;
                if (w->client.method != METHOD_UNSHARE && w->client.method != METHOD_BWRAP)
                        (void) samples_add(&w->spawn, spawn_ns);
                (void) samples_add(&w->exit, exit_ns);
                if (w->pace_msec > 0)
                        (void) nanosleep(&(struct timespec) { .tv_sec = w->pace_msec / 1000,
                                                              .tv_nsec = (long) (w->pace_msec % 1000) * 1000000 },
                                         NULL);
        }
        w->end_ns = now_ns();
        w->error = r < 0 ? r : 0;
        return NULL;
}

typedef struct CellPlan {
        const Options *options;
        const NamespaceSet *set;
        Method method;
        unsigned concurrency;
        char *const *tool_argv;
        int devnull_fd;
} CellPlan;

static int clients_setup(const CellPlan *p, Worker *workers, char *error, size_t error_size) {
        const char *argv[] = { p->options->program, NULL };
        int r;

        for (unsigned i = 0; i < p->concurrency; i++) {
                Client *c = &workers[i].client;

                *c = (Client) {
                        .method = p->method,
                        .timeout_ms = (int) p->options->timeout_sec * 1000,
                        .tool_argv = p->tool_argv,
                        .devnull_fd = p->devnull_fd,
                };
                if (p->method == METHOD_CLONE3 || p->method == METHOD_CLONE_VM) {
                        r = raw_plan_init(&c->raw, p->set->mask, p->options->map_host_id, p->options->map_size,
                                          p->options->program, p->devnull_fd, p->method == METHOD_CLONE_VM);
                        if (r < 0)
                                return r;
                        c->raw.timeout_ms = c->timeout_ms;
                } else if (method_is_daemon(p->method)) {
                        const char *socket_path = p->method == METHOD_NSBOXD_NO_CGROUP ? p->options->socket_no_cgroups :
                                                  p->method == METHOD_NSBOXD_POOL      ? p->options->socket_pool :
                                                                                         p->options->socket_path;

                        r = daemon_client_new(socket_path, p->set->mask, p->options->map_host_id,
                                              p->options->map_size, argv, p->options->init, &c->daemon);
                        if (r >= 0 && p->method == METHOD_NSBOXD_LIMITS)
                                r = daemon_client_set_limits(c->daemon);
                        if (r < 0) {
                                snprintf(error, error_size, "connecting to %s: %s", socket_path, strerror(-r));
                                return r;
                        }
                        daemon_client_set_timeout(c->daemon, (uint64_t) p->options->timeout_sec * 1000000U);
                }
        }
        return 0;
}

static void run_cell(const CellPlan *p, CellResult *ret) {
        _cleanup_free_ Worker *workers = NULL;
        _cleanup_(samples_done) Samples spawn = {}, exit = {};
        pthread_barrier_t barrier;
        unsigned per_client = (p->options->iterations + p->concurrency - 1) / p->concurrency, started = 0;
        uint64_t start = UINT64_MAX, end = 0;
        WarmPoolCounters pool_before = {}, pool_after = {};
        int r, pool_error = 0;

        workers = calloc(p->concurrency, sizeof *workers);
        if (!workers) {
                ret->error = -ENOMEM;
                return;
        }
        if (per_client == 0)
                per_client = 1;

        r = clients_setup(p, workers, ret->note, sizeof ret->note);
        if (r < 0) {
                ret->error = r;
                goto finish;
        }

        if (pthread_barrier_init(&barrier, NULL, p->concurrency + 1) != 0) {
                ret->error = -ENOMEM;
                goto finish;
        }
        for (unsigned i = 0; i < p->concurrency; i++) {
                Worker *w = &workers[i];

                w->barrier = &barrier;
                w->warmup = p->options->warmup;
                w->iterations = per_client;
                w->pace_msec = p->options->pace_msec;
                if (samples_reserve(&w->spawn, per_client) < 0 || samples_reserve(&w->exit, per_client) < 0) {
                        ret->error = -ENOMEM;
                        break;
                }
                r = pthread_create(&w->thread, NULL, worker_main, w);
                if (r != 0) {
                        ret->error = -r;
                        break;
                }
                started++;
        }
        if (started < p->concurrency) {
                /* The barrier counts every client: a thread that could not start would hang the others.
                 * Nothing better to do than report; this only happens when out of memory or threads. */
                fprintf(stderr, "Could not start all client threads: %s\n", strerror(-ret->error));
                abort();
        }
        /* The warm pool's counters over the measured spawns only: read between the warm-up and the start. */
        (void) pthread_barrier_wait(&barrier);
        if (p->method == METHOD_NSBOXD_POOL)
                pool_error = daemon_warm_pool_counters(p->options->socket_pool, &pool_before);
        (void) pthread_barrier_wait(&barrier);
        for (unsigned i = 0; i < p->concurrency; i++)
                (void) pthread_join(workers[i].thread, NULL);
        if (p->method == METHOD_NSBOXD_POOL && pool_error >= 0)
                pool_error = daemon_warm_pool_counters(p->options->socket_pool, &pool_after);
        if (p->method == METHOD_NSBOXD_POOL && pool_error >= 0) {
                ret->pool_measured = true;
                ret->pool_hits = pool_after.hits - pool_before.hits;
                ret->pool_misses = pool_after.misses - pool_before.misses;
                ret->pool_fills = pool_after.fills - pool_before.fills;
                ret->pool_fill_cpu_usec = pool_after.fill_cpu_usec - pool_before.fill_cpu_usec;
                ret->pool_fill_usec = pool_after.fill_usec - pool_before.fill_usec;
        }
        (void) pthread_barrier_destroy(&barrier);

        for (unsigned i = 0; i < p->concurrency; i++) {
                Worker *w = &workers[i];

                if (w->error < 0 && ret->error == 0) {
                        ret->error = w->error;
                        if (w->client.daemon && daemon_client_last_error(w->client.daemon)[0])
                                snprintf(ret->note, sizeof ret->note, "%s: %s",
                                         daemon_client_last_error(w->client.daemon), bench_strerror(w->error));
                        else
                                snprintf(ret->note, sizeof ret->note, "%s", bench_strerror(w->error));
                }
                start = MIN(start, w->start_ns);
                end = MAX(end, w->end_ns);
                (void) samples_merge(&spawn, &w->spawn);
                (void) samples_merge(&exit, &w->exit);
        }

        if (ret->error == 0) {
                samples_summarize(&spawn, &ret->spawn);
                samples_summarize(&exit, &ret->exit);
                ret->per_second = end > start ? (double) exit.n * 1e9 / (double) (end - start) : 0;
        }

finish:
        for (unsigned i = 0; i < p->concurrency; i++) {
                daemon_client_free(workers[i].client.daemon);
                raw_plan_done(&workers[i].client.raw);
                samples_done(&workers[i].spawn);
                samples_done(&workers[i].exit);
        }
}

/* One run of the tool, with its errors visible, to tell "not possible here" from a slow tool. */
static int tool_probe(char *const *argv, int devnull_fd, int timeout_ms) {
        uint64_t ns;

        if (access(argv[0], X_OK) < 0)
                return -errno;
        return tool_run_one(argv, devnull_fd, timeout_ms, &ns);
}

static int run_latency(const Options *o, BenchResults *b, int devnull_fd) {
        CellResult *cells;
        size_t n = 0;

        cells = calloc(o->n_sets * o->n_concurrency * _METHOD_MAX, sizeof *cells);
        if (!cells)
                return -ENOMEM;
        b->cells = cells;

        for (size_t s = 0; s < o->n_sets; s++) {
                char *tool_argv[_METHOD_MAX][TOOL_ARGV_MAX + 4] = {};
                char tool_note[_METHOD_MAX][160] = {};
                int tool_error[_METHOD_MAX] = {};

                for (Method m = METHOD_UNSHARE; m <= METHOD_BWRAP; m++) {
                        const char *path = m == METHOD_UNSHARE ? o->unshare_path : o->bwrap_path;
                        int k;

                        if (!o->methods[m])
                                continue;
                        k = m == METHOD_UNSHARE ? unshare_argv(path, o->sets[s].mask, tool_argv[m], tool_note[m],
                                                               sizeof tool_note[m])
                                                : bwrap_argv(path, o->sets[s].mask, tool_argv[m], tool_note[m],
                                                             sizeof tool_note[m]);
                        tool_argv[m][k++] = (char *) o->program;
                        tool_argv[m][k] = NULL;
                        tool_error[m] = tool_probe(tool_argv[m], devnull_fd, (int) o->timeout_sec * 1000);
                        if (tool_error[m] < 0)
                                snprintf(tool_note[m], sizeof tool_note[m], "%s: %s", path,
                                         bench_strerror(tool_error[m]));
                }

                for (size_t k = 0; k < o->n_concurrency; k++)
                        for (Method m = 0; m < _METHOD_MAX; m++) {
                                CellResult *c = &cells[n];
                                CellPlan plan = {
                                        .options = o,
                                        .set = &o->sets[s],
                                        .method = m,
                                        .concurrency = o->concurrency[k],
                                        .tool_argv = tool_argv[m],
                                        .devnull_fd = devnull_fd,
                                };

                                if (!o->methods[m])
                                        continue;
                                *c = (CellResult) { .set = s, .concurrency = o->concurrency[k], .method = m };
                                n++;
                                if (tool_error[m] < 0) {
                                        c->skipped = true;
                                        snprintf(c->note, sizeof c->note, "%.159s", tool_note[m]);
                                        continue;
                                }
                                run_cell(&plan, c);
                                if (c->error == 0 && tool_note[m][0])
                                        snprintf(c->note, sizeof c->note, "%.159s", tool_note[m]);
                                if (!o->quiet)
                                        fprintf(stderr, "%-32s %2u clients %-15s %s %.0f/s\n", o->sets[s].name,
                                                c->concurrency, method_to_string(m),
                                                c->error == 0 ? "ok" : c->note, c->per_second);
                        }
        }
        b->n_cells = n;
        return 0;
}

/* ---- memory ---- */

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/*
 * Waits, 60 s at most, until at most one task besides this one is runnable in five samples 0.1 s apart
 * (/proc/loadavg's fourth field). The kernel sets up and tears down namespaces and cgroups in its workers
 * for a while after 10,000 sandboxes started or ended; a scaling cell run meanwhile measured that (the
 * raw baseline's own CPU per sandbox grew 1.5x beside the daemon's, and quiet the daemon's grew 1.2x
 * where the cell said 2.8x). Returns whether it settled.
 */
static bool wait_machine_settled(void) {
        unsigned quiet = 0;

        for (unsigned waited = 0; waited < 60000; waited += 100) {
                FILE *f = fopen("/proc/loadavg", "re");
                unsigned running = UINT_MAX;

                if (f) {
                        if (fscanf(f, "%*s %*s %*s %u/", &running) != 1)
                                running = UINT_MAX;
                        fclose(f);
                }
                quiet = running <= 2 ? quiet + 1 : 0;
                if (quiet >= 5)
                        return true;
                sleep_ms(100);
        }
        return false;
}

/* One spawn+wait cell at one client, with the daemon's own CPU time per sandbox around it. */
static int self_cpu_ns(uint64_t *ret) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return -errno;
        *ret = ((uint64_t) ru.ru_utime.tv_sec + (uint64_t) ru.ru_stime.tv_sec) * UINT64_C(1000000000) +
               ((uint64_t) ru.ru_utime.tv_usec + (uint64_t) ru.ru_stime.tv_usec) * UINT64_C(1000);
        return 0;
}

/* The raw baseline's cell at a scale point: its latency and the benchmark's own CPU per sandbox. */
static void run_scale_point_raw(const Options *o, const NamespaceSet *set, ScalePoint *ret) {
        CellResult cell = { .concurrency = 1, .method = METHOD_CLONE3 };
        _cleanup_close_ int devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        CellPlan plan = { .options = o, .set = set, .method = METHOD_CLONE3, .concurrency = 1, .devnull_fd = devnull_fd };
        uint64_t cpu_before = 0, cpu_after = 0;

        /* The process's own, with the cell's client threads that exited: /proc has no more of those. */
        if (devnull_fd < 0 || self_cpu_ns(&cpu_before) < 0)
                return;
        run_cell(&plan, &cell);
        if (cell.error < 0 || self_cpu_ns(&cpu_after) < 0)
                return;
        ret->raw_measured = true;
        ret->raw_spawn = cell.spawn;
        ret->raw_cpu_ns = (double) (cpu_after - cpu_before) / (double) (cell.exit.n + o->warmup);
}

static void run_scale_point(const Options *o, const NamespaceSet *set, size_t n_live, ScalePoint *ret) {
        CellResult cell = { .concurrency = 1, .method = METHOD_NSBOXD };
        CellPlan plan = { .options = o, .set = set, .method = METHOD_NSBOXD, .concurrency = 1, .devnull_fd = -EBADF };
        uint64_t cpu_before = 0, cpu_after = 0;
        int r;

        *ret = (ScalePoint) { .n_live = n_live };
        ret->settled = wait_machine_settled();
        r = process_cpu_ns(o->daemon_pid, &cpu_before);
        if (r >= 0) {
                run_cell(&plan, &cell);
                r = cell.error;
        }
        if (r >= 0)
                r = process_cpu_ns(o->daemon_pid, &cpu_after);
        if (r < 0) {
                ret->error = r;
                return;
        }
        ret->measured = true;
        ret->spawn = cell.spawn;
        ret->exit = cell.exit;
        ret->per_second = cell.per_second;
        /* The warm-up sandboxes ran inside the same window. */
        ret->cpu_ns = (double) (cpu_after - cpu_before) / (double) (cell.exit.n + o->warmup);
        run_scale_point_raw(o, set, ret);
}

/* A count from the per-thread children files can come out short while a spawn worker thread exits (its children
 * move to a thread already read): the count is taken again until it holds, or the bound passes. */
static int wait_children_at_least(pid_t daemon_pid, size_t want, unsigned timeout_ms, size_t *ret_children) {
        size_t children = 0;
        int r;

        for (unsigned waited = 0;; waited += 50) {
                r = process_count_children(daemon_pid, &children);
                if (r < 0)
                        return r;
                if (children >= want)
                        break;
                if (waited >= timeout_ms) {
                        r = -ETIMEDOUT;
                        break;
                }
                sleep_ms(50);
        }
        *ret_children = children;
        return r;
}

static int wait_children_at_most(pid_t daemon_pid, size_t limit, unsigned timeout_ms, size_t *ret_children) {
        size_t children = 0;

        for (unsigned waited = 0; waited < timeout_ms; waited += 50) {
                if (process_count_children(daemon_pid, &children) < 0 || children <= limit) {
                        *ret_children = children;
                        return 0;
                }
                sleep_ms(50);
        }
        *ret_children = children;
        return -ETIMEDOUT;
}

/* Connections the live sandboxes are started on at once: a few spawns in flight keep both the daemon and
 * the machine's CPUs busy, so 10,000 start in minutes. Closing them stops the sandboxes. */
#define LIVE_HOLDERS 4

typedef struct LiveStarter {
        pthread_t thread;
        DaemonClient *holder;
        unsigned n;
        int error;
        char note[160];
} LiveStarter;

static void *live_starter_run(void *userdata) {
        LiveStarter *l = userdata;

        for (unsigned i = 0; i < l->n; i++) {
                l->error = daemon_client_spawn_only(l->holder);
                if (l->error < 0) {
                        snprintf(l->note, sizeof l->note, "sandbox %u of a connection: %s %s", i,
                                 daemon_client_last_error(l->holder), strerror(-l->error));
                        break;
                }
        }
        return NULL;
}

/* One List of everything alive: the daemon's CPU for it and the memory it leaves behind. */
static void run_list(const Options *o, DaemonClient *holder, MemoryResult *m) {
        uint64_t cpu_before = 0, cpu_after = 0;
        int r;

        r = memory_usage_read(o->daemon_pid, &m->before_list);
        if (r >= 0)
                r = process_cpu_ns(o->daemon_pid, &cpu_before);
        if (r >= 0)
                r = daemon_client_list(holder, &m->n_listed);
        if (r >= 0)
                r = process_cpu_ns(o->daemon_pid, &cpu_after);
        if (r >= 0)
                r = memory_usage_read(o->daemon_pid, &m->after_list);
        if (r < 0) {
                snprintf(m->note, sizeof m->note, "List: %s %s", daemon_client_last_error(holder), strerror(-r));
                return;
        }
        m->list_cpu_ns = cpu_after - cpu_before;
        m->list_measured = true;
}

/*
 * The daemon's memory with o->live sandboxes of one namespace set alive, and
 * its cost per spawn+wait before they start, while they live and after they
 * exited (the last tells drift of a shared machine from growth with the table).
 */
static void run_memory_live(const Options *o, const NamespaceSet *set, MemoryResult *m) {
        LiveStarter starters[LIVE_HOLDERS] = {};
        /* A day: 10,000 take longer to start on a busy machine than a shorter sleep lasts. */
        const char *argv[] = { "/bin/sleep", "86400", NULL };
        size_t children = 0, before = 0, started = 0;
        int r = 0;

        snprintf(m->namespaces, sizeof m->namespaces, "%s", set->name);
        for (size_t i = 0; r >= 0 && i < LIVE_HOLDERS; i++) {
                r = daemon_client_new(o->socket_path, set->mask, o->map_host_id, o->map_size, argv, o->init,
                                      &starters[i].holder);
                if (r >= 0)
                        daemon_client_set_timeout(starters[i].holder, (uint64_t) o->timeout_sec * 1000000U);
                starters[i].n = o->live / LIVE_HOLDERS + (i < o->live % LIVE_HOLDERS);
        }
        if (r < 0) {
                m->error = r;
                snprintf(m->note, sizeof m->note, "connecting: %s", strerror(-r));
                goto finish;
        }

        /* The earlier runs' sandboxes may still be ending (those of closed connections are killed and reaped one
         * after another on the daemon's loop): the daemon's work on them would be measured with the scale point,
         * and counted here they would be expected among the live ones' children after they are gone. */
        if (wait_children_at_most(o->daemon_pid, o->daemon_children_idle, 30000U, &before) < 0) {
                snprintf(m->note, sizeof m->note, "%zu children of earlier runs still there after 30 s",
                         before - o->daemon_children_idle);
                m->error = -ETIMEDOUT;
                goto finish;
        }
        run_scale_point(o, set, 0, &m->scale[SCALE_BEFORE]);
        if (wait_children_at_most(o->daemon_pid, o->daemon_children_idle, 30000U, &before) < 0) {
                snprintf(m->note, sizeof m->note, "%zu children of the scale point still there after 30 s",
                         before - o->daemon_children_idle);
                m->error = -ETIMEDOUT;
                goto finish;
        }
        (void) process_count_fds(o->daemon_pid, &m->fds_before_live);
        r = memory_usage_read(o->daemon_pid, &m->before_live);
        for (size_t i = 0; r >= 0 && i < LIVE_HOLDERS; i++) {
                r = -pthread_create(&starters[i].thread, NULL, live_starter_run, &starters[i]);
                if (r >= 0)
                        started++;
        }
        for (size_t i = 0; i < started; i++) {
                (void) pthread_join(starters[i].thread, NULL);
                if (r >= 0 && starters[i].error < 0) {
                        r = starters[i].error;
                        snprintf(m->note, sizeof m->note, "%s", starters[i].note);
                }
        }
        /* Every sandbox is one child of the daemon (the command, or its init), so they are counted from /proc
         * without a List call, whose reply would grow the heap being measured. */
        if (r >= 0) {
                r = wait_children_at_least(o->daemon_pid, before + o->live, 10000U, &children);
                if (r == -ETIMEDOUT) {
                        snprintf(m->note, sizeof m->note, "the daemon has %zu children, expected %zu", children,
                                 before + o->live);
                        r = -ESRCH;
                }
        }
        if (r >= 0)
                r = memory_usage_read(o->daemon_pid, &m->live);
        (void) process_count_fds(o->daemon_pid, &m->fds_live);
        if (r >= 0)
                (void) process_children_pss(o->daemon_pid, &m->children_pss, &m->n_children);
        if (r < 0) {
                m->error = r;
                goto finish;
        }
        m->n_live = o->live;
        m->pid_namespace = set->mask & NAMESPACE_BIT(NAMESPACE_PID);
        run_list(o, starters[0].holder, m);

        run_scale_point(o, set, o->live, &m->scale[SCALE_LIVE]);

        /* Closing the connections stops their sandboxes (none asked for keepAlive). */
        for (size_t i = 0; i < LIVE_HOLDERS; i++)
                starters[i].holder = daemon_client_free(starters[i].holder);
        /* The daemon ends them one after another on its loop: 10,000 take a while on a busy machine. */
        if (wait_children_at_most(o->daemon_pid, before, 30000U + 10U * o->live, &children) < 0)
                snprintf(m->note, sizeof m->note, "%zu children still there %u s after their connections closed",
                         children, 30U + o->live / 100U);
        sleep_ms(200);
        (void) memory_usage_read(o->daemon_pid, &m->after_exit);

        run_scale_point(o, set, 0, &m->scale[SCALE_AFTER]);

finish:
        for (size_t i = 0; i < LIVE_HOLDERS; i++)
                daemon_client_free(starters[i].holder);
}

/* ---- options ---- */

static void help(void) {
        printf("nsbox-bench [OPTIONS]\n\n"
               "Measures sandbox creation by nsboxd against a raw clone3() baseline, unshare(1) and bwrap.\n\n"
               "  -s, --socket PATH          nsboxd's socket (without it only the baselines run)\n"
               "      --socket-no-cgroups PATH  a second nsboxd's, started with --no-cgroups, for the\n"
               "                             nsboxd-nocgroup method (the cost of the cgroup step)\n"
               "      --socket-pool PATH     a third nsboxd's, whose policy gives root a warm pool, for the\n"
               "                             nsboxd+pool method (its hit rate and refill cost are reported)\n"
               "      --daemon-pid PID       the daemon's pid for memory figures (default: the socket's peer)\n"
               "  -n, --iterations N         sandboxes per cell, split over the clients (default 500)\n"
               "  -w, --warmup N             unmeasured sandboxes per client before each cell (default 2)\n"
               "  -c, --concurrency LIST     clients at once, e.g. 1,2,4,8,32 (default)\n"
               "      --pace MS              each client pauses MS milliseconds after every sandbox, off\n"
               "                             the clock: spawns apart, as a shell's are, not back to back\n"
               "                             (throughput then counts the pauses; default 0)\n"
               "  -N, --namespaces LIST      namespace sets: none, all, or names joined with '+', comma-separated\n"
               "                             (default none,user,user+pid,user+mount+uts+ipc+pid+cgroup,all)\n"
               "  -m, --methods LIST         clone3,nsboxd,nsboxd+limits,nsboxd-nocgroup,nsboxd+pool,unshare,\n"
               "                             bwrap (the default) and clone-vm: the baseline sharing memory\n"
               "                             with the benchmark until exec\n"
               "      --no-init              ask nsboxd for no init in pid namespaces (its default: one)\n"
               "      --live N               live sandboxes for the memory figures and the scaling cells:\n"
               "                             spawn+wait and the daemon's CPU per sandbox at 0 and N alive\n"
               "                             (default 1000; 0: skip)\n"
               "      --live-namespaces LIST namespace sets of those, one run each (default none,user+pid)\n"
               "      --map HOSTID:SIZE      user namespaces map 0 to HOSTID (default 100000:65536)\n"
               "      --program PATH         what every sandbox runs (default /bin/true)\n"
               "      --unshare PATH         unshare(1) (default /usr/bin/unshare)\n"
               "      --bwrap PATH           bubblewrap (default /usr/bin/bwrap)\n"
               "      --json                 print JSON instead of the table\n"
               "      --json-file PATH       also write the JSON to PATH\n"
               "      --timeout SECONDS      fail a cell when one call or tool run takes longer (default 30)\n"
               "  -q, --quiet                no progress on stderr\n"
               "  -h, --help                 show this help\n");
}

static int parse_unsigned(const char *s, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || s[0] == '-' || v < min || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_list(const char *arg, int (*one)(const char *word, void *userdata), void *userdata) {
        _cleanup_free_ char *copy = strdup(arg);
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                r = one(w, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_set(const char *w, void *userdata) {
        Options *o = userdata;

        if (o->n_sets >= SETS_MAX)
                return -E2BIG;
        return namespace_set_parse(w, &o->sets[o->n_sets++]);
}

static int add_live_set(const char *w, void *userdata) {
        Options *o = userdata;

        if (o->n_live_sets >= LIVE_SETS_MAX)
                return -E2BIG;
        return namespace_set_parse(w, &o->live_sets[o->n_live_sets++]);
}

static int add_concurrency(const char *w, void *userdata) {
        Options *o = userdata;

        if (o->n_concurrency >= CONCURRENCY_MAX)
                return -E2BIG;
        return parse_unsigned(w, 1, CLIENTS_MAX, &o->concurrency[o->n_concurrency++]);
}

static int add_method(const char *w, void *userdata) {
        Options *o = userdata;
        int m = method_from_string(w);

        if (m < 0)
                return m;
        o->methods[m] = true;
        return 0;
}

static int parse_argv(int argc, char *argv[], Options *o) {
        enum {
                ARG_DAEMON_PID = 0x100,
                ARG_LIVE,
                ARG_LIVE_NAMESPACES,
                ARG_MAP,
                ARG_PROGRAM,
                ARG_UNSHARE,
                ARG_BWRAP,
                ARG_JSON,
                ARG_NO_INIT,
                ARG_JSON_FILE,
                ARG_TIMEOUT,
                ARG_SOCKET_NO_CGROUPS,
                ARG_SOCKET_POOL,
                ARG_PACE,
        };
        static const struct option options[] = {
                { "socket",          required_argument, NULL, 's'                 },
                { "daemon-pid",      required_argument, NULL, ARG_DAEMON_PID      },
                { "socket-no-cgroups", required_argument, NULL, ARG_SOCKET_NO_CGROUPS },
                { "socket-pool",     required_argument, NULL, ARG_SOCKET_POOL     },
                { "iterations",      required_argument, NULL, 'n'                 },
                { "warmup",          required_argument, NULL, 'w'                 },
                { "pace",            required_argument, NULL, ARG_PACE            },
                { "concurrency",     required_argument, NULL, 'c'                 },
                { "namespaces",      required_argument, NULL, 'N'                 },
                { "methods",         required_argument, NULL, 'm'                 },
                { "live",            required_argument, NULL, ARG_LIVE            },
                { "live-namespaces", required_argument, NULL, ARG_LIVE_NAMESPACES },
                { "map",             required_argument, NULL, ARG_MAP             },
                { "program",         required_argument, NULL, ARG_PROGRAM         },
                { "unshare",         required_argument, NULL, ARG_UNSHARE         },
                { "bwrap",           required_argument, NULL, ARG_BWRAP           },
                { "json",            no_argument,       NULL, ARG_JSON            },
                { "no-init",         no_argument,       NULL, ARG_NO_INIT         },
                { "json-file",       required_argument, NULL, ARG_JSON_FILE       },
                { "timeout",         required_argument, NULL, ARG_TIMEOUT         },
                { "quiet",           no_argument,       NULL, 'q'                 },
                { "help",            no_argument,       NULL, 'h'                 },
                {}
        };
        bool methods_given = false;
        unsigned u;
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "s:n:w:c:N:m:qh", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        o->socket_path = optarg;
                        break;
                case ARG_SOCKET_NO_CGROUPS:
                        o->socket_no_cgroups = optarg;
                        break;
                case ARG_SOCKET_POOL:
                        o->socket_pool = optarg;
                        break;
                case ARG_DAEMON_PID:
                        r = parse_unsigned(optarg, 1, INT32_MAX, &u);
                        o->daemon_pid = (pid_t) u;
                        break;
                case 'n':
                        r = parse_unsigned(optarg, 1, 10000000, &o->iterations);
                        break;
                case 'w':
                        r = parse_unsigned(optarg, 0, 1000000, &o->warmup);
                        break;
                case ARG_PACE:
                        r = parse_unsigned(optarg, 0, 60000, &o->pace_msec);
                        break;
                case 'c':
                        o->n_concurrency = 0;
                        r = parse_list(optarg, add_concurrency, o);
                        break;
                case 'N':
                        o->n_sets = 0;
                        r = parse_list(optarg, add_set, o);
                        break;
                case 'm':
                        memset(o->methods, 0, sizeof o->methods);
                        methods_given = true;
                        r = parse_list(optarg, add_method, o);
                        break;
                case ARG_LIVE:
                        r = parse_unsigned(optarg, 0, 100000, &o->live);
                        break;
                case ARG_LIVE_NAMESPACES:
                        o->n_live_sets = 0;
                        r = parse_list(optarg, add_live_set, o);
                        break;
                case ARG_MAP: {
                        unsigned host, size;
                        char *colon = strchr(optarg, ':');

                        r = -EINVAL;
                        if (colon) {
                                *colon = 0;
                                if (parse_unsigned(optarg, 0, UINT32_MAX - 1, &host) >= 0 &&
                                    parse_unsigned(colon + 1, 1, UINT32_MAX, &size) >= 0 &&
                                    (uint64_t) host + size <= UINT32_MAX) {
                                        o->map_host_id = host;
                                        o->map_size = size;
                                        r = 0;
                                }
                                *colon = ':';
                        }
                        break;
                }
                case ARG_PROGRAM:
                        o->program = optarg;
                        break;
                case ARG_UNSHARE:
                        o->unshare_path = optarg;
                        break;
                case ARG_BWRAP:
                        o->bwrap_path = optarg;
                        break;
                case ARG_JSON:
                        o->json = true;
                        break;
                case ARG_NO_INIT:
                        o->init = 0;
                        break;
                case ARG_JSON_FILE:
                        o->json_path = optarg;
                        break;
                case ARG_TIMEOUT:
                        r = parse_unsigned(optarg, 1, 3600, &o->timeout_sec);
                        break;
                case 'q':
                        o->quiet = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "Invalid argument for option %s: %s\n", argv[optind - 1], optarg);
                        return r;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "Unexpected argument: %s\n", argv[optind]);
                return -EINVAL;
        }
        if (o->n_sets == 0 || o->n_concurrency == 0) {
                fprintf(stderr, "Empty list of namespace sets or concurrency levels.\n");
                return -EINVAL;
        }
        if (o->program[0] != '/') {
                fprintf(stderr, "--program needs an absolute path.\n");
                return -EINVAL;
        }
        if (!o->socket_path) {
                if (methods_given && o->methods[METHOD_NSBOXD]) {
                        fprintf(stderr, "--methods nsboxd needs --socket.\n");
                        return -EINVAL;
                }
                o->methods[METHOD_NSBOXD] = false;
                o->methods[METHOD_NSBOXD_LIMITS] = false;
        }
        if (!o->socket_no_cgroups) {
                if (methods_given && o->methods[METHOD_NSBOXD_NO_CGROUP]) {
                        fprintf(stderr, "--methods nsboxd-nocgroup needs --socket-no-cgroups.\n");
                        return -EINVAL;
                }
                o->methods[METHOD_NSBOXD_NO_CGROUP] = false;
        }
        if (!o->socket_pool) {
                if (methods_given && o->methods[METHOD_NSBOXD_POOL]) {
                        fprintf(stderr, "--methods nsboxd+pool needs --socket-pool.\n");
                        return -EINVAL;
                }
                o->methods[METHOD_NSBOXD_POOL] = false;
        }
        return 1;
}

static void options_defaults(Options *o) {
        static const char *const default_sets[] = {
                "none", "user", "user+pid", "user+mount+uts+ipc+pid+cgroup", "all",
        };
        static const unsigned default_concurrency[] = { 1, 2, 4, 8, 32 };
        static const char *const default_live_sets[] = { "none", "user+pid" };

        *o = (Options) {
                .program = "/bin/true",
                .iterations = 500,
                .warmup = 2,
                .live = 1000,
                .map_host_id = 100000,
                .map_size = 65536,
                .unshare_path = "/usr/bin/unshare",
                .bwrap_path = "/usr/bin/bwrap",
                .init = -1,
                .timeout_sec = 30,
        };
        for (Method m = 0; m < _METHOD_MAX; m++)
                o->methods[m] = m != METHOD_CLONE_VM;
        for (size_t i = 0; i < ELEMENTSOF(default_sets); i++)
                (void) namespace_set_parse(default_sets[i], &o->sets[o->n_sets++]);
        for (size_t i = 0; i < ELEMENTSOF(default_live_sets); i++)
                (void) namespace_set_parse(default_live_sets[i], &o->live_sets[o->n_live_sets++]);
        for (size_t i = 0; i < ELEMENTSOF(default_concurrency); i++)
                o->concurrency[o->n_concurrency++] = default_concurrency[i];
}

static void read_loadavg(double ret[3]) {
        FILE *f = fopen("/proc/loadavg", "re");

        if (!f)
                return;
        if (fscanf(f, "%lf %lf %lf", &ret[0], &ret[1], &ret[2]) != 3)
                ret[0] = ret[1] = ret[2] = 0;
        fclose(f);
}

/*
 * The host's cgroup layout, for the reader of the table: a spawn takes its child into cgroup2 with
 * CLONE_INTO_CGROUP, but moves it into each v1 hierarchy with a cgroup.procs write of its own, so the
 * numbers of a hybrid host are not those of a pure cgroup2 one.
 */
static void read_cgroup_layout(char *ret, size_t size) {
        FILE *f = fopen("/proc/self/mounts", "re");
        unsigned v1 = 0, v2 = 0;
        char type[64], options[1024];

        snprintf(ret, size, "unknown");
        if (!f)
                return;
        while (fscanf(f, "%*s %*s %63s %1023s %*d %*d", type, options) == 2) {
                /* name=systemd and the like hold no controller: not counted. */
                if (streq(type, "cgroup") && !strstr(options, "name="))
                        v1++;
                else if (streq(type, "cgroup2"))
                        v2++;
        }
        fclose(f);
        if (v1 == 0)
                snprintf(ret, size, "%s", v2 > 0 ? "cgroup2 only" : "none mounted");
        else
                snprintf(ret, size, "%s%u v1 hierarchies", v2 > 0 ? "cgroup2 and " : "", v1);
}

/* 1,000 live sandboxes are 1,000 pidfds coming our way, and more for the clients. */
static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char *argv[]) {
        _cleanup_close_ int devnull_fd = -EBADF;
        Options o;
        BenchResults b = {};
        MemoryUsage idle = {};
        char memory_note[160] = "";
        int r;

        options_defaults(&o);
        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        raise_fd_limit();
        devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull_fd < 0) {
                fprintf(stderr, "Cannot open /dev/null: %m\n");
                return EXIT_FAILURE;
        }

        b = (BenchResults) {
                .sets = o.sets,
                .n_sets = o.n_sets,
                .concurrency = o.concurrency,
                .n_concurrency = o.n_concurrency,
                .program = o.program,
                .iterations = o.iterations,
                .warmup = o.warmup,
                .pace_msec = o.pace_msec,
                .map_host_id = o.map_host_id,
                .map_size = o.map_size,
        };

        struct utsname u;
        if (uname(&u) >= 0)
                snprintf(b.kernel, sizeof b.kernel, "%s", u.release);
        b.cpus = sysconf(_SC_NPROCESSORS_ONLN);
        read_cgroup_layout(b.cgroups, sizeof b.cgroups);
        read_loadavg(b.load_before);

        if (o.socket_path) {
                if (o.daemon_pid == 0) {
                        r = socket_peer_pid(o.socket_path, &o.daemon_pid);
                        if (r < 0) {
                                fprintf(stderr, "Cannot reach nsboxd at %s: %s\n", o.socket_path, strerror(-r));
                                return EXIT_FAILURE;
                        }
                }
                r = memory_usage_read(o.daemon_pid, &idle);
                if (r < 0)
                        snprintf(memory_note, sizeof memory_note, "reading /proc/%d/smaps_rollup: %s",
                                 (int) o.daemon_pid, strerror(-r));
                if (r >= 0) {
                        r = process_count_children(o.daemon_pid, &o.daemon_children_idle);
                        if (r < 0)
                                snprintf(memory_note, sizeof memory_note, "counting the children of pid %d: %s",
                                         (int) o.daemon_pid, strerror(-r));
                }
        } else {
                r = -ENOENT;
                snprintf(memory_note, sizeof memory_note, "no --socket given");
        }
        b.n_memory = o.live > 0 ? o.n_live_sets : 1;
        for (size_t i = 0; i < b.n_memory; i++) {
                b.memory[i].measured = r >= 0;
                b.memory[i].idle = idle;
                snprintf(b.memory[i].note, sizeof b.memory[i].note, "%s", memory_note);
        }

        r = run_latency(&o, &b, devnull_fd);
        if (r < 0) {
                fprintf(stderr, "Benchmark failed: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        for (size_t i = 0; o.live > 0 && i < b.n_memory; i++) {
                if (!b.memory[i].measured)
                        continue;
                if (!o.quiet)
                        fprintf(stderr, "memory and scaling: %u live sandboxes (%s)\n", o.live, o.live_sets[i].name);
                run_memory_live(&o, &o.live_sets[i], &b.memory[i]);
        }

        read_loadavg(b.load_after);
        if (o.json_path) {
                FILE *f = fopen(o.json_path, "we");

                r = f ? bench_results_print_json(&b, f) : -errno;
                if (f && fclose(f) != 0 && r >= 0)
                        r = -errno;
                if (r < 0)
                        fprintf(stderr, "Cannot write %s: %s\n", o.json_path, strerror(-r));
        }
        if (r >= 0 && o.json)
                r = bench_results_print_json(&b, stdout);
        else if (r >= 0)
                bench_results_print_table(&b, stdout);
        free(b.cells);
        if (r < 0 || fflush(stdout) != 0) {
                fprintf(stderr, "Writing the results failed.\n");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
