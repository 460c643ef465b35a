/* Framed TLS connection; see conn.h. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "err.h"
#include "log.h"
#include "tls.h"

enum conn_state { CONN_HANDSHAKE, CONN_HELLO, CONN_READY, CONN_CLOSING };

struct vmca_conn {
    struct vmca_conn_params p;
    struct vmca_conn_cbs cbs;
    void *arg;
    struct bufferevent *bev;
    struct event *timer;      /* Hello deadline, then the close deadline */
    enum conn_state state;
    int in_read;              /* inside the read loop: defer the free */
    int dead;                 /* free when the read loop unwinds */
    bool closing_ours;        /* vmca_conn_close: end the TLS session cleanly */
    bool outgoing;            /* we connect (else accepted) */
    char addr[96];
    char desc[176];
    char cn[64];
    uint32_t peer_node;
    uint64_t peer_incarnation;
    int peer_role;
    uint64_t seq;
};

static void conn_free(struct vmca_conn *c)
{
    if (c->in_read) {
        c->dead = 1;
        return;
    }
    if (c->timer)
        event_free(c->timer);
    if (c->bev) {
        /* A close of ours says so (TLS close_notify): the peer then sees
         * an orderly close, not an unexpected end of the stream. */
        SSL *ssl = c->closing_ours ? bufferevent_openssl_get_ssl(c->bev) : NULL;
        if (ssl && SSL_is_init_finished(ssl))
            SSL_shutdown(ssl);
        ERR_clear_error();
        bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE: SSL and fd too */
    }
    free(c);
}

