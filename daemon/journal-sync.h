/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Waiting until journald has read what this process logged. journald takes a
 * record's unit, command line and cgroup from the sender's /proc entry when it
 * reads the record, not when it was sent: a record of a process that exits
 * before journald got to it carries none of them, and `journalctl -u` does
 * not find it. A process that logs and then ends (the keeper at a stop) waits
 * here first.
 */
#pragma once

/*
 * Calls journald's io.systemd.Journal.Synchronize, which answers once
 * journald has processed every record queued before the call, and waits for
 * the answer at most timeout_msec milliseconds. Blocking: for a process with
 * nothing else to do. Returns 0 once journald answered, -ETIMEDOUT, -EPROTO
 * for an error reply or a reply that is no Varlink reply, or the errno of the
 * connection (-ENOENT: no journald here).
 */
int journal_synchronize(unsigned timeout_msec);

/* The same through the Varlink socket at socket_path (tests). */
int journal_synchronize_at(const char *socket_path, unsigned timeout_msec);
