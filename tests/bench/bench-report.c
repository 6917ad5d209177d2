/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shows a benchmark run as a table or as JSON, with the performance targets checked. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>

#include "bench-results.h"

static const char *const method_names[_METHOD_MAX] = {
        [METHOD_CLONE3] = "clone3",
        [METHOD_NSBOXD] = "nsboxd",
        [METHOD_UNSHARE] = "unshare",
        [METHOD_BWRAP] = "bwrap",
        [METHOD_CLONE_VM] = "clone-vm",
        [METHOD_NSBOXD_LIMITS] = "nsboxd+limits",
        [METHOD_NSBOXD_NO_CGROUP] = "nsboxd-nocgroup",
        [METHOD_NSBOXD_POOL] = "nsboxd+pool",
};

const char *method_to_string(Method m) {
        return m >= 0 && m < _METHOD_MAX ? method_names[m] : NULL;
}

int method_from_string(const char *s) {
        for (Method m = 0; m < _METHOD_MAX; m++)
                if (strcmp(s, method_names[m]) == 0)
                        return m;
        return -EINVAL;
}

const CellResult *bench_results_find(const BenchResults *b, size_t set, unsigned concurrency, Method method) {
        for (size_t i = 0; i < b->n_cells; i++)
                if (b->cells[i].set == set && b->cells[i].concurrency == concurrency && b->cells[i].method == method)
                        return &b->cells[i];
        return NULL;
}

static const CellResult *find_ok(const BenchResults *b, size_t set, unsigned concurrency, Method method) {
        const CellResult *c = bench_results_find(b, set, concurrency, method);

        return c && !c->skipped && c->error == 0 && c->exit.n > 0 ? c : NULL;
}

/* ---- targets ---- */

typedef enum TargetStatus {
        TARGET_MET,
        TARGET_MISSED,
        TARGET_NOT_MEASURED,
} TargetStatus;

typedef struct Target {
        char name[256];
        TargetStatus status;
        double value; /* the measured ratio or size */
        double limit;
        char detail[160];
} Target;

#define TARGETS_MAX 64

#define SPAWN_RATIO_MAX 1.0
#define POOL_SPAWN_RATIO_MAX 0.6
#define THROUGHPUT_RATIO_MIN 1.0
#define IDLE_RSS_MAX (4.0 * 1024 * 1024)
#define PER_SANDBOX_MAX 2048.0
#define INIT_PSS_MAX (64.0 * 1024)
#define FLAT_RATIO_MAX 1.10

/*
 * What the cgroup step costs, at one client: nsboxd (a cgroup per sandbox, no limits) and nsboxd+limits
 * against the same daemon binary run with --no-cgroups, in the same run.
 */
static void print_cgroup_cost(FILE *f, const BenchResults *b) {
        bool header = false;

        for (size_t s = 0; s < b->n_sets; s++) {
                const CellResult *none = find_ok(b, s, 1, METHOD_NSBOXD_NO_CGROUP), *cg = find_ok(b, s, 1, METHOD_NSBOXD),
                                 *lim = find_ok(b, s, 1, METHOD_NSBOXD_LIMITS);

                if (!none || (!cg && !lim))
                        continue;
                if (!header) {
                        fprintf(f, "\ncgroup step, 1 client (p50 in us; + is over nsboxd-nocgroup)\n");
                        fprintf(f, "%-32s %9s %9s %9s | %9s %9s %9s\n", "namespaces", "no-cg", "cgroup", "+limits",
                                "exit no-cg", "cgroup", "+limits");
                        header = true;
                }
                fprintf(f, "%-32s %9.0f %+9.0f %+9.0f | %9.0f %+9.0f %+9.0f\n", b->sets[s].name,
                        none->spawn.p50_ns / 1e3, cg ? ((double) cg->spawn.p50_ns - none->spawn.p50_ns) / 1e3 : 0.0,
                        lim ? ((double) lim->spawn.p50_ns - none->spawn.p50_ns) / 1e3 : 0.0, none->exit.p50_ns / 1e3,
                        cg ? ((double) cg->exit.p50_ns - none->exit.p50_ns) / 1e3 : 0.0,
                        lim ? ((double) lim->exit.p50_ns - none->exit.p50_ns) / 1e3 : 0.0);
        }
}

