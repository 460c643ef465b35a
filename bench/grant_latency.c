/* bench/grant_latency: time from Grant-Any sent to blocks usable at the
 * requester, with real daemons over loopback TLS: this process is the
 * requesting node's memory manager (it registers with the real master,
 * listens for the donor's Grant, applies it in its real vmca-hv over TKM,
 * acknowledges it); the donor is a real vmca-slave + vmca-hv. The floor it
 * is compared with is measured in the same run with the same connection
 * code: three one-way TLS hops (Grant-Any, Grant-Fwd, Grant), each taken as
 * half a ping-pong round trip with an echo peer in another process (each
 * hop of the real path wakes another process too).
 *   grant_latency CONFIG NODE FLOOR_PORT [REQUESTS [PAGES]] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "err.h"
#include "gfn.h"
#include "log.h"
#include "outbox.h"
#include "tkm_wire.h"
#include "tls.h"
#include "unixsock.h"

struct bench {
    struct vmca_config cfg;
    const struct vmca_node_cfg *self, *master;
    struct event_base *base;
    struct vmca_conn_params params;
    struct vmca_conn *master_conn;
    struct vmca_outbox out;
    int tkm_fd;
    unsigned requests, pages, done;
    uint64_t got;               /* pages applied for the current request */
    bool active;
    int64_t t0_ns;
    double *lat_us;
    double *arrive_us;          /* Grant-Any sent -> the donor's Grant here */
    double *apply_us;           /* our Grant hypercall */
    /* floor: ping-pong between two of our own connections */
    struct vmca_conn *ping_a, *ping_b;
    unsigned pings;
    int64_t ping_t0;
    double *rtt_us;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void flush_to(struct bench *b, struct vmca_conn *c)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(&b->out, &n);
    for (size_t i = 0; i < n; i++)
        vmca_conn_send_frame(c, act[i].frame, act[i].len);
    vmca_actions_free(act, n);
}

static void send_grant_any(struct bench *b)
{
    Vmca__GrantAny ga = VMCA__GRANT_ANY__INIT;
    ga.node = b->self->id;
    ga.pages = b->pages;
    ga.req = b->done + 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ANY;
    env.grant_any = &ga;
    vmca_outbox_send(&b->out, b->master->id, &env);
    b->t0_ns = now_ns();
    flush_to(b, b->master_conn);
}

/* One blocking TKM call; statistics pushes are skipped. */
static int tkm_call_sync(struct bench *b, Vmca__TkmToHv *m, uint64_t *pages)
{
    static uint64_t id;
    m->id = ++id;
    if (tkm_send_to_hv(b->tkm_fd, m) != VMCA_OK)
        return -1;
    for (;;) {
        Vmca__TkmFromHv *in;
        char err[128];
        if (tkm_recv_from_hv(b->tkm_fd, &in, err, sizeof err) != VMCA_OK)
            return -1;
        if (in->msg_case == VMCA__TKM_FROM_HV__MSG_REPLY && in->reply->id == m->id) {
            int st = in->reply->status;
            if (pages)
                *pages = in->reply->pages;
            vmca__tkm_from_hv__free_unpacked(in, NULL);
            return st;
        }
        vmca__tkm_from_hv__free_unpacked(in, NULL);
    }
}

static const char *expect_master(void *arg, uint32_t node, int role)
{
    struct bench *b = arg;
    return role == VMCA__ROLE__ROLE_MASTER && node == b->master->id ? b->master->name : NULL;
}

static const char *expect_peer(void *arg, uint32_t node, int role)
{
    struct bench *b = arg;
    const struct vmca_node_cfg *n = vmca_config_node_by_id(&b->cfg, node);
    return role == VMCA__ROLE__ROLE_SLAVE && n ? n->name : NULL;
}

static void master_ready(struct vmca_conn *c, void *arg)
{
    struct bench *b = arg;
    Vmca__Register reg = VMCA__REGISTER__INIT;
    reg.node = b->self->id;
    reg.local_pages = b->self->tmem_pages;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &reg;
    vmca_outbox_send(&b->out, b->master->id, &env);
    flush_to(b, c);
}

static void master_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct bench *b = arg;
    if (env->body_case != VMCA__ENVELOPE__BODY_ENABLE_NODE || b->active)
        return;
    for (size_t i = 0; i < env->enable_node->n_nodes; i++) {
        uint32_t x = env->enable_node->nodes[i];
        if (x == b->self->id) {
            b->active = true;
        } else {
            Vmca__TkmEnable en = VMCA__TKM_ENABLE__INIT;
            en.home = x;
            en.enable = 1;
            Vmca__TkmToHv m = VMCA__TKM_TO_HV__INIT;
            m.call_case = VMCA__TKM_TO_HV__CALL_ENABLE;
            m.enable = &en;
            tkm_call_sync(b, &m, NULL);
        }
    }
    if (b->active)
        send_grant_any(b);
}

static void master_close(struct vmca_conn *c, const char *why, void *arg)
{
    fprintf(stderr, "grant_latency: lost the master: %s\n", why);
    event_base_loopbreak(((struct bench *)arg)->base);
}

