/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The table-driven JSON codec (see json-codec.h): the dispatcher with its
 * field-path stack, and the kinds every table uses. Input comes from
 * unprivileged callers, so every getter is strict: integers exactly in range,
 * strings without NUL bytes and within their size.
 */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json-codec.h"
#include "macro.h"

#define PTR JSON_FIELD_PTR
#define CPTR JSON_FIELD_CONST_PTR
#define AUX(base, f, T) ((T *) ((uint8_t *) (base) + (f)->aux))

/* ---- the path stack ---- */

_printf_(2, 3) static size_t push(JsonCodec *c, const char *fmt, ...) {
        size_t saved = c->len;
        va_list ap;

        if (c->len < JSON_PATH_MAX - 1) {
                va_start(ap, fmt);
                c->len += (size_t) vsnprintf(c->path + c->len, JSON_PATH_MAX - c->len, fmt, ap);
                va_end(ap);
        }
        return saved;
}

static size_t push_member(JsonCodec *c, const char *name) {
        return push(c, c->len == 0 ? "%s" : ".%s", name);
}

static void pop(JsonCodec *c, size_t saved) {
        c->len = saved;
        if (saved < JSON_PATH_MAX)
                c->path[saved] = 0;
}

/*
 * Decoding stops at the first problem, so only the first report counts. An
 * empty path is the parameters object itself.
 */
int json_codec_invalid(JsonCodec *c) {
        if (!c->invalid) {
                c->invalid = strdup(c->len == 0 ? "parameters" : c->path);
                if (!c->invalid)
                        return -ENOMEM;
        }
        return -EINVAL;
}

int json_codec_invalid_member(JsonCodec *c, const char *name) {
        size_t saved = push_member(c, name);
        int r = json_codec_invalid(c);

        pop(c, saved);
        return r;
}

int json_invalid_parameter(char **ret_invalid_parameter, const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        if (!ret_invalid_parameter)
                return -EINVAL;
        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *ret_invalid_parameter = s;
        return -EINVAL;
}

/* ---- strict getters and builders ---- */

struct json_object *json_member(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) == json_type_null)
                return NULL;
        return v;
}

bool json_get_int(struct json_object *v, int64_t min, int64_t max, int64_t *ret) {
        int64_t i;

        if (json_object_get_type(v) != json_type_int)
                return false;
        i = json_object_get_int64(v);
        /* json-c clamps: INT64_MAX may stand for a larger unsigned value, INT64_MIN for anything below. */
        if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t) INT64_MAX)
                return false;
        if (i == INT64_MIN || i < min || i > max)
                return false;
        *ret = i;
        return true;
}

const char *json_get_string(struct json_object *v, size_t max) {
        const char *s;
        size_t n;

        if (json_object_get_type(v) != json_type_string)
                return NULL;
        s = json_object_get_string(v);
        n = (size_t) json_object_get_string_len(v);
        if (strlen(s) != n || n > max)
                return NULL;
        return s;
}

bool json_add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return false;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

