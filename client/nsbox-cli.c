/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbox: the command line front end of nsboxd. Verbs: run, exec, shell, list,
 * inspect, wait, kill, pause, resume, info, reload. Built on the public libnsbox API
 * only.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli-util.h"
#include "config.h"

static void help(void) {
        printf("Usage: nsbox [--socket PATH] COMMAND [OPTIONS...]\n"
               "\n"
               "Creates and manages Linux sandboxes through nsboxd.\n"
               "\n"
               "Commands:\n"
               "  run [OPTIONS] [--] CMD [ARG...]  run CMD in a new sandbox (see 'nsbox run --help')\n"
               "  exec [OPTIONS] ID -- CMD [ARG...]\n"
               "                                   run CMD in a running sandbox (see 'nsbox exec --help')\n"
               "  shell [OPTIONS] ID [SHELL]       an interactive shell in a running sandbox\n"
               "  list [--all] [--json]            list the running sandboxes you may see; --all:\n"
               "                                   with the ended ones whose end nobody read yet\n"
               "  inspect [--json] ID              show one sandbox\n"
               "  wait ID                          wait for a sandbox to end; exits with its exit\n"
               "                                   code, or 128+N if it was killed by signal N\n"
               "  kill [-s SIGNAL] [--all] ID      send SIGNAL (name or number; default SIGTERM) to\n"
               "                                   its top process, or to every process in it\n"
               "  pause ID                         freeze every process of the sandbox\n"
               "  resume ID                        thaw them\n"
               "\n"
               "ID is a sandbox's id, or the name you gave one of yours (nsbox run --name).\n"
               "  info [--json]                    show the daemon's version and interfaces (and to root\n"
               "                                   its warm pool's counters)\n"
               "  reload                           make nsboxd re-read its policy (root); fails, with\n"
               "                                   the reason, if the policy does not load\n"
               "\n"
               "Options:\n"
               "  --socket PATH   nsboxd's socket (default: $NSBOX_SOCKET, else %s);\n"
               "                  every command accepts it too\n"
               "  -h, --help      show this help\n"
               "  --version       show the version\n"
               "\n"
               "Usage errors exit with 125, as errors of nsbox itself do for run and wait.\n"
               "See nsbox(1).\n",
               nsbox_connection_get_default_socket_path());
}

enum {
        ARG_JSON = 0x100,
        ARG_SOCKET,
        ARG_VERSION,
        ARG_ALL,
};

/* Parses the options the simple verbs share; returns 1 to go on, 0 after --help, negative on error. */
static int parse_verb_options(int argc, char *argv[], const char *usage, bool *json, int *signal, bool *all) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, ARG_JSON },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "signal", required_argument, NULL, 's' },
                { "all", no_argument, NULL, ARG_ALL },
                {}
        };
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, signal ? "+hs:" : "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        printf("Usage: nsbox %s\n", usage);
                        return 0;
                case ARG_JSON:
                        if (!json)
                                goto invalid;
                        *json = true;
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case ARG_ALL:
                        if (!all)
                                goto invalid;
                        *all = true;
                        break;
                case 's':
                        if (!signal)
                                goto invalid;
                        *signal = cli_parse_signal(optarg);
                        if (*signal < 0) {
                                log_error("not a signal: %s (use a name like TERM or a number)", optarg);
                                return -EINVAL;
                        }
                        break;
                default:
                invalid:
                        log_error("unknown option or missing argument: %s; usage: nsbox %s", argv[optind - 1], usage);
                        return -EINVAL;
                }
        }
        return 1;
}

/* The one ID argument of inspect, wait and kill. */
static const char *id_argument(int argc, char *argv[], const char *usage) {
        if (argc - optind != 1) {
                log_error("%s; usage: nsbox %s", argc - optind < 1 ? "missing sandbox ID" : "too many arguments", usage);
                return NULL;
        }
        return argv[optind];
}

/* list and info take no arguments. */
static bool no_arguments(int argc, const char *usage) {
        if (optind < argc) {
                log_error("too many arguments; usage: nsbox %s", usage);
                return false;
        }
        return true;
}

/* The names of flags in type order with "," between them, each of joined (a subset) marked with a "*";
 * "-" for none. */
