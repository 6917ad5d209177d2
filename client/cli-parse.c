/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing what `nsbox run` and nsbox-bwrap share: numbers, sizes, modes, host paths, capability names. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sys/capability.h>

#include "cli-parse.h"
#include "macro.h"

int cli_parse_uint32(const char *s, uint32_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* "64", "64k", "1m", "2G": bytes with an optional power-of-1024 suffix. */
int cli_parse_size(const char *s, uint64_t *ret) {
        unsigned shift = 0;
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        if (*end) {
                const char *suffixes = "kmg";
                const char *p = strchr(suffixes, tolower((unsigned char) *end));

                if (!p || end[1])
                        return -EINVAL;
                shift = 10U * (unsigned) (p - suffixes + 1);
        }
        if (v > (UINT64_MAX >> shift))
                return -EINVAL;
        *ret = (uint64_t) v << shift;
        return 0;
}

int cli_parse_mode(const char *s, int *ret) {
        char *end;
        unsigned long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 8);
        if (errno != 0 || *end || v > 07777)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

/* A path on the host as bubblewrap takes it: relative to our working directory. */
char *cli_host_path(const char *path) {
        _cleanup_free_ char *cwd = NULL;
        char *p;

        if (path[0] == '/' || !path[0])
                return strdup(path);
        cwd = get_current_dir_name();
        if (!cwd)
                return NULL;
        if (asprintf(&p, "%s/%s", streq(cwd, "/") ? "" : cwd, path) < 0)
                return NULL;
        return p;
}

/* Every capability this kernel has, as libcap counts them. */
uint64_t cli_all_capabilities(void) {
        unsigned n = (unsigned) cap_max_bits();

        return n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
}

/* The capability names of a mask, for the protocol (capabilities(7) spells them in capitals). */
char **cli_capability_names(uint64_t mask) {
        _cleanup_strv_free_ char **l = calloc(65, sizeof(char *));
        size_t n = 0;

        if (!l)
                return NULL;
        for (unsigned c = 0; c < 64; c++) {
                char *name;

                if (!(mask & (UINT64_C(1) << c)))
                        continue;
                name = cap_to_name((cap_value_t) c);
                if (!name)
                        return NULL;
                l[n] = strdup(name);
                cap_free(name);
                if (!l[n])
                        return NULL;
                for (char *p = l[n]; *p; p++)
                        *p = (char) toupper((unsigned char) *p);
                n++;
        }
        return TAKE_PTR(l);
}

int cli_parse_capability(const char *name, uint64_t *ret_bits) {
        cap_value_t v;

        if (strcasecmp(name, "ALL") == 0) {
                *ret_bits = cli_all_capabilities();
                return 0;
        }
        if (cap_from_name(name, &v) < 0 || v < 0 || v >= 64 || !(cli_all_capabilities() & (UINT64_C(1) << v)))
                return -EINVAL;
        *ret_bits = UINT64_C(1) << v;
        return 0;
}
