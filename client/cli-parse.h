/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing what `nsbox run` and nsbox-bwrap share: numbers, sizes, modes, host paths, capability names. */
#pragma once

#include <stdint.h>

/* A decimal number 0..UINT32_MAX, no sign, nothing after it; -EINVAL otherwise. */
int cli_parse_uint32(const char *s, uint32_t *ret);
/* "64", "64k", "1m", "2G": bytes with an optional power-of-1024 suffix; -EINVAL otherwise (0 is allowed). */
int cli_parse_size(const char *s, uint64_t *ret);
/* An octal mode 0..07777; -EINVAL otherwise. */
int cli_parse_mode(const char *s, int *ret);
/* A path on the host as bubblewrap takes it: relative to our working directory. NULL on ENOMEM. */
char *cli_host_path(const char *path);

/* Every capability this kernel has, as libcap counts them, as a mask of bits. */
uint64_t cli_all_capabilities(void);
/* "CAP_NET_ADMIN" (any case, as libcap reads it) or "ALL" -> its bits; -EINVAL for an unknown name. */
int cli_parse_capability(const char *name, uint64_t *ret_bits);
/* The names of a mask, in capitals as capabilities(7) writes them: a NULL-terminated array; NULL on ENOMEM. */
char **cli_capability_names(uint64_t mask);
