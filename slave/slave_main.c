/* vmca-slave: the libevent shell around slave_core. It keeps a TLS
 * connection to the master (reconnecting with capped exponential backoff
 * and jitter), listens for and opens TLS connections to peer slaves (for
 * grants), talks to the node's hypervisor over TKM, feeds the core its
 * events and a periodic tick, and carries out the core's frames and
 * hypercalls. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "backoff.h"
#include "config.h"
#include "daemon.h"
#include "conn.h"
#include "err.h"
#include "log.h"
#include "metrics_http.h"
#include "porthold.h"
#include "slave_core.h"
#include "slave_metrics.h"
#include "sys.h"
#include "tkm.h"
#include "tkm_xen.h"
#include "tls.h"

struct slave_shell;

/* A peer slave: our outgoing connection and/or its incoming one. Frames for
 * a peer without a ready connection are dropped and a connection is opened:
 * the core resends unacknowledged transfers when the peer comes up. */
struct peer {
    struct slave_shell *sh;
    const struct vmca_node_cfg *node;
    struct vmca_conn *out;
    bool out_ready;
    struct vmca_conn *in;        /* ready (registered after Hello) */
    const char *addr;            /* where we connect: the node's, or --peer-at */
    uint16_t port;
};

/* --peer-at NAME=ADDR:PORT, resolved once the configuration is read. */
#define MAX_PEER_AT 64
struct peer_at {
    char name[64];
    char addr[64];
    uint16_t port;
};

struct slave_shell {
    struct vmca_config cfg;
    const struct vmca_node_cfg *self;
    const struct vmca_node_cfg *master;
    struct slave_core core;
    struct event_base *base;
    SSL_CTX *tls;
    struct vmca_conn_params params;
    struct vmca_conn *master_conn;   /* connecting or ready; NULL when down */
    bool master_ready;
    struct vmca_backoff backoff;
    struct event *reconnect;
    struct event *tick;
    bool xen;                        /* --tkm-backend xen, else emu */
    struct tkm *tkm;                 /* emu: channel to this node's vmca-hv */
    struct tkm_xen *tkm_xen;         /* xen: the host's libxenctrl/xenstore */
    struct event *xen_run;           /* xen: runs the backend (samples, replies) */
    char tkm_path[108];
    struct peer *peers;              /* by configured node index */
    bool stopping;                   /* a stop signal came: leaving */
    bool unclean;                    /* stopped before the leave finished */
    uint32_t leave_timeout_s;        /* --leave-timeout; 0: no limit */
    int64_t leave_started_ms;
    struct event *leave_timer;       /* progress and the deadline */
    bool refused;                    /* the hypervisor has another memory manager */
    bool master_started;             /* the hypervisor took us: talk to the master */
    struct vmca_listener *listener;  /* peers connect here */
    char master_addr[64];            /* --master-at, else the master node's */
    uint16_t master_port;            /* --master-at, else master.port */
};

#ifdef VMCA_HAVE_XEN
#define BACKENDS_BUILT "emu, xen"
#else
#define BACKENDS_BUILT "emu (xen: not built: no libxen-dev, or VMCA_WITH_XEN=OFF)"
#endif

