/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The confinement objects of a Spawn request, as the OCI runtime spec names
 * them: LinuxSeccomp (a system call filter) and LinuxCapabilities (the five
 * capability sets). Decode checks shape, enumerations and the bounds below and
 * names the bad field ("seccomp.syscalls[2].args[0].op"); what only the
 * kernel and its libraries know (whether a system call or an architecture
 * exists, a capability's number) is resolved by the daemon, which names the
 * field the same way.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* Bounds of a LinuxSeccomp object, so compiling one stays cheap and the filter fits the kernel's 4096
 * instructions in practice. */
#define SECCOMP_SYSCALLS_MAX 1024U      /* entries of "syscalls" */
#define SECCOMP_NAMES_MAX 4096U         /* system call names over all entries */
#define SECCOMP_NAME_MAX 64U            /* bytes of one system call name */
#define SECCOMP_ARCHITECTURES_MAX 16U   /* entries of "architectures" */
#define SECCOMP_ARGS_MAX 6U             /* entries of "args": one per system call argument */
#define SECCOMP_ERRNO_MAX 4095U         /* "errnoRet", "defaultErrnoRet": 0 .. MAX_ERRNO */

/* Capability names per set: more than the kernel has (41 in 6.x), so any real set fits. */
#define CAPABILITY_NAMES_MAX 64U

typedef enum SeccompAction {
        SECCOMP_ACTION_KILL,         /* "SCMP_ACT_KILL": the thread, as libseccomp's SCMP_ACT_KILL */
        SECCOMP_ACTION_KILL_PROCESS, /* "SCMP_ACT_KILL_PROCESS" */
        SECCOMP_ACTION_KILL_THREAD,  /* "SCMP_ACT_KILL_THREAD" */
        SECCOMP_ACTION_TRAP,         /* "SCMP_ACT_TRAP": SIGSYS */
        SECCOMP_ACTION_ERRNO,        /* "SCMP_ACT_ERRNO": fail with errnoRet (default EPERM) */
        SECCOMP_ACTION_TRACE,        /* "SCMP_ACT_TRACE": notify a ptracer with errnoRet as the message */
        SECCOMP_ACTION_ALLOW,        /* "SCMP_ACT_ALLOW" */
        SECCOMP_ACTION_LOG,          /* "SCMP_ACT_LOG": allow and log */
        SECCOMP_ACTION_NOTIFY,       /* "SCMP_ACT_NOTIFY": decoded, refused by the daemon (no listener) */
        _SECCOMP_ACTION_MAX,
        _SECCOMP_ACTION_INVALID = -EINVAL,
} SeccompAction;

typedef enum SeccompOperator {
        SECCOMP_OP_NE,        /* "SCMP_CMP_NE" */
        SECCOMP_OP_LT,        /* "SCMP_CMP_LT" */
        SECCOMP_OP_LE,        /* "SCMP_CMP_LE" */
        SECCOMP_OP_EQ,        /* "SCMP_CMP_EQ" */
        SECCOMP_OP_GE,        /* "SCMP_CMP_GE" */
        SECCOMP_OP_GT,        /* "SCMP_CMP_GT" */
        SECCOMP_OP_MASKED_EQ, /* "SCMP_CMP_MASKED_EQ": (arg & value) == valueTwo */
        _SECCOMP_OP_MAX,
        _SECCOMP_OP_INVALID = -EINVAL,
} SeccompOperator;

/* "flags" */
typedef enum SeccompFlag {
        SECCOMP_FLAG_TSYNC = 1U << 0,              /* "SECCOMP_FILTER_FLAG_TSYNC" (the child is single-threaded) */
        SECCOMP_FLAG_LOG = 1U << 1,                /* "SECCOMP_FILTER_FLAG_LOG" */
        SECCOMP_FLAG_SPEC_ALLOW = 1U << 2,         /* "SECCOMP_FILTER_FLAG_SPEC_ALLOW" */
        SECCOMP_FLAG_WAIT_KILLABLE_RECV = 1U << 3, /* "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" (notify only) */
} SeccompFlag;

const char *seccomp_action_to_string(SeccompAction a);
SeccompAction seccomp_action_from_string(const char *s);
const char *seccomp_operator_to_string(SeccompOperator o);
SeccompOperator seccomp_operator_from_string(const char *s);

typedef struct SeccompArg {
        uint32_t index;     /* "index": 0 .. 5 */
        uint64_t value;     /* "value" */
        uint64_t value_two; /* "valueTwo", default 0 */
        SeccompOperator op; /* "op" */
} SeccompArg;

typedef struct SeccompSyscall {
        char **names; /* "names": NULL-terminated, at least one */
        size_t n_names;
        SeccompAction action; /* "action" */
        int64_t errno_ret;    /* "errnoRet": -1 absent (EPERM for SCMP_ACT_ERRNO); only with ERRNO and TRACE */
        SeccompArg *args;     /* "args" */
        size_t n_args;
} SeccompSyscall;

typedef struct SeccompSpec {
        SeccompAction default_action; /* "defaultAction" (required) */
        int64_t default_errno_ret;     /* "defaultErrnoRet": -1 absent */
        char **architectures;          /* "architectures": "SCMP_ARCH_X86_64", ...; NULL-terminated, may be empty */
        size_t n_architectures;
        unsigned flags;                /* "flags": SeccompFlag mask */
        char *listener_path;           /* "listenerPath", "listenerMetadata": decoded, refused by the daemon */
        char *listener_metadata;
        SeccompSyscall *syscalls;      /* "syscalls" */
        size_t n_syscalls;
} SeccompSpec;

SeccompSpec *seccomp_spec_free(SeccompSpec *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(SeccompSpec *, seccomp_spec_free);

/*
 * Decodes a LinuxSeccomp object. prefix is its field path ("seccomp"), used
 * in *ret_invalid_parameter. -EINVAL with the field named, or -ENOMEM.
 * Unknown members are refused; a JSON null counts as absent.
 */
int seccomp_spec_decode(struct json_object *v, const char *prefix, SeccompSpec **ret, char **ret_invalid_parameter);
struct json_object *seccomp_spec_encode(const SeccompSpec *s); /* NULL on OOM */

typedef enum CapabilitySet {
        CAPABILITY_SET_BOUNDING,    /* "bounding" */
        CAPABILITY_SET_EFFECTIVE,   /* "effective" */
        CAPABILITY_SET_INHERITABLE, /* "inheritable" */
        CAPABILITY_SET_PERMITTED,   /* "permitted" */
        CAPABILITY_SET_AMBIENT,     /* "ambient" */
        _CAPABILITY_SET_MAX,
        _CAPABILITY_SET_INVALID = -EINVAL,
} CapabilitySet;

const char *capability_set_to_string(CapabilitySet s);

/* "seccompProfile" of a Spawn request: which built-in choice applies when no "seccomp" object is given. */
typedef enum SeccompProfileKind {
        SECCOMP_PROFILE_DEFAULT,    /* "default": the daemon's built-in profile (also what absent means) */
        SECCOMP_PROFILE_UNCONFINED, /* "unconfined": no profile (seccompFileDescriptors still apply) */
        _SECCOMP_PROFILE_KIND_MAX,
        _SECCOMP_PROFILE_KIND_INVALID = -EINVAL,
} SeccompProfileKind;

const char *seccomp_profile_kind_to_string(SeccompProfileKind k);
SeccompProfileKind seccomp_profile_kind_from_string(const char *s);

/* Raw classic-BPF programs per request ("seccompFileDescriptors"), as bubblewrap's --add-seccomp-fd. */
#define SECCOMP_FDS_MAX 16U

/* LinuxCapabilities: capability names as capabilities(7) spells them ("CAP_NET_ADMIN"); an absent set is empty. */
typedef struct CapabilitiesSpec {
        char **names[_CAPABILITY_SET_MAX]; /* NULL-terminated; NULL when absent */
        size_t n_names[_CAPABILITY_SET_MAX];
} CapabilitiesSpec;

CapabilitiesSpec *capabilities_spec_free(CapabilitiesSpec *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(CapabilitiesSpec *, capabilities_spec_free);

/* Decodes a LinuxCapabilities object: each member a list of "CAP_" names of [A-Z0-9_], each at most once. */
int capabilities_spec_decode(struct json_object *v, const char *prefix, CapabilitiesSpec **ret,
                             char **ret_invalid_parameter);
struct json_object *capabilities_spec_encode(const CapabilitiesSpec *c); /* NULL on OOM */
