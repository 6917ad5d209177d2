/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of Varlink call/reply parsing and the builders. */

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "varlink-message.h"

static struct json_object *parse(const char *text) {
        struct json_object *o = json_tokener_parse(text);

        cr_assert_not_null(o, "test JSON does not parse: %s", text);
        return o;
}

static void assert_json(struct json_object *o, const char *text) {
        struct json_object *expected = parse(text);

        cr_assert_not_null(o);
        cr_assert(json_object_equal(o, expected), "got %s, expected %s", json_object_to_json_string(o), text);
        json_object_put(expected);
}

Test(varlink_message, call_parse_valid) {
        static const struct {
                const char *text;
                const char *method;
                unsigned flags;
                const char *parameters;
        } cases[] = {
                { "{\"method\":\"io.nsbox.Sandbox.List\"}", "io.nsbox.Sandbox.List", 0, "{}" },
                { "{\"method\":\"io.nsbox.Sandbox.Wait\",\"parameters\":{\"id\":\"x\"},\"more\":true}",
                  "io.nsbox.Sandbox.Wait", VARLINK_CALL_MORE, "{\"id\":\"x\"}" },
                { "{\"method\":\"org.varlink.service.GetInfo\",\"oneway\":true}", "org.varlink.service.GetInfo",
                  VARLINK_CALL_ONEWAY, "{}" },
                { "{\"method\":\"a.b.C\",\"upgrade\":true,\"more\":false,\"oneway\":false}", "a.b.C",
                  VARLINK_CALL_UPGRADE, "{}" },
                { "{\"method\":\"my-domain.x1.Method2\",\"more\":true,\"upgrade\":true}", "my-domain.x1.Method2",
                  VARLINK_CALL_MORE | VARLINK_CALL_UPGRADE, "{}" },
                /* Go's varlink library sends null for a call without parameters. */
                { "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":null}", "org.varlink.service.GetInfo", 0,
                  "{}" },
                /* Names that name no method are the dispatcher's to answer (MethodNotFound), not protocol errors. */
                { "{\"method\":\"io.nsbox.Sandbox.list\"}", "io.nsbox.Sandbox.list", 0, "{}" },
                { "{\"method\":\"\"}", "", 0, "{}" },
                { "{\"method\":\"NoInterface\"}", "NoInterface", 0, "{}" },
                { "{\"method\":\"io..Sandbox.Sp-awn\"}", "io..Sandbox.Sp-awn", 0, "{}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *o = parse(cases[i].text);
                VarlinkCall c;

                cr_assert_eq(varlink_call_parse(o, &c, NULL), 0, "%s", cases[i].text);
                cr_assert_str_eq(c.method, cases[i].method);
                cr_assert_eq(c.flags, cases[i].flags, "%s", cases[i].text);
                assert_json(c.parameters, cases[i].parameters);
                json_object_put(o);
        }
}

