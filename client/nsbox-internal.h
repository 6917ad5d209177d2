/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the parts of libnsbox share behind the public header: the one pending
 * call a connection carries, and how a call is sent and its reply taken.
 */
#pragma once

#include <json-c/json.h>

#include "nsbox.h"
#include "sandbox-protocol.h"
#include "varlink-wire.h"

typedef enum CallKind {
        CALL_NONE,
        CALL_SPAWN,
        CALL_WAIT,
        CALL_KILL,
        CALL_LIST,
        CALL_INSPECT,
        CALL_GET_INFO,
        CALL_RELOAD,
        CALL_PAUSE,
        CALL_RESUME,
        CALL_EXEC,
        CALL_WAIT_OUTPUT,
        CALL_WARM_POOL,
} CallKind;

/*
 * Queues a call of kind on c and writes what the socket takes. Takes
 * 'parameters' (a JSON object, may be NULL) and the fds in every case: on
 * failure they are put/closed here. -EBUSY if a call is pending already.
 */
int connection_call_send(NsboxConnection *c, CallKind kind, const char *method, struct json_object *parameters,
                         int *fds, size_t n_fds);
/* The same with the call's flags (VARLINK_CALL_MORE). */
int connection_call_send_flags(NsboxConnection *c, CallKind kind, const char *method,
                               struct json_object *parameters, int *fds, size_t n_fds, unsigned flags);

/*
 * Takes the complete reply of the pending call, which must be of kind. On
 * success *ret_message holds the reply (the caller calls
 * varlink_message_done()) and *ret_parameters borrows its parameters object.
 * A Varlink error reply is recorded on c and returned as a negative errno.
 */
int connection_call_finish(NsboxConnection *c, CallKind kind, VarlinkMessage *ret_message,
                           struct json_object **ret_parameters);
/* The same for a call sent with VARLINK_CALL_MORE: *ret_continues says whether this reply had
 * "continues", and the call then stays pending for the next. */
int connection_call_finish_more(NsboxConnection *c, CallKind kind, VarlinkMessage *ret_message,
                                struct json_object **ret_parameters, bool *ret_continues);

/*
 * What each blocking call does between its _send() and its _finish(): sent is what _send() returned;
 * then waits, without a deadline, until the reply is in. 0, or the error of either.
 */
int connection_await_reply(NsboxConnection *c, int sent);

/* The connection cannot go on (a streamed call's replies would come to nobody): every later call fails with error. */
void connection_abandon(NsboxConnection *c, int error);
/* Whether a reply of the pending streamed Wait said "truncated": set while taking its replies, taken with the last. */
void connection_set_output_truncated(NsboxConnection *c);
bool connection_take_output_truncated(NsboxConnection *c);
/* The entries of the pending List's replies before its last (a JSON array, NULL if none), taken. */
struct json_object *connection_take_list_entries(NsboxConnection *c);

/* Mapping between the public NSBOX_NAMESPACE_* flags and proto's NAMESPACE_BIT() mask. */
unsigned namespaces_to_public(unsigned mask);
unsigned namespaces_from_public(unsigned flags);

NsboxState state_to_public(SandboxState s);

/* One limit of r (0 where none). */
uint64_t resources_get(const SandboxResources *r, NsboxResource which);

/* MemorySwapMax=: swap alone, turned into OCI's memory.swap (memory and swap together) when the
 * description is sent; sending fails with -EINVAL without a memory limit then. */
int spawn_set_swap_max(NsboxSpawn *s, uint64_t bytes);

/* CPUQuota=: a share of one CPU (10000 is one), turned into a quota for the request's period when sent. */
int spawn_set_cpu_quota_permyriad(NsboxSpawn *s, uint64_t permyriad);

/* The quota and period in µs that CPUQuota= comes to (quota 0: none was given). As systemd does, a period
 * whose quota would be under the kernel's least, 1 ms, is lengthened to fit it; -ERANGE when even 1 s does
 * not (a share under 0.1%): sending fails with it then. */
int spawn_cpu_quota_to_send(const NsboxSpawn *s, uint64_t *ret_quota, uint64_t *ret_period);