static Target *target_add(Target *t, size_t *n) {
        if (*n >= TARGETS_MAX)
                return NULL;
        t[*n] = (Target) { .status = TARGET_NOT_MEASURED };
        return &t[(*n)++];
}

static size_t targets_evaluate(const BenchResults *b, Target *t) {
        size_t n = 0;
        Target *x;

        for (size_t s = 0; s < b->n_sets; s++) {
                const char *set = b->sets[s].name;
                const CellResult *d1 = find_ok(b, s, 1, METHOD_NSBOXD), *d8 = find_ok(b, s, 8, METHOD_NSBOXD),
                                 *raw = find_ok(b, s, 1, METHOD_CLONE3), *raw8 = find_ok(b, s, 8, METHOD_CLONE3);

                x = target_add(t, &n);
                if (!x)
                        break;
                snprintf(x->name, sizeof x->name, "[%s] nsboxd spawn p50 <= %.2fx clone3, 1 client", set,
                         SPAWN_RATIO_MAX);
                x->limit = SPAWN_RATIO_MAX;
                if (d1 && raw && d1->spawn.n > 0 && raw->spawn.p50_ns > 0) {
                        x->value = (double) d1->spawn.p50_ns / (double) raw->spawn.p50_ns;
                        x->status = x->value <= SPAWN_RATIO_MAX ? TARGET_MET : TARGET_MISSED;
                        snprintf(x->detail, sizeof x->detail, "%.2fx (%.0f us vs %.0f us)", x->value,
                                 d1->spawn.p50_ns / 1e3, raw->spawn.p50_ns / 1e3);
                }

                if (find_ok(b, s, 1, METHOD_NSBOXD_POOL) || bench_results_find(b, s, 1, METHOD_NSBOXD_POOL)) {
                        const CellResult *p1 = find_ok(b, s, 1, METHOD_NSBOXD_POOL);

                        x = target_add(t, &n);
                        if (!x)
                                break;
                        snprintf(x->name, sizeof x->name, "[%s] nsboxd+pool spawn p50 <= %.2fx clone3, 1 client", set,
                                 POOL_SPAWN_RATIO_MAX);
                        x->limit = POOL_SPAWN_RATIO_MAX;
                        if (p1 && raw && p1->spawn.n > 0 && raw->spawn.p50_ns > 0) {
                                x->value = (double) p1->spawn.p50_ns / (double) raw->spawn.p50_ns;
                                x->status = x->value <= POOL_SPAWN_RATIO_MAX ? TARGET_MET : TARGET_MISSED;
                                snprintf(x->detail, sizeof x->detail, "%.2fx (%.0f us vs %.0f us)", x->value,
                                         p1->spawn.p50_ns / 1e3, raw->spawn.p50_ns / 1e3);
                        }
                }

                x = target_add(t, &n);
                if (!x)
                        break;
                snprintf(x->name, sizeof x->name, "[%s] nsboxd throughput >= %.1fx clone3, 8 clients", set,
                         THROUGHPUT_RATIO_MIN);
                x->limit = THROUGHPUT_RATIO_MIN;
                if (d8 && raw8 && raw8->per_second > 0) {
                        x->value = d8->per_second / raw8->per_second;
                        x->status = x->value >= THROUGHPUT_RATIO_MIN ? TARGET_MET : TARGET_MISSED;
                        snprintf(x->detail, sizeof x->detail, "%.2fx (%.0f/s vs %.0f/s)", x->value, d8->per_second,
                                 raw8->per_second);
                }

                for (Method m = METHOD_UNSHARE; m <= METHOD_BWRAP; m++) {
                        const CellResult *tool = find_ok(b, s, 1, m);

                        x = target_add(t, &n);
                        if (!x)
                                break;
                        snprintf(x->name, sizeof x->name, "[%s] nsboxd faster per sandbox than %s", set,
                                 method_to_string(m));
                        x->limit = 1.0;
                        if (d1 && tool && tool->exit.p50_ns > 0) {
                                x->value = (double) d1->exit.p50_ns / (double) tool->exit.p50_ns;
                                x->status = x->value < 1.0 ? TARGET_MET : TARGET_MISSED;
                                snprintf(x->detail, sizeof x->detail, "%.2fx (%.0f us vs %.0f us to exit status)",
                                         x->value, d1->exit.p50_ns / 1e3, tool->exit.p50_ns / 1e3);
                        } else {
                                const CellResult *c = bench_results_find(b, s, 1, m);
                                if (c && c->note[0])
                                        snprintf(x->detail, sizeof x->detail, "%s", c->note);
                        }
                }
        }

        x = target_add(t, &n);
        if (x) {
                const MemoryResult *m = &b->memory[0];

                snprintf(x->name, sizeof x->name, "nsboxd idle RSS < 4 MiB");
                x->limit = IDLE_RSS_MAX;
                if (b->n_memory > 0 && m->measured) {
                        x->value = (double) m->idle.rss;
                        x->status = x->value < IDLE_RSS_MAX ? TARGET_MET : TARGET_MISSED;
                        snprintf(x->detail, sizeof x->detail, "%.0f KiB", x->value / 1024);
                }
        }

        for (size_t i = 0; i < b->n_memory; i++) {
                const MemoryResult *m = &b->memory[i];
                bool live = m->measured && m->error == 0 && m->n_live > 0;
                const ScalePoint *zero = &m->scale[SCALE_BEFORE], *full = &m->scale[SCALE_LIVE];

                if (!live)
                        continue;

                x = target_add(t, &n);
                if (!x)
                        break;
                snprintf(x->name, sizeof x->name, "[%s] nsboxd memory per live sandbox < 2 KiB (Private_Dirty)",
                         m->namespaces);
                x->limit = PER_SANDBOX_MAX;
                x->value = ((double) m->live.private_dirty - (double) m->before_live.private_dirty) /
                           (double) m->n_live;
                x->status = x->value < PER_SANDBOX_MAX ? TARGET_MET : TARGET_MISSED;
                snprintf(x->detail, sizeof x->detail, "%.0f bytes", x->value);

                if (m->n_children > 0 && m->pid_namespace) {
                        x = target_add(t, &n);
                        if (!x)
                                break;
                        snprintf(x->name, sizeof x->name, "[%s] Pss of each live sandbox's init <= 64 KiB",
                                 m->namespaces);
                        x->limit = INIT_PSS_MAX;
                        x->value = (double) m->children_pss / (double) m->n_children;
                        x->status = x->value <= INIT_PSS_MAX ? TARGET_MET : TARGET_MISSED;
                        snprintf(x->detail, sizeof x->detail, "%.1f KiB", x->value / 1024);
                }

                x = target_add(t, &n);
                if (!x)
                        break;
                snprintf(x->name, sizeof x->name, "[%s] daemon CPU per spawn+wait at %zu live <= %.2fx at 0",
                         m->namespaces, m->n_live, FLAT_RATIO_MAX);
                x->limit = FLAT_RATIO_MAX;
                if (zero->measured && full->measured && zero->cpu_ns > 0) {
                        x->value = full->cpu_ns / zero->cpu_ns;
                        x->status = x->value <= FLAT_RATIO_MAX ? TARGET_MET : TARGET_MISSED;
                        snprintf(x->detail, sizeof x->detail, "%.2fx (%.0f us vs %.0f us)", x->value,
                                 full->cpu_ns / 1e3, zero->cpu_ns / 1e3);
                        if (zero->raw_measured && full->raw_measured && zero->raw_cpu_ns > 0)
                                snprintf(x->detail + strlen(x->detail), sizeof x->detail - strlen(x->detail),
                                         "; raw clone3's own %.2fx", full->raw_cpu_ns / zero->raw_cpu_ns);
                }

                x = target_add(t, &n);
                if (!x)
                        break;
                snprintf(x->name, sizeof x->name, "[%s] spawn p50 at %zu live <= %.2fx at 0", m->namespaces,
                         m->n_live, FLAT_RATIO_MAX);
                x->limit = FLAT_RATIO_MAX;
                if (zero->measured && full->measured && zero->spawn.p50_ns > 0) {
                        x->value = (double) full->spawn.p50_ns / (double) zero->spawn.p50_ns;
                        x->status = x->value <= FLAT_RATIO_MAX ? TARGET_MET : TARGET_MISSED;
                        snprintf(x->detail, sizeof x->detail, "%.2fx (%.0f us vs %.0f us)", x->value,
                                 full->spawn.p50_ns / 1e3, zero->spawn.p50_ns / 1e3);
                }
        }

        return n;
}

