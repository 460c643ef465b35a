/* bench/grant_latency: time from Grant-Any sent to blocks usable at the
 * requester, with real daemons over loopback TLS: this process is the
 * requesting node's memory manager (it registers with the real master,
 * listens for the donor's Grant, applies it in its real vmca-hv over TKM,
 * acknowledges it); the donor is a real vmca-slave + vmca-hv. The floor it
 * is compared with is measured in the same run, round by round, with the
 * same connection code: three one-way TLS hops through three processes, the
 * shape of Grant-Any, Grant-Fwd and Grant (see the floor section).
 *   grant_latency CONFIG NODE FLOOR_PORT [REQUESTS [PAGES]] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

#define WATCHDOG_S 600 /* 1000 requests take a few seconds */

struct bench {
    struct vmca_config cfg;
    const struct vmca_node_cfg *self, *master;
    struct event_base *base;
    struct vmca_conn_params params;
    struct vmca_conn *master_conn;
    struct vmca_outbox out;
    int tkm_fd;
    unsigned requests, pages, done;
    unsigned step;              /* measurements done in the current round */
    uint64_t got;               /* pages applied for the current request */
    bool active;
    int64_t t0_ns;
    double *lat_us;
    double *arrive_us;          /* Grant-Any sent -> the donor's Grant here */
    double *apply_us;           /* our Grant hypercall */
    /* the floor, measured before each request (see the floor section) */
    struct vmca_conn *to_r1, *to_r2;
    unsigned floor_ready;
    int64_t f_t0;
    double *ring_us;            /* here -> R1 -> R2 -> here */
    double *rtt_us;             /* here -> R2 -> here */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Every frame queued in `out` goes on connection c. */
static void flush_to(struct vmca_outbox *out, struct vmca_conn *c)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(out, &n);
    for (size_t i = 0; i < n; i++)
        vmca_conn_send_frame(c, act[i].frame, act[i].len);
    vmca_actions_free(act, n);
}

static void start_round(struct bench *b);
static void next_step(struct bench *b);

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
    flush_to(&b->out, b->master_conn);
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
    flush_to(&b->out, c);
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
        start_round(b);
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
        flush_to(&b->out, c);
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
    flush_to(&b->out, c);
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
    b->lat_us[b->done] = (double)(t1 - b->t0_ns) / 1e3;
    next_step(b);
}

static void peer_ready(struct vmca_conn *c, void *arg) {}
static void peer_close(struct vmca_conn *c, const char *why, void *arg) {}

static const struct vmca_conn_cbs peer_cbs = {expect_peer, peer_ready, peer_frame, peer_close};

/* ---- the floor ----
 * Two relay processes, R1 and R2 (children of this one), with the same
 * connection code. Ring frames (Leave-Req) take the real path's shape:
 * here -> R1 -> R2 -> here, three one-way hops through three processes,
 * timed from send to arrival like a Grant-Any. Echo frames (Leave-Notify)
 * bounce off R2: half that round trip is the older per-hop estimate,
 * printed for comparison (two processes taking turns, which the scheduler
 * tends to keep on one CPU, so it is the cheaper of the two). */

struct relay {
    struct vmca_outbox out;
    uint32_t self;
    struct vmca_conn *conn[2];  /* the two, in the order they came up */
    struct vmca_conn *up;       /* R1's connection to R2 */
    struct event_base *base;
    int ready_fd;
    struct bench *b;            /* the configuration, for the name check */
};

static void relay_send(struct relay *r, struct vmca_conn *c, const Vmca__Envelope *env)
{
    vmca_outbox_send(&r->out, r->self, (Vmca__Envelope *)env);
    flush_to(&r->out, c);
}

static void relay_ready(struct vmca_conn *c, void *arg)
{
    struct relay *r = arg;
    if (!r->conn[0])
        r->conn[0] = c;
    else if (!r->conn[1])
        r->conn[1] = c;
    if (c == r->up)
        (void)!write(r->ready_fd, "r", 1); /* R1 is ready once R2 is reachable */
}

/* Ring frames go on over the other connection; anything else bounces. */
static void relay_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct relay *r = arg;
    struct vmca_conn *to = c;
    if (env->body_case == VMCA__ENVELOPE__BODY_LEAVE_REQ)
        to = r->conn[0] == c ? r->conn[1] : r->conn[0];
    if (to)
        relay_send(r, to, env);
}

static void relay_close(struct vmca_conn *c, const char *why, void *arg)
{
    event_base_loopbreak(((struct relay *)arg)->base); /* the bench is done */
}

static const char *relay_expect(void *arg, uint32_t node, int role)
{
    return expect_peer(((struct relay *)arg)->b, node, role);
}

