/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the typed io.nsbox.Sandbox codec: strict Spawn validation with exact field paths, and round trips. */

#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#include "sandbox-protocol.h"

static struct json_object *parse(const char *text) {
        struct json_object *o = json_tokener_parse(text);

        cr_assert_not_null(o, "test JSON does not parse: %s", text);
        return o;
}

/* o is the same JSON value as the text json: same members and values, in any order. */
static void assert_json_equal(struct json_object *o, const char *json) {
        struct json_object *expected = parse(json);

        cr_assert(json_object_equal(o, expected), "got %s, expected %s", json_object_to_json_string(o), json);
        json_object_put(expected);
}

#define NS "\"namespaces\":[\"user\",\"mount\",\"uts\",\"pid\",\"time\"]"
#define ARGV "\"argv\":[\"/bin/sh\",\"-c\",\"true\"]"

/* The request must be refused with -EINVAL naming exactly 'field'. */
static const struct {
        const char *json;
        size_t n_fds;
        const char *field;
} invalid_spawn[] = {
        /* argv */
        { "{}", 0, "argv" },
        { "{\"argv\":null}", 0, "argv" },
        { "{\"argv\":[]}", 0, "argv" },
        { "{\"argv\":\"/bin/sh\"}", 0, "argv" },
        { "{\"argv\":[\"\"]}", 0, "argv[0]" },
        { "{\"argv\":[\"/bin/sh\",\"ok\",1]}", 0, "argv[2]" },
        { "{\"argv\":[\"/bin/sh\",\"ok\",\"nul\\u0000byte\"]}", 0, "argv[2]" },
        { "{\"argv\":[\"/bin/sh\",null]}", 0, "argv[1]" },
        /* commandUserNamespaceFileDescriptor: an fd sent, below a user namespace that exists already */
        { "{" ARGV ",\"commandUserNamespaceFileDescriptor\":1}", 1, "commandUserNamespaceFileDescriptor" },
        { "{" ARGV ",\"namespaces\":[\"user\"],\"commandUserNamespaceFileDescriptor\":0}", 1,
          "commandUserNamespaceFileDescriptor" },
        /* lockFiles: absolute paths, held by an init */
        { "{" ARGV ",\"lockFiles\":[\"/l\"]}", 0, "lockFiles" },
        { "{" ARGV ",\"namespaces\":[\"pid\"],\"init\":false,\"lockFiles\":[\"/l\"]}", 0, "lockFiles" },
        { "{" ARGV ",\"init\":true,\"lockFiles\":[\"l\"]}", 0, "lockFiles[0]" },
        { "{" ARGV ",\"init\":true,\"lockFiles\":[\"/a\",\"/b\",\"/c\",\"/d\",\"/e\",\"/f\",\"/g\",\"/h\",\"/i\",\"/j\","
          "\"/k\",\"/l\",\"/m\",\"/n\",\"/o\",\"/p\",\"/q\"]}", 0, "lockFiles" },
        /* argv0 */
        { "{" ARGV ",\"argv0\":1}", 0, "argv0" },
        { "{" ARGV ",\"argv0\":\"nul\\u0000byte\"}", 0, "argv0" },
        /* env */
        { "{" ARGV ",\"env\":\"A=b\"}", 0, "env" },
        { "{" ARGV ",\"env\":[\"A=b\",\"NOEQUALS\"]}", 0, "env[1]" },
        { "{" ARGV ",\"env\":[\"=value\"]}", 0, "env[0]" },
        { "{" ARGV ",\"env\":[\"A=\\u0000\"]}", 0, "env[0]" },
        { "{" ARGV ",\"env\":[false]}", 0, "env[0]" },
        /* cwd, root: absolute, no ".." */
        { "{" ARGV ",\"cwd\":\"relative/dir\"}", 0, "cwd" },
        { "{" ARGV ",\"cwd\":\"\"}", 0, "cwd" },
        { "{" ARGV ",\"cwd\":\"/a/../b\"}", 0, "cwd" },
        { "{" ARGV ",\"cwd\":\"/..\"}", 0, "cwd" },
        { "{" ARGV ",\"cwd\":\"/a\\u0000/b\"}", 0, "cwd" },
        { "{" ARGV ",\"cwd\":7}", 0, "cwd" },
        { "{" ARGV "," NS ",\"root\":\"srv/root\"}", 0, "root" },
        { "{" ARGV "," NS ",\"root\":\"/srv/root/..\"}", 0, "root" },
        /* name */
        { "{" ARGV ",\"name\":\"\"}", 0, "name" },
        { "{" ARGV ",\"name\":\"line\\nbreak\"}", 0, "name" },
        /* names that would pass for something else in a listing: an id the daemon made, or text that
         * hides or reorders itself (C1 control, zero-width space, right-to-left override) */
        { "{" ARGV ",\"name\":\"0123456789abcdef0123456789abcdef\"}", 0, "name" },
        { "{" ARGV ",\"name\":\"a\\u0085b\"}", 0, "name" },
        { "{" ARGV ",\"name\":\"a\\u200bb\"}", 0, "name" },
        { "{" ARGV ",\"name\":\"evil\\u202etxt.exe\"}", 0, "name" },
        { "{" ARGV ",\"name\":[]}", 0, "name" },
        /* namespaces */
        { "{" ARGV ",\"namespaces\":[\"user\",\"bogus\"]}", 0, "namespaces[1]" },
        { "{" ARGV ",\"namespaces\":[\"net\",\"user\",\"net\"]}", 0, "namespaces[2]" },
        { "{" ARGV ",\"namespaces\":[\"mnt\"]}", 0, "namespaces[0]" },
        { "{" ARGV ",\"namespaces\":[1]}", 0, "namespaces[0]" },
        { "{" ARGV ",\"namespaces\":\"user\"}", 0, "namespaces" },
        { "{" ARGV ",\"namespaces\":[\"mount\",\"uts\",\"ipc\",\"user\",\"pid\",\"net\",\"cgroup\",\"time\",\"net\"]}",
          0, "namespaces" },
        /* joinNamespaces */
        { "{" ARGV ",\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":1}]}", 1,
          "joinNamespaces[0].fileDescriptor" },
        { "{" ARGV ",\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":-1}]}", 1,
          "joinNamespaces[0].fileDescriptor" },
        { "{" ARGV ",\"joinNamespaces\":[{\"type\":\"net\"}]}", 1, "joinNamespaces[0].fileDescriptor" },
        { "{" ARGV ",\"joinNamespaces\":[{\"type\":\"nett\",\"fileDescriptor\":0}]}", 1, "joinNamespaces[0].type" },
        { "{" ARGV ",\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":0},{\"type\":\"net\",\"fileDescriptor\":0}]}",
          1, "joinNamespaces[1].type" },
        { "{" ARGV ",\"namespaces\":[\"net\"],\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":0}]}", 1,
          "joinNamespaces[0].type" },
        { "{" ARGV ",\"joinNamespaces\":[{\"type\":\"net\",\"fileDescriptor\":0,\"x\":1}]}", 1,
          "joinNamespaces[0].x" },
        { "{" ARGV ",\"joinNamespaces\":[\"net\"]}", 1, "joinNamespaces[0]" },
        /* uid/gid mappings */
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1},"
          "{\"containerID\":1,\"hostID\":100000,\"size\":0}]}", 0, "uidMappings[1].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967295,\"size\":1}]}", 0,
          "uidMappings[0].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":4294967000,\"hostID\":0,\"size\":1000}]}", 0,
          "uidMappings[0].size" },
        /* ranges ending exactly one past the last id (4294967295 is (uid_t) -1) */
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":4294967295,\"hostID\":0,\"size\":1}]}", 0,
          "uidMappings[0].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":4294967294,\"hostID\":0,\"size\":2}]}", 0,
          "uidMappings[0].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967294,\"size\":2}]}", 0,
          "uidMappings[0].size" },
        { "{" ARGV "," NS ",\"gidMappings\":[{\"containerID\":4294967295,\"hostID\":0,\"size\":1}]}", 0,
          "gidMappings[0].size" },
        { "{" ARGV "," NS ",\"gidMappings\":[{\"containerID\":0,\"hostID\":4294967295,\"size\":1}]}", 0,
          "gidMappings[0].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":4294967296,\"hostID\":0,\"size\":1}]}", 0,
          "uidMappings[0].containerID" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":-1,\"hostID\":0,\"size\":1}]}", 0,
          "uidMappings[0].containerID" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":1.5,\"size\":1}]}", 0,
          "uidMappings[0].hostID" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":\"1000\",\"size\":1}]}", 0,
          "uidMappings[0].hostID" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":1000}]}", 0, "uidMappings[0].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":18446744073709551615}]}", 0,
          "uidMappings[0].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":9223372036854775808}]}", 0,
          "uidMappings[0].size" },
        { "{" ARGV "," NS ",\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":10},"
          "{\"containerID\":5,\"hostID\":5000,\"size\":10}]}", 0, "uidMappings[1]" },
        { "{" ARGV "," NS ",\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":10},"
          "{\"containerID\":100,\"hostID\":1005,\"size\":10}]}", 0, "gidMappings[1]" },
        { "{" ARGV "," NS ",\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1,\"extra\":true}]}", 0,
          "gidMappings[0].extra" },
        { "{" ARGV "," NS ",\"gidMappings\":{}}", 0, "gidMappings" },
        { "{" ARGV ",\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}", 0, "uidMappings" },
        { "{" ARGV ",\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}", 0, "gidMappings" },
        /* setgroups */
        { "{" ARGV "," NS ",\"setgroups\":\"deny\"}", 0, "setgroups" },
        { "{" ARGV ",\"setgroups\":false}", 0, "setgroups" },
        /* user */
        { "{" ARGV ",\"user\":{\"uid\":0}}", 0, "user.gid" },
        { "{" ARGV ",\"user\":{\"gid\":0}}", 0, "user.uid" },
        { "{" ARGV ",\"user\":{\"uid\":-5,\"gid\":0}}", 0, "user.uid" },
        { "{" ARGV ",\"user\":{\"uid\":4294967295,\"gid\":0}}", 0, "user.uid" },
        { "{" ARGV ",\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":[1,2,-3]}}", 0, "user.additionalGids[2]" },
        { "{" ARGV ",\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":7}}", 0, "user.additionalGids" },
        { "{" ARGV ",\"user\":{\"uid\":0,\"gid\":0,\"groups\":[]}}", 0, "user.groups" },
        { "{" ARGV ",\"user\":0}", 0, "user" },
        /* hostname */
        { "{" ARGV "," NS ",\"hostname\":\"\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"has space\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"under_score\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"-lead\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"a..b\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"a-.b\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"ab-\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"trailing.\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":\"x\\u0000y\"}", 0, "hostname" },
        { "{" ARGV "," NS ",\"hostname\":"
          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", 0, "hostname" },
        { "{" ARGV ",\"namespaces\":[\"user\"],\"hostname\":\"box\"}", 0, "hostname" },
        /* stdio */
        { "{" ARGV ",\"stdin\":0}", 0, "stdin" },
        { "{" ARGV ",\"stdout\":1}", 1, "stdout" },
        { "{" ARGV ",\"stderr\":-1}", 1, "stderr" },
        { "{" ARGV ",\"stderr\":0.0}", 1, "stderr" },
        { "{" ARGV ",\"stdin\":true}", 1, "stdin" },
        { "{" ARGV ",\"stdin\":9223372036854775807}", 1, "stdin" },
        /* fileDescriptors */
        { "{" ARGV ",\"fileDescriptors\":[{\"target\":2,\"fileDescriptor\":0}]}", 1, "fileDescriptors[0].target" },
        { "{" ARGV ",\"fileDescriptors\":[{\"target\":1024,\"fileDescriptor\":0}]}", 1,
          "fileDescriptors[0].target" },
        { "{" ARGV ",\"fileDescriptors\":[{\"target\":3,\"fileDescriptor\":0},{\"target\":3,\"fileDescriptor\":1}]}",
          2, "fileDescriptors[1].target" },
        { "{" ARGV ",\"fileDescriptors\":[{\"target\":3,\"fileDescriptor\":2}]}", 2,
          "fileDescriptors[0].fileDescriptor" },
        { "{" ARGV ",\"fileDescriptors\":[{\"target\":3}]}", 2, "fileDescriptors[0].fileDescriptor" },
        { "{" ARGV ",\"fileDescriptors\":[{\"fileDescriptor\":0}]}", 2, "fileDescriptors[0].target" },
        /* mounts */
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"tmp\"}]}", 0, "mounts[0].destination" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/tmp/../etc\"}]}", 0,
          "mounts[0].destination" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\"}]}", 0, "mounts[0].destination" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlayfs\",\"destination\":\"/x\"}]}", 0, "mounts[0].type" },
        { "{" ARGV "," NS ",\"mounts\":[{\"destination\":\"/x\"}]}", 0, "mounts[0].type" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/tmp\"},"
          "{\"type\":\"tmpfs\",\"destination\":\"/x\",\"options\":[\"ro\",\"bogus\"]}]}", 0, "mounts[1].options[1]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\",\"options\":[\"size=\"]}]}", 0,
          "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\",\"options\":[\"size=1t\"]}]}", 0,
          "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\","
          "\"options\":[\"size=99999999999999999999\"]}]}", 0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\","
          "\"options\":[\"size=17179869184g\"]}]}", 0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\",\"options\":[\"mode=0999\"]}]}", 0,
          "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\",\"options\":[\"mode=17777\"]}]}",
          0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"source\":\"/a\",\"destination\":\"/x\","
          "\"options\":[\"size=1m\"]}]}", 0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\",\"options\":\"ro\"}]}", 0,
          "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\",\"options\":[\"nofail\"]}]}", 0,
          "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"sourceFileDescriptor\":0,\"destination\":\"/x\","
          "\"options\":[\"nofail\"]}]}", 1, "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/\","
          "\"options\":[\"nofail\"]}]}", 0, "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"chmod\",\"destination\":\"/x\"}]}", 0, "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"chmod\",\"destination\":\"/x\",\"options\":[\"mode=8\"]}]}", 0,
          "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"chmod\",\"source\":\"/a\",\"destination\":\"/x\","
          "\"options\":[\"mode=0755\"]}]}", 0, "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind-data\",\"destination\":\"/x\"}]}", 0,
          "mounts[0].sourceFileDescriptor" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\",\"options\":[\"tmp-upper\"]}]}", 0,
          "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\",\"options\":[\"lowerdir=/a\","
          "\"upperdir=/u\"]}]}", 0, "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\",\"options\":[\"lowerdir=/a\","
          "\"upperdir=/u\",\"workdir=/w\",\"tmp-upper\"]}]}", 0, "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\",\"options\":[\"lowerdir=/a\"]}]}", 0,
          "mounts[0].options" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\",\"options\":[\"lowerdir=/a:b\","
          "\"tmp-upper\"]}]}", 0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\",\"options\":[\"lowerdir=/a::/b\","
          "\"tmp-upper\"]}]}", 0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/x\",\"options\":[\"lowerdir=/a/../..\","
          "\"tmp-upper\"]}]}", 0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"overlay\",\"destination\":\"/\",\"options\":[\"lowerdir=/a\","
          "\"tmp-upper\"]}]}", 0, "mounts[0].destination" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"source\":\"/a\",\"destination\":\"/x\","
          "\"options\":[\"lowerdir=/a\"]}]}", 0, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/x\"},"
          "{\"type\":\"bind-data\",\"sourceFileDescriptor\":0,\"destination\":\"/y\"}]}", 1,
          "mounts[1].sourceFileDescriptor" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind-data\",\"sourceFileDescriptor\":0,\"destination\":\"/y\","
          "\"options\":[\"size=1m\"]}]}", 1, "mounts[0].options[0]" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"destination\":\"/x\"}]}", 0, "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"source\":\"/a\",\"sourceFileDescriptor\":0,"
          "\"destination\":\"/x\"}]}", 1, "mounts[0].sourceFileDescriptor" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"source\":\"a\",\"destination\":\"/x\"}]}", 0,
          "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"source\":\"/a/../../etc\",\"destination\":\"/x\"}]}", 0,
          "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"sourceFileDescriptor\":1,\"destination\":\"/x\"}]}", 1,
          "mounts[0].sourceFileDescriptor" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"file\",\"destination\":\"/x\"}]}", 0,
          "mounts[0].sourceFileDescriptor" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"file\",\"source\":\"/a\",\"sourceFileDescriptor\":0,"
          "\"destination\":\"/x\"}]}", 1, "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"symlink\",\"destination\":\"/x\"}]}", 0, "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"symlink\",\"source\":\"\",\"destination\":\"/x\"}]}", 0,
          "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"proc\",\"source\":\"proc\",\"destination\":\"/proc\"}]}", 0,
          "mounts[0].source" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"dev\",\"sourceFileDescriptor\":0,\"destination\":\"/dev\"}]}", 1,
          "mounts[0].sourceFileDescriptor" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\",\"flags\":0}]}", 0,
          "mounts[0].flags" },
        { "{" ARGV ",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/tmp\"}]}", 0, "mounts" },
        { "{" ARGV ",\"root\":\"/srv\"}", 0, "root" },
        /* a stream is read once: one fd index feeds one "file" entry */
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/a\"},"
          "{\"type\":\"file\",\"sourceFileDescriptor\":1,\"destination\":\"/b\"},"
          "{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/c\"}]}", 2,
          "mounts[2].sourceFileDescriptor" },
        /* one root: "root" or a bind or tmpfs on "/", wherever it is in mounts */
        { "{" ARGV "," NS ",\"root\":\"/srv\",\"mounts\":[{\"type\":\"tmpfs\",\"destination\":\"/x\"},"
          "{\"type\":\"bind\",\"source\":\"/usr\",\"destination\":\"/\"}]}", 0, "mounts[1].destination" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/\"},"
          "{\"type\":\"remount-ro\",\"destination\":\"/\"},"
          "{\"type\":\"tmpfs\",\"destination\":\"//\"}]}", 0, "mounts[2].destination" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"proc\",\"destination\":\"/\"}]}", 0, "mounts[0].destination" },
        { "{" ARGV "," NS ",\"mounts\":[{\"type\":\"dir\",\"destination\":\"/\"}]}", 0, "mounts[0].destination" },
        /* timeOffsets */
        { "{" ARGV "," NS ",\"timeOffsets\":{\"monotonic\":{\"secs\":1,\"nanosecs\":1000000000}}}", 0,
          "timeOffsets.monotonic.nanosecs" },
        { "{" ARGV "," NS ",\"timeOffsets\":{\"boottime\":{\"secs\":1,\"nanosecs\":-1}}}", 0,
          "timeOffsets.boottime.nanosecs" },
        { "{" ARGV "," NS ",\"timeOffsets\":{\"boottime\":{\"nanosecs\":0}}}", 0, "timeOffsets.boottime.secs" },
        { "{" ARGV "," NS ",\"timeOffsets\":{\"boottime\":{\"secs\":9223372036854775807,\"nanosecs\":0}}}", 0,
          "timeOffsets.boottime.secs" },
        { "{" ARGV "," NS ",\"timeOffsets\":{\"boottime\":{\"secs\":-9223372036854775809,\"nanosecs\":0}}}", 0,
          "timeOffsets.boottime.secs" },
        { "{" ARGV "," NS ",\"timeOffsets\":{\"realtime\":{\"secs\":1,\"nanosecs\":0}}}", 0, "timeOffsets.realtime" },
        { "{" ARGV "," NS ",\"timeOffsets\":{\"monotonic\":{\"secs\":1,\"nanosecs\":0,\"x\":0}}}", 0,
          "timeOffsets.monotonic.x" },
        { "{" ARGV ",\"timeOffsets\":{\"monotonic\":{\"secs\":1,\"nanosecs\":0}}}", 0, "timeOffsets" },
        /* flags */
        { "{" ARGV ",\"init\":1}", 0, "init" },
        { "{" ARGV ",\"newSession\":\"yes\"}", 0, "newSession" },
        { "{" ARGV ",\"keepAlive\":[]}", 0, "keepAlive" },
        /* confinement */
        { "{" ARGV ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
          "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_ABOUT\"}]}]}}", 0,
          "seccomp.syscalls[0].args[0].op" },
        { "{" ARGV ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"},\"seccompProfile\":\"default\"}", 0,
          "seccompProfile" },
        { "{" ARGV ",\"seccompProfile\":\"strict\"}", 0, "seccompProfile" },
        { "{" ARGV ",\"seccompFileDescriptors\":[0,0]}", 1, "seccompFileDescriptors[1]" },
        { "{" ARGV ",\"seccompFileDescriptors\":[1]}", 1, "seccompFileDescriptors[0]" },
        { "{" ARGV ",\"capabilities\":{\"bounding\":[\"NET_ADMIN\"]}}", 0, "capabilities.bounding[0]" },
        { "{" ARGV ",\"capabilities\":{\"all\":[]}}", 0, "capabilities.all" },
        { "{" ARGV ",\"disableUserNamespaces\":true}", 0, "disableUserNamespaces" },
        /* resources: positive, in range, consistent */
        { "{" ARGV ",\"resources\":{\"memory\":{\"limit\":0}}}", 0, "resources.memory.limit" },
        { "{" ARGV ",\"resources\":{\"memory\":{\"limit\":-1}}}", 0, "resources.memory.limit" },
        { "{" ARGV ",\"resources\":{\"memory\":{\"limit\":1.5}}}", 0, "resources.memory.limit" },
        { "{" ARGV ",\"resources\":{\"memory\":{\"high\":9223372036854775808}}}", 0, "resources.memory.high" },
        { "{" ARGV ",\"resources\":{\"memory\":{\"swap\":4096}}}", 0, "resources.memory.swap" },
        { "{" ARGV ",\"resources\":{\"memory\":{\"limit\":8192,\"swap\":4096}}}", 0, "resources.memory.swap" },
        { "{" ARGV ",\"resources\":{\"memory\":{\"kernel\":4096}}}", 0, "resources.memory.kernel" },
        { "{" ARGV ",\"resources\":{\"pids\":{\"limit\":4194305}}}", 0, "resources.pids.limit" },
        { "{" ARGV ",\"resources\":{\"cpu\":{\"quota\":999}}}", 0, "resources.cpu.quota" },
        { "{" ARGV ",\"resources\":{\"cpu\":{\"quota\":-1}}}", 0, "resources.cpu.quota" },
        { "{" ARGV ",\"resources\":{\"cpu\":{\"period\":999}}}", 0, "resources.cpu.period" },
        { "{" ARGV ",\"resources\":{\"cpu\":{\"shares\":1}}}", 0, "resources.cpu.shares" },
        { "{" ARGV ",\"resources\":{\"cpu\":{\"weight\":0}}}", 0, "resources.cpu.weight" },
        { "{" ARGV ",\"resources\":{\"cpu\":{\"weight\":100,\"shares\":1024}}}", 0, "resources.cpu.weight" },
        { "{" ARGV ",\"resources\":{\"io\":{}}}", 0, "resources.io" },
        { "{" ARGV ",\"resources\":[]}", 0, "resources" },
        { "{" ARGV ",\"runtimeMaxUSec\":0}", 0, "runtimeMaxUSec" },
        /* rlimits */
        { "{" ARGV ",\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}", 0, "rlimits[0].type" },
        { "{" ARGV ",\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":2,\"hard\":1}]}", 0, "rlimits[0].soft" },
        { "{" ARGV ",\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":-1,\"hard\":1}]}", 0, "rlimits[0].soft" },
        { "{" ARGV ",\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":18446744073709551614}]}", 0,
          "rlimits[0].hard" },
        { "{" ARGV ",\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":0}]}", 0, "rlimits[0].hard" },
        { "{" ARGV ",\"rlimits\":[{\"type\":\"RLIMIT_AS\",\"soft\":0,\"hard\":0},"
          "{\"type\":\"RLIMIT_AS\",\"soft\":1,\"hard\":1}]}", 0, "rlimits[1].type" },
        /* unknown fields, also when null */
        { "{" ARGV ",\"privileged\":null}", 0, "privileged" },
};