static const struct vmca_conn_cbs master_cbs = {expect_master, master_ready, master_frame,
                                                master_close};

/* The donor's Grant: apply it in our hypervisor (blocks usable), then ack. */
static void peer_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct bench *b = arg;
    if (env->body_case != VMCA__ENVELOPE__BODY_GRANT)
        return;
    const Vmca__Grant *g = env->grant;
    if (g->req != b->done + 1) {
        /* A resend of a grant we applied (its ack crossed it): ack again. */
        Vmca__GrantAck again = VMCA__GRANT_ACK__INIT;
        again.xfer = g->xfer;
        Vmca__Envelope out = VMCA__ENVELOPE__INIT;
        out.body_case = VMCA__ENVELOPE__BODY_GRANT_ACK;
        out.grant_ack = &again;
        vmca_outbox_send(&b->out, env->from, &out);
        flush_to(b, c);
        return;
    }
    Vmca__TkmGrant tg = VMCA__TKM_GRANT__INIT;
    tg.from = env->from;
    tg.blocks = g->blocks;
    tg.n_blocks = g->n_blocks;
    Vmca__TkmToHv m = VMCA__TKM_TO_HV__INIT;
    m.call_case = VMCA__TKM_TO_HV__CALL_GRANT;
    m.grant = &tg;
    uint64_t pages = 0;
    int64_t ta = now_ns();
    int st = tkm_call_sync(b, &m, &pages);
    int64_t t1 = now_ns();
    b->arrive_us[b->done] = (double)(ta - b->t0_ns) / 1e3;
    b->apply_us[b->done] = (double)(t1 - ta) / 1e3;
    Vmca__GrantAck ack = VMCA__GRANT_ACK__INIT;
    ack.xfer = g->xfer;
    ack.accepted = pages;
    Vmca__Envelope out = VMCA__ENVELOPE__INIT;
    out.body_case = VMCA__ENVELOPE__BODY_GRANT_ACK;
    out.grant_ack = &ack;
    vmca_outbox_send(&b->out, env->from, &out);
    flush_to(b, c);
    if (st != 0) {
        fprintf(stderr, "grant_latency: grant for req %llu not applied (%d)\n",
                (unsigned long long)g->req, st);
        event_base_loopbreak(b->base);
        return;
    }
    /* A request may be served by more than one donor: usable when all came. */
    b->got += pages;
    if (b->got < b->pages)
        return;
    b->got = 0;
    b->lat_us[b->done++] = (double)(t1 - b->t0_ns) / 1e3;
    if (b->done == b->requests)
        event_base_loopbreak(b->base);
    else
        send_grant_any(b);
}

static void peer_ready(struct vmca_conn *c, void *arg) {}
static void peer_close(struct vmca_conn *c, const char *why, void *arg) {}

static const struct vmca_conn_cbs peer_cbs = {expect_peer, peer_ready, peer_frame, peer_close};

/* ---- the floor: ping-pong between our own two connections ---- */

static void ping(struct bench *b)
{
    Vmca__LeaveReq lr = VMCA__LEAVE_REQ__INIT; /* any small frame */
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_LEAVE_REQ;
    env.leave_req = &lr;
    vmca_outbox_send(&b->out, b->self->id, &env);
    b->ping_t0 = now_ns();
    flush_to(b, b->ping_a);
}

static void floor_ready_a(struct vmca_conn *c, void *arg)
{
    ping(arg);
}

static void floor_ready_b(struct vmca_conn *c, void *arg)
{
    ((struct bench *)arg)->ping_b = c;
}

/* b echoes; a times the round trip. */
static void floor_frame_b(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct bench *b = arg;
    vmca_outbox_send(&b->out, b->self->id, (Vmca__Envelope *)env);
    flush_to(b, c);
}

static void floor_frame_a(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct bench *b = arg;
    b->rtt_us[b->pings++] = (double)(now_ns() - b->ping_t0) / 1e3;
    if (b->pings == b->requests)
        event_base_loopbreak(b->base);
    else
        ping(b);
}

static void echo_close(struct vmca_conn *c, const char *why, void *arg)
{
    event_base_loopbreak(((struct bench *)arg)->base); /* the pinger is done */
}

static const struct vmca_conn_cbs floor_a_cbs = {expect_peer, floor_ready_a, floor_frame_a,
                                                 peer_close};
