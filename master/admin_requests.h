/* The admin requests vmcactl sends (docs/admin-protocol.md): one request
 * line in, reply lines out, read from and acted on through the master
 * core. The shell sends what the core queued afterwards. */
#ifndef VMCA_ADMIN_REQUESTS_H
#define VMCA_ADMIN_REQUESTS_H

#include <stdint.h>

#include <event2/buffer.h>

#include "config.h"
#include "master_core.h"

/* Answers request line `line` (without its newline) into `out`: the
 * reply's lines, ending with "end" or "ok", or one line
 * "error <class> <why>" (class: usage, range, no-node, state, no-slave,
 * internal) after which nothing changed. */
void admin_request(struct master_core *m, const struct vmca_config *cfg, const char *line,
                   int64_t now_ms, struct evbuffer *out);

#endif