static void format_namespaces(unsigned flags, unsigned joined, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = 0;
        for (unsigned f = 1; f <= NSBOX_NAMESPACE_ALL; f <<= 1) {
                const char *name = nsbox_namespace_to_name(f);
                int n;

                if (!(flags & f) || !name)
                        continue;
                n = snprintf(buf + used, size - used, "%s%s%s", used ? "," : "", name, joined & f ? "*" : "");
                if (n < 0 || (size_t) n >= size - used)
                        break;
                used += (size_t) n;
        }
        if (!buf[0])
                snprintf(buf, size, "-");
}

static void format_time(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000U);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, size, "-");
}

static void format_state(NsboxSandboxInfo *i, char *buf, size_t size) {
        NsboxState st = nsbox_sandbox_info_get_state(i);

        if (nsbox_sandbox_info_get_signal(i) > 0)
                snprintf(buf, size, "%s (%s)", nsbox_state_to_string(st) ?: "?",
                         cli_signal_name(nsbox_sandbox_info_get_signal(i)));
        else if (nsbox_sandbox_info_get_exit_code(i) >= 0)
                snprintf(buf, size, "%s (%d)", nsbox_state_to_string(st) ?: "?", nsbox_sandbox_info_get_exit_code(i));
        else
                snprintf(buf, size, "%s", nsbox_state_to_string(st) ?: "?");
}

static void format_size(uint64_t v, char *buf, size_t size) {
        static const char suffixes[] = "KMGTPE";
        size_t i = 0;

        while (v >= 1024 && v % 1024 == 0 && i < sizeof suffixes - 1) {
                v /= 1024;
                i++;
        }
        if (i == 0)
                snprintf(buf, size, "%" PRIu64, v);
        else
                snprintf(buf, size, "%" PRIu64 "%c", v, suffixes[i - 1]);
}

/* systemd.exec(5)'s names of the rlimits, by resource number. */
static const char *const rlimit_properties[] = {
        [RLIMIT_CPU] = "LimitCPU",       [RLIMIT_FSIZE] = "LimitFSIZE",     [RLIMIT_DATA] = "LimitDATA",
        [RLIMIT_STACK] = "LimitSTACK",   [RLIMIT_CORE] = "LimitCORE",       [RLIMIT_RSS] = "LimitRSS",
        [RLIMIT_NPROC] = "LimitNPROC",   [RLIMIT_NOFILE] = "LimitNOFILE",   [RLIMIT_MEMLOCK] = "LimitMEMLOCK",
        [RLIMIT_AS] = "LimitAS",         [RLIMIT_LOCKS] = "LimitLOCKS",     [RLIMIT_SIGPENDING] = "LimitSIGPENDING",
        [RLIMIT_MSGQUEUE] = "LimitMSGQUEUE", [RLIMIT_NICE] = "LimitNICE",   [RLIMIT_RTPRIO] = "LimitRTPRIO",
        [RLIMIT_RTTIME] = "LimitRTTIME",
};

/* The limits in force, as systemd-run -p writes them: "MemoryMax=64M TasksMax=50", or "-" (rlimits raw). */
static void format_limits(NsboxSandboxInfo *i, char *buf, size_t size) {
        uint64_t mem = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_MEMORY_LIMIT),
                 swap = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_MEMORY_SWAP),
                 high = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_MEMORY_HIGH),
                 tasks = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_PIDS_LIMIT),
                 quota = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_CPU_QUOTA),
                 period = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_CPU_PERIOD),
                 weight = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_CPU_WEIGHT),
                 shares = nsbox_sandbox_info_get_resource(i, NSBOX_RESOURCE_CPU_SHARES),
                 runtime = nsbox_sandbox_info_get_runtime_max_usec(i);
        size_t pos = 0;
        char v[32];