static const char usage[] =
    "usage: vmca-slave --config FILE --node NAME [options]\n"
    "Runs the memory manager of node NAME of the cluster described by FILE:\n"
    "registers with the master, reports the statistics of the node's hypervisor\n"
    "(vmca-hv, over the TKM socket) every stats interval, asks for pages when\n"
    "its VMs' puts fail and gives pages to peers when the master says so.\n"
    "SIGTERM/SIGINT: leave the cluster cleanly (every page of other nodes goes\n"
    "home, every own page comes back) and exit, logging what the leave waits for\n"
    "every 5 s; after --leave-timeout seconds, or at a second signal, it exits at\n"
    "once without a clean leave (exit status 3).\n"
    "One memory manager per node: it exits 1 when another vmca-slave holds\n"
    "<config dir>/<cluster>-<node>-slave.lock, or when the hypervisor already\n"
    "has a memory manager.\n"
    "\n"
    "  -c, --config FILE      cluster configuration (required)\n"
    "  -n, --node NAME        this node's name in FILE (required)\n"
    "      --cert FILE        override the node's certificate\n"
    "      --key FILE         override the node's private key\n"
    "      --port N           listen for peers on port N instead of the node's\n"
    "                         (the node's own port can then be a relay's, such as\n"
    "                         vmca-faultproxy's)\n"
    "      --master-at ADDR:PORT  reach the master at ADDR:PORT (IPv6: [ADDR]:PORT)\n"
    "                         instead of master.node's address and master.port\n"
    "                         (a relay in between, such as vmca-faultproxy's)\n"
    "      --peer-at NAME=ADDR:PORT  reach peer node NAME at ADDR:PORT instead of\n"
    "                         its address and port (a relay in between); repeatable\n"
    "      --incarnation N    a test hook: start this life with incarnation N\n"
    "                         (1..18446744073709551615) instead of the wall-clock\n"
    "                         ns, as a node whose clock went back would\n"
    "                         (scripts/vmca-chaos's stale-restart)\n"
    "      --tkm-backend B    how to reach the node's hypervisor: emu (default),\n"
    "                         vmca-hv's TKM socket; or xen, a stock Xen 4.17 host's\n"
    "                         libxenctrl and xenstore (run in dom0 as root; first\n"
    "                         tier only: per-VM balloon targets, no pages cross\n"
    "                         nodes). Built into this program: " BACKENDS_BUILT "\n"
    "      --tkm-socket PATH  emu: the node's hypervisor (vmca-hv) TKM socket\n"
    "                         (default: <config dir>/<cluster>-<node>-tkm.sock)\n"
    "      --leave-timeout S  give up a leave after S seconds (default 60; 0: wait\n"
    "                         as long as it takes)\n"
    "  -l, --log-level LEVEL  err, warn, info (default) or debug\n"
    "  -s, --syslog           log to syslog instead of stderr\n"
    "  -h, --help             this text\n"
    "  -V, --version          print the version\n"
    "\n"
    "Exit status: 0 stopped (after a clean leave, or before it joined); 1 an\n"
    "error (configuration, certificates, port, refused by the hypervisor or\n"
    "the master, the Xen control interface cannot be opened); 2 a bad command\n"
    "line (also a --tkm-backend not built into this program); 3 stopped\n"
    "without a clean leave (timed out, a second signal, or not every own page\n"
    "came back).\n";

static void connect_master(struct slave_shell *sh);

static void connect_peer(struct peer *p);
static void drain_hcalls(struct slave_shell *sh);

static struct peer *peer_of(struct slave_shell *sh, uint32_t id)
{
    const struct vmca_node_cfg *n = vmca_config_node_by_id(&sh->cfg, id);
    return n && n != sh->self ? &sh->peers[n - sh->cfg.nodes] : NULL;
}

/* Frames the core queued, each on the link the core chose: the master
 * connection, or the peer's. */
static void drain(struct slave_shell *sh)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(&sh->core.out, &n);
    for (size_t i = 0; i < n; i++) {
        int rc = VMCA_ERR_NOTFOUND;
        bool to_peer = act[i].link == VMCA_LINK_NODE;
        struct peer *p = to_peer ? peer_of(sh, act[i].to) : NULL;
        if (!to_peer && act[i].to == sh->master->id && sh->master_ready) {
            rc = vmca_conn_send_frame(sh->master_conn, act[i].frame, act[i].len);
        } else if (p && p->out_ready) {
            rc = vmca_conn_send_frame(p->out, act[i].frame, act[i].len);
        } else if (p && p->in) {
            rc = vmca_conn_send_frame(p->in, act[i].frame, act[i].len);
        } else if (p) {
            connect_peer(p); /* the core resends when the peer is up */
        }
        if (rc != VMCA_OK)
            log_debug("dropped %s for node %u: %s", vmca_body_name(act[i].body),
                      act[i].to, vmca_strerror(rc));
    }
    vmca_actions_free(act, n);
    drain_hcalls(sh);
    if (slave_core_done(&sh->core))
        event_base_loopbreak(sh->base);
}

static const char *expected_name(void *arg, uint32_t node, int role)
{
    struct slave_shell *sh = arg;
    if (role != VMCA__ROLE__ROLE_MASTER || node != sh->master->id)
        return NULL;
    return sh->master->name;
}

static void schedule_reconnect(struct slave_shell *sh)
{
    uint32_t ms = vmca_backoff_next(&sh->backoff, vmca_random_u32());
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    log_debug("reconnecting to the master in %u ms", ms);
    evtimer_add(sh->reconnect, &tv);
}

static void on_ready(struct vmca_conn *c, void *arg)
{
    struct slave_shell *sh = arg;
    sh->master_ready = true;
    log_info("connected to the master at %s", vmca_conn_peer_desc(c));
    slave_core_on_master_up(&sh->core, vmca_now_ms());
    drain(sh);
}