Test(sandbox_protocol, invalid_spawn_requests_name_the_field) {
        for (size_t i = 0; i < ELEMENTSOF(invalid_spawn); i++) {
                struct json_object *p = parse(invalid_spawn[i].json);
                SpawnRequest *req = NULL;
                char *field = NULL;
                int r;

                r = spawn_request_decode(p, invalid_spawn[i].n_fds, NULL, &req, &field);
                cr_assert_eq(r, -EINVAL, "case %zu: %s -> %d", i, invalid_spawn[i].json, r);
                cr_assert_null(req);
                cr_assert_not_null(field, "case %zu: no field", i);
                cr_assert_str_eq(field, invalid_spawn[i].field, "case %zu: %s", i, invalid_spawn[i].json);
                free(field);
                json_object_put(p);
        }
}

/* Names are text: any script, spaces, and id-like words other than the daemon's own id shape. */
Test(sandbox_protocol, names_are_text) {
        static const char *const names[] = {
                "web server", "caf\\u00e9 \\u2615", "build_42", "0123456789ABCDEF0123456789ABCDEF",
                "0123456789abcdef0123456789abcde", "\\u05e9\\u05dc\\u05d5\\u05dd",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char json[256];
                SpawnRequest *req = NULL;
                char *field = NULL;
                struct json_object *p;

                snprintf(json, sizeof json, "{" ARGV ",\"name\":\"%s\"}", names[i]);
                p = parse(json);
                cr_assert_eq(spawn_request_decode(p, 0, NULL, &req, &field), 0, "%s: %s", json, field ?: "");
                spawn_request_free(req);
                json_object_put(p);
        }
}