static const struct vmca_conn_cbs relay_cbs = {relay_expect, relay_ready, relay_frame,
                                               relay_close};

/* Forks a relay listening on `port` (and connecting to `up_port` if not 0);
 * returns once it can relay. */
static pid_t start_relay(struct bench *b, const char *name, uint16_t port, uint16_t up_port)
{
    int ready[2];
    if (pipe(ready) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* A relay never outlives the benchmark, whatever path it exits by. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(1);
        close(ready[0]);
        close(b->tkm_fd);
        static struct relay r;
        char err[256];
        event_base_free(b->base);
        r.base = event_base_new();
        r.self = b->self->id;
        r.ready_fd = ready[1];
        r.b = b;
        struct vmca_conn_params p = b->params;
        p.base = r.base;
        vmca_outbox_init(&r.out, b->self->id, p.incarnation, b->cfg.max_frame);
        if (!vmca_conn_listen(&p, &relay_cbs, &r, "127.0.0.1", port, err, sizeof err)) {
            fprintf(stderr, "grant_latency: relay %s: %s\n", name, err);
            _exit(1);
        }
        if (up_port && !(r.up = vmca_conn_connect(&p, &relay_cbs, &r, "127.0.0.1", up_port)))
            _exit(1);
        if (!up_port)
            (void)!write(ready[1], "r", 1);
        event_base_dispatch(r.base);
        _exit(0);
    }
    close(ready[1]);
    char c;
    if (pid < 0 || read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "grant_latency: relay %s did not start\n", name);
        return -1;
    }
    close(ready[0]);
    return pid;
}
/* A round measures the ring, the echo and one request, so that the floor
 * and the path see the same moments of a noisy machine; the order rotates
 * from round to round, so none of them always follows the request's
 * after-effects (the donor handling our Grant-Ack). */
static void floor_send(struct bench *b, struct vmca_conn *c, int body)
{
    Vmca__LeaveReq lr = VMCA__LEAVE_REQ__INIT; /* small frames */
    Vmca__LeaveNotify ln = VMCA__LEAVE_NOTIFY__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = body;
    if (body == VMCA__ENVELOPE__BODY_LEAVE_REQ)
        env.leave_req = &lr;
    else
        env.leave_notify = &ln;
    vmca_outbox_send(&b->out, b->self->id, &env);
    b->f_t0 = now_ns();
    flush_to(&b->out, c);
}

static void measure(struct bench *b)
{
    switch ((b->done + b->step) % 3) {
    case 0:
        floor_send(b, b->to_r1, VMCA__ENVELOPE__BODY_LEAVE_REQ);
        break;
    case 1:
        floor_send(b, b->to_r2, VMCA__ENVELOPE__BODY_LEAVE_NOTIFY);
        break;
    default:
        send_grant_any(b);
    }
}

static void start_round(struct bench *b)
{
    if (b->active && b->floor_ready == 2)
        measure(b);
}

static void next_step(struct bench *b)
{
    if (++b->step == 3) {
        b->step = 0;
        if (++b->done == b->requests) {
            event_base_loopbreak(b->base);
            return;
        }
    }
    measure(b);
}

static void floor_ready(struct vmca_conn *c, void *arg)
{
    struct bench *b = arg;
    b->floor_ready++;
    start_round(b);
}

static void floor_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct bench *b = arg;
    double us = (double)(now_ns() - b->f_t0) / 1e3;
    if (env->body_case == VMCA__ENVELOPE__BODY_LEAVE_REQ)
        b->ring_us[b->done] = us;
    else
        b->rtt_us[b->done] = us;
    next_step(b);
}

static void floor_close(struct vmca_conn *c, const char *why, void *arg)
{
    struct bench *b = arg;
    fprintf(stderr, "grant_latency: lost a relay: %s\n", why);
    if (c == b->to_r1)
        b->to_r1 = NULL; /* freed when this returns */
    if (c == b->to_r2)
        b->to_r2 = NULL;
    event_base_loopbreak(b->base);
}

static void watchdog(evutil_socket_t fd, short what, void *arg)
{
    fprintf(stderr, "grant_latency: no end after %d s\n", WATCHDOG_S);
    event_base_loopbreak(((struct bench *)arg)->base);
}

static const struct vmca_conn_cbs floor_cbs = {expect_peer, floor_ready, floor_frame,
                                               floor_close};