static void on_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct slave_shell *sh = arg;
    /* The master answered, so it accepted us: back off from scratch next
     * time (not on Hello alone: a master that refuses us closes right after). */
    vmca_backoff_reset(&sh->backoff);
    slave_core_on_message(&sh->core, vmca_conn_peer_node(c),
                          vmca_conn_peer_role(c) == VMCA__ROLE__ROLE_MASTER, env, vmca_now_ms());
    drain(sh);
}

static void on_close(struct vmca_conn *c, const char *why, void *arg)
{
    struct slave_shell *sh = arg;
    if (sh->master_ready)
        log_warn("lost the master (%s): %s", vmca_conn_peer_desc(c), why);
    else
        log_info("cannot reach the master at %s: %s", vmca_conn_peer_desc(c), why);
    bool was_ready = sh->master_ready;
    sh->master_conn = NULL;
    sh->master_ready = false;
    if (was_ready) {
        slave_core_on_master_down(&sh->core, vmca_now_ms());
        drain(sh);
    }
    schedule_reconnect(sh);
}

/* ---- peers ---- */

static const char *peer_expected_in(void *arg, uint32_t node, int role)
{
    struct slave_shell *sh = arg;
    struct peer *p = role == VMCA__ROLE__ROLE_SLAVE ? peer_of(sh, node) : NULL;
    return p ? p->node->name : NULL;
}

static void peer_in_ready(struct vmca_conn *c, void *arg)
{
    struct slave_shell *sh = arg;
    struct peer *p = peer_of(sh, vmca_conn_peer_node(c));
    if (p->in)
        vmca_conn_close(p->in);
    p->in = c;
    log_info("peer node %u connected from %s", p->node->id, vmca_conn_peer_desc(c));
    slave_core_on_peer_up(&sh->core, p->node->id, vmca_now_ms());
    drain(sh);
}

static void peer_in_close(struct vmca_conn *c, const char *why, void *arg)
{
    struct slave_shell *sh = arg;
    struct peer *p = vmca_conn_peer_node(c) ? peer_of(sh, vmca_conn_peer_node(c)) : NULL;
    if (p && p->in == c) {
        p->in = NULL;
        log_info("peer node %u disconnected: %s", p->node->id, why);
    } else {
        log_warn("connection from %s closed: %s", vmca_conn_peer_desc(c), why);
    }
}

static const char *peer_expected_out(void *arg, uint32_t node, int role)
{
    struct peer *p = arg;
    return role == VMCA__ROLE__ROLE_SLAVE && node == p->node->id ? p->node->name : NULL;
}

static void peer_out_ready(struct vmca_conn *c, void *arg)
{
    struct peer *p = arg;
    p->out_ready = true;
    log_info("connected to peer node %u at %s", p->node->id, vmca_conn_peer_desc(c));
    slave_core_on_peer_up(&p->sh->core, p->node->id, vmca_now_ms());
    drain(p->sh);
}

static void peer_out_close(struct vmca_conn *c, const char *why, void *arg)
{
    struct peer *p = arg;
    log_info("connection to peer node %u closed: %s", p->node->id, why);
    p->out = NULL;
    p->out_ready = false;
}

static void peer_frame(struct vmca_conn *c, const Vmca__Envelope *env, struct slave_shell *sh)
{
    slave_core_on_message(&sh->core, vmca_conn_peer_node(c), false, env, vmca_now_ms());
    drain(sh);
}

static void peer_in_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    peer_frame(c, env, arg);
}

static void peer_out_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    peer_frame(c, env, ((struct peer *)arg)->sh);
}

static const struct vmca_conn_cbs peer_in_cbs = {
    .expected_name = peer_expected_in,
    .on_ready = peer_in_ready,
    .on_frame = peer_in_frame,
    .on_close = peer_in_close,
};

static const struct vmca_conn_cbs peer_out_cbs = {
    .expected_name = peer_expected_out,
    .on_ready = peer_out_ready,
    .on_frame = peer_out_frame,
    .on_close = peer_out_close,
};

static void connect_peer(struct peer *p)
{
    if (p->out)
        return; /* already connecting */
    p->out = vmca_conn_connect(&p->sh->params, &peer_out_cbs, p, p->addr, p->port);
    if (!p->out)
        log_warn("cannot start a connection to peer node %u at %s:%u", p->node->id,
                 p->addr, p->port);
}