#define APPEND(...)                                                                                            \
        do {                                                                                                   \
                int _n = snprintf(buf + pos, size - pos, "%s", pos ? " " : "");                                \
                if (_n > 0 && (size_t) _n < size - pos)                                                        \
                        pos += (size_t) _n;                                                                    \
                _n = snprintf(buf + pos, size - pos, __VA_ARGS__);                                             \
                if (_n > 0 && (size_t) _n < size - pos)                                                        \
                        pos += (size_t) _n;                                                                    \
        } while (0)

        buf[0] = 0;
        if (mem) {
                format_size(mem, v, sizeof v);
                APPEND("MemoryMax=%s", v);
        }
        if (high) {
                format_size(high, v, sizeof v);
                APPEND("MemoryHigh=%s", v);
        }
        if (swap && swap >= mem) {
                format_size(swap - mem, v, sizeof v);
                APPEND("MemorySwapMax=%s", v);
        }
        if (tasks)
                APPEND("TasksMax=%" PRIu64, tasks);
        if (quota)
                APPEND("CPUQuota=%" PRIu64 "%%", quota * 100 / (period ?: 100000));
        if (weight)
                APPEND("CPUWeight=%" PRIu64, weight);
        if (shares)
                APPEND("CPUShares=%" PRIu64, shares);
        if (runtime)
                APPEND("RuntimeMaxSec=%" PRIu64 "%s", runtime % 1000000 ? runtime / 1000 : runtime / 1000000,
                       runtime % 1000000 ? "ms" : "");
        for (int r = 0; r < (int) ELEMENTSOF(rlimit_properties); r++) {
                uint64_t soft, hard;
                char a[32], b[32];

                if (nsbox_sandbox_info_get_rlimit(i, r, &soft, &hard) < 0)
                        continue;
                snprintf(a, sizeof a, soft == RLIM_INFINITY ? "infinity" : "%" PRIu64, soft);
                snprintf(b, sizeof b, hard == RLIM_INFINITY ? "infinity" : "%" PRIu64, hard);
                if (soft == hard)
                        APPEND("%s=%s", rlimit_properties[r], a);
                else
                        APPEND("%s=%s:%s", rlimit_properties[r], a, b);
        }
#undef APPEND
        if (!buf[0])
                snprintf(buf, size, "-");
}

/* "cpu 1.234s, memory 12M (peak 20M), tasks 3 (peak 5), 1 OOM kill", leaving out what is unknown. */
static void format_usage(NsboxSandboxInfo *i, char *buf, size_t size) {
        uint64_t cpu = nsbox_sandbox_info_get_usage(i, NSBOX_USAGE_CPU_USEC),
                 mem = nsbox_sandbox_info_get_usage(i, NSBOX_USAGE_MEMORY_CURRENT),
                 peak = nsbox_sandbox_info_get_usage(i, NSBOX_USAGE_MEMORY_PEAK),
                 tasks = nsbox_sandbox_info_get_usage(i, NSBOX_USAGE_TASKS),
                 tasks_peak = nsbox_sandbox_info_get_usage(i, NSBOX_USAGE_TASKS_PEAK),
                 ooms = nsbox_sandbox_info_get_usage(i, NSBOX_USAGE_OOM_KILLS);
        size_t pos = 0;
        char a[32], b[32];
        int n;

        buf[0] = 0;
        if (cpu != UINT64_MAX) {
                n = snprintf(buf + pos, size - pos, "cpu %" PRIu64 ".%03" PRIu64 "s", cpu / 1000000, cpu / 1000 % 1000);
                pos += n > 0 ? MIN((size_t) n, size - pos - 1) : 0;
        }
        if (mem != UINT64_MAX || peak != UINT64_MAX) {
                format_size(mem != UINT64_MAX ? mem : 0, a, sizeof a);
                format_size(peak != UINT64_MAX ? peak : 0, b, sizeof b);
                n = snprintf(buf + pos, size - pos, "%smemory %s%s%s%s", pos ? ", " : "", mem != UINT64_MAX ? a : "",
                             peak != UINT64_MAX ? (mem != UINT64_MAX ? " (peak " : "peak ") : "",
                             peak != UINT64_MAX ? b : "", peak != UINT64_MAX && mem != UINT64_MAX ? ")" : "");
                pos += n > 0 ? MIN((size_t) n, size - pos - 1) : 0;
        }
        if (tasks != UINT64_MAX) {
                n = snprintf(buf + pos, size - pos, "%stasks %" PRIu64, pos ? ", " : "", tasks);
                pos += n > 0 ? MIN((size_t) n, size - pos - 1) : 0;
                if (tasks_peak != UINT64_MAX) {
                        n = snprintf(buf + pos, size - pos, " (peak %" PRIu64 ")", tasks_peak);
                        pos += n > 0 ? MIN((size_t) n, size - pos - 1) : 0;
                }
        }
        if (ooms != UINT64_MAX && ooms > 0) {
                n = snprintf(buf + pos, size - pos, "%s%" PRIu64 " OOM kill%s", pos ? ", " : "", ooms,
                             ooms == 1 ? "" : "s");
                pos += n > 0 ? MIN((size_t) n, size - pos - 1) : 0;
        }
        if (!buf[0])
                snprintf(buf, size, "-");
}