/* A whole decimal number in [lo, hi]. */
static bool number(const char *text, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

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
        fprintf(stderr, "usage: grant_latency CONFIG NODE FLOOR_PORT [REQUESTS [PAGES]]\n"
                        "  (the floor's relays listen on FLOOR_PORT and FLOOR_PORT + 1)\n");
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
    unsigned long floor_port, requests = 1000, pages = 16;
    if (!b.self) {
        fprintf(stderr, "grant_latency: no node %s in %s\n", argv[2], argv[1]);
        return 2;
    }
    if (!number(argv[3], 1, UINT16_MAX - 1, &floor_port) ||
        (argc > 4 && !number(argv[4], 1, 1000000, &requests)) ||
        (argc > 5 && !number(argv[5], 1, UINT32_MAX, &pages))) {
        fprintf(stderr, "grant_latency: FLOOR_PORT must be 1..65534, REQUESTS 1..1000000, "
                        "PAGES 1..4294967295\n");
        return 2;
    }
    b.requests = (unsigned)requests;
    b.pages = (unsigned)pages;
    b.lat_us = calloc(b.requests, sizeof *b.lat_us);
    b.arrive_us = calloc(b.requests, sizeof *b.arrive_us);
    b.apply_us = calloc(b.requests, sizeof *b.apply_us);
    b.rtt_us = calloc(b.requests, sizeof *b.rtt_us);
    b.ring_us = calloc(b.requests, sizeof *b.ring_us);
    if (!b.lat_us || !b.arrive_us || !b.apply_us || !b.rtt_us || !b.ring_us) {
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

    /* The relays for the floor: R2 first, so that R1 can reach it. */
    pid_t r2 = start_relay(&b, "R2", (uint16_t)(floor_port + 1), 0);
    pid_t r1 = r2 > 0 ? start_relay(&b, "R1", (uint16_t)floor_port, (uint16_t)(floor_port + 1)) : -1;
    if (r1 < 0)
        return 1;
    b.to_r2 = vmca_conn_connect(&b.params, &floor_cbs, &b, "127.0.0.1",
                                (uint16_t)(floor_port + 1));
    b.to_r1 = vmca_conn_connect(&b.params, &floor_cbs, &b, "127.0.0.1", (uint16_t)floor_port);
    struct vmca_listener *pl = vmca_conn_listen(&b.params, &peer_cbs, &b, b.self->address,
                                                b.self->port, err, sizeof err);
    if (!b.to_r1 || !b.to_r2 || !pl) {
        fprintf(stderr, "grant_latency: %s\n", pl ? "cannot reach the relays" : err);
        return 1;
    }
    b.master_conn = vmca_conn_connect(&b.params, &master_cbs, &b, b.master->address,
                                      b.cfg.master.port);
    /* A lost frame must not hang the run (make bench) for ever. */
    struct timeval wd_after = {WATCHDOG_S, 0};
    struct event *wd = evtimer_new(b.base, watchdog, &b);
    if (!wd || evtimer_add(wd, &wd_after) != 0)
        return 1;
    event_base_dispatch(b.base);
    event_free(wd);
    if (b.to_r1)
        vmca_conn_close(b.to_r1);
    if (b.to_r2)
        vmca_conn_close(b.to_r2);
    event_base_loop(b.base, EVLOOP_NONBLOCK);
    waitpid(r1, NULL, 0);
    waitpid(r2, NULL, 0);
    if (b.done != b.requests) {
        fprintf(stderr, "grant_latency: only %u of %u requests served\n", b.done, b.requests);
        return 1;
    }
    double floor3 = pct(b.ring_us, b.requests, 0.5);
    double half_rtt = pct(b.rtt_us, b.requests, 0.5) / 2.0;
    double p50 = pct(b.lat_us, b.requests, 0.5), p99 = pct(b.lat_us, b.requests, 0.99);
    printf("grant_latency: %u requests of %u pages, real master + donor over loopback TLS\n",
           b.requests, b.pages);
    printf("floor: three one-way TLS hops through three processes (here -> R1 -> R2 -> here,\n"
           "  the shape of here -> master -> donor -> here) p50 %.1f us\n", floor3);
    printf("Grant-Any -> blocks usable: p50 %.1f us, p99 %.1f us\n", p50, p99);
    printf("  of which: Grant-Any -> the donor's Grant here p50 %.1f us (three hops, the\n"
           "  donor's Request hypercall); our Grant hypercall p50 %.1f us\n",
           pct(b.arrive_us, b.requests, 0.5), pct(b.apply_us, b.requests, 0.5));
    printf("for comparison, 3 x half the median round trip here <-> R2: %.1f us "
           "(p50 / that: %.2f)\n", 3.0 * half_rtt, p50 / (3.0 * half_rtt));
    printf("p50 / three-hop floor: %.2f (target <= 2.0: %s)\n", p50 / floor3,
           p50 <= 2.0 * floor3 ? "PASS" : "MISS");
    vmca_listener_free(pl);
    close(b.tkm_fd);
    return 0;
}
