/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A table-driven JSON codec. Each C struct on the wire has one table of
 * JsonField rows (wire name, kind, offset, flags, argument) that drives its
 * decode, its encode and the freeing of what decode allocated, so a new field
 * is one row. The rows follow systemd's JSON dispatch tables; unlike them, the
 * dispatcher keeps the whole field path: it pushes ".name" around each row
 * and "[i]" around each array element, and a kind that meets a bad value calls
 * json_codec_invalid(), which reports the path ("uidMappings[1].size").
 *
 * Decoding an object first refuses keys the table does not have (unless the
 * codec is permissive, for replies from a newer peer), then decodes the rows
 * in table order, so a kind may rely on the rows above it (a mount's "type"
 * before its "source") and the first row at fault is the one reported. A JSON
 * null is an absent member. Decode fills a zeroed or freshly initialized
 * struct; on failure free it with json_codec_done().
 *
 * Encoding writes mandatory members always and optional ones only when set
 * (a string that is not NULL, an integer within its range, a true bool, a
 * non-empty array).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* Large enough for the deepest path, e.g. "mounts[4294967295].sourceFileDescriptor"; longer ones are cut. */
#define JSON_PATH_MAX 256

typedef struct JsonCodec {
        char path[JSON_PATH_MAX];
        size_t len;         /* of the path as pushed; the text stops at JSON_PATH_MAX - 1 */
        char *invalid;      /* path of the first invalid member; the caller takes or frees it */
        size_t n_fds;       /* fds that came with the message: every fd index is below */
        const void *limits; /* where JSON_LIMIT() maxima are read */
        bool permissive;    /* ignore unknown members */
} JsonCodec;

typedef struct JsonField JsonField;

typedef struct JsonKind {
        json_type type; /* the member's JSON type, checked before decode; json_type_null: any */
        /* base is the struct the table describes; the row's value is at base + f->offset. */
        int (*decode)(JsonCodec *c, struct json_object *v, void *base, const JsonField *f);
        /* *ret = NULL leaves the member out. 0 or -ENOMEM. */
        int (*encode)(const void *base, const JsonField *f, struct json_object **ret);
        void (*done)(void *base, const JsonField *f); /* frees what decode allocated; optional */
} JsonKind;

enum {
        JSON_MANDATORY = 1 << 0, /* absent or null is invalid; always encoded */
        JSON_PRESENCE = 1 << 1,  /* json_kind_object: the bool at aux says whether the member is there */
};

struct JsonField {
        const char *name;     /* NULL for a json_kind_inline row */
        const JsonKind *kind; /* NULL ends the table */
        size_t offset;
        unsigned flags;
        const void *arg; /* per kind: JsonString, JsonStrv, JsonRange, JsonEnum, JsonArray, a sub-table */
        size_t aux;      /* json_kind_array: offset of the size_t count; JSON_PRESENCE: of the bool */
};

/* Where row f's value is in the struct at base. */
#define JSON_FIELD_PTR(base, f) ((void *) ((uint8_t *) (base) + (f)->offset))
#define JSON_FIELD_CONST_PTR(base, f) ((const void *) ((const uint8_t *) (base) + (f)->offset))

/* A limit taken from the size_t member m of the codec's limits (a struct S) at decode time. */
#define JSON_LIMIT(S, m) (offsetof(S, m) + 1)