/* Starting or running: plain `nsbox list` leaves out what ended and waits for a Wait to read it. */
static bool is_live(NsboxSandboxInfo *i) {
        NsboxState state = nsbox_sandbox_info_get_state(i);

        return state == NSBOX_STATE_STARTING || state == NSBOX_STATE_RUNNING;
}

static int verb_list(int argc, char *argv[]) {
        static const char usage[] = "list [--all] [--json]";
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        _cleanup_(nsbox_sandbox_info_list_freep) NsboxSandboxInfo **list = NULL;
        bool json = false, all = false;
        size_t n;
        int r;

        r = parse_verb_options(argc, argv, usage, &json, NULL, &all);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        if (!no_arguments(argc, usage))
                return EXIT_USAGE;

        if (cli_connect(&c) < 0)
                return EXIT_FAILURE;
        r = nsbox_list(c, &list, &n);
        if (r < 0) {
                cli_call_failed(c, r, "cannot list sandboxes");
                return EXIT_FAILURE;
        }

        if (json) {
                struct json_object *array = json_object_new_array();

                if (!array)
                        return EXIT_FAILURE;
                for (size_t k = 0; k < n; k++) {
                        struct json_object *o;

                        if (!all && !is_live(list[k]))
                                continue;
                        o = json_tokener_parse(nsbox_sandbox_info_get_json(list[k]));
                        if (o && json_object_array_add(array, o) < 0)
                                json_object_put(o);
                }
                cli_print_json_object(array);
                json_object_put(array);
                return EXIT_SUCCESS;
        }

        printf("%-32s %-18s %-14s %8s %6s %-19s %-24s %-24s %s\n", "ID", "NAME", "STATE", "PID", "OWNER",
               "STARTED", "NAMESPACES", "LIMITS", "CGROUP");
        for (size_t k = 0; k < n; k++) {
                char ns[128], started[64], state[64], limits[256], in_name[32];
                const char *name = nsbox_sandbox_info_get_name(list[k]), *cg = nsbox_sandbox_info_get_cgroup(list[k]);
                const char *in = nsbox_sandbox_info_get_sandbox(list[k]);

                if (!all && !is_live(list[k]))
                        continue;
                /* The name given, if any. A process Exec started has none, and is named after the sandbox it
                 * runs in, as an unnamed nested sandbox is after the one it is nested in. */
                if (in && (!name || !*name)) {
                        snprintf(in_name, sizeof in_name, "%s in %.8s",
                                 nsbox_sandbox_info_get_nested(list[k]) ? "nested" : "exec", in);
                        name = in_name;
                }

                /* Those it joined (an exec'd process: all of its sandbox's) marked, in the same column. */
                format_namespaces(nsbox_sandbox_info_get_namespaces(list[k]) |
                                          nsbox_sandbox_info_get_joined_namespaces(list[k]),
                                  nsbox_sandbox_info_get_joined_namespaces(list[k]), ns, sizeof(ns));
                format_time(nsbox_sandbox_info_get_start_usec(list[k]), started, sizeof(started));
                format_state(list[k], state, sizeof(state));
                format_limits(list[k], limits, sizeof(limits));
                printf("%-32s %-18s %-14s %8d %6u %-19s %-24s %-24s %s\n", nsbox_sandbox_info_get_id(list[k]),
                       name && *name ? name : "-", state, (int) nsbox_sandbox_info_get_pid(list[k]),
                       (unsigned) nsbox_sandbox_info_get_owner_uid(list[k]), started, ns, limits, cg ?: "-");
        }
        return EXIT_SUCCESS;
}

