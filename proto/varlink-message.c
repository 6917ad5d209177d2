/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Varlink calls and replies: strict parsing of the envelope the spec
 * defines, builders for both directions, and the org.varlink.service errors.
 */

#include <errno.h>
#include <string.h>

#include "macro.h"
#include "varlink-message.h"

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/*
 * An interface name is reverse-domain: at least two dot-separated parts, each
 * of letters, digits and inner dashes, the first part starting with a letter.
 */
static bool interface_name_valid(const char *s, size_t n) {
        size_t parts = 0, i = 0;

        if (n == 0 || n > 255 || !is_alpha(s[0]))
                return false;

        while (i < n) {
                size_t begin = i;

                while (i < n && s[i] != '.') {
                        if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
                                return false;
                        i++;
                }
                if (i == begin || s[begin] == '-' || s[i - 1] == '-')
                        return false;
                parts++;
                if (i < n)
                        i++; /* the dot */
                if (i == n && s[n - 1] == '.')
                        return false;
        }

        return parts >= 2;
}

/* A method or error name: an uppercase letter followed by letters and digits. */
static bool member_name_valid(const char *s) {
        if (!s[0] || s[0] < 'A' || s[0] > 'Z')
                return false;
        for (const char *p = s; *p; p++)
                if (!is_alpha(*p) && !is_digit(*p))
                        return false;
        return strlen(s) <= 255;
}

static bool qualified_name_valid(struct json_object *o) {
        const char *s, *dot;
        size_t n;

        if (json_object_get_type(o) != json_type_string)
                return false;

        s = json_object_get_string(o);
        n = (size_t) json_object_get_string_len(o);
        if (strlen(s) != n) /* an embedded NUL */
                return false;

        dot = strrchr(s, '.');
        if (!dot)
                return false;

        return interface_name_valid(s, (size_t) (dot - s)) && member_name_valid(dot + 1);
}

static int get_flag(struct json_object *v, bool *ret) {
        if (json_object_get_type(v) != json_type_boolean)
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return 0;
}

/* A boolean member of the envelope and where its value goes. */
typedef struct EnvelopeFlag {
        const char *key;
        bool *value;
} EnvelopeFlag;

/*
 * The member rules calls and replies share: name_key's value is returned for
 * the caller to check, "parameters" must be an object or null (null counts as
 * absent, as in systemd's implementation: Go's varlink library sends it for
 * calls without parameters), the flags booleans, and any other member is
 * refused. *reason says why on failure.
 */
static int envelope_scan(struct json_object *msg, const char *name_key, const EnvelopeFlag *flags, size_t n_flags,
                         struct json_object **ret_name, const char **reason) {
        struct json_object *name = NULL;

        if (json_object_get_type(msg) != json_type_object) {
                *reason = "the message is not a JSON object";
                return -EBADMSG;
        }

        json_object_object_foreach(msg, key, value) {
                const EnvelopeFlag *flag = NULL;

                if (streq(key, name_key)) {
                        name = value;
                        continue;
                }
                if (streq(key, "parameters")) {
                        if (!json_object_is_type(value, json_type_object) && !json_object_is_type(value, json_type_null)) {
                                *reason = "\"parameters\" is neither an object nor null";
                                return -EBADMSG;
                        }
                        continue;
                }
                for (size_t i = 0; i < n_flags && !flag; i++)
                        if (streq(key, flags[i].key))
                                flag = flags + i;
                if (!flag) {
                        *reason = "a member the Varlink envelope does not define";
                        return -EBADMSG;
                }
                if (get_flag(value, flag->value) < 0) {
                        *reason = "a flag (\"more\", \"oneway\", \"upgrade\", \"continues\") that is not a boolean";
                        return -EBADMSG;
                }
        }

        *ret_name = name;
        return 0;
}

