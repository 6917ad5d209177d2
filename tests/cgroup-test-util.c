/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test cgroups below the test's own ones (see cgroup-test-util.h). */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-test-util.h"

static const char *const v1_controllers[] = { "memory", "pids", "cpu" };

static bool in_option_list(const char *list, const char *word) {
        size_t len = strlen(word);

        for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
                if (strncmp(p, word, len) == 0 && (p[len] == ',' || p[len] == '\0'))
                        return true;
        return false;
}

/* The mount point of the cgroup2 tree (controller "") or of controller's v1 hierarchy; only mounts of the root. */
static bool find_mount(const char *controller, char *ret, size_t size) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        bool found = false;

        cr_assert(f);
        while (!found && fgets(line, sizeof line, f)) {
                char root[512], mnt[512], fstype[64], opts[1024];
                char *sep = strstr(line, " - ");

                if (!sep || sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
                    sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2 || strcmp(root, "/") != 0)
                        continue;
                if (controller[0] ? strcmp(fstype, "cgroup") == 0 && in_option_list(opts, controller)
                                  : strcmp(fstype, "cgroup2") == 0) {
                        snprintf(ret, size, "%s", mnt);
                        found = true;
                }
        }
        fclose(f);
        return found;
}

/* The calling process's cgroup path in the hierarchy of controller ("" for cgroup2). */
static bool own_path(const char *controller, char *ret, size_t size) {
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[1024];
        bool found = false;

        cr_assert(f);
        while (!found && fgets(line, sizeof line, f)) {
                char *c = strchr(line, ':'), *p;

                if (!c)
                        continue;
                *c++ = '\0';
                p = strchr(c, ':');
                if (!p)
                        continue;
                *p++ = '\0';
                p[strcspn(p, "\n")] = '\0';
                if (controller[0] ? in_option_list(c, controller) : (strcmp(line, "0") == 0 && c[0] == '\0')) {
                        snprintf(ret, size, "%s", p);
                        found = true;
                }
        }
        fclose(f);
        return found;
}

bool test_cgroup_controller_is_v1(const char *controller) {
        char mnt[512];

        return find_mount(controller, mnt, sizeof mnt);
}

static bool any_subdir(const char *name) {
        return true;
}

/* Removes the directories in dir whose names pass which, and everything below them, as far as rmdir() lets it
 * (a cgroup with processes stays). */
static void remove_subdirs(const char *dir, bool (*which)(const char *name)) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char sub[1024];

                if (de->d_type != DT_DIR || de->d_name[0] == '.' || !which(de->d_name))
                        continue;
                snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
                remove_subdirs(sub, any_subdir);
                (void) rmdir(sub);
        }
        closedir(d);
}

/*
 * A test cgroup ("nsbt-WORD-PID" or "nsbt-WORD-PID-N", PID the test process that made it) whose maker is
 * gone: a test killed by its timeout, or one that crashed before its clean-up, left it. (Test processes
 * share one pid namespace.)
 */
static bool is_stale(const char *name) {
        int pid = 0, end = 0;

        if (sscanf(name, "nsbt-%*[a-z]-%d%n", &pid, &end) != 1 || end == 0 || pid <= 0 ||
            (name[end] != '\0' && name[end] != '-'))
                return false;
        return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Removes the stale test cgroups in dir and what is below them, as far as they are empty: what still runs
 * there keeps its cgroup (rmdir() refuses it), for somebody to look at. */
static void sweep_stale(const char *dir) {
        remove_subdirs(dir, is_stale);
}

/* 0 (or nothing to do: no such hierarchy here), or -errno with t unchanged. */
static int add(TestCgroup *t, const char *controller, const char *name) {
        char mnt[512], path[512];
        size_t i = t->n;

        if (!find_mount(controller, mnt, sizeof mnt) || !own_path(controller, path, sizeof path))
                return 0;
        if (i >= TEST_CGROUP_HIERARCHIES_MAX || strlen(mnt) + strlen(path) + strlen(name) + 2 >= sizeof t->dir[i])
                return -ENAMETOOLONG;
        snprintf(t->controller[i], sizeof t->controller[i], "%s", controller);
        strcpy(t->origin[i], mnt);
        if (strcmp(path, "/") != 0)
                strcat(t->origin[i], path);
        strcpy(t->dir[i], t->origin[i]);
        strcat(t->dir[i], "/");
        strcat(t->dir[i], name);
        sweep_stale(t->origin[i]);
        if (mkdir(t->dir[i], 0755) < 0 && errno != EEXIST)
                return -errno;
        t->n++;
        return 0;
}

void test_cgroup_create(TestCgroup *t, const char *name) {
        const char *controller = "";
        int r;

        memset(t, 0, sizeof *t);
        r = add(t, controller, name);
        if (r >= 0 && t->n == 0)
                cr_assert_fail("no cgroup2 tree on this host");
        for (size_t i = 0; r >= 0 && i < sizeof v1_controllers / sizeof v1_controllers[0]; i++) {
                controller = v1_controllers[i];
                r = add(t, controller, name);
        }
        if (r < 0) {
                /* What was made before the failure goes again: a failed start must not litter the host. */
                for (size_t i = 0; i < t->n; i++)
                        (void) rmdir(t->dir[i]);
                t->n = 0;
                cr_assert_fail("creating test cgroup %s in the %s hierarchy: %s", name, controller[0] ? controller : "cgroup2",
                               strerror(-r));
        }
}

static int write_pid(const char *dir, const char *pid) {
        char path[600];
        int fd, r = 0;

        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, pid, strlen(pid)) < 0)
                r = -errno;
        close(fd);
        return r;
}

