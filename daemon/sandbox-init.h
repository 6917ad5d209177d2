/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A minimal init for sandboxes: the spawned child becomes it (pid 1 of a new
 * pid namespace, or a subreaper otherwise), forks the command, forwards
 * signals to it, reaps every orphan and exits with the command's status.
 */
#pragma once

#include "spawn-child.h"

/*
 * Called by the child once it is fully set up, instead of execve(). Never
 * returns. The command's exec failure still reaches the report pipe: init
 * closes its own copy right after the fork, the command's copy is CLOEXEC.
 *
 * Exit status: the command's exit code; if the command died of a signal,
 * init dies of the same signal when it can, which is when it is not pid 1.
 * The kernel never lets pid 1 of a pid namespace die of a signal it sends
 * itself, so there init exits with 128 + the signal number, as a shell would.
 *
 * Outside a new pid namespace init is a subreaper and the command gets
 * PR_SET_PDEATHSIG(SIGKILL), so killing init (SIGKILL cannot be forwarded)
 * still ends the command; whatever the command leaves behind is not
 * contained there: use a pid namespace for that.
 */
_noreturn_ void sandbox_init_run(SpawnPlan *p);

/* What init calls itself, in comm (prctl PR_SET_NAME) and in its command line. */
#define SANDBOX_INIT_NAME "nsbox-init"

/*
 * The daemon's argument area (argv[0] up to the end of its last argument,
 * contiguous as the kernel laid it out), which init, a copy of the daemon,
 * overwrites with SANDBOX_INIT_NAME so that ps and `systemctl status` do not
 * show it as a second nsboxd with the daemon's command line. Without it init
 * only renames comm.
 */
void sandbox_init_set_title_area(char *area, size_t size);
