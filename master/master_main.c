/* vmca-master: the libevent shell around master_core. It accepts slaves'
 * TLS connections, feeds their messages to the core, sends the core's
 * frames, and serves vmcactl on the admin socket. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "admin.h"
#include "admin_requests.h"
#include "gfn.h"
#include "config.h"
#include "daemon.h"
#include "conn.h"
#include "err.h"
#include "fence.h"
#include "log.h"
#include "master_core.h"
#include "master_metrics.h"
#include "metrics_http.h"
#include "porthold.h"
#include "sys.h"
#include "tls.h"

struct master_shell {
    struct vmca_config cfg;
    struct master_core core;
    struct vmca_fence fence;  /* carries out the core's fencing actions */
    struct event_base *base;
    SSL_CTX *tls;
    struct vmca_conn_params params;
    struct vmca_conn **conns; /* ready connection per node index, or NULL */
    uint64_t dropped;         /* frames for nodes not connected */
    struct event *tick;
};

static const char usage[] =
    "usage: vmca-master --config FILE [options]\n"
    "Runs the vMCA master (MM-M) of the cluster described by FILE, on the\n"
    "address of the node named by the file's master.node and port master.port.\n"
    "\n"
    "  -c, --config FILE        cluster configuration (required)\n"
    "  -a, --admin-socket PATH  admin socket for vmcactl (default: master.admin_socket)\n"
    "  -l, --log-level LEVEL    err, warn, info (default) or debug\n"
    "  -s, --syslog             log to syslog instead of stderr\n"
    "  -h, --help               this text\n"
    "  -V, --version            print the version\n";

static int node_index(const struct master_shell *sh, uint32_t id)
{
    const struct vmca_node_cfg *n = vmca_config_node_by_id(&sh->cfg, id);
    return n ? (int)(n - sh->cfg.nodes) : -1;
}

/* Fences the core asked for, through the fencing backend. */
static void drain_fences(struct master_shell *sh)
{
    size_t n;
    struct master_fence *f = master_core_take_fences(&sh->core, &n);
    for (size_t i = 0; i < n; i++) {
        char err[256];
        if (vmca_fence_set(&sh->fence, f[i].node, f[i].fenced, err, sizeof err) == 0)
            log_info("node %u %s", f[i].node, f[i].fenced ? "fenced" : "unfenced");
        else if (f[i].fenced)
            log_warn("cannot fence node %u: %s", f[i].node, err);
        else
            log_debug("no fence to lift for node %u: %s", f[i].node, err);
    }
    free(f);
}

/* Sends what the core queued; frames for absent nodes are dropped (the
 * protocol's acknowledged flows resend after reconnects). */
static void drain(struct master_shell *sh)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(&sh->core.out, &n);
    for (size_t i = 0; i < n; i++) {
        int idx = node_index(sh, act[i].to);
        struct vmca_conn *c = idx >= 0 ? sh->conns[idx] : NULL;
        int rc = c ? vmca_conn_send_frame(c, act[i].frame, act[i].len) : VMCA_ERR_NOTFOUND;
        if (rc != VMCA_OK) {
            sh->dropped++;
            log_debug("dropped %s for node %u: %s", vmca_body_name(act[i].body),
                      act[i].to, c ? vmca_strerror(rc) : "not connected");
        }
    }
    vmca_actions_free(act, n);
    drain_fences(sh);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct master_shell *sh = arg;
    master_core_on_tick(&sh->core, vmca_now_ms());
    drain(sh);
}

/* The metrics page (master.metrics_port): the core's figures. */
static void fill_metrics(void *arg, struct vmca_prom *out)
{
    master_metrics_write(&((struct master_shell *)arg)->core, out);
}

static const char *expected_name(void *arg, uint32_t node, int role)
{
    struct master_shell *sh = arg;
    if (role != VMCA__ROLE__ROLE_SLAVE)
        return NULL;
    const struct vmca_node_cfg *n = vmca_config_node_by_id(&sh->cfg, node);
    return n ? n->name : NULL;
}

static void on_ready(struct vmca_conn *c, void *arg)
{
    struct master_shell *sh = arg;
    uint32_t node = vmca_conn_peer_node(c);
    int idx = node_index(sh, node);
    if (sh->conns[idx]) {
        log_info("node %u reconnected from %s: replacing its old connection", node,
                 vmca_conn_peer_desc(c));
        vmca_conn_close(sh->conns[idx]);
    }
    sh->conns[idx] = c;
    log_info("node %u connected from %s", node, vmca_conn_peer_desc(c));
    master_core_on_connect(&sh->core, node, vmca_conn_peer_incarnation(c), vmca_now_ms());
    drain(sh);
}

static void on_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct master_shell *sh = arg;
    master_core_on_message(&sh->core, vmca_conn_peer_node(c), env, vmca_now_ms());
    drain(sh);
}

static void on_close(struct vmca_conn *c, const char *why, void *arg)
{
    struct master_shell *sh = arg;
    uint32_t node = vmca_conn_peer_node(c);
    int idx = node ? node_index(sh, node) : -1;
    if (idx >= 0 && sh->conns[idx] == c) {
        log_info("node %u disconnected (%s): %s", node, vmca_conn_peer_desc(c), why);
        sh->conns[idx] = NULL;
        master_core_on_disconnect(&sh->core, node, vmca_now_ms());
        drain(sh);
    } else {
        log_warn("connection from %s closed: %s", vmca_conn_peer_desc(c), why);
    }
}

static const struct vmca_conn_cbs conn_cbs = {
    .expected_name = expected_name,
    .on_ready = on_ready,
    .on_frame = on_frame,
    .on_close = on_close,
};