Test(sandbox_protocol, parameters_must_be_an_object) {
        struct json_object *p = parse("[]");
        SpawnRequest *req = NULL;
        char *field = NULL;

        cr_assert_eq(spawn_request_decode(p, 0, NULL, &req, &field), -EINVAL);
        cr_assert_str_eq(field, "parameters");
        free(field);
        cr_assert_eq(spawn_request_decode(p, 0, NULL, &req, NULL), -EINVAL);
        cr_assert_null(req);
        json_object_put(p);
}

/* Field path reported when a list is one entry too long / too many bytes, with small limits. */
Test(sandbox_protocol, limits) {
        const SpawnLimits lim = {
                .argv_entries_max = 3,
                .argv_bytes_max = 16,
                .env_entries_max = 2,
                .env_bytes_max = 12,
                .mappings_max = 1,
                .mounts_max = 1,
                .fds_max = 1,
                .groups_max = 2,
                .path_max = 8,
        };
        static const struct {
                const char *json;
                const char *field; /* NULL: valid */
        } cases[] = {
                { "{\"argv\":[\"a\",\"b\",\"c\"]}", NULL },
                { "{\"argv\":[\"a\",\"b\",\"c\",\"d\"]}", "argv" },
                { "{\"argv\":[\"0123456\",\"01234567\"]}", "argv" }, /* 8 + 9 bytes > 16 */
                { "{\"argv\":[\"0123456\",\"0123456\"]}", NULL },    /* 8 + 8 bytes */
                { "{\"argv\":[\"a\"],\"env\":[\"A=1\",\"B=2\"]}", NULL },
                { "{\"argv\":[\"a\"],\"env\":[\"A=1\",\"B=2\",\"C=3\"]}", "env" },
                { "{\"argv\":[\"a\"],\"env\":[\"A=12345\",\"B=12\"]}", "env" },
                { "{\"argv\":[\"a\"],\"cwd\":\"/1234567\"}", NULL },
                { "{\"argv\":[\"a\"],\"cwd\":\"/12345678\"}", "cwd" },
                { "{\"argv\":[\"a\"],\"namespaces\":[\"user\"],\"uidMappings\":["
                  "{\"containerID\":0,\"hostID\":1,\"size\":1},{\"containerID\":1,\"hostID\":2,\"size\":1}]}",
                  "uidMappings" },
                { "{\"argv\":[\"a\"],\"namespaces\":[\"mount\"],\"mounts\":["
                  "{\"type\":\"proc\",\"destination\":\"/proc\"},{\"type\":\"dev\",\"destination\":\"/dev\"}]}",
                  "mounts" },
                { "{\"argv\":[\"a\"],\"fileDescriptors\":["
                  "{\"target\":3,\"fileDescriptor\":0},{\"target\":4,\"fileDescriptor\":0}]}", "fileDescriptors" },
                { "{\"argv\":[\"a\"],\"user\":{\"uid\":1,\"gid\":1,\"additionalGids\":[1,2,3]}}",
                  "user.additionalGids" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *p = parse(cases[i].json);
                SpawnRequest *req = NULL;
                char *field = NULL;
                int r;

                r = spawn_request_decode(p, 1, &lim, &req, &field);
                if (!cases[i].field) {
                        cr_assert_eq(r, 0, "%s -> %d %s", cases[i].json, r, field ?: "");
                        spawn_request_free(req);
                } else {
                        cr_assert_eq(r, -EINVAL, "%s", cases[i].json);
                        cr_assert_str_eq(field, cases[i].field, "%s", cases[i].json);
                }
                free(field);
                json_object_put(p);
        }
}

Test(sandbox_protocol, default_limits) {
        struct json_object *p = json_object_new_object(), *argv = json_object_new_array();
        SpawnRequest *req = NULL;
        char *field = NULL;

        json_object_object_add(p, "argv", argv);
        for (size_t i = 0; i < 4096; i++)
                json_object_array_add(argv, json_object_new_string("x"));
        cr_assert_eq(spawn_request_decode(p, 0, NULL, &req, &field), 0);
        cr_assert_eq(strv_length(req->argv), 4096);
        req = spawn_request_free(req);

        json_object_array_add(argv, json_object_new_string("x"));
        cr_assert_eq(spawn_request_decode(p, 0, NULL, &req, &field), -EINVAL);
        cr_assert_str_eq(field, "argv");
        free(field);
        field = NULL;
        json_object_put(p);

        /* 128 KiB of argv in total, NULs counted. */
        _cleanup_free_ char *big = malloc(128 * 1024);
        memset(big, 'a', 128 * 1024 - 1);
        big[128 * 1024 - 1] = 0;
        p = json_object_new_object();
        argv = json_object_new_array();
        json_object_object_add(p, "argv", argv);
        json_object_array_add(argv, json_object_new_string(big));
        cr_assert_eq(spawn_request_decode(p, 0, NULL, &req, &field), 0);
        req = spawn_request_free(req);
        json_object_array_add(argv, json_object_new_string(""));
        cr_assert_eq(spawn_request_decode(p, 0, NULL, &req, &field), -EINVAL);
        cr_assert_str_eq(field, "argv");
        free(field);
        json_object_put(p);
}

static const char full_request[] =
        "{\"argv\":[\"/bin/sh\",\"-c\",\"echo hi\"],"
        "\"argv0\":\"-sh \\u0001\","
        "\"env\":[\"PATH=/usr/bin:/bin\",\"HOME=/root\",\"EMPTY=\"],"
        "\"cwd\":\"//home/./user/\","
        "\"name\":\"build job #7\","
        "\"namespaces\":[\"pid\",\"user\",\"mount\",\"uts\",\"ipc\",\"net\",\"cgroup\",\"time\"],"
        "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1},"
        "{\"containerID\":1,\"hostID\":100000,\"size\":65536}],"
        "\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}],"
        "\"setgroups\":false,"
        "\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":[4,24]},"
        "\"hostname\":\"box-1.example\","
        "\"stdin\":0,\"stdout\":1,\"stderr\":1,"
        "\"fileDescriptors\":[{\"target\":3,\"fileDescriptor\":2},{\"target\":1023,\"fileDescriptor\":0}],"
        "\"root\":\"/srv/root/\","
        "\"mounts\":["
        "{\"type\":\"proc\",\"destination\":\"/proc\"},"
        "{\"type\":\"tmpfs\",\"destination\":\"/tmp\",\"options\":[\"size=64m\",\"mode=1777\",\"noexec\"]},"
        "{\"type\":\"bind\",\"source\":\"/usr\",\"destination\":\"/usr\",\"options\":[\"ro\"]},"
        "{\"type\":\"bind\",\"sourceFileDescriptor\":2,\"destination\":\"/data\",\"options\":[\"rw\",\"suid\",\"dev\"]},"
        "{\"type\":\"dev\",\"destination\":\"/dev\"},"
        "{\"type\":\"mqueue\",\"destination\":\"/dev/mqueue\"},"
        "{\"type\":\"dir\",\"destination\":\"/var/empty\",\"options\":[\"mode=0700\"]},"
        "{\"type\":\"symlink\",\"source\":\"../proc/self/fd\",\"destination\":\"/dev/fd\"},"
        "{\"type\":\"file\",\"sourceFileDescriptor\":0,\"destination\":\"/etc/hostname\",\"options\":[\"mode=644\"]},"
        "{\"type\":\"bind\",\"source\":\"/opt\",\"destination\":\"/opt\",\"options\":[\"ro\",\"nofail\"]},"
        "{\"type\":\"bind-data\",\"sourceFileDescriptor\":1,\"destination\":\"/etc/passwd\",\"options\":[\"ro\",\"mode=0640\"]},"
        "{\"type\":\"chmod\",\"destination\":\"/tmp\",\"options\":[\"mode=1777\"]},"
        "{\"type\":\"overlay\",\"destination\":\"/o\",\"options\":[\"lowerdir=/a\\\\:b\\\\\\\\:/c//\",\"tmp-upper\"]},"
        "{\"type\":\"remount-ro\",\"destination\":\"/\"}],"
        "\"timeOffsets\":{\"monotonic\":{\"secs\":-3600,\"nanosecs\":5},\"boottime\":{\"secs\":86400,\"nanosecs\":999999999}},"
        "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"}]},"
        "\"seccompFileDescriptors\":[2,0],"
        "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"],\"permitted\":[\"CAP_CHOWN\"]},"
        "\"disableUserNamespaces\":true,"
        "\"init\":true,\"lockFiles\":[\"/run/lock\"],\"blockFileDescriptor\":0,\"newSession\":false,\"keepAlive\":true,"
        "\"resources\":{\"memory\":{\"limit\":67108864,\"swap\":134217728,\"high\":33554432},"
        "\"pids\":{\"limit\":50},\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000}},"
        "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":4096},"
        "{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":18446744073709551615}],"
        "\"runtimeMaxUSec\":10000000}";