/* An array row: a T *member with its size_t n_member right beside it in the struct. */
#define JSON_ARRAY_FIELD(name, S, member, flags, array)                                                        \
        { name, &json_kind_array, offsetof(S, member), flags, array, offsetof(S, n_##member) }

/* JsonArray.element for elements that are objects of the table fields. */
#define JSON_OBJECT_ELEMENT(fields) { NULL, &json_kind_object, 0, JSON_MANDATORY, fields }

typedef struct JsonString {
        size_t max;   /* bytes; or 0 and: */
        size_t limit; /* JSON_LIMIT() */
        bool (*valid)(const char *s);
        int (*normalize)(const char *s, char **ret); /* -EINVAL for an invalid s */
} JsonString;

typedef struct JsonStrv {
        size_t limit;       /* JSON_LIMIT() of the entries */
        size_t bytes_limit; /* JSON_LIMIT() of the sum of strlen + 1 */
        bool nonempty;      /* at least one entry */
        bool (*valid)(const char *s, size_t i);
} JsonStrv;

typedef struct JsonRange {
        int64_t min, max;
} JsonRange;

typedef struct JsonEnum {
        const char *const *names; /* indexed by the value, stored as int */
        size_t n;
} JsonEnum;

typedef struct JsonArray {
        size_t size;      /* of one element */
        JsonField element; /* how one element is coded, at offset 0 of it */
        size_t max;       /* elements; or 0 and: */
        size_t limit;     /* JSON_LIMIT(); neither: no maximum */
        void (*init)(void *e);
        /* Checks element i against itself and the ones before it, with "[i]" on the path. */
        int (*verify)(JsonCodec *c, void *elements, size_t i);
} JsonArray;

extern const JsonKind json_kind_bool;     /* bool; encoded when true */
extern const JsonKind json_kind_tristate; /* int: 1, 0, or -1 absent */
extern const JsonKind json_kind_int;      /* int in the JsonRange arg */
extern const JsonKind json_kind_int64;    /* int64_t in the JsonRange arg */
extern const JsonKind json_kind_uint32;   /* uint32_t in the JsonRange arg (NULL: all of uint32) */
extern const JsonKind json_kind_uint64;   /* uint64_t in the JsonRange arg */
extern const JsonKind json_kind_fd_index; /* int: index into the message's fds, -1 absent */
extern const JsonKind json_kind_enum;     /* int: one of the JsonEnum arg's names */
extern const JsonKind json_kind_string;   /* char *, per the JsonString arg */
extern const JsonKind json_kind_strv;     /* char **, NULL-terminated, per the JsonStrv arg */
extern const JsonKind json_kind_object;   /* the arg table at base + offset */
extern const JsonKind json_kind_array;    /* per the JsonArray arg; see JSON_ARRAY_FIELD() */
extern const JsonKind json_kind_inline;   /* the arg table's rows as members of this object */

/* Decodes parameters; a non-object is reported as "parameters". -EINVAL with c->invalid set, or -ENOMEM. */
int json_codec_decode(JsonCodec *c, struct json_object *o, void *base, const JsonField *fields);
/* Encodes into a new object; -ENOMEM. */
int json_codec_encode(const void *base, const JsonField *fields, struct json_object **ret);
/* Frees what decode allocated in base (not base itself). */
void json_codec_done(void *base, const JsonField *fields);

/* Reports the current path as invalid: -EINVAL (-ENOMEM if the path cannot be kept). */
int json_codec_invalid(JsonCodec *c);
/* Reports the member name of the current object. */
int json_codec_invalid_member(JsonCodec *c, const char *name);

/*
 * Reports a field path made outside a codec walk (printf-style, e.g.
 * "capabilities.bounding[2]") in *ret_invalid_parameter, which the caller frees:
 * -EINVAL, or -ENOMEM with *ret_invalid_parameter untouched. A NULL
 * ret_invalid_parameter only returns -EINVAL.
 */
_printf_(2, 3) int json_invalid_parameter(char **ret_invalid_parameter, const char *format, ...);

/* Calls each() on the elements of array a (at most max) with "[i]" on the path. */
int json_codec_each(JsonCodec *c, struct json_object *a, size_t max,
                    int (*each)(JsonCodec *c, struct json_object *e, size_t i, void *userdata), void *userdata);
/* A string as d says, copied to *ret (replacing it). */
int json_codec_string(JsonCodec *c, struct json_object *v, const JsonString *d, char **ret);

/* e->names[i], or NULL for an i out of range. */
const char *json_enum_to_string(const JsonEnum *e, int i);
/* The i whose name is s, or -EINVAL. */
int json_enum_from_string(const JsonEnum *e, const char *s);
/* A new array of the n strings in l that are not NULL; -ENOMEM. */
int json_codec_strings(const char *const *l, size_t n, struct json_object **ret);

/* The member, or NULL when it is absent or JSON null. */
struct json_object *json_member(struct json_object *o, const char *key);
/* An integer in [min, max], refusing what json-c clamped to fit int64. */
bool json_get_int(struct json_object *v, int64_t min, int64_t max, int64_t *ret);
/* A string of at most max bytes without NUL bytes; borrowed. NULL if v is none. */
const char *json_get_string(struct json_object *v, size_t max);
/* Add v to o or a, taking it; false (v released) if v is NULL or on OOM. */
bool json_add(struct json_object *o, const char *key, struct json_object *v);
bool json_append(struct json_object *a, struct json_object *v);