static const char *target_status_to_string(TargetStatus s) {
        return s == TARGET_MET ? "met" : s == TARGET_MISSED ? "MISSED" : "not measured";
}

/* ---- table ---- */

static void print_us(FILE *f, uint64_t ns, int width) {
        fprintf(f, " %*.0f", width, ns / 1e3);
}

static void print_ratio(FILE *f, double r, bool valid) {
        if (valid)
                fprintf(f, " %6.2fx", r);
        else
                fprintf(f, " %7s", "-");
}

static void print_cell(FILE *f, const BenchResults *b, const CellResult *c) {
        const CellResult *raw = find_ok(b, c->set, c->concurrency, METHOD_CLONE3);

        fprintf(f, "%7u  %-15s", c->concurrency, method_to_string(c->method));
        if (c->skipped || c->error != 0 || c->exit.n == 0) {
                fprintf(f, "  %s%s%s\n", c->skipped ? "skipped" : "failed", c->note[0] ? ": " : "", c->note);
                return;
        }

        fprintf(f, " %5zu", c->exit.n);
        if (c->spawn.n > 0) {
                print_us(f, c->spawn.p50_ns, 7);
                print_us(f, c->spawn.p90_ns, 7);
                print_us(f, c->spawn.p99_ns, 7);
                print_us(f, c->spawn.max_ns, 7);
        } else
                fprintf(f, " %7s %7s %7s %7s", "-", "-", "-", "-");
        fprintf(f, " |");
        print_us(f, c->exit.p50_ns, 7);
        print_us(f, c->exit.p90_ns, 7);
        print_us(f, c->exit.p99_ns, 7);
        print_us(f, c->exit.max_ns, 7);
        fprintf(f, " | %8.0f |", c->per_second);

        print_ratio(f, raw && c->spawn.n > 0 ? (double) c->spawn.p50_ns / (double) raw->spawn.p50_ns : 0,
                    raw && c->spawn.n > 0 && raw->spawn.p50_ns > 0);
        print_ratio(f, raw ? (double) c->exit.p50_ns / (double) raw->exit.p50_ns : 0, raw && raw->exit.p50_ns > 0);
        print_ratio(f, raw ? c->per_second / raw->per_second : 0, raw && raw->per_second > 0);
        if (c->note[0])
                fprintf(f, "  (%s)", c->note);
        if (c->pool_measured && c->pool_hits + c->pool_misses > 0)
                fprintf(f, "  (pool: %.0f%% hits of %" PRIu64 "; a refill %.0f us CPU, %.0f us to parked)",
                        100.0 * (double) c->pool_hits / (double) (c->pool_hits + c->pool_misses),
                        c->pool_hits + c->pool_misses,
                        c->pool_fills > 0 ? (double) c->pool_fill_cpu_usec / (double) c->pool_fills : 0.0,
                        c->pool_fills > 0 ? (double) c->pool_fill_usec / (double) c->pool_fills : 0.0);
        fputc('\n', f);
}