bool json_append(struct json_object *a, struct json_object *v) {
        if (!v)
                return false;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

/* *ret = v, -ENOMEM if v is NULL: for encoders that always write their member. */
static int some(struct json_object *v, struct json_object **ret) {
        *ret = v;
        return v ? 0 : -ENOMEM;
}

/* A maximum as JsonString, JsonStrv and JsonArray give it; SIZE_MAX when there is none. */
static size_t max_of(const JsonCodec *c, size_t max, size_t limit) {
        if (max > 0)
                return max;
        if (limit > 0 && c->limits)
                return *(const size_t *) ((const uint8_t *) c->limits + limit - 1);
        return SIZE_MAX;
}

/* ---- the dispatcher ---- */

static const JsonField *field_find(const JsonField *fields, const char *key) {
        for (const JsonField *f = fields; f->kind; f++) {
                if (f->kind == &json_kind_inline) {
                        const JsonField *i = field_find(f->arg, key);
                        if (i)
                                return i;
                } else if (streq(f->name, key))
                        return f;
        }
        return NULL;
}

static int decode_value(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        if (f->kind->type != json_type_null && json_object_get_type(v) != f->kind->type)
                return json_codec_invalid(c);
        return f->kind->decode(c, v, base, f);
}

static int decode_rows(JsonCodec *c, struct json_object *o, void *base, const JsonField *fields) {
        for (const JsonField *f = fields; f->kind; f++) {
                struct json_object *v;
                size_t saved;
                int r;

                if (f->kind == &json_kind_inline) {
                        r = decode_rows(c, o, PTR(base, f), f->arg);
                        if (r < 0)
                                return r;
                        continue;
                }

                v = json_member(o, f->name);
                if (!v && !(f->flags & JSON_MANDATORY))
                        continue;

                saved = push_member(c, f->name);
                r = v ? decode_value(c, v, base, f) : json_codec_invalid(c);
                pop(c, saved);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_object(JsonCodec *c, struct json_object *o, void *base, const JsonField *fields) {
        if (json_object_get_type(o) != json_type_object)
                return json_codec_invalid(c);

        if (!c->permissive) {
                json_object_object_foreach(o, key, value) {
                        (void) value;
                        if (!field_find(fields, key))
                                return json_codec_invalid_member(c, key);
                }
        }

        return decode_rows(c, o, base, fields);
}

int json_codec_decode(JsonCodec *c, struct json_object *o, void *base, const JsonField *fields) {
        c->len = 0;
        c->path[0] = 0;
        return decode_object(c, o, base, fields);
}

static int encode_rows(struct json_object *o, const void *base, const JsonField *fields) {
        for (const JsonField *f = fields; f->kind; f++) {
                struct json_object *v = NULL;
                int r;

                if (f->kind == &json_kind_inline) {
                        r = encode_rows(o, CPTR(base, f), f->arg);
                        if (r < 0)
                                return r;
                        continue;
                }

                r = f->kind->encode(base, f, &v);
                if (r < 0)
                        return r;
                if (v && !json_add(o, f->name, v))
                        return -ENOMEM;
        }
        return 0;
}

int json_codec_encode(const void *base, const JsonField *fields, struct json_object **ret) {
        struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = encode_rows(o, base, fields);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

void json_codec_done(void *base, const JsonField *fields) {
        for (const JsonField *f = fields; f->kind; f++)
                if (f->kind->done)
                        f->kind->done(base, f);
}

int json_codec_each(JsonCodec *c, struct json_object *a, size_t max,
                    int (*each)(JsonCodec *c, struct json_object *e, size_t i, void *userdata), void *userdata) {
        size_t n;

        if (json_object_get_type(a) != json_type_array)
                return json_codec_invalid(c);
        n = json_object_array_length(a);
        if (n > max)
                return json_codec_invalid(c);

        for (size_t i = 0; i < n; i++) {
                size_t saved = push(c, "[%zu]", i);
                int r = each(c, json_object_array_get_idx(a, i), i, userdata);

                pop(c, saved);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- scalar kinds ---- */

static int decode_bool(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        (void) c;
        *(bool *) PTR(base, f) = json_object_get_boolean(v);
        return 0;
}

static int encode_bool(const void *base, const JsonField *f, struct json_object **ret) {
        bool b = *(const bool *) CPTR(base, f);

        if (!b && !(f->flags & JSON_MANDATORY))
                return 0;
        return some(json_object_new_boolean(b), ret);
}

const JsonKind json_kind_bool = { json_type_boolean, decode_bool, encode_bool, NULL };

static int decode_tristate(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        (void) c;
        *(int *) PTR(base, f) = json_object_get_boolean(v);
        return 0;
}

static int encode_tristate(const void *base, const JsonField *f, struct json_object **ret) {
        int b = *(const int *) CPTR(base, f);

        if (b < 0)
                return 0;
        return some(json_object_new_boolean(b), ret);
}

const JsonKind json_kind_tristate = { json_type_boolean, decode_tristate, encode_tristate, NULL };

/*
 * Integers: decoded within the row's JsonRange, and encoded when mandatory or
 * within it, so an out-of-range value (-1, 0) can stand for "absent".
 */
static JsonRange range_of(const JsonField *f, int64_t min, int64_t max) {
        const JsonRange *r = f->arg;

        return r ? *r : (JsonRange) { min, max };
}

static int decode_integer(JsonCodec *c, struct json_object *v, const JsonField *f, int64_t min, int64_t max,
                          int64_t *ret) {
        JsonRange range = range_of(f, min, max);

        if (!json_get_int(v, MAX(range.min, min), MIN(range.max, max), ret))
                return json_codec_invalid(c);
        return 0;
}

static int encode_integer(const JsonField *f, int64_t i, int64_t min, int64_t max, struct json_object **ret) {
        JsonRange range = range_of(f, min, max);

        if (!(f->flags & JSON_MANDATORY) && (i < range.min || i > range.max))
                return 0;
        return some(json_object_new_int64(i), ret);
}

#define DEFINE_INTEGER_KIND(name, type, min, max)                                                              \
        static int decode_##name(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {        \
                int64_t i;                                                                                     \
                int r = decode_integer(c, v, f, min, max, &i);                                                 \
                if (r >= 0)                                                                                    \
                        *(type *) PTR(base, f) = (type) i;                                                     \
                return r;                                                                                      \
        }                                                                                                      \
        static int encode_##name(const void *base, const JsonField *f, struct json_object **ret) {             \
                type i = *(const type *) CPTR(base, f);                                                        \
                return encode_integer(f, (int64_t) MIN(i, (type) (max)), min, max, ret);                       \
        }                                                                                                      \
        const JsonKind json_kind_##name = { json_type_int, decode_##name, encode_##name, NULL };

DEFINE_INTEGER_KIND(int, int, INT_MIN, INT_MAX)
DEFINE_INTEGER_KIND(int64, int64_t, INT64_MIN + 1, INT64_MAX)
DEFINE_INTEGER_KIND(uint32, uint32_t, 0, UINT32_MAX)
DEFINE_INTEGER_KIND(uint64, uint64_t, 0, INT64_MAX)

static int decode_fd_index(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        int64_t i;

        if (c->n_fds == 0 || !json_get_int(v, 0, (int64_t) MIN(c->n_fds, (size_t) INT_MAX) - 1, &i))
                return json_codec_invalid(c);
        *(int *) PTR(base, f) = (int) i;
        return 0;
}

static int encode_fd_index(const void *base, const JsonField *f, struct json_object **ret) {
        int i = *(const int *) CPTR(base, f);

        if (i < 0 && !(f->flags & JSON_MANDATORY))
                return 0;
        return some(json_object_new_int(i), ret);
}

const JsonKind json_kind_fd_index = { json_type_int, decode_fd_index, encode_fd_index, NULL };

const char *json_enum_to_string(const JsonEnum *e, int i) {
        return i >= 0 && (size_t) i < e->n ? e->names[i] : NULL;
}

int json_enum_from_string(const JsonEnum *e, const char *s) {
        for (size_t i = 0; s && i < e->n; i++)
                if (e->names[i] && streq(s, e->names[i]))
                        return (int) i;
        return -EINVAL;
}

static int decode_enum(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        int i = json_enum_from_string(f->arg, json_get_string(v, 64));

        if (i < 0)
                return json_codec_invalid(c);
        *(int *) PTR(base, f) = i;
        return 0;
}

static int encode_enum(const void *base, const JsonField *f, struct json_object **ret) {
        return some(json_object_new_string(json_enum_to_string(f->arg, *(const int *) CPTR(base, f)) ?: ""), ret);
}

const JsonKind json_kind_enum = { json_type_string, decode_enum, encode_enum, NULL };

/* ---- strings ---- */

int json_codec_string(JsonCodec *c, struct json_object *v, const JsonString *d, char **ret) {
        const char *s = json_get_string(v, max_of(c, d->max, d->limit));
        char *copy;
        int r;

        if (!s || (d->valid && !d->valid(s)))
                return json_codec_invalid(c);

        if (d->normalize) {
                r = d->normalize(s, &copy);
                if (r == -EINVAL)
                        return json_codec_invalid(c);
                if (r < 0)
                        return r;
        } else {
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
        }

        free(*ret);
        *ret = copy;
        return 0;
}

static int decode_string(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        return json_codec_string(c, v, f->arg, PTR(base, f));
}

static int encode_string(const void *base, const JsonField *f, struct json_object **ret) {
        const char *s = *(char *const *) CPTR(base, f);

        if (!s && !(f->flags & JSON_MANDATORY))
                return 0;
        return some(json_object_new_string(s ?: ""), ret);
}

static void done_string(void *base, const JsonField *f) {
        char **s = PTR(base, f);

        free(*s);
        *s = NULL;
}

const JsonKind json_kind_string = { json_type_string, decode_string, encode_string, done_string };

typedef struct StrvState {
        const JsonStrv *d;
        char **l;
        size_t bytes, bytes_max;
} StrvState;

static int strv_entry(JsonCodec *c, struct json_object *e, size_t i, void *userdata) {
        StrvState *st = userdata;
        const char *s = json_get_string(e, st->bytes_max);

        if (!s || (st->d->valid && !st->d->valid(s, i)))
                return json_codec_invalid(c);
        st->bytes += strlen(s) + 1;
        st->l[i] = strdup(s);
        return st->l[i] ? 0 : -ENOMEM;
}

static int decode_strv(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        StrvState st = { .d = f->arg };
        size_t n = json_object_array_length(v);
        char ***p = PTR(base, f);
        int r;

        st.bytes_max = max_of(c, 0, st.d->bytes_limit);
        if ((st.d->nonempty && n == 0) || n > max_of(c, 0, st.d->limit))
                return json_codec_invalid(c);

        st.l = calloc(n + 1, sizeof(char *));
        if (!st.l)
                return -ENOMEM;

        r = json_codec_each(c, v, SIZE_MAX, strv_entry, &st);
        if (r >= 0 && st.bytes > st.bytes_max)
                r = json_codec_invalid(c);
        if (r < 0) {
                strv_free(st.l);
                return r;
        }

        strv_free(*p);
        *p = st.l;
        return 0;
}

int json_codec_strings(const char *const *l, size_t n, struct json_object **ret) {
        struct json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (l[i] && !json_append(a, json_object_new_string(l[i]))) {
                        json_object_put(a);
                        return -ENOMEM;
                }
        *ret = a;
        return 0;
}

static int encode_strv(const void *base, const JsonField *f, struct json_object **ret) {
        char *const *l = *(char **const *) CPTR(base, f);

        if (!l && !(f->flags & JSON_MANDATORY))
                return 0;
        return json_codec_strings((const char *const *) l, strv_length(l), ret);
}

static void done_strv(void *base, const JsonField *f) {
        char ***p = PTR(base, f);

        *p = strv_free(*p);
}

const JsonKind json_kind_strv = { json_type_array, decode_strv, encode_strv, done_strv };

/* ---- objects and arrays ---- */

static int decode_object_field(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        int r = decode_object(c, v, PTR(base, f), f->arg);

        if (r >= 0 && (f->flags & JSON_PRESENCE))
                *AUX(base, f, bool) = true;
        return r;
}

/* A sub-object is written when its presence bool says so, or, without one, when it has members. */
static int encode_object_field(const void *base, const JsonField *f, struct json_object **ret) {
        struct json_object *o;
        int r;

        if ((f->flags & JSON_PRESENCE) && !*AUX(base, f, const bool))
                return 0;
        r = json_codec_encode(CPTR(base, f), f->arg, &o);
        if (r < 0)
                return r;
        if (!(f->flags & (JSON_MANDATORY | JSON_PRESENCE)) && json_object_object_length(o) == 0) {
                json_object_put(o);
                return 0;
        }
        *ret = o;
        return 0;
}

static void done_object_field(void *base, const JsonField *f) {
        json_codec_done(PTR(base, f), f->arg);
}

const JsonKind json_kind_object = { json_type_object, decode_object_field, encode_object_field, done_object_field };

const JsonKind json_kind_inline = { json_type_object, NULL, NULL, done_object_field };

static void elements_free(const JsonArray *a, uint8_t *elements, size_t n) {
        const JsonField *e = &a->element;

        for (size_t i = 0; e->kind->done && i < n; i++)
                e->kind->done(elements + i * a->size, e);
        free(elements);
}

typedef struct ArrayState {
        const JsonArray *a;
        uint8_t *elements;
        size_t n_decoded; /* elements that may own memory */
} ArrayState;

static int array_element(JsonCodec *c, struct json_object *v, size_t i, void *userdata) {
        ArrayState *st = userdata;
        const JsonArray *a = st->a;
        void *e = st->elements + i * a->size;
        int r;

        if (a->init)
                a->init(e);
        st->n_decoded = i + 1;

        r = decode_value(c, v, e, &a->element);
        if (r >= 0 && a->verify)
                r = a->verify(c, st->elements, i);
        return r;
}

static int decode_array(JsonCodec *c, struct json_object *v, void *base, const JsonField *f) {
        ArrayState st = { .a = f->arg };
        size_t n = json_object_array_length(v);
        void **p = PTR(base, f);
        int r;

        if (n > max_of(c, st.a->max, st.a->limit))
                return json_codec_invalid(c);

        st.elements = calloc(MAX(n, 1U), st.a->size);
        if (!st.elements)
                return -ENOMEM;

        r = json_codec_each(c, v, SIZE_MAX, array_element, &st);
        if (r < 0) {
                elements_free(st.a, st.elements, st.n_decoded);
                return r;
        }

        elements_free(st.a, *p, *AUX(base, f, size_t));
        *p = st.elements;
        *AUX(base, f, size_t) = n;
        return 0;
}

static int encode_array(const void *base, const JsonField *f, struct json_object **ret) {
        const JsonArray *a = f->arg;
        const uint8_t *elements = *(const uint8_t *const *) CPTR(base, f);
        size_t n = *AUX(base, f, const size_t);
        struct json_object *o;
        int r = 0;

        if (n == 0 && !(f->flags & JSON_MANDATORY))
                return 0;
        o = json_object_new_array();
        if (!o)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct json_object *e = NULL;

                r = a->element.kind->encode(elements + i * a->size, &a->element, &e);
                if (r >= 0 && !json_append(o, e))
                        r = -ENOMEM;
        }
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static void done_array(void *base, const JsonField *f) {
        void **p = PTR(base, f);

        elements_free(f->arg, *p, *AUX(base, f, size_t));
        *p = NULL;
        *AUX(base, f, size_t) = 0;
}

const JsonKind json_kind_array = { json_type_array, decode_array, encode_array, done_array };