/* ---- hypercalls ---- */

/* Tells the core a hypercall could not be made (hypervisor down). */
static void hcall_failed(struct slave_shell *sh, uint64_t id)
{
    struct tkm_reply r = {.id = id, .status = -5};
    slave_core_on_hv_reply(&sh->core, &r, vmca_now_ms());
}

static void drain_hcalls(struct slave_shell *sh)
{
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&sh->core, &n);
    struct tkm_backend hv = sh->xen ? tkm_xen_backend(sh->tkm_xen) : tkm_backend(sh->tkm);
    for (size_t i = 0; i < n; i++)
        if (tkm_call_apply(&hv, &hc[i]) != VMCA_OK)
            hcall_failed(sh, hc[i].id);
    /* Backend xen answers from its own event, never inside the op. */
    if (sh->xen && tkm_xen_pending(sh->tkm_xen))
        event_active(sh->xen_run, EV_TIMEOUT, 0);
    /* A failed hypercall's handling may have queued frames. */
    if (n && (sh->core.out.n || slave_core_hcalls_pending(&sh->core)))
        drain(sh);
}

static const struct vmca_conn_cbs conn_cbs = {
    .expected_name = expected_name,
    .on_ready = on_ready,
    .on_frame = on_frame,
    .on_close = on_close,
};

