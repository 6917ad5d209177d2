/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The method table: org.varlink.service and io.nsbox.Sandbox calls, checked and answered. */
#pragma once

#include "connection.h"

/* Handles c->call (c->busy is set). Every path ends in exactly one final reply, now or later. */
void method_dispatch(Connection *c);
