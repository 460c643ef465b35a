/* A framed, mutually authenticated TLS connection on libevent's
 * bufferevent_openssl. Life of a connection:
 *   TLS handshake -> both sides send Hello -> the peer's Hello is checked
 *   (its claimed node's configured name must equal the certificate CN, and
 *   Envelope.from must equal Hello.node) -> ready: frames flow both ways.
 * A connection that has not said a valid Hello within hello_timeout_ms, or
 * sends an oversize, truncated or malformed frame, is closed; only that
 * connection is affected. */
#ifndef VMCA_CONN_H
#define VMCA_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "codec.h"

struct vmca_conn;

struct vmca_conn_cbs {
    /* Configured certificate name of node `node` in role `role`
     * (VMCA__ROLE__ROLE_*), or NULL when that node may not connect here. */
    const char *(*expected_name)(void *arg, uint32_t node, int role);
    /* Hello accepted; vmca_conn_peer_* now tell who the peer is. */
    void (*on_ready)(struct vmca_conn *c, void *arg);
    /* One decoded frame after Hello. env is freed when the callback returns. */
    void (*on_frame)(struct vmca_conn *c, const Vmca__Envelope *env, void *arg);
    /* The connection failed or the peer closed it; called once, not after
     * vmca_conn_close. The connection is freed when this returns. */
    void (*on_close)(struct vmca_conn *c, const char *why, void *arg);
};

struct vmca_conn_params {
    struct event_base *base;
    SSL_CTX *tls;
    size_t max_frame;
    uint32_t self;           /* our node id, sent in Hello */
    uint64_t incarnation;    /* ours, sent in every Envelope we build */
    int role;                /* our VMCA__ROLE__ROLE_* */
    uint32_t hello_timeout_ms;
    size_t out_limit;        /* bytes queued before vmca_conn_send says AGAIN */
};

/* Wraps an accepted socket (takes ownership of fd). NULL on failure (fd is
 * closed). `peer` describes the remote address for logs. */
struct vmca_conn *vmca_conn_accept(const struct vmca_conn_params *p,
                                   const struct vmca_conn_cbs *cbs, void *arg,
                                   int fd, const char *peer);

/* Starts connecting to address:port. NULL on immediate failure (bad address,
 * no memory); later failures arrive through on_close. */
struct vmca_conn *vmca_conn_connect(const struct vmca_conn_params *p,
                                    const struct vmca_conn_cbs *cbs, void *arg,
                                    const char *address, uint16_t port);

/* Queues an already-encoded frame (see outbox.h). Returns 0, VMCA_ERR_STATE
 * before the connection is ready, or VMCA_ERR_AGAIN when more than out_limit
 * bytes are already queued (back-pressure: the frame is not queued). */
int vmca_conn_send_frame(struct vmca_conn *c, const uint8_t *frame, size_t len);

/* Bytes queued for sending and not yet taken by the kernel. */
size_t vmca_conn_pending(const struct vmca_conn *c);

/* Clean close: stop reading, flush what is queued (for at most one second),
 * then free. No callback follows; the pointer is invalid for the caller. */
void vmca_conn_close(struct vmca_conn *c);

/* A listening TLS socket: every accepted connection becomes a vmca_conn
 * with the given parameters and callbacks. */
struct vmca_listener;
struct vmca_listener *vmca_conn_listen(const struct vmca_conn_params *p,
                                       const struct vmca_conn_cbs *cbs, void *arg,
                                       const char *address, uint16_t port, char *err,
                                       size_t errlen);
void vmca_listener_free(struct vmca_listener *l);

uint32_t vmca_conn_peer_node(const struct vmca_conn *c);
uint64_t vmca_conn_peer_incarnation(const struct vmca_conn *c);
int vmca_conn_peer_role(const struct vmca_conn *c);
/* "127.0.0.1:40312 (node2)" once known; for logs. */
const char *vmca_conn_peer_desc(const struct vmca_conn *c);

#endif