static const char full_exec_request[] =
        "{\"id\":\"my web\",\"argv\":[\"sh\",\"-l\"],\"env\":[\"TERM=xterm\"],\"cwd\":\"/srv\","
        "\"user\":{\"uid\":1000,\"gid\":1000,\"additionalGids\":[10]},\"stdin\":0,\"stdout\":0,\"stderr\":0,"
        "\"fileDescriptors\":[{\"target\":3,\"fileDescriptor\":1}],\"seccompFileDescriptors\":[2],"
        "\"newSession\":false,\"keepAlive\":true}";

static void assert_full_request(const SpawnRequest *r) {
        cr_assert_eq(strv_length(r->argv), 3);
        cr_assert_str_eq(r->argv[2], "echo hi");
        cr_assert_str_eq(r->argv0, "-sh \x01");
        cr_assert_eq(strv_length(r->lock_files), 1);
        cr_assert_str_eq(r->lock_files[0], "/run/lock");
        cr_assert_eq(r->block_fd_index, 0);
        cr_assert_eq(strv_length(r->env), 3);
        cr_assert_str_eq(r->env[2], "EMPTY=");
        cr_assert_str_eq(r->cwd, "/home/user");
        cr_assert_str_eq(r->name, "build job #7");
        cr_assert_eq(r->namespaces, NAMESPACE_ALL);
        cr_assert_eq(r->n_uid_mappings, 2);
        cr_assert_eq(r->uid_mappings[1].container_id, 1);
        cr_assert_eq(r->uid_mappings[1].host_id, 100000);
        cr_assert_eq(r->uid_mappings[1].size, 65536);
        cr_assert_eq(r->n_gid_mappings, 1);
        cr_assert_eq(r->setgroups, 0);
        cr_assert(r->has_user);
        cr_assert_eq(r->uid, 0);
        cr_assert_eq(r->n_additional_gids, 2);
        cr_assert_eq(r->additional_gids[1], 24);
        cr_assert_str_eq(r->hostname, "box-1.example");
        cr_assert_eq(r->stdin_index, 0);
        cr_assert_eq(r->stdout_index, 1);
        cr_assert_eq(r->stderr_index, 1);
        cr_assert_eq(r->n_fds, 2);
        cr_assert_eq(r->fds[1].target, 1023);
        cr_assert_eq(r->fds[0].fd_index, 2);
        cr_assert_str_eq(r->root, "/srv/root");
        cr_assert_eq(r->n_mounts, 14);
        cr_assert_eq(r->mounts[0].kind, MOUNT_PROC);
        cr_assert_eq(r->mounts[1].kind, MOUNT_TMPFS);
        cr_assert_eq(r->mounts[1].size, 64ULL * 1024 * 1024);
        cr_assert_eq(r->mounts[1].mode, 01777);
        cr_assert(r->mounts[1].no_exec);
        cr_assert_not(r->mounts[1].read_only);
        cr_assert_not(r->mounts[1].allow_suid);
        cr_assert_not(r->mounts[1].allow_dev);
        cr_assert_str_eq(r->mounts[2].source, "/usr");
        cr_assert(r->mounts[2].read_only);
        cr_assert_eq(r->mounts[2].source_fd_index, -1);
        cr_assert_null(r->mounts[3].source);
        cr_assert_eq(r->mounts[3].source_fd_index, 2);
        cr_assert(r->mounts[3].allow_suid);
        cr_assert(r->mounts[3].allow_dev);
        cr_assert_eq(r->mounts[3].mode, -1);
        cr_assert_eq(r->mounts[6].kind, MOUNT_DIR);
        cr_assert_eq(r->mounts[6].mode, 0700);
        cr_assert_str_eq(r->mounts[7].source, "../proc/self/fd");
        cr_assert_str_eq(r->mounts[7].destination, "/dev/fd");
        cr_assert_eq(r->mounts[8].kind, MOUNT_FILE);
        cr_assert_eq(r->mounts[8].mode, 0644);
        cr_assert_eq(r->mounts[9].kind, MOUNT_BIND);
        cr_assert(r->mounts[9].optional);
        cr_assert(r->mounts[9].read_only);
        cr_assert_eq(r->mounts[10].kind, MOUNT_BIND_DATA);
        cr_assert_eq(r->mounts[10].source_fd_index, 1);
        cr_assert_eq(r->mounts[10].mode, 0640);
        cr_assert_eq(r->mounts[11].kind, MOUNT_CHMOD);
        cr_assert_eq(r->mounts[11].mode, 01777);
        cr_assert_eq(r->mounts[12].kind, MOUNT_OVERLAY);
        cr_assert_eq(strv_length(r->mounts[12].lower_dirs), 2);
        cr_assert_str_eq(r->mounts[12].lower_dirs[0], "/a:b\\");
        cr_assert_str_eq(r->mounts[12].lower_dirs[1], "/c");
        cr_assert(r->mounts[12].tmp_upper);
        cr_assert_eq(r->mounts[13].kind, MOUNT_REMOUNT_RO);
        cr_assert_str_eq(r->mounts[13].destination, "/");
        cr_assert(r->has_monotonic_offset);
        cr_assert_eq(r->monotonic_offset.secs, -3600);
        cr_assert_eq(r->monotonic_offset.nanosecs, 5);
        cr_assert(r->has_boottime_offset);
        cr_assert_eq(r->boottime_offset.nanosecs, 999999999);
        cr_assert_eq(r->seccomp->default_action, SECCOMP_ACTION_ERRNO);
        cr_assert_str_eq(r->seccomp->syscalls[0].names[0], "read");
        cr_assert_eq(r->seccomp_profile, -1);
        cr_assert_eq(r->n_seccomp_fds, 2);
        cr_assert_eq(r->seccomp_fds[0], 2);
        cr_assert_str_eq(r->capabilities->names[CAPABILITY_SET_PERMITTED][0], "CAP_CHOWN");
        cr_assert_null(r->capabilities->names[CAPABILITY_SET_AMBIENT]);
        cr_assert(r->disable_user_namespaces);
        cr_assert_eq(r->init, 1);
        cr_assert_eq(r->new_session, 0);
        cr_assert(r->keep_alive);
        cr_assert_eq(r->resources.memory_limit, 67108864);
        cr_assert_eq(r->resources.memory_swap, 134217728);
        cr_assert_eq(r->resources.memory_high, 33554432);
        cr_assert_eq(r->resources.pids_limit, 50);
        cr_assert_eq(r->resources.cpu_shares, 512);
        cr_assert_eq(r->resources.cpu_weight, 0);
        cr_assert_eq(r->resources.cpu_quota, 50000);
        cr_assert_eq(r->resources.cpu_period, 100000);
        cr_assert_eq(r->n_rlimits, 2);
        cr_assert_eq(r->rlimits[0].type, RLIMIT_NOFILE);
        cr_assert_eq(r->rlimits[0].soft, 1024);
        cr_assert_eq(r->rlimits[0].hard, 4096);
        cr_assert_eq(r->rlimits[1].type, RLIMIT_CORE);
        cr_assert_eq(r->rlimits[1].hard, SANDBOX_RLIMIT_INFINITY);
        cr_assert_eq(r->runtime_max_usec, 10000000);
}

Test(sandbox_protocol, spawn_round_trip_full) {
        struct json_object *p = parse(full_request), *e1, *e2;
        SpawnRequest *a = NULL, *b = NULL;
        char *field = NULL;
        int r;

        r = spawn_request_decode(p, 3, NULL, &a, &field);
        cr_assert_eq(r, 0, "%d %s", r, field ?: "");
        assert_full_request(a);

        e1 = spawn_request_encode(a);
        cr_assert_not_null(e1);
        cr_assert_eq(spawn_request_decode(e1, 3, NULL, &b, &field), 0, "%s", field ?: "");
        assert_full_request(b);
        e2 = spawn_request_encode(b);
        cr_assert(json_object_equal(e1, e2), "%s\n%s", json_object_to_json_string(e1), json_object_to_json_string(e2));

        /* Fewer fds than the request refers to. */
        spawn_request_free(b);
        b = NULL;
        cr_assert_eq(spawn_request_decode(e1, 2, NULL, &b, &field), -EINVAL);
        cr_assert_str_eq(field, "fileDescriptors[0].fileDescriptor");
        free(field);

        json_object_put(e1);
        json_object_put(e2);
        spawn_request_free(a);
        json_object_put(p);
}

