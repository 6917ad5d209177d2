/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Varlink calls and replies as the spec defines them, and the standard
 * org.varlink.service errors. Parsing is strict: any top-level key the spec
 * does not name is a protocol error.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#define VARLINK_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define VARLINK_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_PERMISSION_DENIED "org.varlink.service.PermissionDenied"
#define VARLINK_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"

typedef enum VarlinkCallFlags {
        VARLINK_CALL_MORE = 1U << 0,
        VARLINK_CALL_ONEWAY = 1U << 1,
        VARLINK_CALL_UPGRADE = 1U << 2,
} VarlinkCallFlags;

/* Pointers borrow from the message object they were parsed from. */
typedef struct VarlinkCall {
        const char *method;            /* any string without NUL: the dispatcher decides whether it names a method */
        struct json_object *parameters; /* always an object (an empty one if absent or null) */
        unsigned flags;                /* VarlinkCallFlags */
} VarlinkCall;

typedef struct VarlinkReply {
        const char *error;             /* NULL unless an error reply */
        struct json_object *parameters; /* always an object (an empty one if absent or null) */
        bool continues;
} VarlinkReply;

/*
 * Parses a call. -EBADMSG for what the Varlink spec makes a protocol error:
 * a missing method or one that is not a string (or holds a NUL), parameters
 * that are neither an object nor null, non-boolean flags, oneway together
 * with more or upgrade, or any other top-level key. A method string that
 * names no method (wrong case, no interface part) is not a protocol error:
 * the dispatcher answers it with MethodNotFound, as systemd's sd-varlink
 * does. "parameters": null is the same as no parameters (msg is changed to
 * hold an empty object instead). *ret is untouched on failure, and
 * *reterr_reason (if not NULL) then says what was wrong, as a static string.
 * The parsed struct keeps a reference-free borrow: keep msg alive while using
 * it.
 */
int varlink_call_parse(struct json_object *msg, VarlinkCall *ret, const char **reterr_reason);

/* Parses a reply: the same envelope rules, and the error name must be a valid qualified name. */
int varlink_reply_parse(struct json_object *msg, VarlinkReply *ret);

/* Builders; each takes ownership of 'parameters' (NULL means {}); NULL on OOM. */
struct json_object *varlink_call_new(const char *method, struct json_object *parameters, unsigned flags);
struct json_object *varlink_reply_new(struct json_object *parameters, bool continues);
struct json_object *varlink_error_new(const char *error, struct json_object *parameters);

/* The org.varlink.service errors with their spec'd parameters. */
struct json_object *varlink_error_invalid_parameter(const char *parameter);
struct json_object *varlink_error_method_not_found(const char *method);
struct json_object *varlink_error_interface_not_found(const char *interface);
struct json_object *varlink_error_permission_denied(void);
struct json_object *varlink_error_expected_more(void);

/* True if interface is a reverse-domain interface name as the Varlink spec defines it. */
bool varlink_interface_name_is_valid(const char *interface);

/* Interface part of "a.b.c.Method" -> "a.b.c" (newly allocated); NULL on OOM or no dot. */
char *varlink_method_interface(const char *method);