/* Makes sure msg has an object under "parameters" (replacing null), so the parsed struct can borrow one. */
static int ensure_parameters(struct json_object *msg, struct json_object **ret) {
        struct json_object *p;

        if (json_object_object_get_ex(msg, "parameters", &p) && json_object_is_type(p, json_type_object)) {
                *ret = p;
                return 0;
        }

        p = json_object_new_object();
        if (!p)
                return -ENOMEM;
        /* Replaces a null value, if there is one. */
        if (json_object_object_add(msg, "parameters", p) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

/* A method name as the call gives it: any string without a NUL. Whether it names a method is the dispatcher's question. */
static bool method_string_valid(struct json_object *o) {
        return json_object_is_type(o, json_type_string) &&
               strlen(json_object_get_string(o)) == (size_t) json_object_get_string_len(o);
}

int varlink_call_parse(struct json_object *msg, VarlinkCall *ret, const char **reterr_reason) {
        struct json_object *method = NULL, *parameters = NULL;
        bool more = false, oneway = false, upgrade = false;
        const EnvelopeFlag flag_keys[] = { { "more", &more }, { "oneway", &oneway }, { "upgrade", &upgrade } };
        const char *reason = NULL;
        unsigned flags = 0;
        int r;

        if (!msg || !ret)
                return -EINVAL;

        r = envelope_scan(msg, "method", flag_keys, ELEMENTSOF(flag_keys), &method, &reason);
        if (r < 0)
                goto fail;

        r = -EBADMSG;
        if (!method) { /* json-c gives null as NULL too */
                reason = json_object_object_get_ex(msg, "method", NULL) ? "\"method\" is not a string" : "no \"method\"";
                goto fail;
        }
        if (!method_string_valid(method)) {
                reason = "\"method\" is not a string";
                goto fail;
        }
        /* A oneway call gets no reply at all, so it cannot ask for several. */
        if (oneway && (more || upgrade)) {
                reason = "\"oneway\" together with \"more\" or \"upgrade\"";
                goto fail;
        }

        r = ensure_parameters(msg, &parameters);
        if (r < 0) {
                reason = "out of memory";
                goto fail;
        }

        if (more)
                flags |= VARLINK_CALL_MORE;
        if (oneway)
                flags |= VARLINK_CALL_ONEWAY;
        if (upgrade)
                flags |= VARLINK_CALL_UPGRADE;

        *ret = (VarlinkCall) {
                .method = json_object_get_string(method),
                .parameters = parameters,
                .flags = flags,
        };
        return 0;

fail:
        if (reterr_reason)
                *reterr_reason = reason;
        return r;
}

int varlink_reply_parse(struct json_object *msg, VarlinkReply *ret) {
        struct json_object *error = NULL, *parameters = NULL;
        bool continues = false;
        const EnvelopeFlag flag_keys[] = { { "continues", &continues } };
        const char *reason;
        int r;

        if (!msg || !ret)
                return -EINVAL;

        r = envelope_scan(msg, "error", flag_keys, ELEMENTSOF(flag_keys), &error, &reason);
        if (r < 0)
                return r;

        if (error && !qualified_name_valid(error))
                return -EBADMSG;
        /* An error ends the call; it cannot promise more replies. */
        if (error && continues)
                return -EBADMSG;

        r = ensure_parameters(msg, &parameters);
        if (r < 0)
                return r;

        *ret = (VarlinkReply) {
                .error = error ? json_object_get_string(error) : NULL,
                .parameters = parameters,
                .continues = continues,
        };
        return 0;
}

/* Adds key: value to o, taking value; false (and value released) on failure. */
static bool add(struct json_object *o, const char *key, struct json_object *value) {
        if (!value)
                return false;
        if (json_object_object_add(o, key, value) < 0) {
                json_object_put(value);
                return false;
        }
        return true;
}

static struct json_object *fail(struct json_object *o) {
        json_object_put(o);
        return NULL;
}

/* A message that starts with key: name and carries parameters (taken; an empty object when NULL). */
static struct json_object *named_message_new(const char *key, const char *name, struct json_object *parameters) {
        struct json_object *o;

        if (!name) {
                json_object_put(parameters);
                return NULL;
        }

        o = json_object_new_object();
        if (!o) {
                json_object_put(parameters);
                return NULL;
        }

        if (!add(o, key, json_object_new_string(name))) {
                json_object_put(parameters);
                return fail(o);
        }
        if (!add(o, "parameters", parameters ?: json_object_new_object()))
                return fail(o);

        return o;
}

struct json_object *varlink_call_new(const char *method, struct json_object *parameters, unsigned flags) {
        struct json_object *o;

        o = named_message_new("method", method, parameters);
        if (!o)
                return NULL;
        if ((flags & VARLINK_CALL_MORE) && !add(o, "more", json_object_new_boolean(true)))
                return fail(o);
        if ((flags & VARLINK_CALL_ONEWAY) && !add(o, "oneway", json_object_new_boolean(true)))
                return fail(o);
        if ((flags & VARLINK_CALL_UPGRADE) && !add(o, "upgrade", json_object_new_boolean(true)))
                return fail(o);

        return o;
}

struct json_object *varlink_reply_new(struct json_object *parameters, bool continues) {
        struct json_object *o;

        o = json_object_new_object();
        if (!o) {
                json_object_put(parameters);
                return NULL;
        }

        if (!add(o, "parameters", parameters ?: json_object_new_object()))
                return fail(o);
        if (continues && !add(o, "continues", json_object_new_boolean(true)))
                return fail(o);

        return o;
}

struct json_object *varlink_error_new(const char *error, struct json_object *parameters) {
        return named_message_new("error", error, parameters);
}

/* An error whose parameters are one string field (or none, when value is NULL). */
static struct json_object *error_with_string(const char *error, const char *key, const char *value) {
        struct json_object *p;

        p = json_object_new_object();
        if (!p)
                return NULL;
        if (value && !add(p, key, json_object_new_string(value)))
                return fail(p);

        return varlink_error_new(error, p);
}

struct json_object *varlink_error_invalid_parameter(const char *parameter) {
        return error_with_string(VARLINK_ERROR_INVALID_PARAMETER, "parameter", parameter);
}

struct json_object *varlink_error_method_not_found(const char *method) {
        return error_with_string(VARLINK_ERROR_METHOD_NOT_FOUND, "method", method);
}

struct json_object *varlink_error_interface_not_found(const char *interface) {
        return error_with_string(VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", interface);
}

struct json_object *varlink_error_permission_denied(void) {
        return varlink_error_new(VARLINK_ERROR_PERMISSION_DENIED, NULL);
}

struct json_object *varlink_error_expected_more(void) {
        return varlink_error_new(VARLINK_ERROR_EXPECTED_MORE, NULL);
}

bool varlink_interface_name_is_valid(const char *interface) {
        return interface && interface_name_valid(interface, strlen(interface));
}

char *varlink_method_interface(const char *method) {
        const char *dot;

        if (!method)
                return NULL;
        dot = strrchr(method, '.');
        if (!dot || dot == method)
                return NULL;
        return strndup(method, (size_t) (dot - method));
}