Test(sandbox_protocol, spawn_minimal_and_defaults) {
        struct json_object *p = parse("{\"argv\":[\"true\"],\"env\":null,\"cwd\":null,\"user\":null}"), *e;
        SpawnRequest *r = NULL;

        cr_assert_eq(spawn_request_decode(p, 0, NULL, &r, NULL), 0);
        cr_assert_str_eq(r->argv[0], "true");
        cr_assert_null(r->argv[1]);
        cr_assert_null(r->env);
        cr_assert_null(r->cwd);
        cr_assert_eq(r->namespaces, 0);
        cr_assert_eq(r->setgroups, -1);
        cr_assert_not(r->has_user);
        cr_assert_eq(r->stdin_index, -1);
        cr_assert_eq(r->stdout_index, -1);
        cr_assert_eq(r->stderr_index, -1);
        cr_assert_eq(r->init, -1);
        cr_assert_eq(r->new_session, -1);
        cr_assert_not(r->keep_alive);

        e = spawn_request_encode(r);
        cr_assert_str_eq(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN), "{\"argv\":[\"true\"]}");
        json_object_put(e);
        spawn_request_free(r);
        json_object_put(p);

        /* A freshly made request is "all absent". */
        r = spawn_request_new();
        cr_assert_eq(r->stdin_index, -1);
        cr_assert_eq(r->init, -1);
        spawn_request_free(r);
        cr_assert_null(spawn_request_free(NULL));
}

/* The other side of the bound in the invalid table: a range may end right before (uid_t) -1. */
Test(sandbox_protocol, id_mappings_up_to_the_last_id) {
        struct json_object *p = parse("{\"argv\":[\"true\"],\"namespaces\":[\"user\"],"
                                      "\"uidMappings\":[{\"containerID\":4294967294,\"hostID\":0,\"size\":1},"
                                      "{\"containerID\":0,\"hostID\":4294967290,\"size\":5}],"
                                      "\"gidMappings\":[{\"containerID\":4294967290,\"hostID\":4294967290,\"size\":5}]}");
        SpawnRequest *r = NULL;
        _cleanup_free_ char *field = NULL;

        cr_assert_eq(spawn_request_decode(p, 0, NULL, &r, &field), 0, "refused %s", field);
        cr_assert_eq(r->n_uid_mappings, 2);
        cr_assert_eq(r->uid_mappings[0].container_id, 4294967294U);
        cr_assert_eq(r->uid_mappings[1].size, 5);
        cr_assert_eq(r->gid_mappings[0].host_id, 4294967290U);
        spawn_request_free(r);
        json_object_put(p);
}

Test(sandbox_protocol, joined_namespaces_are_enough) {
        struct json_object *p = parse("{\"argv\":[\"true\"],\"joinNamespaces\":[{\"type\":\"uts\",\"fileDescriptor\":0},"
                                      "{\"type\":\"mount\",\"fileDescriptor\":1}],\"hostname\":\"h\"}");
        SpawnRequest *r = NULL;

        cr_assert_eq(spawn_request_decode(p, 2, NULL, &r, NULL), 0);
        cr_assert_eq(r->n_join_namespaces, 2);
        cr_assert_eq(r->join_namespaces[0].type, NAMESPACE_UTS);
        cr_assert_eq(r->join_namespaces[1].fd_index, 1);
        cr_assert_eq(r->namespaces, 0);
        cr_assert_eq(r->command_userns_fd_index, -1);
        spawn_request_free(r);
        json_object_put(p);

        /* The user namespace the command runs in, below a joined one. */
        p = parse("{\"argv\":[\"true\"],\"joinNamespaces\":[{\"type\":\"user\",\"fileDescriptor\":0}],"
                  "\"namespaces\":[\"mount\"],\"commandUserNamespaceFileDescriptor\":1}");
        r = NULL;
        cr_assert_eq(spawn_request_decode(p, 2, NULL, &r, NULL), 0);
        cr_assert_eq(r->command_userns_fd_index, 1);
        spawn_request_free(r);
        json_object_put(p);
}

/* The field spawn_request_verify() names for r, or NULL if r is consistent. */
static char *verify_field(const SpawnRequest *r) {
        char *field = NULL;
        int k = spawn_request_verify(r, &field);

        cr_assert(k == 0 || (k == -EINVAL && field), "%d", k);
        return field;
}

static void assert_verify(const SpawnRequest *r, const char *field) {
        _cleanup_free_ char *got = verify_field(r);

        if (field)
                cr_assert_str_eq(got ?: "(consistent)", field);
        else
                cr_assert_null(got, "refused: %s", got);
}

static void join(SpawnRequest *r, NamespaceType t) {
        r->join_namespaces = reallocarray(r->join_namespaces, r->n_join_namespaces + 1, sizeof(JoinNamespace));
        cr_assert_not_null(r->join_namespaces);
        r->join_namespaces[r->n_join_namespaces++] = (JoinNamespace) { .type = t, .fd_index = 0 };
}

/* Requests built in C, as a user of the spawn engine other than the decoder builds them, meet the same rules. */
Test(sandbox_protocol, verify_owns_the_rules_across_fields) {
        _cleanup_(spawn_request_freep) SpawnRequest *h = spawn_request_new(), *m = spawn_request_new(),
                                                    *u = spawn_request_new(), *t = spawn_request_new(),
                                                    *j = spawn_request_new(), *p = spawn_request_new();

        /* hostname: a created or a joined uts namespace */
        h->hostname = strdup("box");
        assert_verify(h, "hostname");
        join(h, NAMESPACE_UTS);
        assert_verify(h, NULL);
        h->n_join_namespaces = 0;
        h->namespaces = NAMESPACE_BIT(NAMESPACE_UTS);
        assert_verify(h, NULL);

        /* root and mounts: a created mount namespace, a joined one is not enough */
        m->root = strdup("/srv/root");
        join(m, NAMESPACE_MOUNT);
        assert_verify(m, "root");
        m->n_join_namespaces = 0;
        m->namespaces = NAMESPACE_BIT(NAMESPACE_MOUNT);
        assert_verify(m, NULL);
        m->mounts = calloc(1, sizeof(MountEntry));
        m->mounts[0] = (MountEntry) { .kind = MOUNT_TMPFS, .destination = strdup("/tmp"), .source_fd_index = -1 };
        m->n_mounts = 1;
        assert_verify(m, NULL);
        free(m->root);
        m->root = NULL;
        m->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        assert_verify(m, "mounts");

        /* id maps and setgroups: a created user namespace */
        u->namespaces = NAMESPACE_BIT(NAMESPACE_PID);
        u->setgroups = 0;
        assert_verify(u, "setgroups");
        u->gid_mappings = calloc(1, sizeof(IdMapping));
        u->gid_mappings[0] = (IdMapping) { 0, 1000, 1 };
        u->n_gid_mappings = 1;
        assert_verify(u, "gidMappings");
        u->uid_mappings = calloc(1, sizeof(IdMapping));
        u->uid_mappings[0] = (IdMapping) { 0, 1000, 1 };
        u->n_uid_mappings = 1;
        assert_verify(u, "uidMappings");
        join(u, NAMESPACE_USER);
        assert_verify(u, "uidMappings");
        u->n_join_namespaces = 0;
        u->namespaces |= NAMESPACE_BIT(NAMESPACE_USER);
        assert_verify(u, NULL);

        /* clock offsets: a created time namespace */
        t->has_boottime_offset = true;
        assert_verify(t, "timeOffsets");
        t->namespaces = NAMESPACE_BIT(NAMESPACE_TIME);
        assert_verify(t, NULL);

        /* a type is created or joined, and joined once; only known types */
        j->namespaces = NAMESPACE_BIT(NAMESPACE_NET);
        join(j, NAMESPACE_IPC);
        join(j, NAMESPACE_NET);
        assert_verify(j, "joinNamespaces[1].type");
        j->namespaces = 0;
        assert_verify(j, NULL);
        join(j, NAMESPACE_IPC);
        assert_verify(j, "joinNamespaces[2].type");
        j->join_namespaces[2].type = _NAMESPACE_TYPE_MAX;
        assert_verify(j, "joinNamespaces[2].type");
        j->n_join_namespaces = 2;
        j->namespaces = NAMESPACE_ALL + 1;
        assert_verify(j, "namespaces");

        /* a joined pid namespace takes the command itself as well as init (the daemon makes the child in it) */
        join(p, NAMESPACE_PID);
        assert_verify(p, NULL);
        p->init = 0;
        assert_verify(p, NULL);
        p->hostname = strdup("h");
        cr_assert_not_null(p->hostname);
        assert_verify(p, "hostname");

        /* no out-parameter: just the verdict */
        cr_assert_eq(spawn_request_verify(p, NULL), -EINVAL);
}

/* A root is an ordinary entry: it may follow others (which it then covers) and carries its own options. */
Test(sandbox_protocol, root_is_a_mount_entry) {
        struct json_object *p = parse("{\"argv\":[\"true\"],\"namespaces\":[\"mount\"],\"mounts\":["
                                      "{\"type\":\"tmpfs\",\"destination\":\"/x\"},"
                                      "{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/\",\"options\":[\"ro\"]},"
                                      "{\"type\":\"remount-ro\",\"destination\":\"/\"}]}");
        SpawnRequest *r = NULL;

        cr_assert_eq(spawn_request_decode(p, 0, NULL, &r, NULL), 0);
        cr_assert_eq(r->n_mounts, 3);
        cr_assert_str_eq(r->mounts[1].destination, "/");
        cr_assert(r->mounts[1].read_only);
        spawn_request_free(r);
        json_object_put(p);
}

