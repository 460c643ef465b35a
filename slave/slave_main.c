/* vmca-slave: the libevent shell around slave_core. It keeps a TLS
 * connection to the master (reconnecting with capped exponential backoff
 * and jitter), feeds the core its messages and a periodic tick, and sends
 * the core's frames. */
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
#include "slave_core.h"
#include "sys.h"
#include "tkm.h"
#include "tls.h"

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
    struct tkm *tkm;                 /* channel to this node's vmca-hv */
    char tkm_path[108];
};

static const char usage[] =
    "usage: vmca-slave --config FILE --node NAME [options]\n"
    "Runs the memory manager of node NAME of the cluster described by FILE:\n"
    "registers with the master and reports the statistics of the node's\n"
    "hypervisor (vmca-hv, over the TKM socket) every stats interval.\n"
    "\n"
    "  -c, --config FILE      cluster configuration (required)\n"
    "  -n, --node NAME        this node's name in FILE (required)\n"
    "      --cert FILE        override the node's certificate\n"
    "      --key FILE         override the node's private key\n"
    "      --tkm-socket PATH  the node's hypervisor (vmca-hv) TKM socket\n"
    "                         (default: <config dir>/<cluster>-<node>-tkm.sock)\n"
    "  -l, --log-level LEVEL  err, warn, info (default) or debug\n"
    "  -s, --syslog           log to syslog instead of stderr\n"
    "  -h, --help             this text\n"
    "  -V, --version          print the version\n";

static void connect_master(struct slave_shell *sh);

static void drain(struct slave_shell *sh)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(&sh->core.out, &n);
    for (size_t i = 0; i < n; i++) {
        int rc = VMCA_ERR_NOTFOUND;
        if (act[i].to == sh->master->id && sh->master_ready)
            rc = vmca_conn_send_frame(sh->master_conn, act[i].frame, act[i].len);
        if (rc != VMCA_OK)
            log_debug("dropped %s for node %u: %s", vmca_body_name(act[i].body),
                      act[i].to, vmca_strerror(rc));
    }
    vmca_actions_free(act, n);
}

static const char *expected_name(void *arg, uint32_t node, int role)
{
    struct slave_shell *sh = arg;
    /* Only the master talks to a slave today; peers come with grants. */
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
    vmca_backoff_reset(&sh->backoff);
    log_info("connected to the master at %s", vmca_conn_peer_desc(c));
    slave_core_on_master_up(&sh->core, vmca_now_ms());
    drain(sh);
}

static void on_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    struct slave_shell *sh = arg;
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

static const struct vmca_conn_cbs conn_cbs = {
    .expected_name = expected_name,
    .on_ready = on_ready,
    .on_frame = on_frame,
    .on_close = on_close,
};

static void connect_master(struct slave_shell *sh)
{
    sh->master_conn = vmca_conn_connect(&sh->params, &conn_cbs, sh,
                                        sh->master->address, sh->cfg.master.port);
    if (!sh->master_conn) {
        log_warn("cannot start a connection to %s:%u", sh->master->address,
                 sh->cfg.master.port);
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

/* ---- hypervisor (TKM) ---- */

static void on_hv_stats(void *arg, const Vmca__TkmStats *st)
{
    struct slave_shell *sh = arg;
    struct slave_pages *owned = calloc(st->n_owned + 1, sizeof *owned);
    struct slave_pages *lent = calloc(st->n_lent + 1, sizeof *lent);
    struct slave_vm *vms = calloc(st->n_vms + 1, sizeof *vms);
    if (owned && lent && vms) {
        for (size_t i = 0; i < st->n_owned; i++)
            owned[i] = (struct slave_pages){st->owned[i]->node, st->owned[i]->pages};
        for (size_t i = 0; i < st->n_lent; i++)
            lent[i] = (struct slave_pages){st->lent[i]->node, st->lent[i]->pages};
        for (size_t i = 0; i < st->n_vms; i++) {
            const Vmca__VmStats *v = st->vms[i];
            vms[i] = (struct slave_vm){v->vm, v->tmem_used, v->mm_target, v->puts_total,
                                       v->puts_succ, v->gets, v->flushes};
        }
        struct slave_hv_sample sample = {
            .total_pages = st->owned_pages, .free_pages = st->free_pages,
            .owned = owned, .n_owned = st->n_owned, .lent = lent, .n_lent = st->n_lent,
            .vms = vms, .n_vms = st->n_vms,
        };
        if (slave_core_on_hv_stats(&sh->core, &sample) != VMCA_OK)
            log_err("out of memory keeping hypervisor statistics");
    }
    free(owned);
    free(lent);
    free(vms);
}

static void on_hv_down(void *arg, const char *why)
{
    struct slave_shell *sh = arg;
    log_warn("lost the hypervisor: %s", why);
    slave_core_on_hv_down(&sh->core);
}

static const struct tkm_cbs tkm_callbacks = {
    .on_stats = on_hv_stats,
    .on_down = on_hv_down,
};

int main(int argc, char **argv)
{
    enum { OPT_CERT = 256, OPT_KEY, OPT_TKM };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"node", required_argument, NULL, 'n'},
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"tkm-socket", required_argument, NULL, OPT_TKM},
        {"log-level", required_argument, NULL, 'l'},
        {"syslog", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *node = NULL, *cert = NULL, *key = NULL, *tkm_path = NULL;
    enum vmca_log_level level = VMCA_LOG_INFO;
    bool use_syslog = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:n:l:shV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'n': node = optarg; break;
        case OPT_CERT: cert = optarg; break;
        case OPT_KEY: key = optarg; break;
        case OPT_TKM: tkm_path = optarg; break;
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
    vmca_log_init("vmca-slave", node, use_syslog, level);

    static struct slave_shell sh;
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
    sh.master = vmca_config_node_by_id(&sh.cfg, sh.cfg.master.node_id);
    if (tkm_path) {
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
    if (!sh.tls) {
        log_err("TLS: %s", err);
        return 1;
    }
    uint64_t incarnation = vmca_new_incarnation();
    if (slave_core_init(&sh.core, &sh.cfg, sh.self, incarnation, vmca_log_sink, NULL)) {
        log_err("out of memory");
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
    if (vmca_stop_signals_install(&stop, sh.base)) {
        log_err("cannot install signal handlers");
        return 1;
    }
    log_info("node %u (%s) of cluster %s starting, incarnation %llu", sh.self->id,
             sh.self->name, sh.cfg.cluster, (unsigned long long)incarnation);
    sh.tkm = tkm_new(sh.base, sh.tkm_path, sh.cfg.timing.reconnect_min_ms,
                     sh.cfg.timing.reconnect_max_ms, &tkm_callbacks, &sh);
    if (!sh.tkm) {
        log_err("out of memory");
        return 1;
    }
    connect_master(&sh);

    event_base_dispatch(sh.base);

    if (sh.master_conn)
        vmca_conn_close(sh.master_conn);
    event_base_loop(sh.base, EVLOOP_NONBLOCK);
    tkm_free(sh.tkm);
    vmca_stop_signals_free(&stop);
    event_free(sh.tick);
    event_free(sh.reconnect);
    event_base_free(sh.base);
    slave_core_free(&sh.core);
    SSL_CTX_free(sh.tls);
    vmca_config_free(&sh.cfg);
    log_info("stopped");
    return 0;
}