static void print_scale(FILE *f, const char *what, const ScalePoint *p) {
        if (!p->measured) {
                fprintf(f, "  %-22s failed: %s\n", what, strerror(-p->error));
                return;
        }
        fprintf(f, "  %-22s %8zu", what, p->n_live);
        print_us(f, p->spawn.p50_ns, 9);
        print_us(f, p->spawn.p99_ns, 9);
        print_us(f, p->exit.p50_ns, 9);
        fprintf(f, " %9.0f %9.1f", p->per_second, p->cpu_ns / 1e3);
        if (p->raw_measured) {
                print_us(f, p->raw_spawn.p50_ns, 9);
                fprintf(f, " %9.1f", p->raw_cpu_ns / 1e3);
        }
        if (!p->settled)
                fputs("  (the machine had not settled)", f);
        fputc('\n', f);
}

static void print_memory(FILE *f, const MemoryResult *m) {
        const ScalePoint *zero = &m->scale[SCALE_BEFORE], *full = &m->scale[SCALE_LIVE];

        fprintf(f, "\nlive sandboxes: %s\n", m->namespaces[0] ? m->namespaces : "-");
        fprintf(f, "nsboxd memory (/proc/PID/smaps_rollup)\n");
        if (!m->measured) {
                fprintf(f, "  not measured%s%s\n", m->note[0] ? ": " : "", m->note);
                return;
        }
        fprintf(f, "  %-36s %10s %14s\n", "", "Rss KiB", "Private_Dirty KiB");
        fprintf(f, "  %-36s %10.0f %14.0f\n", "idle (fresh daemon)", m->idle.rss / 1024.0,
                m->idle.private_dirty / 1024.0);
        if (m->error != 0 || m->n_live == 0) {
                fprintf(f, "  live sandboxes: %s%s%s\n", m->n_live == 0 && m->error == 0 ? "not run" : "failed",
                        m->note[0] ? ": " : "", m->note);
                return;
        }
        fprintf(f, "  %-36s %10.0f %14.0f\n", "idle, before the live sandboxes", m->before_live.rss / 1024.0,
                m->before_live.private_dirty / 1024.0);
        char what[64];
        snprintf(what, sizeof what, "%zu live sandboxes", m->n_live);
        fprintf(f, "  %-36s %10.0f %14.0f\n", what, m->live.rss / 1024.0, m->live.private_dirty / 1024.0);
        fprintf(f, "  %-36s %10.0f %14.0f\n", "after they exited", m->after_exit.rss / 1024.0,
                m->after_exit.private_dirty / 1024.0);
        fprintf(f, "  per live sandbox: %.0f bytes Private_Dirty, %.0f bytes Rss in the daemon",
                ((double) m->live.private_dirty - (double) m->before_live.private_dirty) / (double) m->n_live,
                ((double) m->live.rss - (double) m->before_live.rss) / (double) m->n_live);
        if (m->n_children > 0)
                fprintf(f, "; %.1f KiB Pss in its top process", (double) m->children_pss / (double) m->n_children / 1024.0);
        if (m->fds_live > 0)
                fprintf(f, "; %.2f fds in the daemon", ((double) m->fds_live - (double) m->fds_before_live) / (double) m->n_live);
        fputc('\n', f);
        if (m->list_measured)
                fprintf(f, "  List of %zu: daemon CPU %.1f ms (%.2f us per entry); after it Rss %+.0f KiB, "
                        "Private_Dirty %+.0f KiB\n",
                        m->n_listed, m->list_cpu_ns / 1e6, m->n_listed ? m->list_cpu_ns / 1e3 / (double) m->n_listed : 0.0,
                        ((double) m->after_list.rss - (double) m->before_list.rss) / 1024.0,
                        ((double) m->after_list.private_dirty - (double) m->before_list.private_dirty) / 1024.0);
        if (m->note[0])
                fprintf(f, "  (%s)\n", m->note);

        fprintf(f, "scaling: spawn+wait at 1 client with sandboxes alive (latencies in microseconds)\n");
        fprintf(f, "  %-22s %8s %9s %9s %9s %9s %9s %9s %9s\n", "", "live", "spawn50", "spawn99", "exit50", "per s",
                "cpu us", "raw50", "raw cpu");
        print_scale(f, "before", zero);
        print_scale(f, "with the live ones", full);
        print_scale(f, "after they exited", &m->scale[SCALE_AFTER]);
        if (zero->measured && full->measured && zero->cpu_ns > 0 && zero->spawn.p50_ns > 0)
                fprintf(f, "  at %zu live / at 0: daemon CPU per sandbox %.2fx, spawn p50 %.2fx, exit p50 %.2fx\n",
                        m->n_live, full->cpu_ns / zero->cpu_ns, (double) full->spawn.p50_ns / (double) zero->spawn.p50_ns,
                        (double) full->exit.p50_ns / (double) zero->exit.p50_ns);
        if (zero->raw_measured && full->raw_measured && zero->raw_cpu_ns > 0 && zero->raw_spawn.p50_ns > 0)
                fprintf(f, "  the raw clone3 baseline alongside: its own CPU per sandbox %.2fx, spawn p50 %.2fx\n",
                        full->raw_cpu_ns / zero->raw_cpu_ns,
                        (double) full->raw_spawn.p50_ns / (double) zero->raw_spawn.p50_ns);
}

