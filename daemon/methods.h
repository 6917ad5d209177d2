/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The method table: org.varlink.service and io.nsbox.Sandbox calls, checked and answered. */
#pragma once

#include "connection.h"

/* What nsboxd's connections serve: the methods, who is refused while the policy does not load, and
 * what a closing connection leaves behind in the sandbox table. */
const ConnectionService *methods_service(void);