static int verb_inspect(int argc, char *argv[]) {
        static const char usage[] = "inspect [--json] ID";
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        _cleanup_(nsbox_sandbox_info_freep) NsboxSandboxInfo *i = NULL;
        char ns[128], started[64], state[64], limits[256], used[256] = "-";
        const char *cg;
        struct passwd *pw;
        bool json = false;
        const char *id, *name;
        int r;

        r = parse_verb_options(argc, argv, usage, &json, NULL, NULL);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        id = id_argument(argc, argv, usage);
        if (!id)
                return EXIT_USAGE;

        if (cli_connect(&c) < 0)
                return EXIT_FAILURE;
        r = nsbox_inspect(c, id, &i);
        if (r < 0) {
                cli_call_failed(c, r, "cannot inspect the sandbox");
                return EXIT_FAILURE;
        }

        if (json)
                return cli_print_json(nsbox_sandbox_info_get_json(i)) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* Those created, then those joined (run --join, and a process exec started, which is in all of its
         * sandbox's): "-" would pass one that created none off as in the host's. */
        format_namespaces(nsbox_sandbox_info_get_namespaces(i), 0, ns, sizeof(ns));
        if (nsbox_sandbox_info_get_namespaces(i) == 0)
                snprintf(ns, sizeof ns, "none created");
        if (nsbox_sandbox_info_get_joined_namespaces(i) != 0) {
                char joined[128];

                format_namespaces(nsbox_sandbox_info_get_joined_namespaces(i), 0, joined, sizeof(joined));
                strncat(ns, ", joined: ", sizeof(ns) - strlen(ns) - 1);
                strncat(ns, joined, sizeof(ns) - strlen(ns) - 1);
        }
        format_time(nsbox_sandbox_info_get_start_usec(i), started, sizeof(started));
        format_state(i, state, sizeof(state));
        name = nsbox_sandbox_info_get_name(i);
        pw = getpwuid(nsbox_sandbox_info_get_owner_uid(i));
        format_limits(i, limits, sizeof(limits));
        format_usage(i, used, sizeof(used));
        cg = nsbox_sandbox_info_get_cgroup(i);
        if (nsbox_sandbox_info_get_paused(i))
                strncat(state, " (paused)", sizeof(state) - strlen(state) - 1);

        if (nsbox_sandbox_info_get_sandbox(i))
                printf("%s %s\n", nsbox_sandbox_info_get_nested(i) ? "nested in:  " : "exec in:    ",
                       nsbox_sandbox_info_get_sandbox(i));
        printf("id:          %s\n"
               "name:        %s\n"
               "state:       %s\n"
               "pid:         %d\n"
               "owner:       %u%s%s%s\n"
               "started:     %s\n"
               "namespaces:  %s\n"
               "keep-alive:  %s\n"
               "cgroup:      %s\n"
               "limits:      %s\n"
               "usage:       %s\n",
               nsbox_sandbox_info_get_id(i), name && *name ? name : "-", state,
               (int) nsbox_sandbox_info_get_pid(i), (unsigned) nsbox_sandbox_info_get_owner_uid(i), pw ? " (" : "",
               pw ? pw->pw_name : "", pw ? ")" : "", started, ns,
               nsbox_sandbox_info_get_keep_alive(i) ? "yes" : "no", cg ?: "-", limits, used);
        return EXIT_SUCCESS;
}

/* How long `nsbox wait` tries to reach a restarting daemon: 300 times 100 ms. */
#define WAIT_RECONNECT_ATTEMPTS 300U
#define WAIT_RECONNECT_USEC (100U * 1000U)

static int verb_wait(int argc, char *argv[]) {
        static const char usage[] = "wait ID";
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        NsboxState state;
        const char *id;
        int r, code, sig;

        r = parse_verb_options(argc, argv, usage, NULL, NULL, NULL);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        id = id_argument(argc, argv, usage);
        if (!id)
                return EXIT_USAGE;

        /* A daemon that restarts (an upgrade) ends the call with Restarting; the next one knows the
         * sandbox if it has keepAlive, so wait there. A socket a restart left briefly unserved is retried
         * for a while too. */
        for (unsigned attempt = 0;; attempt++) {
                const char *error;

                c = nsbox_connection_free(c);
                r = attempt == 0 ? cli_connect(&c) : nsbox_connection_new(cli_socket_path(), &c);
                if (r < 0) {
                        if (attempt > 0 && attempt < WAIT_RECONNECT_ATTEMPTS) {
                                usleep(WAIT_RECONNECT_USEC);
                                continue;
                        }
                        if (attempt > 0)
                                log_error("cannot wait for the sandbox: nsboxd did not come back after a restart");
                        return EXIT_NSBOX_FAILED;
                }
                r = nsbox_wait(c, id, &state, &code, &sig);
                error = nsbox_connection_get_error_name(c);
                if (r < 0 && error && strcmp(error, NSBOX_ERROR_RESTARTING) == 0 && attempt < WAIT_RECONNECT_ATTEMPTS)
                        continue;
                break;
        }
        if (r < 0) {
                cli_call_failed(c, r, "cannot wait for the sandbox");
                return EXIT_NSBOX_FAILED;
        }
        r = cli_exit_status(state, code, sig);
        if (r >= 0)
                return r;
        log_error("the sandbox is still %s", nsbox_state_to_string(state) ?: "running");
        return EXIT_NSBOX_FAILED;
}

static int verb_kill(int argc, char *argv[]) {
        static const char usage[] = "kill [-s SIGNAL] [--all] ID";
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        const char *id;
        bool all = false;
        int r, sig = 0;

        r = parse_verb_options(argc, argv, usage, NULL, &sig, &all);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        id = id_argument(argc, argv, usage);
        if (!id)
                return EXIT_USAGE;

        if (cli_connect(&c) < 0)
                return EXIT_FAILURE;
        r = all ? nsbox_kill_all(c, id, sig) : nsbox_kill(c, id, sig);
        if (r < 0) {
                cli_call_failed(c, r, "cannot signal the sandbox");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

static int pause_or_resume(int argc, char *argv[], bool pause) {
        const char *usage = pause ? "pause ID" : "resume ID";
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        const char *id;
        int r;

        r = parse_verb_options(argc, argv, usage, NULL, NULL, NULL);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        id = id_argument(argc, argv, usage);
        if (!id)
                return EXIT_USAGE;

        if (cli_connect(&c) < 0)
                return EXIT_FAILURE;
        r = pause ? nsbox_pause(c, id) : nsbox_resume(c, id);
        if (r < 0) {
                cli_call_failed(c, r, pause ? "cannot pause the sandbox" : "cannot resume the sandbox");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

static int verb_pause(int argc, char *argv[]) {
        return pause_or_resume(argc, argv, true);
}

static int verb_resume(int argc, char *argv[]) {
        return pause_or_resume(argc, argv, false);
}

/* The daemon's GetInfo as the JSON object it answered, plus the socket it came from. */
static struct json_object *warm_pool_json(const uint64_t *pool) {
        struct json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < _NSBOX_WARM_POOL_COUNTER_MAX; i++)
                if (pool[i] != UINT64_MAX &&
                    json_object_object_add(o, nsbox_warm_pool_counter_to_string((NsboxWarmPoolCounter) i),
                                           json_object_new_int64((int64_t) pool[i])) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

/* pool: the warm pool's counters, or NULL where the caller may not read them (not root). */
static int print_info_json(NsboxConnection *c, const char *vendor, const char *product, const char *version,
                           const char *url, char **interfaces, const uint64_t *pool) {
        struct json_object *o = json_object_new_object(), *l = json_object_new_array();
        bool ok = o && l;

        for (char **i = interfaces; ok && i && *i; i++)
                ok = json_object_array_add(l, json_object_new_string(*i)) >= 0;
        ok = ok && json_object_object_add(o, "socket", json_object_new_string(nsbox_connection_get_socket_path(c))) >= 0 &&
             json_object_object_add(o, "vendor", json_object_new_string(vendor)) >= 0 &&
             json_object_object_add(o, "product", json_object_new_string(product)) >= 0 &&
             json_object_object_add(o, "version", json_object_new_string(version)) >= 0 &&
             json_object_object_add(o, "url", json_object_new_string(url)) >= 0;
        if (ok) {
                ok = json_object_object_add(o, "interfaces", l) >= 0;
                l = NULL;
        }
        if (ok && pool) {
                struct json_object *p = warm_pool_json(pool);

                ok = p && json_object_object_add(o, "warmPool", p) >= 0;
        }
        if (ok)
                cli_print_json_object(o);
        json_object_put(l);
        json_object_put(o);
        if (!ok)
                log_error("out of memory");
        return ok ? 0 : -ENOMEM;
}

static void print_warm_pool(const uint64_t *pool) {
        uint64_t fills = pool[NSBOX_WARM_POOL_FILLS];

        printf("warm pool:   %" PRIu64 " entries, %" PRIu64 " parked; %" PRIu64 " hits, %" PRIu64 " misses; %" PRIu64
               " filled, %" PRIu64 " failed, %" PRIu64 " discarded",
               pool[NSBOX_WARM_POOL_ENTRIES], pool[NSBOX_WARM_POOL_PARKED], pool[NSBOX_WARM_POOL_HITS],
               pool[NSBOX_WARM_POOL_MISSES], fills, pool[NSBOX_WARM_POOL_FILL_FAILURES],
               pool[NSBOX_WARM_POOL_DISCARDED]);
        if (fills > 0 && fills != UINT64_MAX && pool[NSBOX_WARM_POOL_FILL_CPU_USEC] != UINT64_MAX &&
            pool[NSBOX_WARM_POOL_FILL_USEC] != UINT64_MAX)
                printf("; a fill %" PRIu64 " us CPU, %" PRIu64 " us to parked",
                       pool[NSBOX_WARM_POOL_FILL_CPU_USEC] / fills, pool[NSBOX_WARM_POOL_FILL_USEC] / fills);
        putchar('\n');
}

static int verb_info(int argc, char *argv[]) {
        static const char usage[] = "info [--json]";
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        _cleanup_free_ char *vendor = NULL, *product = NULL, *version = NULL, *url = NULL;
        uint64_t pool[_NSBOX_WARM_POOL_COUNTER_MAX];
        char **interfaces = NULL;
        bool json = false, have_pool;
        int r;

        r = parse_verb_options(argc, argv, usage, &json, NULL, NULL);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        if (!no_arguments(argc, usage))
                return EXIT_USAGE;

        if (cli_connect(&c) < 0)
                return EXIT_FAILURE;
        r = nsbox_get_info(c, &vendor, &product, &version, &url, &interfaces);
        if (r < 0) {
                cli_call_failed(c, r, "cannot get the daemon's information");
                return EXIT_FAILURE;
        }
        /* Only root may read them; for others (and from a daemon without a pool) the lines are left out. */
        have_pool = nsbox_warm_pool(c, pool, ELEMENTSOF(pool)) >= 0;

        if (json) {
                r = print_info_json(c, vendor, product, version, url, interfaces, have_pool ? pool : NULL);
                nsbox_strv_free(interfaces);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }

        printf("socket:      %s\n"
               "vendor:      %s\n"
               "product:     %s\n"
               "version:     %s\n"
               "url:         %s\n"
               "interfaces:",
               nsbox_connection_get_socket_path(c), vendor, product, version, url);
        for (char **i = interfaces; i && *i; i++)
                printf(" %s", *i);
        putchar('\n');
        if (have_pool)
                print_warm_pool(pool);
        nsbox_strv_free(interfaces);
        return EXIT_SUCCESS;
}

/* For ExecReload=: returns once the new policy is in force, fails if it is not. */
static int verb_reload(int argc, char *argv[]) {
        static const char usage[] = "reload";
        _cleanup_(nsbox_connection_freep) NsboxConnection *c = NULL;
        int r;

        r = parse_verb_options(argc, argv, usage, NULL, NULL, NULL);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        if (!no_arguments(argc, usage))
                return EXIT_USAGE;

        if (cli_connect(&c) < 0)
                return EXIT_FAILURE;
        r = nsbox_reload(c);
        if (r < 0) {
                cli_call_failed(c, r, "cannot reload");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        static const struct {
                const char *name;
                int (*run)(int argc, char *argv[]);
        } verbs[] = {
                { "run", verb_run },   { "list", verb_list }, { "inspect", verb_inspect },
                { "wait", verb_wait }, { "kill", verb_kill }, { "pause", verb_pause },
                { "resume", verb_resume }, { "info", verb_info },
                { "exec", verb_exec }, { "shell", verb_shell },
                { "reload", verb_reload },
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case ARG_VERSION:
                        printf("nsbox %s\n", NSBOX_VERSION);
                        return EXIT_SUCCESS;
                default:
                        log_error("unknown option or missing argument: %s; see 'nsbox --help'", argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }

        if (optind >= argc) {
                log_error("missing command; see 'nsbox --help'");
                return EXIT_USAGE;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[optind], verbs[i].name) == 0)
                        return verbs[i].run(argc - optind, argv + optind);

        log_error("unknown command \"%s\"; see 'nsbox --help'", argv[optind]);
        return EXIT_USAGE;
}