static const struct vmca_conn_cbs floor_b_cbs = {expect_peer, floor_ready_b, floor_frame_b,
                                                 echo_close};

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double pct(double *v, unsigned n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    unsigned i = (unsigned)(p * (n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: grant_latency CONFIG NODE FLOOR_PORT [REQUESTS [PAGES]]\n");
        return 2;
    }
    static struct bench b;
    char err[1024];
    vmca_log_init("grant_latency", argv[2], false, VMCA_LOG_WARN);
    if (vmca_config_load(argv[1], 1, &b.cfg, err, sizeof err)) {
        fprintf(stderr, "grant_latency: %s\n", err);
        return 2;
    }
    b.self = vmca_config_node_by_name(&b.cfg, argv[2]);
    b.master = vmca_config_node_by_id(&b.cfg, b.cfg.master.node_id);
    uint16_t floor_port = (uint16_t)strtoul(argv[3], NULL, 10);
    b.requests = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1000;
    b.pages = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 16;
    if (!b.self || !b.requests) {
        fprintf(stderr, "grant_latency: bad node or request count\n");
        return 2;
    }
    b.lat_us = calloc(b.requests, sizeof *b.lat_us);
    b.arrive_us = calloc(b.requests, sizeof *b.arrive_us);
    b.apply_us = calloc(b.requests, sizeof *b.apply_us);
    b.rtt_us = calloc(b.requests, sizeof *b.rtt_us);
    if (!b.lat_us || !b.arrive_us || !b.apply_us || !b.rtt_us) {
        fprintf(stderr, "grant_latency: out of memory\n");
        return 1;
    }
    SSL_CTX *tls = vmca_tls_ctx_new(b.cfg.ca, b.self->cert, b.self->key, err, sizeof err);
    char tkm_path[108];
    if (!tls || vmca_config_socket_path(&b.cfg, b.self->name, "tkm", tkm_path, sizeof tkm_path) ||
        (b.tkm_fd = vmca_unix_connect(tkm_path, SOCK_SEQPACKET, err, sizeof err)) < 0) {
        fprintf(stderr, "grant_latency: %s\n", err);
        return 1;
    }
    b.base = event_base_new();
    b.params = (struct vmca_conn_params){.base = b.base, .tls = tls,
                                         .max_frame = b.cfg.max_frame, .self = b.self->id,
                                         .incarnation = (uint64_t)now_ns(),
                                         .role = VMCA__ROLE__ROLE_SLAVE,
                                         .hello_timeout_ms = 5000, .out_limit = 1 << 24};
    vmca_outbox_init(&b.out, b.self->id, b.params.incarnation, b.cfg.max_frame);

    /* 1. The floor, measured first with the same connection code, against
     * an echo peer in a child process. */
    int ready[2];
    if (pipe(ready) != 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        event_base_free(b.base);
        b.base = event_base_new();
        b.params.base = b.base;
        struct vmca_listener *fl = vmca_conn_listen(&b.params, &floor_b_cbs, &b, "127.0.0.1",
                                                    floor_port, err, sizeof err);
        if (!fl)
            _exit(1);
        (void)!write(ready[1], "r", 1);
        event_base_dispatch(b.base);
        _exit(0);
    }
    close(ready[1]);
    char r;
    if (child < 0 || read(ready[0], &r, 1) != 1) {
        fprintf(stderr, "grant_latency: the echo peer did not start\n");
        return 1;
    }
    b.ping_a = vmca_conn_connect(&b.params, &floor_a_cbs, &b, "127.0.0.1", floor_port);
    event_base_dispatch(b.base);
    vmca_conn_close(b.ping_a);
    event_base_loop(b.base, EVLOOP_NONBLOCK);
    waitpid(child, NULL, 0);
    if (b.pings != b.requests) {
        fprintf(stderr, "grant_latency: floor measurement incomplete\n");
        return 1;
    }

    /* 2. Grant-Any -> blocks usable, through the real master and donor. */
    struct vmca_listener *pl = vmca_conn_listen(&b.params, &peer_cbs, &b, b.self->address,
                                                b.self->port, err, sizeof err);
    if (!pl) {
        fprintf(stderr, "grant_latency: %s\n", err);
        return 1;
    }
    b.master_conn = vmca_conn_connect(&b.params, &master_cbs, &b, b.master->address,
                                      b.cfg.master.port);
    event_base_dispatch(b.base);
    if (b.done != b.requests) {
        fprintf(stderr, "grant_latency: only %u of %u requests served\n", b.done, b.requests);
        return 1;
    }
    double one_way = pct(b.rtt_us, b.requests, 0.5) / 2.0;
    double floor3 = 3.0 * one_way;
    double p50 = pct(b.lat_us, b.requests, 0.5), p99 = pct(b.lat_us, b.requests, 0.99);
    printf("grant_latency: %u requests of %u pages, real master + donor over loopback TLS\n",
           b.requests, b.pages);
    printf("floor: one-way TLS hop %.1f us (half the median round trip), three hops %.1f us\n",
           one_way, floor3);
    printf("Grant-Any -> blocks usable: p50 %.1f us, p99 %.1f us\n", p50, p99);
    printf("  of which: Grant-Any -> the donor's Grant here p50 %.1f us (three hops, the\n"
           "  donor's Request hypercall); our Grant hypercall p50 %.1f us\n",
           pct(b.arrive_us, b.requests, 0.5), pct(b.apply_us, b.requests, 0.5));
    printf("p50 / three-hop floor: %.2f (target <= 2.0: %s)\n", p50 / floor3,
           p50 <= 2.0 * floor3 ? "PASS" : "MISS");
    vmca_listener_free(pl);
    close(b.tkm_fd);
    return 0;
}
