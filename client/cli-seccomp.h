/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seccomp profile files (OCI or Docker/Podman format) for `nsbox run --seccomp FILE`. */
#pragma once

#include <stdint.h>

/*
 * Reads the profile at path and returns the OCI LinuxSeccomp object as JSON
 * text in *ret_json. A Docker/Podman profile is converted as those engines do:
 * "archMap" gives the architectures of this machine, "name" becomes "names",
 * "comment" is dropped, and an entry whose "includes" do not hold here (or
 * whose "excludes" do) is left out. caps, when known, are the sandbox's
 * capabilities for "caps" conditions; unknown, a rule that needs a capability
 * is left out. -EINVAL with *ret_error (malloc'd) saying why, or -ENOMEM.
 */
int seccomp_profile_file_to_oci(const char *path, const uint64_t *caps, char **ret_json, char **ret_error);
