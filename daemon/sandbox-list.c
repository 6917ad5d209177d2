/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The streamed List (sandbox-list.h). Each entry that is in the table for
 * the whole List is sent exactly once; one made or dropped meanwhile may
 * or may not be (new entries go to the head of the table, behind every
 * place).
 */
#include <assert.h>
#include <stdlib.h>

#include "macro.h"
#include "sandbox-list.h"
#include "sandbox-protocol.h"

static void list_end(SandboxClient *cl) {
        Server *s = cl->connection->server;

        if (!cl->listing)
                return;
        LIST_REMOVE(listers, s->listers, cl);
        cl->listing = false;
        cl->list_next = NULL;
}

/* The next piece of what cl may see, from its place on; moves the place past it. */
static struct json_object *list_piece(SandboxClient *cl, bool *ret_last) {
        Connection *c = cl->connection;
        SandboxInfo infos[SANDBOX_LIST_PIECE];
        size_t n = 0;
        Sandbox *sb = cl->list_next;

        for (; sb && n < ELEMENTSOF(infos); sb = sb->sandboxes_next)
                if (sandbox_is_visible_to(c->server, sb, &c->caller))
                        sandbox_fill_info(sb, /* with_usage= */ false, &infos[n++]);
        cl->list_next = sb;
        *ret_last = !sb;
        return list_reply_encode(infos, n);
}

void sandbox_list_continue(SandboxClient *cl) {
        Connection *c;

        if (!cl || !cl->listing)
                return;
        c = cl->connection;
        while (!connection_backed_up(c)) {
                struct json_object *p;
                bool last;

                p = list_piece(cl, &last);
                if (!p || last) {
                        /* Before the reply: a final reply runs the connection's next call, maybe another
                         * List. Out of memory, the client would wait for ever: hang up. */
                        list_end(cl);
                        if (!p)
                                return connection_close(c);
                        return connection_reply(c, varlink_reply_new(p, /* continues= */ false), NULL, 0);
                }
                connection_reply_continues(c, p);
                /* A reply that did not fit the writer's bound closed the connection, and freed cl. */
                if (!connection_is_open(c))
                        return;
        }
}

void sandbox_list_start(Connection *c) {
        SandboxClient *cl = sandbox_client_of(c);
        Server *s = c->server;

        if (!cl)
                /* The client would wait for ever: hang up. */
                return connection_close(c);
        assert(!cl->listing);
        cl->listing = true;
        cl->list_next = s->sandboxes;
        LIST_PREPEND(listers, s->listers, cl);
        sandbox_list_continue(cl);
}

void sandbox_list_stop(SandboxClient *cl) {
        if (cl)
                list_end(cl);
}

void sandbox_list_forget(Server *s, Sandbox *sb) {
        /* As many as Lists are streaming at this moment: almost always none. */
        LIST_FOREACH(listers, cl, s->listers)
                if (cl->list_next == sb)
                        cl->list_next = sb->sandboxes_next;
}
