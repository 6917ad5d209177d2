/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * System call filters for sandboxes: an OCI LinuxSeccomp object compiled with
 * libseccomp into a classic-BPF program, in the daemon, before clone3(). The
 * child only hands the ready program to seccomp(2) (seccomp_program_load(),
 * async-signal-safe). Also the built-in default profile (documented in
 * nsboxd(8): what it refuses and why).
 */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "confinement-protocol.h"
#include "macro.h"
#include "sandbox-protocol.h"

/* A compiled filter, shared (reference counted) between the cache and the spawns using it. */
typedef struct SeccompProgram {
        unsigned n_ref;
        struct sock_filter *filter;
        unsigned short n_filter; /* instructions, at most BPF_MAXINSNS */
        unsigned flags;          /* SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER) */
        size_t n_ignored;        /* system call names this kernel's architectures do not know (skipped) */
} SeccompProgram;

SeccompProgram *seccomp_program_ref(SeccompProgram *p);
SeccompProgram *seccomp_program_unref(SeccompProgram *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SeccompProgram *, seccomp_program_unref);

/*
 * Compiles spec. prefix names it in errors ("seccomp"). What OCI runtimes do:
 * a system call name unknown to libseccomp for the native architecture is
 * skipped (counted in n_ignored); a rule whose action is the default action is
 * skipped; several "args" on the same index make one rule each (any of them
 * matches), otherwise all of an entry's "args" must match. Refused with
 * -EINVAL and the field named: an architecture libseccomp does not know
 * ("seccomp.architectures[1]"), SCMP_ACT_NOTIFY and listenerPath (nsbox has no
 * listener), a rule libseccomp rejects ("seccomp.syscalls[3].names[0]"), and
 * a program above BPF_MAXINSNS instructions ("seccomp.syscalls"). -ENOMEM.
 */
int seccomp_program_compile(const SeccompSpec *spec, const char *prefix, SeccompProgram **ret,
                            char **ret_invalid_parameter);

/* The built-in default profile, compiled on first use and kept. Returns a new reference. */
int seccomp_program_default(SeccompProgram **ret);
/* Whether p is that built-in default profile. */
bool seccomp_program_is_default(const SeccompProgram *p);
/*
 * A restart carries programs over as copies: one whose instructions and flags
 * are this daemon's default profile's becomes that profile again (*p unref'd,
 * replaced by a reference to the default), so the sandboxes that ran under the
 * default still count as such. 0, or the error of compiling the default.
 */
int seccomp_program_recognize_default(SeccompProgram **p);

/*
 * The program a Spawn request asks for: its "seccomp" object compiled (a
 * small cache keeps recent ones, keyed by the object's canonical JSON), the
 * default profile unless "seccompProfile" is "unconfined", or NULL for
 * unconfined. Errors as seccomp_program_compile(); logs skipped names.
 */
int seccomp_program_for_request(const SpawnRequest *req, SeccompProgram **ret, char **ret_invalid_parameter);

/* Drops every cached compiled profile (tests, and a daemon that wants its memory back). */
void seccomp_program_cache_flush(void);

/*
 * Child side, async-signal-safe: installs a classic-BPF program with
 * seccomp(SECCOMP_SET_MODE_FILTER, flags). no_new_privs must be set (or
 * CAP_SYS_ADMIN held). 0 or -errno.
 */
int seccomp_program_load(const struct sock_filter *filter, unsigned short n_filter, unsigned flags);