void bench_results_print_table(const BenchResults *b, FILE *f) {
        Target targets[TARGETS_MAX];
        size_t n_targets;

        fprintf(f, "nsbox benchmark: %s per sandbox, %u sandboxes per cell (+%u warm-up per client)", b->program,
                b->iterations, b->warmup);
        if (b->pace_msec > 0)
                fprintf(f, ", %u ms apart per client", b->pace_msec);
        fprintf(f, ", user namespaces map 0 -> %" PRIu32 " (%" PRIu32 " ids)\n", b->map_host_id, b->map_size);
        fprintf(f, "kernel %s, %ld CPUs, load average %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end\n",
                b->kernel, b->cpus, b->load_before[0], b->load_before[1], b->load_before[2], b->load_after[0],
                b->load_after[1], b->load_after[2]);
        fprintf(f, "cgroups: %s\n", b->cgroups);
        fprintf(f, "latencies in microseconds; spawn: request until the pidfd is held (exec done); "
                   "exit: request until the exit status\n");

        for (size_t s = 0; s < b->n_sets; s++) {
                fprintf(f, "\nnamespaces: %s\n", b->sets[s].name);
                fprintf(f, "%7s  %-15s %5s %7s %7s %7s %7s | %7s %7s %7s %7s | %8s | %7s %7s %7s\n", "clients",
                        "method", "n", "spawn50", "p90", "p99", "max", "exit50", "p90", "p99", "max", "per s",
                        "spawn", "exit", "rate");
                for (size_t k = 0; k < b->n_concurrency; k++)
                        for (Method m = 0; m < _METHOD_MAX; m++) {
                                const CellResult *c = bench_results_find(b, s, b->concurrency[k], m);
                                if (c)
                                        print_cell(f, b, c);
                        }
        }
        fprintf(f, "\n(the last three columns are ratios to clone3 at the same concurrency: spawn p50, exit p50, "
                   "throughput)\n");
        print_cgroup_cost(f, b);

        for (size_t i = 0; i < b->n_memory; i++)
                print_memory(f, &b->memory[i]);

        n_targets = targets_evaluate(b, targets);
        fprintf(f, "\ntargets\n");
        for (size_t i = 0; i < n_targets; i++)
                fprintf(f, "  %-12s %-62s %s\n", target_status_to_string(targets[i].status), targets[i].name,
                        targets[i].detail);
}

