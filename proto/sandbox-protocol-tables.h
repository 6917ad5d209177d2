/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The codec tables of sandbox-protocol.c that other documents embed: the
 * daemon's hand-over state carries each sandbox's SandboxInfo as Inspect
 * reports it, checked by the very rows that check a reply.
 */
#pragma once

#include "json-codec.h"
#include "sandbox-protocol.h"

extern const JsonField sandbox_info_fields[];