static void connect_master(struct slave_shell *sh)
{
    sh->master_conn = vmca_conn_connect(&sh->params, &conn_cbs, sh, sh->master_addr,
                                        sh->master_port);
    if (!sh->master_conn) {
        log_warn("cannot start a connection to %s:%u", sh->master_addr, sh->master_port);
        schedule_reconnect(sh);
    }
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    connect_master(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct slave_shell *sh = arg;
    slave_core_on_tick(&sh->core, vmca_now_ms());
    drain(sh);
}

#define LEAVE_PROGRESS_S 5

/* Every LEAVE_PROGRESS_S during a leave: what it waits for; at the
 * deadline, stop without a clean leave. */
static void on_leave_timer(evutil_socket_t fd, short what, void *arg)
{
    struct slave_shell *sh = arg;
    char progress[256];
    slave_core_leave_progress(&sh->core, progress, sizeof progress);
    int64_t waited_s = (vmca_now_ms() - sh->leave_started_ms) / 1000;
    const char *master = sh->master_ready ? "" : " (the master is not reachable)";
    if (sh->leave_timeout_s && waited_s >= sh->leave_timeout_s) {
        log_err("the leave did not finish in %u s: %s%s; exiting without a clean leave",
                sh->leave_timeout_s, progress, master);
        sh->unclean = true;
        event_base_loopbreak(sh->base);
        return;
    }
    log_info("leaving for %lld s%s: %s%s", (long long)waited_s,
             sh->leave_timeout_s ? "" : " (no time limit)", progress, master);
}

/* First stop signal: leave the cluster cleanly (the loop ends on
 * Leave-Notify); a second one: stop at once. */
static void on_stop(void *arg)
{
    struct slave_shell *sh = arg;
    if (sh->stopping) {
        char progress[256];
        slave_core_leave_progress(&sh->core, progress, sizeof progress);
        log_warn("second stop signal: exiting at once without a clean leave (%s)", progress);
        sh->unclean = true;
        event_base_loopbreak(sh->base);
        return;
    }
    sh->stopping = true;
    if (slave_core_leave(&sh->core, vmca_now_ms())) {
        event_base_loopbreak(sh->base);
        return;
    }
    sh->leave_started_ms = vmca_now_ms();
    uint32_t every = sh->leave_timeout_s && sh->leave_timeout_s < LEAVE_PROGRESS_S
                         ? sh->leave_timeout_s : LEAVE_PROGRESS_S;
    struct timeval tv = {.tv_sec = every, .tv_usec = 0};
    sh->leave_timer = event_new(sh->base, -1, EV_PERSIST, on_leave_timer, sh);
    if (sh->leave_timer)
        event_add(sh->leave_timer, &tv);
    log_info("leaving the cluster (at most %u s%s; a second signal stops at once)",
             sh->leave_timeout_s, sh->leave_timeout_s ? "" : ": no limit");
    drain(sh);
}

/* ---- hypervisor (TKM) ---- */

static void on_hv_sample(void *arg, const struct tkm_sample *sample)
{
    struct slave_shell *sh = arg;
    if (slave_core_on_hv_stats(&sh->core, sample) != VMCA_OK)
        log_err("out of memory keeping hypervisor statistics");
}

static void on_hv_down(void *arg, const char *why)
{
    struct slave_shell *sh = arg;
    log_warn("lost the hypervisor: %s", why);
    slave_core_on_hv_down(&sh->core);
}

static void on_hv_up(void *arg)
{
    struct slave_shell *sh = arg;
    slave_core_on_hv_up(&sh->core);
    /* Only the node's one memory manager speaks to the master: one the
     * hypervisor refuses never connects, so it cannot replace the real
     * one there (a second connection of a node replaces the first). */
    if (!sh->master_started) {
        sh->master_started = true;
        connect_master(sh);
    }
    drain(sh);
}

static void on_hv_reply(void *arg, const struct tkm_reply *r)
{
    struct slave_shell *sh = arg;
    slave_core_on_hv_reply(&sh->core, r, vmca_now_ms());
    drain(sh);
}

/* Another memory manager holds this node's hypervisor: two would replace
 * each other at the master, so this one stops (exit 1) without a word to
 * the cluster. */
static void on_hv_refused(void *arg, const char *why)
{
    struct slave_shell *sh = arg;
    log_err("the hypervisor at %s refused this memory manager: %s; stopping", sh->tkm_path,
            why);
    sh->refused = true;
    event_base_loopbreak(sh->base);
}

/* Backend xen: its samples when due, the replies to calls made. */
static void on_xen_run(evutil_socket_t fd, short what, void *arg)
{
    struct slave_shell *sh = arg;
    uint32_t ms = tkm_xen_run(sh->tkm_xen, vmca_now_ms());
    if (tkm_xen_pending(sh->tkm_xen))
        ms = 0;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(sh->xen_run, &tv);
}

/* The metrics page (nodes.[i].metrics_port): the core's figures. */
static void fill_metrics(void *arg, struct vmca_prom *out)
{
    slave_metrics_write(&((struct slave_shell *)arg)->core, out);
}

static const struct tkm_events tkm_events = {
    .up = on_hv_up,
    .sample = on_hv_sample,
    .reply = on_hv_reply,
    .down = on_hv_down,
    .refused = on_hv_refused,
};

/* Backend xen: the host's control interface, or why not (err). */
static int open_xen(struct slave_shell *sh, char *err, size_t errlen)
{
#ifdef VMCA_HAVE_XEN
    struct tkm_xen_sys sys;
    int rc = tkm_xen_sys_open(&sys, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    struct tkm_xen_params p = {.node = sh->self->id, .page_size = sh->cfg.page_size,
                               .interval_ms = sh->cfg.timing.stats_interval_ms};
    sh->tkm_xen = tkm_xen_new(&p, &sys, &tkm_events, sh);
    if (!sh->tkm_xen) {
        snprintf(err, errlen, "cannot start the xen backend: out of memory");
        return VMCA_ERR_NOMEM;
    }
    log_info("managing the domains of this Xen host (first tier only: stock Xen has no "
             "tmem, no pages cross nodes)");
    return VMCA_OK;
#else
    (void)sh;
    snprintf(err, errlen, "the xen backend is not built into this program");
    return VMCA_ERR_CONFIG;
#endif
}

/* "ADDR:PORT" or "[ADDR]:PORT" (IPv6): ADDR non-empty, no blanks, PORT
 * 1..65535. Returns 0 when it parsed. */
static int parse_addr_port(const char *s, char *addr, size_t addrlen, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    const char *a = s, *ae = colon;
    if (*s == '[') {
        if (colon[-1] != ']')
            return -1;
        a = s + 1;
        ae = colon - 1;
    } else if (memchr(s, ':', (size_t)(colon - s))) {
        return -1; /* an IPv6 literal needs its brackets */
    }
    size_t n = (size_t)(ae - a);
    if (n == 0 || n >= addrlen)
        return -1;
    for (const char *c = a; c < ae; c++)
        if (*c == ' ' || *c == '\t' || *c == '[' || *c == ']')
            return -1;
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || v < 1 || v > 65535)
        return -1;
    memcpy(addr, a, n);
    addr[n] = '\0';
    *port = (uint16_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_CERT = 256, OPT_KEY, OPT_TKM, OPT_PORT, OPT_LEAVE_TIMEOUT, OPT_BACKEND,
           OPT_INCARNATION, OPT_MASTER_AT, OPT_PEER_AT };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"node", required_argument, NULL, 'n'},
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"tkm-socket", required_argument, NULL, OPT_TKM},
        {"tkm-backend", required_argument, NULL, OPT_BACKEND},
        {"port", required_argument, NULL, OPT_PORT},
        {"incarnation", required_argument, NULL, OPT_INCARNATION},
        {"master-at", required_argument, NULL, OPT_MASTER_AT},
        {"peer-at", required_argument, NULL, OPT_PEER_AT},
        {"leave-timeout", required_argument, NULL, OPT_LEAVE_TIMEOUT},
        {"log-level", required_argument, NULL, 'l'},
        {"syslog", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *node = NULL, *cert = NULL, *key = NULL, *tkm_path = NULL;
    uint16_t listen_port = 0;
    uint64_t incarnation = 0; /* 0: a new one, from the clock */
    char master_addr[64] = "";
    uint16_t master_port = 0;
    static struct peer_at peer_at[MAX_PEER_AT];
    size_t n_peer_at = 0;
    long leave_timeout = 60;
    enum vmca_log_level level = VMCA_LOG_INFO;
    bool use_syslog = false, xen = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:n:l:shV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'n': node = optarg; break;
        case OPT_CERT: cert = optarg; break;
        case OPT_KEY: key = optarg; break;
        case OPT_TKM: tkm_path = optarg; break;
        case OPT_BACKEND:
            if (strcmp(optarg, "xen") == 0) {
#ifndef VMCA_HAVE_XEN
                fprintf(stderr, "vmca-slave: --tkm-backend xen: not built into this program "
                        "(libxenctrl/libxenstore not found at build time, or "
                        "VMCA_WITH_XEN=OFF); built: emu\n");
                return 2;
#endif
                xen = true;
            } else if (strcmp(optarg, "emu") == 0) {
                xen = false;
            } else {
                fprintf(stderr, "vmca-slave: --tkm-backend: expected emu or xen, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_PORT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 1 || v > 65535) {
                fprintf(stderr, "vmca-slave: --port: expected a number in 1..65535, got '%s'\n",
                        optarg);
                return 2;
            }
            listen_port = (uint16_t)v;
            break;
        }
        case OPT_MASTER_AT:
            if (parse_addr_port(optarg, master_addr, sizeof master_addr, &master_port)) {
                fprintf(stderr, "vmca-slave: --master-at: expected ADDR:PORT (IPv6: [ADDR]:PORT) "
                        "with PORT in 1..65535, got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_PEER_AT: {
            const char *eq = strchr(optarg, '=');
            struct peer_at *pa = &peer_at[n_peer_at];
            if (n_peer_at == MAX_PEER_AT) {
                fprintf(stderr, "vmca-slave: --peer-at: at most %d of them\n", MAX_PEER_AT);
                return 2;
            }
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof pa->name ||
                parse_addr_port(eq + 1, pa->addr, sizeof pa->addr, &pa->port)) {
                fprintf(stderr, "vmca-slave: --peer-at: expected NAME=ADDR:PORT (IPv6: "
                        "NAME=[ADDR]:PORT) with PORT in 1..65535, got '%s'\n", optarg);
                return 2;
            }
            memcpy(pa->name, optarg, (size_t)(eq - optarg));
            pa->name[eq - optarg] = '\0';
            n_peer_at++;
            break;
        }
        case OPT_INCARNATION: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || errno || v == 0) {
                fprintf(stderr, "vmca-slave: --incarnation: expected a number in "
                        "1..18446744073709551615, got '%s'\n", optarg);
                return 2;
            }
            incarnation = v;
            break;
        }
        case OPT_LEAVE_TIMEOUT: {
            char *end;
            leave_timeout = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || leave_timeout < 0 || leave_timeout > 86400) {
                fprintf(stderr, "vmca-slave: --leave-timeout: expected seconds in 0..86400, "
                        "got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'l':
            if (vmca_opt_log_level("vmca-slave", optarg, &level))
                return 2;
            break;
        case 's': use_syslog = true; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': puts("vmca-slave " VMCA_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vmca-slave: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    if (!config || !node) {
        fprintf(stderr, "vmca-slave: --config and --node are required\n%s", usage);
        return 2;
    }
    if (xen && tkm_path) {
        fprintf(stderr, "vmca-slave: --tkm-socket applies to --tkm-backend emu only\n");
        return 2;
    }
    vmca_log_init("vmca-slave", node, use_syslog, level);

    static struct slave_shell sh;
    sh.leave_timeout_s = (uint32_t)leave_timeout;
    char err[1024];
    if (vmca_config_load(config, 1, &sh.cfg, err, sizeof err) != VMCA_OK) {
        fprintf(stderr, "vmca-slave: %s\n", err);
        return 1;
    }
    sh.self = vmca_config_node_by_name(&sh.cfg, node);
    if (!sh.self) {
        fprintf(stderr, "vmca-slave: --node: no node named '%s' in %s\n", node, sh.cfg.path);
        return 1;
    }
    for (size_t i = 0; i < n_peer_at; i++) {
        const struct vmca_node_cfg *n = vmca_config_node_by_name(&sh.cfg, peer_at[i].name);
        if (!n || n == sh.self) {
            fprintf(stderr, "vmca-slave: --peer-at %s=...: %s\n", peer_at[i].name,
                    n ? "that is this node (--node), not a peer" : "no node of that name");
            return 1;
        }
    }
    /* A second memory manager for this node would share its hypervisor and
     * replace the first at the master, back and forth. */
    if (vmca_node_lock(&sh.cfg, node, "slave", "vmca-slave", err, sizeof err) != 0) {
        fprintf(stderr, "vmca-slave: %s\n", err);
        return 1;
    }
    sh.master = vmca_config_node_by_id(&sh.cfg, sh.cfg.master.node_id);
    if (master_port) {
        snprintf(sh.master_addr, sizeof sh.master_addr, "%s", master_addr);
        sh.master_port = master_port;
    } else {
        snprintf(sh.master_addr, sizeof sh.master_addr, "%s", sh.master->address);
        sh.master_port = sh.cfg.master.port;
    }
    sh.xen = xen;
    if (xen) {
        if (open_xen(&sh, err, sizeof err) != VMCA_OK) {
            log_err("%s", err);
            return 1;
        }
    } else if (tkm_path) {
        if (strlen(tkm_path) >= sizeof sh.tkm_path) {
            fprintf(stderr, "vmca-slave: --tkm-socket: path longer than %zu bytes\n",
                    sizeof sh.tkm_path - 1);
            return 2;
        }
        snprintf(sh.tkm_path, sizeof sh.tkm_path, "%s", tkm_path);
    } else if (vmca_config_socket_path(&sh.cfg, node, "tkm", sh.tkm_path, sizeof sh.tkm_path)) {
        fprintf(stderr, "vmca-slave: the default TKM socket path is too long; use --tkm-socket\n");
        return 1;
    }
    sh.tls = vmca_tls_ctx_new(sh.cfg.ca, cert ? cert : sh.self->cert,
                              key ? key : sh.self->key, err, sizeof err);
    if (!sh.tls || vmca_tls_check_own(sh.tls, sh.self->name, err, sizeof err) != 0) {
        log_err("TLS: %s", err);
        return 1;
    }
    bool given_inc = incarnation != 0;
    if (!given_inc)
        incarnation = vmca_new_incarnation();
    int rc = slave_core_init(&sh.core, &sh.cfg, sh.self, incarnation, vmca_log_sink, NULL);
    if (rc != VMCA_OK) {
        log_err("cannot start the memory manager's core: %s", vmca_strerror(rc));
        return 1;
    }
    sh.base = event_base_new();
    sh.params = (struct vmca_conn_params){
        .base = sh.base, .tls = sh.tls, .max_frame = sh.cfg.max_frame,
        .self = sh.self->id, .incarnation = incarnation, .role = VMCA__ROLE__ROLE_SLAVE,
        .hello_timeout_ms = sh.cfg.timing.hello_timeout_ms,
        .out_limit = 4 * (size_t)sh.cfg.max_frame,
    };
    vmca_backoff_init(&sh.backoff, sh.cfg.timing.reconnect_min_ms,
                      sh.cfg.timing.reconnect_max_ms);
    sh.reconnect = evtimer_new(sh.base, on_reconnect, &sh);
    sh.tick = event_new(sh.base, -1, EV_PERSIST, on_tick, &sh);
    uint32_t tick_ms = sh.cfg.timing.stats_interval_ms / 10;
    tick_ms = tick_ms < 10 ? 10 : tick_ms > 100 ? 100 : tick_ms;
    struct timeval tv = {.tv_sec = 0, .tv_usec = tick_ms * 1000};
    event_add(sh.tick, &tv);
    struct vmca_stop_signals stop = {0};
    if (vmca_stop_signals_install(&stop, sh.base, on_stop, &sh)) {
        log_err("cannot install signal handlers");
        return 1;
    }
    log_info("node %u (%s) of cluster %s starting, incarnation %llu%s", sh.self->id,
             sh.self->name, sh.cfg.cluster, (unsigned long long)incarnation,
             given_inc ? " (given by --incarnation)" : "");
    sh.peers = calloc(sh.cfg.n_nodes, sizeof *sh.peers);
    if (!sh.peers) {
        log_err("out of memory");
        return 1;
    }
    for (size_t i = 0; i < sh.cfg.n_nodes; i++) {
        const struct vmca_node_cfg *n = &sh.cfg.nodes[i];
        sh.peers[i] = (struct peer){.sh = &sh, .node = n, .addr = n->address, .port = n->port};
        for (size_t j = 0; j < n_peer_at; j++)
            if (strcmp(peer_at[j].name, n->name) == 0) {
                sh.peers[i].addr = peer_at[j].addr;
                sh.peers[i].port = peer_at[j].port;
            }
    }
    sh.listener = vmca_conn_listen(&sh.params, &peer_in_cbs, &sh, sh.self->address,
                                   listen_port ? listen_port : sh.self->port, err, sizeof err);
    if (!sh.listener) {
        uint16_t port = listen_port ? listen_port : sh.self->port;
        char why[1200];
        vmca_port_listen_error(port, err, why, sizeof why);
        if (listen_port)
            log_err("--port %u: %s", port, why);
        else
            log_err("nodes.[%zu].port = %u (%s's peer port) in %s: %s",
                    (size_t)(sh.self - sh.cfg.nodes), port, sh.self->name, sh.cfg.path, why);
        return 1;
    }
    struct vmca_metrics_http *metrics = NULL;
    if (sh.self->metrics_port &&
        !(metrics = vmca_metrics_http_open(sh.base, sh.self->metrics_address,
                                           sh.self->metrics_port, fill_metrics, &sh, err,
                                           sizeof err))) {
        char why[1200];
        vmca_port_listen_error(sh.self->metrics_port, err, why, sizeof why);
        log_err("nodes.[%zu].metrics_port = %u (%s's metrics page) in %s: %s",
                (size_t)(sh.self - sh.cfg.nodes), sh.self->metrics_port, sh.self->name,
                sh.cfg.path, why);
        return 1;
    }
    if (sh.xen) {
        /* The first run says `up` and takes the first sample. */
        sh.xen_run = evtimer_new(sh.base, on_xen_run, &sh);
        if (!sh.xen_run) {
            log_err("out of memory");
            return 1;
        }
        event_active(sh.xen_run, EV_TIMEOUT, 0);
    } else {
        sh.tkm = tkm_new(sh.base, sh.tkm_path, sh.cfg.timing.reconnect_min_ms,
                         sh.cfg.timing.reconnect_max_ms, &tkm_events, &sh);
        if (!sh.tkm) {
            log_err("out of memory");
            return 1;
        }
    }

    event_base_dispatch(sh.base);

    if (sh.master_conn)
        vmca_conn_close(sh.master_conn);
    for (size_t i = 0; i < sh.cfg.n_nodes; i++) {
        if (sh.peers[i].out)
            vmca_conn_close(sh.peers[i].out);
        if (sh.peers[i].in)
            vmca_conn_close(sh.peers[i].in);
    }
    vmca_listener_free(sh.listener);
    vmca_metrics_http_close(metrics);
    event_base_loop(sh.base, EVLOOP_NONBLOCK);
    tkm_free(sh.tkm);
    if (sh.xen_run)
        event_free(sh.xen_run);
    tkm_xen_free(sh.tkm_xen);
    free(sh.peers);
    vmca_stop_signals_free(&stop);
    if (sh.leave_timer)
        event_free(sh.leave_timer);
    event_free(sh.tick);
    event_free(sh.reconnect);
    event_base_free(sh.base);
    slave_core_free(&sh.core);
    SSL_CTX_free(sh.tls);
    vmca_config_free(&sh.cfg);
    if (sh.core.left)
        log_info("stopped after leaving the cluster%s",
                 sh.core.left_clean ? "" : " (not all own pages came back)");
    else if (sh.unclean)
        log_warn("stopped without a clean leave: the master still counts this node; "
                 "its pages come back through recovery");
    else
        log_info("stopped%s", sh.refused ? ": refused by the hypervisor" : "");
    if (sh.refused)
        return 1;
    return sh.unclean || (sh.core.left && !sh.core.left_clean) ? 3 : 0;
}
