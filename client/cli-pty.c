/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pty relay of `nsbox run --pty`. The CLI owns the master side; the
 * sandbox only ever sees the slave, never the caller's own terminal, so a
 * sandboxed program cannot push input into the caller's shell (TIOCSTI).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli-pty.h"
#include "fd-util.h"
#include "macro.h"

int pty_open(int *ret_master, int *ret_slave) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        struct winsize ws;
        int unlock = 0;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (master < 0)
                return negative_errno();
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return negative_errno();

        /* TIOCGPTPEER opens the slave through the master, with no path lookup that could be raced. */
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return negative_errno();

        if (isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(master, TIOCSWINSZ, &ws);

        *ret_master = TAKE_FD(master);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

void pty_relay_init(PtyRelay *p, int master) {
        struct termios raw;

        *p = (PtyRelay) { .master = master };

        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &p->saved_termios) >= 0) {
                p->termios_saved = true;
                raw = p->saved_termios;
                cfmakeraw(&raw);
                /* Keep output post-processing off too: the sandbox's terminal does that already. */
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
}

void pty_relay_done(PtyRelay *p) {
        if (p->termios_saved) {
                (void) tcsetattr(STDIN_FILENO, TCSADRAIN, &p->saved_termios);
                p->termios_saved = false;
        }
        p->master = safe_close(p->master);
}

void pty_relay_resize(PtyRelay *p) {
        struct winsize ws;

        if (p->master >= 0 && isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(p->master, TIOCSWINSZ, &ws);
}

void pty_relay_prepare(PtyRelay *p, struct pollfd *pfds) {
        bool want_stdin = !p->stdin_eof && p->to_master_start == p->to_master_end;
        short master_events = 0;

        if (!p->master_eof && p->to_stdout_start == p->to_stdout_end)
                master_events |= POLLIN;
        if (p->to_master_start != p->to_master_end)
                master_events |= POLLOUT;

        pfds[0] = (struct pollfd) { .fd = want_stdin ? STDIN_FILENO : -1, .events = POLLIN };
        pfds[1] = (struct pollfd) { .fd = master_events && p->master >= 0 ? p->master : -1, .events = master_events };
        pfds[2] = (struct pollfd) {
                .fd = p->to_stdout_start != p->to_stdout_end ? STDOUT_FILENO : -1,
                .events = POLLOUT,
        };
}

static void relay_stdout_write(PtyRelay *p) {
        while (p->to_stdout_start < p->to_stdout_end) {
                ssize_t n = write(STDOUT_FILENO, p->to_stdout + p->to_stdout_start,
                                  p->to_stdout_end - p->to_stdout_start);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        /* Nobody reads our output any more: drop it rather than stall the sandbox. */
                        p->stdout_broken = true;
                        break;
                }
                p->to_stdout_start += (size_t) n;
        }
        p->to_stdout_start = p->to_stdout_end = 0;
}

/* Returns true if something was read. */
static bool relay_master_read(PtyRelay *p) {
        ssize_t n;

        if (p->master_eof || p->to_stdout_start != p->to_stdout_end)
                return false;

        n = read(p->master, p->to_stdout, sizeof(p->to_stdout));
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return false;
                /* EIO: every slave fd is closed, the sandbox's side is gone. */
                p->master_eof = true;
                return false;
        }
        if (n == 0) {
                p->master_eof = true;
                return false;
        }
        if (p->stdout_broken)
                return true;
        p->to_stdout_start = 0;
        p->to_stdout_end = (size_t) n;
        return true;
}

void pty_relay_dispatch(PtyRelay *p, const struct pollfd *pfds) {
        if (pfds[0].fd >= 0 && pfds[0].revents) {
                ssize_t n = read(STDIN_FILENO, p->to_master, sizeof(p->to_master));

                if (n > 0) {
                        p->to_master_start = 0;
                        p->to_master_end = (size_t) n;
                        p->last_input = p->to_master[n - 1];
                } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                        p->stdin_eof = true;
                        /* Input from a file or pipe ended: tell the sandbox's terminal the way a user
                         * would, with the EOF character (twice after a partial line: the first one only
                         * ends the line). */
                        if (!isatty(STDIN_FILENO)) {
                                p->to_master[0] = p->to_master[1] = 0x04;
                                p->to_master_start = 0;
                                p->to_master_end = p->last_input && p->last_input != '\n' ? 2 : 1;
                        }
                }
        }

        if (pfds[1].fd >= 0 && (pfds[1].revents & POLLOUT)) {
                ssize_t n = write(p->master, p->to_master + p->to_master_start,
                                  p->to_master_end - p->to_master_start);

                if (n > 0)
                        p->to_master_start += (size_t) n;
                else if (n < 0 && errno != EAGAIN && errno != EINTR)
                        p->to_master_start = p->to_master_end; /* the sandbox's side is gone */
                if (p->to_master_start == p->to_master_end)
                        p->to_master_start = p->to_master_end = 0;
        }

        if (pfds[1].fd >= 0 && (pfds[1].revents & (POLLIN | POLLHUP | POLLERR)))
                relay_master_read(p);

        if (p->to_stdout_start != p->to_stdout_end &&
            (pfds[2].fd < 0 || (pfds[2].revents & (POLLOUT | POLLERR | POLLHUP))))
                relay_stdout_write(p);
}

void pty_relay_drain(PtyRelay *p) {
        relay_stdout_write(p);

        while (!p->master_eof && p->master >= 0) {
                struct pollfd pfd = { .fd = p->master, .events = POLLIN };
                int r;

                /* The kernel moves pty output to the master side asynchronously; once every slave fd
                 * is closed the master reads what is left, then EIO. The timeout only covers a slave
                 * some leftover process still holds open. */
                r = poll(&pfd, 1, 250);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                if (!relay_master_read(p) && !p->master_eof)
                        break;
                relay_stdout_write(p);
        }
}
