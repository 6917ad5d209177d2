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
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *o = parse(cases[i].text);
                VarlinkCall c;

                cr_assert_eq(varlink_call_parse(o, &c), 0, "%s", cases[i].text);
                cr_assert_str_eq(c.method, cases[i].method);
                cr_assert_eq(c.flags, cases[i].flags, "%s", cases[i].text);
                assert_json(c.parameters, cases[i].parameters);
                json_object_put(o);
        }
}

Test(varlink_message, call_parse_invalid) {
        static const char *const cases[] = {
                "{}",
                "{\"parameters\":{}}",
                "{\"method\":1}",
                "{\"method\":null}",
                "{\"method\":\"\"}",
                "{\"method\":\"NoInterface\"}",
                "{\"method\":\"io.Method\"}",
                "{\"method\":\"io.nsbox.Sandbox.\"}",
                "{\"method\":\"io.nsbox.Sandbox.lower\"}",
                "{\"method\":\"io.nsbox.Sandbox.Sp-awn\"}",
                "{\"method\":\"io..Sandbox.Spawn\"}",
                "{\"method\":\".io.Sandbox.Spawn\"}",
                "{\"method\":\"1io.Sandbox.Spawn\"}",
                "{\"method\":\"io.-x.Spawn\"}",
                "{\"method\":\"io.x-.Spawn\"}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\\u0000x\"}",
                "{\"method\":\"io.nsb ox.Sandbox.Spawn\"}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":[]}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":null}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"parameters\":\"x\"}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"more\":1}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"more\":\"true\"}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"oneway\":null}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"upgrade\":0}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"oneway\":true,\"more\":true}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"oneway\":true,\"upgrade\":true}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"extra\":1}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"error\":\"a.b.C\"}",
                "{\"method\":\"io.nsbox.Sandbox.Spawn\",\"continues\":true}",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *o = parse(cases[i]);
                VarlinkCall c = { .method = "untouched" };

                cr_assert_eq(varlink_call_parse(o, &c), -EBADMSG, "%s", cases[i]);
                cr_assert_str_eq(c.method, "untouched");
                json_object_put(o);
        }

        struct json_object *a = parse("[]");
        VarlinkCall c;
        cr_assert_eq(varlink_call_parse(a, &c), -EBADMSG);
        json_object_put(a);
        cr_assert_eq(varlink_call_parse(NULL, &c), -EINVAL);
}

Test(varlink_message, long_names) {
        char method[600];
        struct json_object *o;
        VarlinkCall c;

        memset(method, 'a', sizeof(method));
        memcpy(method + 300, ".b.C", 5);
        o = json_object_new_object();
        json_object_object_add(o, "method", json_object_new_string(method));
        cr_assert_eq(varlink_call_parse(o, &c), -EBADMSG);
        json_object_put(o);
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
        cr_assert_eq(varlink_call_parse(o, &c), 0);
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
