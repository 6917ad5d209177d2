/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bounded loop of a sandbox's init (init_supervise_for()): each test forks an "init" that starts a
 * command and supervises it for a while, as the init on the daemon's memory does before it would exec
 * nsbox-init. That init's exit status tells what the loop did: the command's status when the loop ended
 * init with the command, STAYED_OVER when the loop returned.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init-supervise.h"

/* What the test init exits with once init_supervise_for() returned. */
#define STAYED_OVER 42

typedef enum Command {
        COMMAND_EXITS_AT_ONCE,  /* exits 7 */
        COMMAND_WAITS_FOR_USR1, /* exits 3 on SIGUSR1 */
        COMMAND_RUNS_ON,        /* until the test kills it */
} Command;

_noreturn_ static void run_command(Command what) {
        sigset_t usr1;
        int sig;

        switch (what) {
        case COMMAND_EXITS_AT_ONCE:
                _exit(7);
        case COMMAND_WAITS_FOR_USR1:
                sigemptyset(&usr1);
                sigaddset(&usr1, SIGUSR1);
                (void) sigwait(&usr1, &sig);
                _exit(3);
        case COMMAND_RUNS_ON:
                for (;;)
                        pause();
        }
        _exit(1);
}

/*
 * Forks the test's init, which blocks init's signals, starts the command (with SIGUSR1 still blocked, for
 * sigwait()), tells the test the command's pid on ready, supervises it for msec and exits STAYED_OVER if
 * the loop returns. Returns the init's pid.
 */
static pid_t start_init(Command what, unsigned msec, pid_t *ret_command) {
        int ready[2];
        pid_t init;

        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        init = fork();
        cr_assert_geq(init, 0);
        if (init == 0) {
                sigset_t mask;
                pid_t command;
                int sfd;

                init_signal_mask(&mask);
                if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                        _exit(101);
                sfd = signalfd(-1, &mask, SFD_CLOEXEC);
                if (sfd < 0)
                        _exit(102);
                command = fork();
                if (command < 0)
                        _exit(103);
                if (command == 0)
                        run_command(what);
                if (write(ready[1], &command, sizeof command) != (ssize_t) sizeof command)
                        _exit(104);
                init_supervise_for(sfd, command, msec);
                (void) kill(command, SIGKILL);
                _exit(STAYED_OVER);
        }
        (void) close(ready[1]);
        cr_assert_eq(read(ready[0], ret_command, sizeof *ret_command), (ssize_t) sizeof *ret_command);
        (void) close(ready[0]);
        return init;
}

static int wait_exit_status(pid_t pid) {
        int status;

        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "init did not exit (status %#x)", status);
        return WEXITSTATUS(status);
}

Test(init_supervise, a_command_that_ends_during_the_stay_ends_init_with_its_status) {
        pid_t command, init = start_init(COMMAND_EXITS_AT_ONCE, 60 * 1000, &command);

        /* A minute's stay: only the command's end could have ended it. */
        cr_assert_eq(wait_exit_status(init), 7);
}

Test(init_supervise, the_stay_ends_while_the_command_runs_on) {
        pid_t command, init = start_init(COMMAND_RUNS_ON, 20, &command);

        cr_assert_eq(wait_exit_status(init), STAYED_OVER);
}

Test(init_supervise, signals_are_forwarded_during_the_stay) {
        pid_t command, init = start_init(COMMAND_WAITS_FOR_USR1, 60 * 1000, &command);

        cr_assert_eq(kill(init, SIGUSR1), 0);
        cr_assert_eq(wait_exit_status(init), 3);
}

Test(init_supervise, a_stream_of_signals_does_not_stretch_the_stay) {
        pid_t command, init = start_init(COMMAND_RUNS_ON, 20, &command);
        siginfo_t si = {};

        /* SIGUSR2 goes on to the command, which blocks it: init gets one after another for as long as it
         * stays, and must leave all the same. */
        for (;;) {
                si.si_pid = 0;
                cr_assert_eq(waitid(P_PID, (id_t) init, &si, WEXITED | WNOHANG | WNOWAIT), 0);
                if (si.si_pid == init)
                        break;
                (void) kill(init, SIGUSR2);
        }
        cr_assert_eq(wait_exit_status(init), STAYED_OVER);
}
