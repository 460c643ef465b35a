/* The master's local admin channel for vmcactl: a Unix stream socket created
 * mode 0600 (only its owner can connect) that also checks the client's uid
 * (root or the master's own). One request line in, a text reply out, then
 * the master closes. Reply format: see docs/admin-protocol.md. */
#ifndef VMCA_ADMIN_H
#define VMCA_ADMIN_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>

struct vmca_admin;

/* Fills `reply` for request line `cmd` (without the newline). */
typedef void (*vmca_admin_handler)(void *arg, const char *cmd, struct evbuffer *reply);

/* Binds `path`. Refuses (NULL, reason in err) when another process serves
 * it; removes a stale socket file left by a dead master. */
struct vmca_admin *vmca_admin_open(struct event_base *base, const char *path,
                                   vmca_admin_handler handler, void *arg,
                                   char *err, size_t errlen);
/* Stops listening and removes the socket file. */
void vmca_admin_close(struct vmca_admin *a);

#endif