/* Error path: tell the owner once, then free. */
static void conn_fail(struct vmca_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void conn_fail(struct vmca_conn *c, const char *fmt, ...)
{
    if (c->state == CONN_CLOSING)
        return;
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    c->state = CONN_CLOSING;
    if (c->cbs.on_close)
        c->cbs.on_close(c, why, c->arg);
    conn_free(c);
}

static void update_desc(struct vmca_conn *c)
{
    if (c->cn[0])
        snprintf(c->desc, sizeof c->desc, "%s (%s)", c->addr, c->cn);
    else
        snprintf(c->desc, sizeof c->desc, "%s", c->addr);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vmca_conn *c = arg;
    if (c->state == CONN_CLOSING) {
        conn_free(c); /* flush deadline passed */
        return;
    }
    conn_fail(c, "no valid Hello within %u ms", c->p.hello_timeout_ms);
}

static void arm_timer(struct vmca_conn *c, uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static int send_hello(struct vmca_conn *c)
{
    Vmca__Hello hello = VMCA__HELLO__INIT;
    hello.node = c->p.self;
    hello.incarnation = c->p.incarnation;
    hello.role = (Vmca__Role)c->p.role;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.version = VMCA_PROTO_VERSION;
    env.from = c->p.self;
    env.seq = 0;
    env.incarnation = c->p.incarnation;
    env.body_case = VMCA__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    uint8_t *frame;
    size_t len;
    int rc = vmca_encode(&env, c->p.max_frame, &frame, &len);
    if (rc != VMCA_OK)
        return rc;
    rc = bufferevent_write(c->bev, frame, len) == 0 ? VMCA_OK : VMCA_ERR_IO;
    free(frame);
    return rc;
}

/* Checks the first frame: a Hello whose claimed identity matches the
 * certificate. Returns 0 or fails the connection (and returns -1). */
static int check_hello(struct vmca_conn *c, const Vmca__Envelope *env)
{
    if (env->body_case != VMCA__ENVELOPE__BODY_HELLO) {
        conn_fail(c, "first message is %s, expected hello",
                  vmca_body_name(env->body_case));
        return -1;
    }
    const Vmca__Hello *h = env->hello;
    if (h->node != env->from) {
        conn_fail(c, "hello claims node %u but envelope says %u", h->node, env->from);
        return -1;
    }
    const char *want = c->cbs.expected_name(c->arg, h->node, (int)h->role);
    if (!want) {
        conn_fail(c, "refused: node %u in role %d is not allowed here",
                  h->node, (int)h->role);
        return -1;
    }
    if (strcmp(want, c->cn) != 0) {
        conn_fail(c, "refused: certificate identity '%s' differs from '%s', "
                  "the configured name of node %u it claims", c->cn, want, h->node);
        return -1;
    }
    c->peer_node = h->node;
    c->peer_incarnation = h->incarnation;
    c->peer_role = (int)h->role;
    return 0;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct vmca_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    c->in_read = 1;
    while (c->state == CONN_HELLO || c->state == CONN_READY) {
        size_t avail = evbuffer_get_length(in);
        uint8_t hdr[VMCA_FRAME_HDR];
        if (avail < sizeof hdr)
            break;
        evbuffer_copyout(in, hdr, sizeof hdr);
        size_t body;
        char why[256];
        int rc = vmca_frame_len(hdr, c->p.max_frame, &body, why, sizeof why);
        if (rc != VMCA_OK) {
            conn_fail(c, "%s", why);
            break;
        }
        if (avail - sizeof hdr < body)
            break; /* wait for the rest */
        evbuffer_drain(in, sizeof hdr);
        Vmca__Envelope *env = NULL;
        rc = vmca_decode(evbuffer_pullup(in, (ev_ssize_t)body), body, &env, why,
                         sizeof why);
        evbuffer_drain(in, body);
        if (rc != VMCA_OK) {
            conn_fail(c, "%s", why);
            break;
        }
        if (c->state == CONN_HELLO) {
            if (check_hello(c, env) == 0) {
                c->state = CONN_READY;
                evtimer_del(c->timer);
                if (c->cbs.on_ready)
                    c->cbs.on_ready(c, c->arg);
            }
        } else if (env->body_case == VMCA__ENVELOPE__BODY_HELLO) {
            conn_fail(c, "second hello on one connection");
        } else if (env->from != c->peer_node) {
            conn_fail(c, "message from node %u on node %u's connection",
                      env->from, c->peer_node);
        } else {
            c->cbs.on_frame(c, env, c->arg);
        }
        vmca_envelope_free(env);
    }
    c->in_read = 0;
    if (c->dead)
        conn_free(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct vmca_conn *c = arg;
    if (c->state == CONN_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

/* Small request/response frames: send at once, no Nagle delay. */
static void no_delay(struct bufferevent *bev)
{
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct vmca_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        no_delay(bev);
        if (vmca_tls_peer_cn(bufferevent_openssl_get_ssl(bev), c->cn, sizeof c->cn)) {
            conn_fail(c, "peer certificate has no usable common name");
            return;
        }
        update_desc(c);
        if (send_hello(c) != VMCA_OK) {
            conn_fail(c, "cannot send hello");
            return;
        }
        c->state = CONN_HELLO;
        return;
    }
    if (c->state == CONN_CLOSING) {
        conn_free(c); /* peer went away while we flushed */
        return;
    }
    char ossl[512] = "";
    unsigned long e;
    size_t used = 0;
    bool eof = what & BEV_EVENT_EOF;
    while ((e = bufferevent_get_openssl_error(bev)) != 0 && used < sizeof ossl) {
        /* A peer that exits (or closes) without close_notify ends the
         * stream: a close, not a TLS failure; and the entry OpenSSL adds
         * with it carries no library and no reason. */
        if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            eof = true;
            continue;
        }
        if (ERR_GET_LIB(e) == 0)
            continue;
        char one[200];
        ERR_error_string_n(e, one, sizeof one);
        int n = snprintf(ossl + used, sizeof ossl - used, "%s%s", used ? "; " : "", one);
        if (n > 0)
            used += (size_t)n;
    }
    int sock_err = EVUTIL_SOCKET_ERROR(), so_err = 0;
    socklen_t so_len = sizeof so_err;
    evutil_socket_t fd = bufferevent_getfd(bev);
    /* A connection that never came up: say why (refused, unreachable),
     * not that the peer closed it. */
    bool connecting = c->outgoing && c->state == CONN_HANDSHAKE;
    if (connecting && fd >= 0 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &so_len) == 0 && so_err)
        conn_fail(c, "cannot connect: %s", strerror(so_err));
    else if (connecting && !ossl[0] && sock_err && sock_err != EAGAIN)
        conn_fail(c, "cannot connect: %s", strerror(sock_err));
    else if (eof && !ossl[0])
        conn_fail(c, "closed by peer");
    else if (ossl[0])
        conn_fail(c, "TLS error: %s", ossl);
    else
        conn_fail(c, "connection error: %s", sock_err ? strerror(sock_err) : "unknown");
}

static struct vmca_conn *conn_new(const struct vmca_conn_params *p,
                                  const struct vmca_conn_cbs *cbs, void *arg, int fd,
                                  enum bufferevent_ssl_state mode)
{
    struct vmca_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? SSL_new(p->tls) : NULL;
    if (!ssl) {
        free(c);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    c->p = *p;
    c->cbs = *cbs;
    c->arg = arg;
    c->state = CONN_HANDSHAKE;
    c->outgoing = mode == BUFFEREVENT_SSL_CONNECTING;
    c->bev = bufferevent_openssl_socket_new(p->base, fd, ssl, mode,
                                            BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(p->base, timer_cb, c);
    if (!c->bev || !c->timer) {
        if (!c->bev) {
            SSL_free(ssl);
            if (fd >= 0)
                close(fd);
        }
        conn_free(c);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    /* Never buffer more than one maximal frame of input (plus slack). */
    bufferevent_setwatermark(c->bev, EV_READ, 0, p->max_frame + VMCA_FRAME_HDR + 65536);
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    arm_timer(c, p->hello_timeout_ms);
    return c;
}

struct vmca_conn *vmca_conn_accept(const struct vmca_conn_params *p,
                                   const struct vmca_conn_cbs *cbs, void *arg,
                                   int fd, const char *peer)
{
    evutil_make_socket_nonblocking(fd);
    struct vmca_conn *c = conn_new(p, cbs, arg, fd, BUFFEREVENT_SSL_ACCEPTING);
    if (c) {
        snprintf(c->addr, sizeof c->addr, "%s", peer);
        update_desc(c);
    }
    return c;
}

struct vmca_conn *vmca_conn_connect(const struct vmca_conn_params *p,
                                    const struct vmca_conn_cbs *cbs, void *arg,
                                    const char *address, uint16_t port)
{
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct evutil_addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    if (evutil_getaddrinfo(address, portstr, &hints, &res) != 0 || !res)
        return NULL;
    struct vmca_conn *c = conn_new(p, cbs, arg, -1, BUFFEREVENT_SSL_CONNECTING);
    if (!c) {
        evutil_freeaddrinfo(res);
        return NULL;
    }
    snprintf(c->addr, sizeof c->addr, "%s:%u", address, port);
    update_desc(c);
    int rc = bufferevent_socket_connect(c->bev, res->ai_addr, (int)res->ai_addrlen);
    evutil_freeaddrinfo(res);
    if (rc != 0) {
        conn_free(c);
        return NULL;
    }
    return c;
}

int vmca_conn_send_frame(struct vmca_conn *c, const uint8_t *frame, size_t len)
{
    if (c->state != CONN_READY)
        return VMCA_ERR_STATE;
    if (vmca_conn_pending(c) > c->p.out_limit)
        return VMCA_ERR_AGAIN;
    return bufferevent_write(c->bev, frame, len) == 0 ? VMCA_OK : VMCA_ERR_IO;
}

size_t vmca_conn_pending(const struct vmca_conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void vmca_conn_close(struct vmca_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    c->closing_ours = true;
    bufferevent_disable(c->bev, EV_READ);
    if (vmca_conn_pending(c) == 0) {
        conn_free(c);
        return;
    }
    arm_timer(c, 1000);
}

struct vmca_listener {
    struct evconnlistener *lst;
    struct vmca_conn_params p;
    struct vmca_conn_cbs cbs;
    void *arg;
};

static void on_accept(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct vmca_listener *l = arg;
    char host[INET6_ADDRSTRLEN] = "?", peer[80];
    uint16_t port = 0;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(peer, sizeof peer, "%s:%u", host, port);
    if (!vmca_conn_accept(&l->p, &l->cbs, l->arg, fd, peer))
        log_err("cannot set up connection from %s", peer);
}

struct vmca_listener *vmca_conn_listen(const struct vmca_conn_params *p,
                                       const struct vmca_conn_cbs *cbs, void *arg,
                                       const char *address, uint16_t port, char *err,
                                       size_t errlen)
{
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                    .ai_flags = AI_PASSIVE};
    struct evutil_addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    if (evutil_getaddrinfo(address, portstr, &hints, &res) != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s", address);
        return NULL;
    }
    struct vmca_listener *l = calloc(1, sizeof *l);
    if (!l) {
        evutil_freeaddrinfo(res);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->p = *p;
    l->cbs = *cbs;
    l->arg = arg;
    l->lst = evconnlistener_new_bind(p->base, on_accept, l,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                         LEV_OPT_CLOSE_ON_EXEC,
                                     64, res->ai_addr, (int)res->ai_addrlen);
    evutil_freeaddrinfo(res);
    if (!l->lst) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", address, port, strerror(errno));
        free(l);
        return NULL;
    }
    return l;
}

void vmca_listener_free(struct vmca_listener *l)
{
    if (!l)
        return;
    evconnlistener_free(l->lst);
    free(l);
}

uint32_t vmca_conn_peer_node(const struct vmca_conn *c) { return c->peer_node; }
uint64_t vmca_conn_peer_incarnation(const struct vmca_conn *c) { return c->peer_incarnation; }
int vmca_conn_peer_role(const struct vmca_conn *c) { return c->peer_role; }
const char *vmca_conn_peer_desc(const struct vmca_conn *c) { return c->desc; }