/* Admin requests (admin_requests.c); what they queued goes out at once. */
static void admin_handler(void *arg, const char *cmd, struct evbuffer *out)
{
    struct master_shell *sh = arg;
    admin_request(&sh->core, &sh->cfg, cmd, vmca_now_ms(), out);
    drain(sh);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"admin-socket", required_argument, NULL, 'a'},
        {"log-level", required_argument, NULL, 'l'},
        {"syslog", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *admin_path = NULL;
    enum vmca_log_level level = VMCA_LOG_INFO;
    bool use_syslog = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:a:l:shV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'a': admin_path = optarg; break;
        case 'l':
            if (vmca_opt_log_level("vmca-master", optarg, &level))
                return 2;
            break;
        case 's': use_syslog = true; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': puts("vmca-master " VMCA_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vmca-master: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    if (!config) {
        fprintf(stderr, "vmca-master: --config is required\n%s", usage);
        return 2;
    }
    vmca_log_init("vmca-master", NULL, use_syslog, level);

    static struct master_shell sh;
    char err[1024];
    if (vmca_config_load(config, 1, &sh.cfg, err, sizeof err) != VMCA_OK) {
        fprintf(stderr, "vmca-master: %s\n", err);
        return 1;
    }
    const struct vmca_node_cfg *self = vmca_config_node_by_id(&sh.cfg, sh.cfg.master.node_id);
    vmca_log_set_node(self->name);
    sh.tls = vmca_tls_ctx_new(sh.cfg.ca, self->cert, self->key, err, sizeof err);
    if (!sh.tls || vmca_tls_check_own(sh.tls, self->name, err, sizeof err) != 0) {
        log_err("TLS: %s", err);
        return 1;
    }
    /* The emulated fabric is the only hardware there is yet. */
    if (vmca_fence_open("emu", sh.cfg.cluster, &sh.fence, err, sizeof err) != 0) {
        log_err("fencing: %s", err);
        return 1;
    }
    uint64_t incarnation = vmca_new_incarnation();
    int rc = master_core_init(&sh.core, &sh.cfg, incarnation, vmca_log_sink, NULL);
    if (rc != VMCA_OK || !(sh.conns = calloc(sh.cfg.n_nodes, sizeof *sh.conns))) {
        log_err("%s", rc != VMCA_OK ? vmca_strerror(rc) : "out of memory");
        return 1;
    }
    sh.base = event_base_new();
    sh.params = (struct vmca_conn_params){
        .base = sh.base, .tls = sh.tls, .max_frame = sh.cfg.max_frame,
        .self = self->id, .incarnation = incarnation, .role = VMCA__ROLE__ROLE_MASTER,
        .hello_timeout_ms = sh.cfg.timing.hello_timeout_ms,
        .out_limit = 4 * (size_t)sh.cfg.max_frame,
    };

    struct vmca_listener *lst = vmca_conn_listen(&sh.params, &conn_cbs, &sh, self->address,
                                                 sh.cfg.master.port, err, sizeof err);
    if (!lst) {
        char why[1200];
        vmca_port_listen_error(sh.cfg.master.port, err, why, sizeof why);
        log_err("master.port = %u in %s: %s", sh.cfg.master.port, sh.cfg.path, why);
        return 1;
    }
    struct vmca_admin *admin = vmca_admin_open(
        sh.base, admin_path ? admin_path : sh.cfg.master.admin_socket, admin_handler, &sh,
        err, sizeof err);
    if (!admin) {
        log_err("%s", err);
        return 1;
    }
    struct vmca_metrics_http *metrics = NULL;
    if (sh.cfg.master.metrics_port &&
        !(metrics = vmca_metrics_http_open(sh.base, self->metrics_address,
                                           sh.cfg.master.metrics_port, fill_metrics, &sh, err,
                                           sizeof err))) {
        char why[1200];
        vmca_port_listen_error(sh.cfg.master.metrics_port, err, why, sizeof why);
        log_err("master.metrics_port = %u in %s: %s", sh.cfg.master.metrics_port, sh.cfg.path,
                why);
        return 1;
    }
    sh.tick = event_new(sh.base, -1, EV_PERSIST, on_tick, &sh);
    struct timeval tick_tv = {0, 100 * 1000};
    event_add(sh.tick, &tick_tv);
    struct vmca_stop_signals stop = {0};
    if (vmca_stop_signals_install(&stop, sh.base, NULL, NULL)) {
        log_err("cannot install signal handlers");
        return 1;
    }
    log_info("master of cluster %s listening on %s:%u, %zu nodes configured, "
             "incarnation %llu", sh.cfg.cluster, self->address, sh.cfg.master.port,
             sh.cfg.n_nodes, (unsigned long long)incarnation);

    event_base_dispatch(sh.base);

    for (size_t i = 0; i < sh.cfg.n_nodes; i++)
        if (sh.conns[i])
            vmca_conn_close(sh.conns[i]);
    vmca_admin_close(admin);
    vmca_metrics_http_close(metrics);
    vmca_listener_free(lst);
    /* Let the closes flush (bounded by their own one-second timers). */
    event_base_loop(sh.base, EVLOOP_NONBLOCK);
    vmca_stop_signals_free(&stop);
    event_free(sh.tick);
    event_base_free(sh.base);
    master_core_free(&sh.core);
    vmca_fence_close(&sh.fence);
    free(sh.conns);
    SSL_CTX_free(sh.tls);
    vmca_config_free(&sh.cfg);
    log_info("stopped");
    return 0;
}