/* ---- JSON ---- */

static struct json_object *summary_to_json(const LatencySummary *s) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "n", json_object_new_int64((int64_t) s->n));
        json_object_object_add(o, "p50_us", json_object_new_double(s->p50_ns / 1e3));
        json_object_object_add(o, "p90_us", json_object_new_double(s->p90_ns / 1e3));
        json_object_object_add(o, "p99_us", json_object_new_double(s->p99_ns / 1e3));
        json_object_object_add(o, "max_us", json_object_new_double(s->max_ns / 1e3));
        json_object_object_add(o, "mean_us", json_object_new_double(s->mean_ns / 1e3));
        return o;
}

static struct json_object *memory_usage_to_json(const MemoryUsage *m) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "rss_bytes", json_object_new_int64((int64_t) m->rss));
        json_object_object_add(o, "private_dirty_bytes", json_object_new_int64((int64_t) m->private_dirty));
        return o;
}

static struct json_object *scale_to_json(const ScalePoint *p) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "live_sandboxes", json_object_new_int64((int64_t) p->n_live));
        if (!p->measured) {
                json_object_object_add(o, "errno", json_object_new_int(-p->error));
                return o;
        }
        json_object_object_add(o, "spawn", summary_to_json(&p->spawn));
        json_object_object_add(o, "exit", summary_to_json(&p->exit));
        json_object_object_add(o, "per_second", json_object_new_double(p->per_second));
        json_object_object_add(o, "daemon_cpu_us", json_object_new_double(p->cpu_ns / 1e3));
        json_object_object_add(o, "settled", json_object_new_boolean(p->settled));
        if (p->raw_measured) {
                json_object_object_add(o, "raw_spawn", summary_to_json(&p->raw_spawn));
                json_object_object_add(o, "raw_cpu_us", json_object_new_double(p->raw_cpu_ns / 1e3));
        }
        return o;
}

