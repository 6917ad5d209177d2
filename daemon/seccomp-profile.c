/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Compiles OCI LinuxSeccomp objects with libseccomp into classic BPF (see
 * seccomp-profile.h), holds the built-in default profile and a small cache of
 * recently compiled ones, and loads a program in the child.
 */

#include <ctype.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "json-codec.h"
#include "log.h"
#include "seccomp-profile.h"

/* Atomic: a spawn worker drops its plan's reference (spawn-worker.c) while the loop uses the cache. */
SeccompProgram *seccomp_program_ref(SeccompProgram *p) {
        if (p)
                __atomic_add_fetch(&p->n_ref, 1, __ATOMIC_RELAXED);
        return p;
}

SeccompProgram *seccomp_program_unref(SeccompProgram *p) {
        if (!p || __atomic_sub_fetch(&p->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        free(p->filter);
        free(p);
        return NULL;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token, or 0. */
static uint32_t arch_from_oci(const char *name) {
        char lower[64];
        size_t i;

        if (strncmp(name, "SCMP_ARCH_", 10) != 0)
                return 0;
        name += 10;
        for (i = 0; name[i] && i < sizeof lower - 1; i++)
                lower[i] = (char) tolower((unsigned char) name[i]);
        lower[i] = '\0';
        return seccomp_arch_resolve_name(lower);
}

static int action_to_scmp(SeccompAction a, int64_t errno_ret, uint32_t *ret) {
        uint16_t data = errno_ret >= 0 ? (uint16_t) errno_ret : EPERM;

        switch (a) {
        case SECCOMP_ACTION_KILL:
                *ret = SCMP_ACT_KILL;
                return 0;
        case SECCOMP_ACTION_KILL_PROCESS:
                *ret = SCMP_ACT_KILL_PROCESS;
                return 0;
        case SECCOMP_ACTION_KILL_THREAD:
                *ret = SCMP_ACT_KILL_THREAD;
                return 0;
        case SECCOMP_ACTION_TRAP:
                *ret = SCMP_ACT_TRAP;
                return 0;
        case SECCOMP_ACTION_ERRNO:
                *ret = SCMP_ACT_ERRNO(data);
                return 0;
        case SECCOMP_ACTION_TRACE:
                *ret = SCMP_ACT_TRACE(data);
                return 0;
        case SECCOMP_ACTION_ALLOW:
                *ret = SCMP_ACT_ALLOW;
                return 0;
        case SECCOMP_ACTION_LOG:
                *ret = SCMP_ACT_LOG;
                return 0;
        default:
                return -EINVAL; /* SCMP_ACT_NOTIFY needs a listener nsbox does not provide */
        }
}

static const enum scmp_compare operator_to_scmp[_SECCOMP_OP_MAX] = {
        [SECCOMP_OP_NE] = SCMP_CMP_NE,
        [SECCOMP_OP_LT] = SCMP_CMP_LT,
        [SECCOMP_OP_LE] = SCMP_CMP_LE,
        [SECCOMP_OP_EQ] = SCMP_CMP_EQ,
        [SECCOMP_OP_GE] = SCMP_CMP_GE,
        [SECCOMP_OP_GT] = SCMP_CMP_GT,
        [SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

static struct scmp_arg_cmp arg_to_scmp(const SeccompArg *a) {
        return (struct scmp_arg_cmp) {
                .arg = a->index,
                .op = operator_to_scmp[a->op],
                .datum_a = a->value,
                .datum_b = a->value_two,
        };
}

/* libseccomp compares one argument at most once per rule: OCI runtimes then make one rule per comparison. */
static bool args_repeat_an_index(const SeccompSyscall *s) {
        unsigned seen = 0;

        for (size_t i = 0; i < s->n_args; i++) {
                if (seen & (1U << s->args[i].index))
                        return true;
                seen |= 1U << s->args[i].index;
        }
        return false;
}

static int add_rules(scmp_filter_ctx ctx, const SeccompSyscall *s, uint32_t action, int nr) {
        struct scmp_arg_cmp cmp[SECCOMP_ARGS_MAX];
        int r;

        if (!args_repeat_an_index(s)) {
                for (size_t i = 0; i < s->n_args; i++)
                        cmp[i] = arg_to_scmp(s->args + i);
                return seccomp_rule_add_array(ctx, action, nr, (unsigned) s->n_args, cmp);
        }
        for (size_t i = 0; i < s->n_args; i++) {
                cmp[0] = arg_to_scmp(s->args + i);
                r = seccomp_rule_add_array(ctx, action, nr, 1, cmp);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* libseccomp 2.5 exports only to an fd: a memfd, read back whole. */
static int export_program(scmp_filter_ctx ctx, SeccompProgram *p) {
        _cleanup_close_ int fd = -EBADF;
        off_t size;
        ssize_t n;
        int r;

        fd = memfd_create("nsbox-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        size = lseek(fd, 0, SEEK_CUR);
        if (size < 0)
                return -errno;
        if (size == 0 || size % sizeof(struct sock_filter) != 0)
                return -EIO;
        if ((size_t) size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return -E2BIG;

        p->filter = malloc((size_t) size);
        if (!p->filter)
                return -ENOMEM;
        n = pread(fd, p->filter, (size_t) size, 0);
        if (n != size)
                return n < 0 ? -errno : -EIO;
        p->n_filter = (unsigned short) ((size_t) size / sizeof(struct sock_filter));
        return 0;
}

static void release_ctx(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

/* quiet: the built-in profile names calls of every architecture; skipping those is not news. */
static int compile(const SeccompSpec *spec, const char *prefix, bool quiet, SeccompProgram **ret, char **ret_invalid) {
        _cleanup_(release_ctx) scmp_filter_ctx ctx = NULL;
        _cleanup_(seccomp_program_unrefp) SeccompProgram *p = NULL;
        uint32_t default_action, action;
        int r;

        if (spec->listener_path)
                return json_invalid_parameter(ret_invalid, "%s.listenerPath", prefix);
        if (spec->listener_metadata)
                return json_invalid_parameter(ret_invalid, "%s.listenerMetadata", prefix);
        if (action_to_scmp(spec->default_action, spec->default_errno_ret, &default_action) < 0)
                return json_invalid_parameter(ret_invalid, "%s.defaultAction", prefix);

        p = calloc(1, sizeof(SeccompProgram));
        if (!p)
                return -ENOMEM;
        p->n_ref = 1;

        ctx = seccomp_init(default_action);
        if (!ctx)
                return -ENOMEM;

        for (size_t i = 0; i < spec->n_architectures; i++) {
                uint32_t arch = arch_from_oci(spec->architectures[i]);

                if (arch == 0)
                        return json_invalid_parameter(ret_invalid, "%s.architectures[%zu]", prefix, i);
                r = seccomp_arch_add(ctx, arch);
                if (r < 0 && r != -EEXIST)
                        return json_invalid_parameter(ret_invalid, "%s.architectures[%zu]", prefix, i);
        }

        for (size_t i = 0; i < spec->n_syscalls; i++) {
                const SeccompSyscall *s = spec->syscalls + i;

                if (action_to_scmp(s->action, s->errno_ret, &action) < 0)
                        return json_invalid_parameter(ret_invalid, "%s.syscalls[%zu].action", prefix, i);
                /* As runc: a rule that does what the default does adds nothing (libseccomp refuses it). */
                if (action == default_action)
                        continue;

                for (size_t j = 0; j < s->n_names; j++) {
                        int nr = seccomp_syscall_resolve_name(s->names[j]);

                        if (nr == __NR_SCMP_ERROR) {
                                if (!quiet && p->n_ignored == 0)
                                        log_info("seccomp: ignoring system call '%s' (%s.syscalls[%zu].names[%zu]), "
                                                 "unknown on this architecture.", s->names[j], prefix, i, j);
                                p->n_ignored++;
                                continue;
                        }
                        r = add_rules(ctx, s, action, nr);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return json_invalid_parameter(ret_invalid, "%s.syscalls[%zu].names[%zu]", prefix, i, j);
                }
        }

        if (spec->flags & SECCOMP_FLAG_LOG)
                p->flags |= SECCOMP_FILTER_FLAG_LOG;
        if (spec->flags & SECCOMP_FLAG_SPEC_ALLOW)
                p->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        /* TSYNC: the child is single-threaded. WAIT_KILLABLE_RECV only concerns SCMP_ACT_NOTIFY. */

        r = export_program(ctx, p);
        if (r == -E2BIG)
                return json_invalid_parameter(ret_invalid, "%s.syscalls", prefix);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int seccomp_program_compile(const SeccompSpec *spec, const char *prefix, SeccompProgram **ret,
                            char **ret_invalid_parameter) {
        if (!spec || !prefix || !ret)
                return -EINVAL;
        return compile(spec, prefix, false, ret, ret_invalid_parameter);
}

/* ---- the default profile (nsboxd(8) explains each group; keep the two in step) ---- */

#define NAMES(...) ((char *[]) { __VA_ARGS__, NULL })
#define N_NAMES(...) (sizeof((char *[]) { __VA_ARGS__ }) / sizeof(char *))
#define DENY(errno_value, ...)                                                                               \
        {                                                                                                    \
                .names = NAMES(__VA_ARGS__), .n_names = N_NAMES(__VA_ARGS__), .action = SECCOMP_ACTION_ERRNO, \
                .errno_ret = (errno_value)                                                                   \
        }

/* personality(2) flags that weaken a program's own protections (ASLR off, executable data, a mapped page 0). */
#define PERSONALITY_DENY(flag)                                                                                   \
        {                                                                                                        \
                .names = NAMES("personality"), .n_names = 1, .action = SECCOMP_ACTION_ERRNO, .errno_ret = EPERM, \
                .args = (SeccompArg[]) { { .index = 0, .value = (flag), .value_two = (flag),                   \
                                           .op = SECCOMP_OP_MASKED_EQ } },                                       \
                .n_args = 1                                                                                      \
        }

static SeccompSyscall default_rules[] = {
        /* The kernel keyring is not namespaced: keys of other users' sessions, a frequent source of bugs. */
        DENY(EPERM, "add_key", "keyctl", "request_key"),
        /* eBPF and performance events: large in-kernel attack surfaces, data about other processes. */
        DENY(EPERM, "bpf", "perf_event_open"),
        /* Lets a process hold the kernel at a page fault of its choosing: a staple of kernel exploits. */
        DENY(EPERM, "userfaultfd"),
        /* Kernel modules, replacing or rebooting the kernel. */
        DENY(EPERM, "init_module", "finit_module", "delete_module", "create_module", "kexec_load", "kexec_file_load",
             "reboot"),
        /* Host-wide administration: swap, process accounting, quotas, the kernel log, the host's clock. */
        DENY(EPERM, "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "settimeofday",
             "clock_settime", "clock_settime64", "stime", "vhangup"),
        /* Opening files by handle bypasses the mount tree (the "shocker" container escape). */
        DENY(EPERM, "open_by_handle_at"),
        /* Raw I/O ports, the LDT, vm86, and obsolete interfaces nothing current uses. */
        DENY(EPERM, "iopl", "ioperm", "modify_ldt", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl",
             "nfsservctl", "lookup_dcookie", "get_kernel_syms", "query_module"),
        /* io_uring: a fast-moving kernel interface; ENOSYS makes programs fall back to ordinary I/O. */
        DENY(ENOSYS, "io_uring_setup", "io_uring_enter", "io_uring_register"),
        /* The new mount API: mount(2) stays; ENOSYS makes mount(8) and libmount fall back to it. */
        DENY(ENOSYS, "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr"),
        /* personality(2) tricks (a query with 0xffffffff is refused too: libseccomp 2.5 cannot tell it apart). */
        PERSONALITY_DENY(ADDR_NO_RANDOMIZE),
        PERSONALITY_DENY(READ_IMPLIES_EXEC),
        PERSONALITY_DENY(MMAP_PAGE_ZERO),
        PERSONALITY_DENY(ADDR_COMPAT_LAYOUT),
        PERSONALITY_DENY(ADDR_LIMIT_3GB),
};

/* The native architecture and the compat ones its kernel also runs, so a 32-bit call cannot go around. */
static size_t default_architectures(char **ret, size_t max) {
        uint32_t native = seccomp_arch_native();
        size_t n = 0;

        if (native == SCMP_ARCH_X86_64 && max >= 2) {
                ret[n++] = (char *) "SCMP_ARCH_X86";
                ret[n++] = (char *) "SCMP_ARCH_X32";
        } else if (native == SCMP_ARCH_AARCH64 && max >= 1)
                ret[n++] = (char *) "SCMP_ARCH_ARM";
        ret[n] = NULL;
        return n;
}

static SeccompProgram *default_program;

int seccomp_program_default(SeccompProgram **ret) {
        char *architectures[4];
        SeccompSpec spec = {
                .default_action = SECCOMP_ACTION_ALLOW,
                .default_errno_ret = -1,
                .architectures = architectures,
                .syscalls = default_rules,
                .n_syscalls = ELEMENTSOF(default_rules),
        };
        _cleanup_free_ char *field = NULL;
        int r;

        if (!default_program) {
                spec.n_architectures = default_architectures(architectures, ELEMENTSOF(architectures) - 1);
                r = compile(&spec, "seccomp", true, &default_program, &field);
                if (r < 0)
                        return log_error_errno(r, "Failed to compile the default seccomp profile (%s): %m",
                                               field ?: "-");
        }
        *ret = seccomp_program_ref(default_program);
        return 0;
}

bool seccomp_program_is_default(const SeccompProgram *p) {
        return p && p == default_program;
}

int seccomp_program_recognize_default(SeccompProgram **p) {
        _cleanup_(seccomp_program_unrefp) SeccompProgram *d = NULL;
        int r;

        r = seccomp_program_default(&d);
        if (r < 0)
                return r;
        if (!*p || *p == d || (*p)->n_filter != d->n_filter || (*p)->flags != d->flags ||
            memcmp((*p)->filter, d->filter, d->n_filter * sizeof(struct sock_filter)) != 0)
                return 0;
        seccomp_program_unref(*p);
        *p = TAKE_PTR(d);
        return 0;
}

/* ---- cache ---- */

/*
 * Callers tend to send the same profile again and again (a service's fixed
 * profile, podman's default): compiling one the size of Docker's costs far
 * more than the rest of a spawn's preparation (docs/performance.md), so
 * recent ones are kept, keyed by their canonical JSON.
 */
#define CACHE_SIZE 16U

typedef struct CacheEntry {
        char *key;
        SeccompProgram *program;
        unsigned long last_used;
} CacheEntry;

static CacheEntry cache[CACHE_SIZE];
static unsigned long cache_clock;

void seccomp_program_cache_flush(void) {
        for (size_t i = 0; i < CACHE_SIZE; i++) {
                free(cache[i].key);
                seccomp_program_unref(cache[i].program);
                cache[i] = (CacheEntry) {};
        }
}

static SeccompProgram *cache_find(const char *key) {
        for (size_t i = 0; i < CACHE_SIZE; i++)
                if (cache[i].key && streq(cache[i].key, key)) {
                        cache[i].last_used = ++cache_clock;
                        return seccomp_program_ref(cache[i].program);
                }
        return NULL;
}

static void cache_add(const char *key, SeccompProgram *p) {
        CacheEntry *victim = &cache[0];
        char *k;

        for (size_t i = 0; i < CACHE_SIZE; i++) {
                if (!cache[i].key) {
                        victim = &cache[i];
                        break;
                }
                if (cache[i].last_used < victim->last_used)
                        victim = &cache[i];
        }
        k = strdup(key);
        if (!k)
                return; /* only a cache */
        free(victim->key);
        seccomp_program_unref(victim->program);
        *victim = (CacheEntry) { .key = k, .program = seccomp_program_ref(p), .last_used = ++cache_clock };
}

static void json_putp(struct json_object **o) {
        json_object_put(*o);
}

int seccomp_program_for_request(const SpawnRequest *req, SeccompProgram **ret, char **ret_invalid_parameter) {
        _cleanup_(json_putp) struct json_object *o = NULL;
        SeccompProgram *p;
        const char *key;
        int r;

        if (!req || !ret)
                return -EINVAL;

        if (!req->seccomp) {
                if (req->seccomp_profile == SECCOMP_PROFILE_UNCONFINED) {
                        *ret = NULL;
                        return 0;
                }
                return seccomp_program_default(ret);
        }

        /* A canonical text: the encoder writes members in a fixed order with every default spelled out. */
        o = seccomp_spec_encode(req->seccomp);
        key = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
        if (!key)
                return -ENOMEM;

        p = cache_find(key);
        if (p) {
                *ret = p;
                return 0;
        }

        r = seccomp_program_compile(req->seccomp, "seccomp", &p, ret_invalid_parameter);
        if (r < 0)
                return r;
        cache_add(key, p);
        *ret = p;
        return 0;
}

/* ---- child side ---- */

int seccomp_program_load(const struct sock_filter *filter, unsigned short n_filter, unsigned flags) {
        struct sock_fprog prog = {
                .len = n_filter,
                .filter = (struct sock_filter *) filter,
        };

        /* Without flags through prctl(), as bubblewrap loads its programs: a program loaded earlier may
         * allow prctl() and not seccomp(), and the next one must still load. */
        if (flags == 0 ? prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 :
                         syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0)
                return -errno;
        return 0;
}