Test(varlink_message, call_parse_invalid) {
        static const struct {
                const char *text;
                const char *reason;
        } cases[] = {
                { "{}", "no \"method\"" },
                { "{\"parameters\":{}}", "no \"method\"" },
                { "{\"method\":1}", "\"method\" is not a string" },
                { "{\"method\":null}", "\"method\" is not a string" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\\u0000x\"}", "\"method\" is not a string" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":[]}", "\"parameters\" is neither" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":\"x\"}", "\"parameters\" is neither" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":false}", "\"parameters\" is neither" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"more\":1}", "a flag" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"more\":\"true\"}", "a flag" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"oneway\":null}", "a flag" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"upgrade\":0}", "a flag" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"oneway\":true,\"more\":true}", "\"oneway\" together" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"oneway\":true,\"upgrade\":true}", "\"oneway\" together" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"extra\":1}", "a member the Varlink envelope" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"error\":\"a.b.C\"}", "a member the Varlink envelope" },
                { "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"continues\":true}", "a member the Varlink envelope" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *o = parse(cases[i].text);
                VarlinkCall c = { .method = "untouched" };
                const char *reason = NULL;

                cr_assert_eq(varlink_call_parse(o, &c, &reason), -EBADMSG, "%s", cases[i].text);
                cr_assert_str_eq(c.method, "untouched");
                cr_assert_not_null(reason, "%s", cases[i].text);
                cr_assert(strncmp(reason, cases[i].reason, strlen(cases[i].reason)) == 0, "%s: reason \"%s\"",
                          cases[i].text, reason);
                json_object_put(o);
        }

        struct json_object *a = parse("[]");
        const char *reason = NULL;
        VarlinkCall c;
        cr_assert_eq(varlink_call_parse(a, &c, &reason), -EBADMSG);
        cr_assert_str_eq(reason, "the message is not a JSON object");
        json_object_put(a);
        cr_assert_eq(varlink_call_parse(NULL, &c, NULL), -EINVAL);
}

/* A null "parameters" is replaced by an empty object the handler can borrow. */
Test(varlink_message, call_parameters_null) {
        struct json_object *o = parse("{\"method\":\"a.b.C\",\"parameters\":null}");
        VarlinkCall c;

        cr_assert_eq(varlink_call_parse(o, &c, NULL), 0);
        cr_assert(json_object_is_type(c.parameters, json_type_object));
        cr_assert_eq(json_object_object_length(c.parameters), 0);
        assert_json(o, "{\"method\":\"a.b.C\",\"parameters\":{}}");
        json_object_put(o);
}

Test(varlink_message, long_names) {
        char method[600];
        struct json_object *o;
        VarlinkCall c;

        /* Long, but a string: not a protocol error; the dispatcher answers MethodNotFound. */
        memset(method, 'a', sizeof(method));
        memcpy(method + 300, ".b.C", 5);
        o = json_object_new_object();
        json_object_object_add(o, "method", json_object_new_string(method));
        cr_assert_eq(varlink_call_parse(o, &c, NULL), 0);
        cr_assert_eq(strlen(c.method), 304);
        json_object_put(o);
}

Test(varlink_message, interface_name_is_valid) {
        static const char *const valid[] = { "io.nsbox.Sandbox", "org.varlink.service", "my-domain.x1" };
        static const char *const invalid[] = { "", "io", "io..x", ".io.x", "io.x.", "1io.x", "io.-x", "io.x-",
                                               "io.nsb ox", NULL };

        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                cr_assert(varlink_interface_name_is_valid(valid[i]), "%s", valid[i]);
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                cr_assert(!varlink_interface_name_is_valid(invalid[i]), "%s", invalid[i] ?: "NULL");
}

Test(varlink_message, reply_parse) {
        static const struct {
                const char *text;
                int result;
                const char *error;
                bool continues;
                const char *parameters;
        } cases[] = {
                { "{\"parameters\":{\"a\":1}}", 0, NULL, false, "{\"a\":1}" },
                { "{}", 0, NULL, false, "{}" },
                { "{\"parameters\":null}", 0, NULL, false, "{}" },
                { "{\"parameters\":{},\"continues\":true}", 0, NULL, true, "{}" },
                { "{\"error\":\"io.nsbox.Sandbox.NoSuchSandbox\",\"parameters\":{\"id\":\"x\"}}", 0,
                  "io.nsbox.Sandbox.NoSuchSandbox", false, "{\"id\":\"x\"}" },
                { "{\"error\":\"org.varlink.service.PermissionDenied\"}", 0, "org.varlink.service.PermissionDenied",
                  false, "{}" },
                { "{\"error\":1}", -EBADMSG },
                { "{\"error\":\"nodot\"}", -EBADMSG },
                { "{\"error\":\"a.b.C\",\"continues\":true}", -EBADMSG },
                { "{\"parameters\":[]}", -EBADMSG },
                { "{\"continues\":1}", -EBADMSG },
                { "{\"method\":\"a.b.C\"}", -EBADMSG },
                { "{\"parameters\":{},\"other\":true}", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *o = parse(cases[i].text);
                VarlinkReply r = {};

                cr_assert_eq(varlink_reply_parse(o, &r), cases[i].result, "%s", cases[i].text);
                if (cases[i].result == 0) {
                        if (cases[i].error)
                                cr_assert_str_eq(r.error, cases[i].error);
                        else
                                cr_assert_null(r.error);
                        cr_assert_eq(r.continues, cases[i].continues);
                        assert_json(r.parameters, cases[i].parameters);
                }
                json_object_put(o);
        }
}

Test(varlink_message, builders_round_trip) {
        struct json_object *o;
        VarlinkCall c;
        VarlinkReply r;

        o = varlink_call_new("io.nsbox.Sandbox.Wait", parse("{\"id\":\"abc\"}"), VARLINK_CALL_MORE);
        assert_json(o, "{\"method\":\"io.nsbox.Sandbox.Wait\",\"parameters\":{\"id\":\"abc\"},\"more\":true}");
        cr_assert_eq(varlink_call_parse(o, &c, NULL), 0);
        cr_assert_eq(c.flags, VARLINK_CALL_MORE);
        json_object_put(o);

        o = varlink_call_new("io.nsbox.Sandbox.List", NULL, VARLINK_CALL_ONEWAY);
        assert_json(o, "{\"method\":\"io.nsbox.Sandbox.List\",\"parameters\":{},\"oneway\":true}");
        json_object_put(o);

        o = varlink_call_new("a.b.C", NULL, VARLINK_CALL_UPGRADE);
        assert_json(o, "{\"method\":\"a.b.C\",\"parameters\":{},\"upgrade\":true}");
        json_object_put(o);

        o = varlink_reply_new(parse("{\"x\":[1]}"), true);
        assert_json(o, "{\"parameters\":{\"x\":[1]},\"continues\":true}");
        cr_assert_eq(varlink_reply_parse(o, &r), 0);
        cr_assert(r.continues);
        json_object_put(o);

        o = varlink_reply_new(NULL, false);
        assert_json(o, "{\"parameters\":{}}");
        json_object_put(o);

        o = varlink_error_new("io.nsbox.Sandbox.QuotaExceeded", parse("{\"limit\":\"sandboxes\"}"));
        assert_json(o, "{\"error\":\"io.nsbox.Sandbox.QuotaExceeded\",\"parameters\":{\"limit\":\"sandboxes\"}}");
        cr_assert_eq(varlink_reply_parse(o, &r), 0);
        cr_assert_str_eq(r.error, "io.nsbox.Sandbox.QuotaExceeded");
        json_object_put(o);

        cr_assert_null(varlink_call_new(NULL, parse("{}"), 0));
        cr_assert_null(varlink_error_new(NULL, NULL));
}

Test(varlink_message, service_errors) {
        struct json_object *o;

        o = varlink_error_invalid_parameter("uidMappings[1].size");
        assert_json(o, "{\"error\":\"org.varlink.service.InvalidParameter\","
                       "\"parameters\":{\"parameter\":\"uidMappings[1].size\"}}");
        json_object_put(o);

        o = varlink_error_method_not_found("io.nsbox.Sandbox.Nope");
        assert_json(o, "{\"error\":\"org.varlink.service.MethodNotFound\","
                       "\"parameters\":{\"method\":\"io.nsbox.Sandbox.Nope\"}}");
        json_object_put(o);

        o = varlink_error_interface_not_found("io.other");
        assert_json(o, "{\"error\":\"org.varlink.service.InterfaceNotFound\","
                       "\"parameters\":{\"interface\":\"io.other\"}}");
        json_object_put(o);

        o = varlink_error_permission_denied();
        assert_json(o, "{\"error\":\"org.varlink.service.PermissionDenied\",\"parameters\":{}}");
        json_object_put(o);

        o = varlink_error_expected_more();
        assert_json(o, "{\"error\":\"org.varlink.service.ExpectedMore\",\"parameters\":{}}");
        json_object_put(o);
}

Test(varlink_message, method_interface) {
        char *s;

        s = varlink_method_interface("io.nsbox.Sandbox.Spawn");
        cr_assert_str_eq(s, "io.nsbox.Sandbox");
        free(s);
        s = varlink_method_interface("org.varlink.service.GetInfo");
        cr_assert_str_eq(s, "org.varlink.service");
        free(s);
        cr_assert_null(varlink_method_interface("NoDot"));
        cr_assert_null(varlink_method_interface(".Lead"));
        cr_assert_null(varlink_method_interface(NULL));
}