static struct json_object *memory_result_to_json(const MemoryResult *m) {
        struct json_object *o = json_object_new_object(), *scale;

        if (!o)
                return NULL;
        json_object_object_add(o, "measured", json_object_new_boolean(m->measured));
        if (m->note[0])
                json_object_object_add(o, "note", json_object_new_string(m->note));
        if (!m->measured)
                return o;
        json_object_object_add(o, "idle", memory_usage_to_json(&m->idle));
        if (m->error != 0 || m->n_live == 0)
                return o;
        json_object_object_add(o, "live_sandboxes", json_object_new_int64((int64_t) m->n_live));
        json_object_object_add(o, "live_namespaces", json_object_new_string(m->namespaces));
        json_object_object_add(o, "before_live", memory_usage_to_json(&m->before_live));
        json_object_object_add(o, "live", memory_usage_to_json(&m->live));
        json_object_object_add(o, "after_exit", memory_usage_to_json(&m->after_exit));
        json_object_object_add(o, "per_sandbox_private_dirty_bytes",
                               json_object_new_double(((double) m->live.private_dirty -
                                                       (double) m->before_live.private_dirty) /
                                                      (double) m->n_live));
        json_object_object_add(o, "per_sandbox_rss_bytes",
                               json_object_new_double(((double) m->live.rss - (double) m->before_live.rss) /
                                                      (double) m->n_live));
        if (m->fds_live > 0)
                json_object_object_add(o, "per_sandbox_daemon_fds",
                                       json_object_new_double(((double) m->fds_live - (double) m->fds_before_live) /
                                                              (double) m->n_live));
        if (m->n_children > 0)
                json_object_object_add(o, "per_sandbox_top_process_pss_bytes",
                                       json_object_new_double((double) m->children_pss / (double) m->n_children));
        if (m->list_measured) {
                struct json_object *l = json_object_new_object();

                json_object_object_add(l, "listed", json_object_new_int64((int64_t) m->n_listed));
                json_object_object_add(l, "daemon_cpu_ns", json_object_new_int64((int64_t) m->list_cpu_ns));
                json_object_object_add(l, "before", memory_usage_to_json(&m->before_list));
                json_object_object_add(l, "after", memory_usage_to_json(&m->after_list));
                json_object_object_add(o, "list", l);
        }
        scale = json_object_new_array();
        for (size_t i = 0; i < _SCALE_MAX; i++)
                json_object_array_add(scale, scale_to_json(&m->scale[i]));
        json_object_object_add(o, "scaling", scale);
        return o;
}

static struct json_object *cell_to_json(const BenchResults *b, const CellResult *c) {
        struct json_object *o = json_object_new_object();
        const CellResult *raw = find_ok(b, c->set, c->concurrency, METHOD_CLONE3);
        bool ok = !c->skipped && c->error == 0 && c->exit.n > 0;

