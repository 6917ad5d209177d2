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
        const char *method;            /* "interface.Method", validated shape */
        struct json_object *parameters; /* always an object (an empty one if absent) */
        unsigned flags;                /* VarlinkCallFlags */
} VarlinkCall;

typedef struct VarlinkReply {
        const char *error;             /* NULL unless an error reply */
        struct json_object *parameters; /* always an object (an empty one if absent) */
        bool continues;
} VarlinkReply;

/*
 * Parses a call. -EBADMSG for: a missing or non-string method, a method name
 * without an interface part or with invalid characters, parameters that are
 * not an object, non-boolean flags, oneway together with more, or any other
 * top-level key. *ret is untouched on failure. The parsed struct keeps a
 * reference-free borrow: keep msg alive while using it.
 */
int varlink_call_parse(struct json_object *msg, VarlinkCall *ret);
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

/* Interface part of "a.b.c.Method" -> "a.b.c" (newly allocated); NULL on OOM or no dot. */
char *varlink_method_interface(const char *method);