Test(sandbox_protocol, id_requests) {
        static const struct {
                const char *json;
                const char *field; /* NULL: valid */
        } cases[] = {
                { "{\"id\":\"abc-DEF_012\"}", NULL },
                { "{}", "id" },
                { "{\"id\":\"\"}", "id" },
                { "{\"id\":null}", "id" },
                { "{\"id\":1}", "id" },
                /* a name in the place of an id: any text but control characters, at most 128 bytes */
                { "{\"id\":\"a/b\"}", NULL },
                { "{\"id\":\"my web server\"}", NULL },
                { "{\"id\":\"a\\u0001b\"}", "id" },
                { "{\"id\":\"a\\u007fb\"}", "id" },
                { "{\"id\":\"a\\u0000b\"}", "id" },
                { "{\"id\":\"0123456789012345678901234567890123456789012345678901234567890123\"}", NULL },
                { "{\"id\":\"01234567890123456789012345678901234567890123456789012345678901234\"}", NULL },
                { "{\"id\":\"01234567890123456789012345678901234567890123456789012345678901234567890123456789"
                  "012345678901234567890123456789012345678901234567\"}", NULL },
                { "{\"id\":\"01234567890123456789012345678901234567890123456789012345678901234567890123456789"
                  "0123456789012345678901234567890123456789012345678\"}", "id" },
                { "{\"id\":\"x\",\"signal\":9}", "signal" },
                { "{\"id\":\"x\",\"more\":true}", "more" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *p = parse(cases[i].json);
                char *id = NULL, *field = NULL;
                int r;

                r = sandbox_id_request_decode(p, &id, &field);
                if (cases[i].field) {
                        cr_assert_eq(r, -EINVAL, "%s", cases[i].json);
                        cr_assert_str_eq(field, cases[i].field, "%s", cases[i].json);
                        cr_assert_null(id);
                } else {
                        cr_assert_eq(r, 0, "%s", cases[i].json);
                        cr_assert(sandbox_handle_is_valid(id));
                        struct json_object *e = sandbox_id_request_encode(id);
                        cr_assert(json_object_equal(e, p));
                        json_object_put(e);
                }
                free(id);
                free(field);
                json_object_put(p);
        }
}

Test(sandbox_protocol, kill_requests) {
        static const struct {
                const char *json;
                const char *field;
                int signal;
                bool all;
        } cases[] = {
                { "{\"id\":\"x\"}", NULL, SIGTERM },
                { "{\"id\":\"x\",\"signal\":null}", NULL, SIGTERM },
                { "{\"id\":\"x\",\"signal\":9}", NULL, SIGKILL },
                { "{\"id\":\"x\",\"signal\":64}", NULL, 64 },
                { "{\"id\":\"x\",\"signal\":1}", NULL, 1 },
                { "{\"id\":\"x\",\"signal\":0}", "signal" },
                { "{\"id\":\"x\",\"signal\":65}", "signal" },
                { "{\"id\":\"x\",\"signal\":-9}", "signal" },
                { "{\"id\":\"x\",\"signal\":\"SIGKILL\"}", "signal" },
                { "{\"id\":\"x\",\"signal\":9.0}", "signal" },
                { "{\"id\":\"x\",\"signal\":4294967305}", "signal" },
                { "{\"signal\":9}", "id" },
                { "{\"id\":\"x\",\"force\":true}", "force" },
                { "{\"id\":\"x\",\"all\":1}", "all" },
                { "{\"id\":\"x\",\"all\":true}", NULL, SIGTERM, true },
                { "{\"id\":\"x\",\"signal\":9,\"all\":false}", NULL, SIGKILL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *p = parse(cases[i].json);
                char *id = NULL, *field = NULL;
                int sig = -1, r;
                bool all = false;

                r = kill_request_decode(p, &id, &sig, &all, &field);
                if (cases[i].field) {
                        cr_assert_eq(r, -EINVAL, "%s", cases[i].json);
                        cr_assert_str_eq(field, cases[i].field, "%s", cases[i].json);
                        cr_assert_eq(sig, -1);
                } else {
                        cr_assert_eq(r, 0, "%s", cases[i].json);
                        cr_assert_str_eq(id, "x");
                        cr_assert_eq(sig, cases[i].signal);
                        cr_assert_eq(all, cases[i].all, "%s", cases[i].json);

                        struct json_object *e = kill_request_encode(id, sig, all);
                        char *id2 = NULL;
                        int sig2 = 0;
                        bool all2 = !all;
                        cr_assert_eq(kill_request_decode(e, &id2, &sig2, &all2, NULL), 0);
                        cr_assert_str_eq(id2, id);
                        cr_assert_eq(sig2, sig);
                        cr_assert_eq(all2, all);
                        free(id2);
                        json_object_put(e);
                }
                free(id);
                free(field);
                json_object_put(p);
        }

        struct json_object *e = kill_request_encode("abc", 0, false);
        cr_assert_str_eq(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN), "{\"id\":\"abc\"}");
        json_object_put(e);
}

Test(sandbox_protocol, list_requests) {
        struct json_object *p = list_request_encode(), *q = parse("{\"filter\":\"x\"}");
        char *field = NULL;

        cr_assert_eq(list_request_decode(p, &field), 0);
        cr_assert_eq(list_request_decode(q, &field), -EINVAL);
        cr_assert_str_eq(field, "filter");
        free(field);
        json_object_put(p);
        json_object_put(q);
}

Test(sandbox_protocol, spawn_reply_round_trip) {
        SpawnReply a = { .id = (char *) "sbx-1", .pid = 4242, .pidfd_index = 0 }, b = {};
        struct json_object *e = spawn_reply_encode(&a), *bad;

        cr_assert_str_eq(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN),
                         "{\"id\":\"sbx-1\",\"pid\":4242,\"pidFileDescriptor\":0}");
        cr_assert_eq(spawn_reply_decode(e, 1, &b), 0);
        cr_assert_str_eq(b.id, "sbx-1");
        cr_assert_eq(b.pid, 4242);
        cr_assert_eq(b.pidfd_index, 0);
        spawn_reply_done(&b);
        cr_assert_null(b.id);

        /* No fd came with it: the index cannot be right. */
        cr_assert_eq(spawn_reply_decode(e, 0, &b), -EBADMSG);
        json_object_put(e);

        static const char *const malformed[] = {
                "{\"pid\":1,\"pidFileDescriptor\":0}",
                "{\"id\":\"a b\",\"pid\":1,\"pidFileDescriptor\":0}",
                "{\"id\":\"a\",\"pid\":0,\"pidFileDescriptor\":0}",
                "{\"id\":\"a\",\"pid\":\"1\",\"pidFileDescriptor\":0}",
                "{\"id\":\"a\",\"pid\":1,\"pidFileDescriptor\":1}",
                "{\"id\":\"a\",\"pid\":1}",
        };
        for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
                bad = parse(malformed[i]);
                cr_assert_eq(spawn_reply_decode(bad, 1, &b), -EBADMSG, "%s", malformed[i]);
                cr_assert_null(b.id);
                json_object_put(bad);
        }

        /* Unknown fields from a newer daemon are fine. */
        bad = parse("{\"id\":\"a\",\"pid\":1,\"pidFileDescriptor\":0,\"cgroup\":\"/x\"}");
        cr_assert_eq(spawn_reply_decode(bad, 1, &b), 0);
        cr_assert_not(b.has_namespace_inodes);
        spawn_reply_done(&b);
        json_object_put(bad);
}

/* The namespaces' inode numbers, by unshare-style name; an unknown one (0) is left out. */
Test(sandbox_protocol, spawn_reply_namespace_inodes) {
        SpawnReply a = { .id = (char *) "x", .pid = 7, .has_namespace_inodes = true }, b = {};
        struct json_object *e;

        a.namespace_inodes[NAMESPACE_MOUNT] = 4026531841;
        a.namespace_inodes[NAMESPACE_TIME] = 4026532000;
        e = spawn_reply_encode(&a);
        cr_assert_str_eq(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN),
                         "{\"id\":\"x\",\"pid\":7,\"pidFileDescriptor\":0,"
                         "\"namespaceInodes\":{\"mount\":4026531841,\"time\":4026532000}}");
        cr_assert_eq(spawn_reply_decode(e, 1, &b), 0);
        cr_assert(b.has_namespace_inodes);
        cr_assert_eq(memcmp(a.namespace_inodes, b.namespace_inodes, sizeof a.namespace_inodes), 0);
        spawn_reply_done(&b);
        json_object_put(e);

        e = parse("{\"id\":\"a\",\"pid\":1,\"pidFileDescriptor\":0,\"namespaceInodes\":{\"net\":-1}}");
        cr_assert_eq(spawn_reply_decode(e, 1, &b), -EBADMSG);
        json_object_put(e);
}