int test_cgroup_enter_raw(const TestCgroup *t) {
        for (size_t i = 0; i < t->n; i++) {
                int r = write_pid(t->dir[i], "0");
                if (r < 0)
                        return r;
        }
        return 0;
}

void test_cgroup_enter(const TestCgroup *t) {
        for (size_t i = 0; i < t->n; i++)
                cr_assert(write_pid(t->dir[i], "0") >= 0, "entering %s: %m", t->dir[i]);
}

void test_cgroup_leave(const TestCgroup *t) {
        for (size_t i = 0; i < t->n; i++)
                cr_assert(write_pid(t->origin[i], "0") >= 0, "leaving for %s: %m", t->origin[i]);
}

const char *test_cgroup_dir(const TestCgroup *t, const char *controller) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->controller[i], controller) == 0)
                        return t->dir[i];
        return NULL;
}

static size_t list_below(const char *dir, char *buf, size_t size, size_t *pos) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char sub[1024];

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
                n++;
                if (buf && *pos < size)
                        *pos += (size_t) snprintf(buf + *pos, size - *pos, "%s\n", sub);
                n += list_below(sub, buf, size, pos);
        }
        closedir(d);
        return n;
}

size_t test_cgroup_leftovers(const TestCgroup *t, char *buf, size_t size) {
        size_t n = 0, pos = 0;

        if (buf && size)
                buf[0] = '\0';
        for (size_t i = 0; i < t->n; i++)
                n += list_below(t->dir[i], buf, size, &pos);
        return n;
}

static void remove_below(const char *dir) {
        remove_subdirs(dir, any_subdir);
}

/* Kills whatever a failed test left running in the cgroup2 test cgroup, and waits (bounded) until it is gone. */
static void kill_leftover_processes(const TestCgroup *t) {
        char path[600], buf[256];

        snprintf(path, sizeof path, "%s/cgroup.kill", t->dir[0]);
        if (access(path, F_OK) < 0)
                return;
        for (int i = 0; i < 100; i++) {
                FILE *f;

                snprintf(path, sizeof path, "%s/cgroup.events", t->dir[0]);
                f = fopen(path, "re");
                if (!f)
                        return;
                buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
                fclose(f);
                if (strstr(buf, "populated 0"))
                        return;
                if (i == 0) {
                        snprintf(path, sizeof path, "%s/cgroup.kill", t->dir[0]);
                        f = fopen(path, "we");
                        if (f) {
                                fputs("1", f);
                                fclose(f);
                        }
                }
                usleep(50000);
        }
}

void test_cgroup_destroy(TestCgroup *t, bool expect_empty) {
        char left[4096];
        size_t n = test_cgroup_leftovers(t, left, sizeof left);

        kill_leftover_processes(t);

        /* Removed either way (what is empty), so one failure does not litter the host. */
        for (size_t i = 0; i < t->n; i++) {
                remove_below(t->dir[i]);
                cr_expect(rmdir(t->dir[i]) >= 0, "rmdir %s: %m", t->dir[i]);
        }
        t->n = 0;
        cr_assert(!expect_empty || n == 0, "cgroups left behind:\n%s", left);
}
