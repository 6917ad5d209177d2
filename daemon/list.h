/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Intrusive doubly-linked lists, as in systemd's list.h: no allocation per entry. */
#pragma once

#include <stddef.h>

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_PREPEND(name, head, item)                                  \
        do {                                                            \
                typeof(*(head)) **_head = &(head), *_item = (item);     \
                if ((_item->name##_next = *_head))                      \
                        _item->name##_next->name##_prev = _item;        \
                _item->name##_prev = NULL;                              \
                *_head = _item;                                         \
        } while (0)

#define LIST_REMOVE(name, head, item)                                   \
        do {                                                            \
                typeof(*(head)) **_head = &(head), *_item = (item);     \
                if (_item->name##_next)                                 \
                        _item->name##_next->name##_prev = _item->name##_prev; \
                if (_item->name##_prev)                                 \
                        _item->name##_prev->name##_next = _item->name##_next; \
                else                                                    \
                        *_head = _item->name##_next;                    \
                _item->name##_next = _item->name##_prev = NULL;         \
        } while (0)

/* A queue: a list with its oldest (head) and newest (tail) item, appended at the tail. */
#define QUEUE_APPEND(name, oldest, newest, item)                        \
        do {                                                            \
                typeof(*(oldest)) **_oldest = &(oldest), **_newest = &(newest), *_item = (item); \
                _item->name##_prev = *_newest;                          \
                _item->name##_next = NULL;                              \
                if (*_newest)                                           \
                        (*_newest)->name##_next = _item;                \
                else                                                    \
                        *_oldest = _item;                               \
                *_newest = _item;                                       \
        } while (0)

#define QUEUE_REMOVE(name, oldest, newest, item)                        \
        do {                                                            \
                typeof(*(oldest)) **_oldest = &(oldest), **_newest = &(newest), *_item = (item); \
                if (_item->name##_prev)                                 \
                        _item->name##_prev->name##_next = _item->name##_next; \
                else                                                    \
                        *_oldest = _item->name##_next;                  \
                if (_item->name##_next)                                 \
                        _item->name##_next->name##_prev = _item->name##_prev; \
                else                                                    \
                        *_newest = _item->name##_prev;                  \
                _item->name##_next = _item->name##_prev = NULL;         \
        } while (0)

/* typeof(*(head)) drops the const a head read through a const pointer would carry. */
#define LIST_FOREACH(name, i, head) for (typeof(*(head)) *i = (head); i; i = i->name##_next)

/* Safe against removal of the current item. */
#define LIST_FOREACH_SAFE(name, i, n, head) \
        for (typeof(*(head)) *i = (head), *n = i ? i->name##_next : NULL; i; i = n, n = i ? i->name##_next : NULL)