Test(sandbox_protocol, wait_reply_round_trip) {
        static const struct {
                SandboxState state;
                int exit_code, signal;
                const char *json;
        } cases[] = {
                { SANDBOX_STARTING, 0, 0, "{\"state\":\"starting\"}" },
                { SANDBOX_RUNNING, 0, 0, "{\"state\":\"running\"}" },
                { SANDBOX_EXITED, 3, 0, "{\"state\":\"exited\",\"exitCode\":3}" },
                { SANDBOX_KILLED, 0, SIGKILL, "{\"state\":\"killed\",\"signal\":\"SIGKILL\"}" },
                { SANDBOX_KILLED, 0, 40, "{\"state\":\"killed\",\"signal\":\"SIGRTMIN+6\"}" },
                /* How the top process ended, whichever it was. */
                { SANDBOX_OOM_KILLED, 0, SIGKILL, "{\"state\":\"oom-killed\",\"signal\":\"SIGKILL\"}" },
                { SANDBOX_OOM_KILLED, 137, 0, "{\"state\":\"oom-killed\",\"exitCode\":137}" },
                { SANDBOX_TIMED_OUT, 0, SIGKILL, "{\"state\":\"timed-out\",\"signal\":\"SIGKILL\"}" },
                { SANDBOX_TIMED_OUT, 0, 0, "{\"state\":\"timed-out\",\"exitCode\":0}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct json_object *e = wait_reply_encode(cases[i].state, cases[i].exit_code, cases[i].signal);
                SandboxState s;
                int code = -1, sig = -1;

                assert_json_equal(e, cases[i].json);
                cr_assert_eq(wait_reply_decode(e, &s, &code, &sig), 0);
                cr_assert_eq(s, cases[i].state);
                cr_assert_eq(code, cases[i].exit_code);
                cr_assert_eq(sig, cases[i].signal);
                json_object_put(e);
        }

        static const char *const malformed[] = {
                "{}",
                "{\"state\":\"dead\"}",
                "{\"state\":\"exited\"}",
                "{\"state\":\"exited\",\"exitCode\":256}",
                "{\"state\":\"killed\",\"signal\":\"SIGNOPE\"}",
                "{\"state\":\"killed\",\"signal\":9}",
                "{\"state\":\"running\",\"exitCode\":0}",
                "{\"state\":\"oom-killed\"}",
                "{\"state\":\"timed-out\",\"exitCode\":0,\"signal\":\"SIGKILL\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
                struct json_object *bad = parse(malformed[i]);
                SandboxState s = SANDBOX_RUNNING;

                cr_assert_eq(wait_reply_decode(bad, &s, NULL, NULL), -EBADMSG, "%s", malformed[i]);
                json_object_put(bad);
        }
}

Test(sandbox_protocol, wait_reply_with_usage) {
        SandboxInfo info = {
                .state = SANDBOX_OOM_KILLED,
                .signal = SIGKILL,
                .has_usage = true,
                .usage = { .cpu_usec = 0, .memory_current = UINT64_MAX, .memory_peak = 33554432, .tasks = 0,
                           .tasks_peak = 20, .oom_kills = 1 },
        }, d = {};
        struct json_object *e = wait_reply_encode_info(&info, NULL);

        /* Unknown counters are left out; 0 is a count like any other. */
        assert_json_equal(e, "{\"state\":\"oom-killed\",\"signal\":\"SIGKILL\",\"usage\":{\"cpuUSec\":0,"
                             "\"memoryPeak\":33554432,\"tasks\":0,\"tasksPeak\":20,\"oomKills\":1}}");
        cr_assert_eq(wait_reply_decode_info(e, &d), 0);
        cr_assert_eq(d.state, SANDBOX_OOM_KILLED);
        cr_assert_eq(d.signal, SIGKILL);
        cr_assert(d.has_usage);
        cr_assert_eq(d.usage.cpu_usec, 0);
        cr_assert_eq(d.usage.memory_current, UINT64_MAX);
        cr_assert_eq(d.usage.memory_peak, 33554432);
        cr_assert_eq(d.usage.tasks_peak, 20);
        cr_assert_eq(d.usage.oom_kills, 1);
        sandbox_info_done(&d);
        json_object_put(e);

        /* The old decoder reads the state of the new reply. */
        info.has_usage = false;
        e = wait_reply_encode_info(&info, NULL);
        assert_json_equal(e, "{\"state\":\"oom-killed\",\"signal\":\"SIGKILL\"}");
        json_object_put(e);

        e = parse("{\"state\":\"exited\",\"exitCode\":0,\"usage\":{\"cpuUSec\":-1}}");
        cr_assert_eq(wait_reply_decode_info(e, &d), -EBADMSG);
        json_object_put(e);
}

static void assert_info_equal(const SandboxInfo *a, const SandboxInfo *b) {
        cr_assert_str_eq(a->id, b->id);
        if (a->name)
                cr_assert_str_eq(a->name, b->name);
        else
                cr_assert_null(b->name);
        cr_assert_eq(a->pid, b->pid);
        cr_assert_eq(a->owner_uid, b->owner_uid);
        cr_assert_eq(a->namespaces, b->namespaces);
        cr_assert_eq(a->joined_namespaces, b->joined_namespaces);
        cr_assert_eq(a->state, b->state);
        cr_assert_eq(a->start_usec, b->start_usec);
        cr_assert_eq(a->exit_code, b->exit_code);
        cr_assert_eq(a->signal, b->signal);
        cr_assert_eq(a->keep_alive, b->keep_alive);
        if (a->cgroup)
                cr_assert_str_eq(a->cgroup, b->cgroup);
        else
                cr_assert_null(b->cgroup);
        cr_assert_eq(memcmp(&a->resources, &b->resources, sizeof a->resources), 0);
        cr_assert_eq(a->n_rlimits, b->n_rlimits);
        for (size_t i = 0; i < a->n_rlimits; i++) {
                cr_assert_eq(a->rlimits[i].type, b->rlimits[i].type);
                cr_assert_eq(a->rlimits[i].soft, b->rlimits[i].soft);
                cr_assert_eq(a->rlimits[i].hard, b->rlimits[i].hard);
        }
        cr_assert_eq(a->runtime_max_usec, b->runtime_max_usec);
        cr_assert_eq(a->paused, b->paused);
        cr_assert_eq(a->nested, b->nested);
        if (a->sandbox)
                cr_assert_str_eq(a->sandbox, b->sandbox);
        else
                cr_assert_null(b->sandbox);
        cr_assert_eq(a->has_usage, b->has_usage);
        if (a->has_usage)
                cr_assert_eq(memcmp(&a->usage, &b->usage, sizeof a->usage), 0);
}

static SandboxRlimit info_rlimits[] = { { RLIMIT_NPROC, 10, 20 }, { RLIMIT_STACK, 8388608, SANDBOX_RLIMIT_INFINITY } };

static const SandboxInfo infos[] = {
        { .id = (char *) "a1", .name = (char *) "web", .pid = 100, .owner_uid = 1000,
          .namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_PID), .state = SANDBOX_RUNNING,
          .start_usec = 1764380000123456ULL, .keep_alive = true },
        { .id = (char *) "b2", .pid = 101, .owner_uid = 0, .namespaces = 0, .state = SANDBOX_EXITED,
          .start_usec = 1, .exit_code = 127 },
        { .id = (char *) "c3", .pid = 102, .owner_uid = 4294967294U, .namespaces = NAMESPACE_ALL,
          .state = SANDBOX_KILLED, .start_usec = 0, .signal = SIGSEGV },
        { .id = (char *) "d4", .pid = 103, .state = SANDBOX_RUNNING, .cgroup = (char *) "/nsboxd.service/user-0/d4",
          .resources = { .memory_limit = 1048576, .memory_swap = 2097152, .memory_high = 524288, .pids_limit = 7,
                         .cpu_weight = 50, .cpu_quota = 20000, .cpu_period = 100000 },
          .rlimits = info_rlimits, .n_rlimits = 2, .runtime_max_usec = 5000000, .paused = true, .has_usage = true,
          .usage = { 1, 2, 3, 4, 5, 0 } },
        { .id = (char *) "e5", .pid = 104, .state = SANDBOX_RUNNING, .sandbox = (char *) "d4",
          .joined_namespaces = NAMESPACE_ALL },
        { .id = (char *) "f6", .name = (char *) "inner", .pid = 105, .state = SANDBOX_RUNNING,
          .namespaces = NAMESPACE_BIT(NAMESPACE_NET),
          .joined_namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_MOUNT),
          .sandbox = (char *) "d4", .nested = true },
        { .id = (char *) "g7", .pid = 106, .state = SANDBOX_RUNNING, .namespaces = NAMESPACE_BIT(NAMESPACE_IPC),
          .joined_namespaces = NAMESPACE_BIT(NAMESPACE_USER) | NAMESPACE_BIT(NAMESPACE_MOUNT) },
        { .id = (char *) "e5", .pid = 104, .state = SANDBOX_TIMED_OUT, .signal = SIGKILL, .has_usage = true,
          .usage = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX } },
};

Test(sandbox_protocol, sandbox_info_round_trip) {
        for (size_t i = 0; i < ELEMENTSOF(infos); i++) {
                struct json_object *e = sandbox_info_encode(infos + i);
                SandboxInfo d = {};

                cr_assert_not_null(e);
                cr_assert_eq(sandbox_info_decode(e, &d), 0, "%s", json_object_to_json_string(e));
                assert_info_equal(infos + i, &d);
                sandbox_info_done(&d);
                json_object_put(e);
        }

        struct json_object *e = sandbox_info_encode(infos);
        assert_json_equal(e, "{\"id\":\"a1\",\"name\":\"web\",\"pid\":100,\"ownerUID\":1000,"
                             "\"namespaces\":[\"user\",\"pid\"],\"state\":\"running\",\"startTime\":1764380000123456,"
                             "\"keepAlive\":true}");
        json_object_put(e);
        /* Joined namespaces by the names created ones have, in the same order; absent above, as none. */
        e = sandbox_info_encode(infos + 6);
        assert_json_equal(e, "{\"id\":\"g7\",\"pid\":106,\"ownerUID\":0,\"namespaces\":[\"ipc\"],"
                             "\"joinedNamespaces\":[\"mount\",\"user\"],\"state\":\"running\",\"startTime\":0,"
                             "\"keepAlive\":false}");
        json_object_put(e);

        static const char *const malformed[] = {
                "{\"id\":\"a\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"joinedNamespaces\":[\"mnt\"],"
                "\"state\":\"running\",\"startTime\":0,\"keepAlive\":false}",
                "{\"id\":\"a\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"joinedNamespaces\":[\"user\",\"user\"],"
                "\"state\":\"running\",\"startTime\":0,\"keepAlive\":false}",
                "{\"id\":\"a\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"joinedNamespaces\":\"user\","
                "\"state\":\"running\",\"startTime\":0,\"keepAlive\":false}",
                "{\"id\":\"a\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[\"bogus\"],\"state\":\"running\",\"startTime\":0,"
                "\"keepAlive\":false}",
                "{\"id\":\"a\",\"pid\":1,\"ownerUID\":-1,\"namespaces\":[],\"state\":\"running\",\"startTime\":0,"
                "\"keepAlive\":false}",
                "{\"id\":\"a\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"state\":\"running\",\"startTime\":-1,"
                "\"keepAlive\":false}",
                "{\"id\":\"a\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"state\":\"running\",\"startTime\":0}",
                "{\"id\":\"a\",\"name\":\"\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"state\":\"running\","
                "\"startTime\":0,\"keepAlive\":false}",
                "{\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"state\":\"running\",\"startTime\":0,\"keepAlive\":false}",
        };
        for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
                struct json_object *bad = parse(malformed[i]);
                SandboxInfo d = {};

                cr_assert_eq(sandbox_info_decode(bad, &d), -EBADMSG, "%s", malformed[i]);
                cr_assert_null(d.id);
                json_object_put(bad);
        }
}

Test(sandbox_protocol, list_and_inspect_round_trip) {
        struct json_object *e = list_reply_encode(infos, ELEMENTSOF(infos));
        SandboxInfo *d = NULL, one = {};
        size_t n = 0;

        cr_assert_eq(list_reply_decode(e, &d, &n), 0);
        cr_assert_eq(n, ELEMENTSOF(infos));
        for (size_t i = 0; i < n; i++)
                assert_info_equal(infos + i, d + i);
        sandbox_info_array_free(d, n);
        json_object_put(e);

        e = list_reply_encode(NULL, 0);
        cr_assert_str_eq(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN), "{\"sandboxes\":[]}");
        cr_assert_eq(list_reply_decode(e, &d, &n), 0);
        cr_assert_eq(n, 0);
        sandbox_info_array_free(d, n);
        json_object_put(e);

        e = inspect_reply_encode(infos + 2);
        cr_assert_eq(inspect_reply_decode(e, &one), 0);
        assert_info_equal(infos + 2, &one);
        sandbox_info_done(&one);
        json_object_put(e);

        e = parse("{\"sandboxes\":[{\"id\":\"ok\",\"pid\":1,\"ownerUID\":0,\"namespaces\":[],\"state\":\"running\","
                  "\"startTime\":0,\"keepAlive\":false},{}]}");
        cr_assert_eq(list_reply_decode(e, &d, &n), -EBADMSG);
        json_object_put(e);
        e = parse("{}");
        cr_assert_eq(inspect_reply_decode(e, &one), -EBADMSG);
        json_object_put(e);
}