        if (!o)
                return NULL;
        json_object_object_add(o, "namespaces", json_object_new_string(b->sets[c->set].name));
        json_object_object_add(o, "clients", json_object_new_int((int) c->concurrency));
        json_object_object_add(o, "method", json_object_new_string(method_to_string(c->method)));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        if (c->skipped)
                json_object_object_add(o, "skipped", json_object_new_boolean(true));
        if (c->error != 0)
                json_object_object_add(o, "errno", json_object_new_int(-c->error));
        if (c->note[0])
                json_object_object_add(o, "note", json_object_new_string(c->note));
        if (!ok)
                return o;
        if (c->pool_measured) {
                struct json_object *pool = json_object_new_object();

                json_object_object_add(pool, "hits", json_object_new_int64((int64_t) c->pool_hits));
                json_object_object_add(pool, "misses", json_object_new_int64((int64_t) c->pool_misses));
                json_object_object_add(pool, "fills", json_object_new_int64((int64_t) c->pool_fills));
                json_object_object_add(pool, "fillCpuUsec", json_object_new_int64((int64_t) c->pool_fill_cpu_usec));
                json_object_object_add(pool, "fillUsec", json_object_new_int64((int64_t) c->pool_fill_usec));
                json_object_object_add(o, "warmPool", pool);
        }
        if (c->spawn.n > 0)
                json_object_object_add(o, "spawn", summary_to_json(&c->spawn));
        json_object_object_add(o, "exit", summary_to_json(&c->exit));
        json_object_object_add(o, "per_second", json_object_new_double(c->per_second));
        if (raw && c->method != METHOD_CLONE3) {
                struct json_object *r = json_object_new_object();

                if (c->spawn.n > 0 && raw->spawn.p50_ns > 0)
                        json_object_object_add(r, "spawn_p50",
                                               json_object_new_double((double) c->spawn.p50_ns /
                                                                      (double) raw->spawn.p50_ns));
                if (raw->exit.p50_ns > 0)
                        json_object_object_add(
                                r, "exit_p50", json_object_new_double((double) c->exit.p50_ns / (double) raw->exit.p50_ns));
                if (raw->per_second > 0)
                        json_object_object_add(r, "per_second", json_object_new_double(c->per_second / raw->per_second));
                json_object_object_add(o, "vs_clone3", r);
        }
        return o;
}

int bench_results_print_json(const BenchResults *b, FILE *f) {
        struct json_object *root = json_object_new_object(), *cells, *memory, *targets, *config;
        Target t[TARGETS_MAX];
        size_t n_targets;
        const char *text;

        if (!root)
                return -ENOMEM;

        config = json_object_new_object();
        json_object_object_add(config, "program", json_object_new_string(b->program));
        json_object_object_add(config, "iterations", json_object_new_int((int) b->iterations));
        json_object_object_add(config, "warmup", json_object_new_int((int) b->warmup));
        json_object_object_add(config, "pace_msec", json_object_new_int((int) b->pace_msec));
        json_object_object_add(config, "map_host_id", json_object_new_int64(b->map_host_id));
        json_object_object_add(config, "map_size", json_object_new_int64(b->map_size));
        json_object_object_add(root, "config", config);

        struct json_object *machine = json_object_new_object(), *before = json_object_new_array(),
                           *after = json_object_new_array();
        json_object_object_add(machine, "kernel", json_object_new_string(b->kernel));
        json_object_object_add(machine, "cpus", json_object_new_int64(b->cpus));
        json_object_object_add(machine, "cgroups", json_object_new_string(b->cgroups));
        for (size_t i = 0; i < 3; i++) {
                json_object_array_add(before, json_object_new_double(b->load_before[i]));
                json_object_array_add(after, json_object_new_double(b->load_after[i]));
        }
        json_object_object_add(machine, "loadavg_start", before);
        json_object_object_add(machine, "loadavg_end", after);
        json_object_object_add(root, "machine", machine);

        cells = json_object_new_array();
        for (size_t i = 0; i < b->n_cells; i++)
                json_object_array_add(cells, cell_to_json(b, &b->cells[i]));
        json_object_object_add(root, "results", cells);

        memory = json_object_new_array();
        for (size_t i = 0; i < b->n_memory; i++)
                json_object_array_add(memory, memory_result_to_json(&b->memory[i]));
        json_object_object_add(root, "memory", memory);

        targets = json_object_new_array();
        n_targets = targets_evaluate(b, t);
        for (size_t i = 0; i < n_targets; i++) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "target", json_object_new_string(t[i].name));
                json_object_object_add(o, "status", json_object_new_string(t[i].status == TARGET_MET      ? "met"
                                                                           : t[i].status == TARGET_MISSED ? "missed"
                                                                                                          : "not-measured"));
                if (t[i].status != TARGET_NOT_MEASURED)
                        json_object_object_add(o, "value", json_object_new_double(t[i].value));
                json_object_object_add(o, "limit", json_object_new_double(t[i].limit));
                if (t[i].detail[0])
                        json_object_object_add(o, "detail", json_object_new_string(t[i].detail));
                json_object_array_add(targets, o);
        }
        json_object_object_add(root, "targets", targets);

        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || fprintf(f, "%s\n", text) < 0) {
                json_object_put(root);
                return text ? -EIO : -ENOMEM;
        }
        json_object_put(root);
        return 0;
}