Test(sandbox_protocol, errors) {
        struct json_object *e;
        char *stage = NULL, *message = NULL;
        int error = 0;

        e = nsbox_error_no_such_sandbox("x1");
        assert_json_equal(e, "{\"error\":\"io.nsbox.Sandbox.NoSuchSandbox\",\"parameters\":{\"id\":\"x1\"}}");
        json_object_put(e);

        e = nsbox_error_quota_exceeded("sandboxes-per-user");
        assert_json_equal(e, "{\"error\":\"io.nsbox.Sandbox.QuotaExceeded\","
                             "\"parameters\":{\"limit\":\"sandboxes-per-user\"}}");
        json_object_put(e);

        e = nsbox_error_spawn_failed("execve", ENOENT, "/nope: No such file or directory");
        assert_json_equal(e, "{\"error\":\"io.nsbox.Sandbox.SpawnFailed\","
                             "\"parameters\":{\"stage\":\"execve\",\"errno\":2,"
                             "\"message\":\"/nope: No such file or directory\"}}");
        cr_assert_eq(nsbox_error_spawn_failed_decode(json_object_object_get(e, "parameters"), &stage, &error,
                                                     &message),
                     0);
        cr_assert_str_eq(stage, "execve");
        cr_assert_eq(error, ENOENT);
        cr_assert_str_eq(message, "/nope: No such file or directory");
        free(stage);
        free(message);
        json_object_put(e);

        e = parse("{\"stage\":\"x\",\"errno\":\"2\",\"message\":\"m\"}");
        cr_assert_eq(nsbox_error_spawn_failed_decode(e, NULL, NULL, NULL), -EBADMSG);
        json_object_put(e);
}

Test(sandbox_protocol, names) {
        for (NamespaceType t = 0; t < _NAMESPACE_TYPE_MAX; t++) {
                cr_assert_eq(namespace_type_from_string(namespace_type_to_string(t)), t);
                cr_assert_not_null(namespace_type_to_proc_name(t));
                cr_assert_neq(namespace_type_to_clone_flag(t), 0);
        }
        cr_assert_eq(namespace_type_to_clone_flag(NAMESPACE_MOUNT), (unsigned long) CLONE_NEWNS);
        cr_assert_eq(namespace_type_to_clone_flag(NAMESPACE_USER), (unsigned long) CLONE_NEWUSER);
        cr_assert_str_eq(namespace_type_to_proc_name(NAMESPACE_MOUNT), "mnt");
        cr_assert_str_eq(namespace_type_to_string(NAMESPACE_CGROUP), "cgroup");
        cr_assert_eq(namespace_type_from_string("mnt"), -EINVAL);
        cr_assert_eq(namespace_type_from_string(NULL), -EINVAL);
        cr_assert_null(namespace_type_to_string(_NAMESPACE_TYPE_MAX));

        for (MountKind k = 0; k < _MOUNT_KIND_MAX; k++)
                cr_assert_eq(mount_kind_from_string(mount_kind_to_string(k)), k);
        cr_assert_eq(mount_kind_from_string("remount-ro"), MOUNT_REMOUNT_RO);
        cr_assert_eq(mount_kind_from_string("overlayfs"), -EINVAL);

        for (SandboxState s = 0; s < _SANDBOX_STATE_MAX; s++)
                cr_assert_eq(sandbox_state_from_string(sandbox_state_to_string(s)), s);
        cr_assert_eq(sandbox_state_from_string("zombie"), -EINVAL);
}

Test(sandbox_protocol, signals) {
        for (int sig = 1; sig <= 64; sig++) {
                const char *s = signal_to_string(sig);
                char num[8];

                cr_assert_not_null(s, "%d", sig);
                cr_assert_eq(signal_from_string(s), sig, "%s", s);
                snprintf(num, sizeof(num), "%d", sig);
                cr_assert_eq(signal_from_string(num), sig);
        }
        cr_assert_str_eq(signal_to_string(SIGTERM), "SIGTERM");
        cr_assert_str_eq(signal_to_string(SIGKILL), "SIGKILL");
        cr_assert_str_eq(signal_to_string(SIGRTMIN), "SIGRTMIN");
        cr_assert_str_eq(signal_to_string(SIGRTMAX), "SIGRTMAX");
        cr_assert_eq(signal_from_string("TERM"), SIGTERM);
        cr_assert_eq(signal_from_string("SIGRTMIN+2"), SIGRTMIN + 2);
        cr_assert_eq(signal_from_string("RTMAX-1"), SIGRTMAX - 1);
        cr_assert_eq(signal_from_string("SIGIOT"), SIGABRT);
        cr_assert_null(signal_to_string(0));
        cr_assert_null(signal_to_string(65));
        cr_assert_eq(signal_from_string("0"), -EINVAL);
        cr_assert_eq(signal_from_string("65"), -EINVAL);
        cr_assert_eq(signal_from_string("-9"), -EINVAL);
        cr_assert_eq(signal_from_string("SIGFOO"), -EINVAL);
        cr_assert_eq(signal_from_string("SIG"), -EINVAL);
        cr_assert_eq(signal_from_string("SIGRTMIN+31"), -EINVAL);
        cr_assert_eq(signal_from_string(""), -EINVAL);
        cr_assert_eq(signal_from_string(NULL), -EINVAL);
}

Test(sandbox_protocol, interface_description_is_embedded) {
        cr_assert_not_null(strstr(nsbox_interface_description, "interface io.nsbox.Sandbox\n"));
        cr_assert_not_null(strstr(nsbox_interface_description, "method Spawn("));
        cr_assert_not_null(strstr(nsbox_interface_description, "error SpawnFailed(stage: string, errno: int"));
}

/* Every key the encoders put on the wire is declared in the interface description. */
static void assert_keys_in_idl(struct json_object *o) {
        if (json_object_get_type(o) == json_type_array) {
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        assert_keys_in_idl(json_object_array_get_idx(o, i));
                return;
        }
        if (json_object_get_type(o) != json_type_object)
                return;

        json_object_object_foreach(o, key, value) {
                char decl[64];

                snprintf(decl, sizeof(decl), "%s: ", key);
                cr_assert_not_null(strstr(nsbox_interface_description, decl), "'%s' is not in the IDL", key);
                assert_keys_in_idl(value);
        }
}

/*
 * The same for an encoder's output, which is put. Of an error only its
 * parameters: "error" and "parameters" themselves are Varlink's framing.
 */
static void assert_encoded_keys_in_idl(struct json_object *e) {
        cr_assert_not_null(e);
        assert_keys_in_idl(json_object_object_get_ex(e, "error", NULL) ? json_object_object_get(e, "parameters") : e);
        json_object_put(e);
}

Test(sandbox_protocol, encoded_names_match_the_idl) {
        struct json_object *p = parse(full_request);
        SpawnRequest *r = NULL;
        SpawnReply reply = { .id = (char *) "x", .pid = 1, .has_namespace_inodes = true,
                             .namespace_inodes = { 1, 2, 3, 4, 5, 6, 7, 8 } };

        cr_assert_eq(spawn_request_decode(p, 3, NULL, &r, NULL), 0);
        assert_encoded_keys_in_idl(spawn_request_encode(r));
        spawn_request_free(r);
        json_object_put(p);

        assert_encoded_keys_in_idl(spawn_reply_encode(&reply));
        assert_encoded_keys_in_idl(list_reply_encode(infos, ELEMENTSOF(infos)));
        assert_encoded_keys_in_idl(inspect_reply_encode(infos));
        assert_encoded_keys_in_idl(kill_request_encode("x", 9, true));
        assert_encoded_keys_in_idl(nsbox_error_limit_not_supported("resources.memory.high", "why"));
        assert_encoded_keys_in_idl(nsbox_error_spawn_failed("s", 1, "m"));
        assert_encoded_keys_in_idl(nsbox_error_quota_exceeded("l"));
        assert_encoded_keys_in_idl(nsbox_error_policy_invalid("f", 1, "r"));
        assert_encoded_keys_in_idl(nsbox_error_name_in_use("web"));
        assert_encoded_keys_in_idl(nsbox_error_no_such_sandbox("web"));

        ExecRequest *x = NULL;
        p = parse(full_exec_request);
        cr_assert_eq(exec_request_decode(p, 3, NULL, &x, NULL), 0);
        assert_encoded_keys_in_idl(exec_request_encode(x));
        exec_request_free(x);
        json_object_put(p);
}

/* Exec takes the members of a process, not of a sandbox; "id" may be a name. */
Test(sandbox_protocol, exec_requests) {
        static const struct {
                const char *json;
                const char *field;
        } cases[] = {
                { "{\"id\":\"web\",\"argv\":[\"true\"]}", NULL },
                { "{\"argv\":[\"true\"]}", "id" },
                { "{\"id\":\"web\"}", "argv" },
                { "{\"id\":\"web\",\"argv\":[]}", "argv" },
                { "{\"id\":\"web\",\"argv\":[\"true\"],\"namespaces\":[\"net\"]}", "namespaces" },
                { "{\"id\":\"web\",\"argv\":[\"true\"],\"hostname\":\"h\"}", "hostname" },
                { "{\"id\":\"web\",\"argv\":[\"true\"],\"mounts\":[]}", "mounts" },
                { "{\"id\":\"web\",\"argv\":[\"true\"],\"stdin\":3}", "stdin" },
                { "{\"id\":\"web\",\"argv\":[\"true\"],\"user\":{\"uid\":4294967295,\"gid\":0}}", "user.uid" },
                { "{\"id\":\"web\",\"argv\":[\"true\"],\"stdout\":0,\"captureOutput\":true}", "captureOutput" },
                { "{\"id\":\"web\",\"argv\":[\"true\"],\"captureBytes\":5}", "captureBytes" },
                { "{\"id\":\"a\\u0001\",\"argv\":[\"true\"]}", "id" },
        };
        struct json_object *p, *e;
        ExecRequest *x = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *field = NULL;
                int r;

                p = parse(cases[i].json);
                r = exec_request_decode(p, 1, NULL, &x, &field);
                if (cases[i].field) {
                        cr_assert_eq(r, -EINVAL, "%s", cases[i].json);
                        cr_assert_str_eq(field, cases[i].field, "%s", cases[i].json);
                        cr_assert_null(x);
                } else {
                        cr_assert_eq(r, 0, "%s", cases[i].json);
                        x = exec_request_free(x);
                }
                free(field);
                json_object_put(p);
        }

        /* every member, and back */
        p = parse(full_exec_request);
        cr_assert_eq(exec_request_decode(p, 3, NULL, &x, NULL), 0);
        cr_assert_str_eq(x->id, "my web");
        cr_assert_str_eq(x->process.argv[1], "-l");
        cr_assert(x->process.has_user);
        cr_assert_eq(x->process.uid, 1000);
        cr_assert_eq(x->process.n_seccomp_fds, 1);
        cr_assert_eq(x->process.new_session, 0);
        cr_assert_eq(x->process.init, -1);
        e = exec_request_encode(x);
        cr_assert(json_object_equal(e, p), "%s", json_object_to_json_string(e));
        json_object_put(e);
        exec_request_free(x);
        json_object_put(p);
}
