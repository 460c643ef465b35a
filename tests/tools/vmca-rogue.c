/* vmca-rogue: a Byzantine cluster member for tests. It holds a real node's
 * certificate, connects with mutual TLS and Hello (role slave) to the
 * master or to a peer slave, sends well-formed messages the command line
 * gives (whether or not that node has the right to send them), prints what
 * it receives for a moment, and exits. Test-only: built into the build
 * tree, never installed. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "err.h"
#include "gfn.h"
#include "log.h"
#include "outbox.h"
#include "pbblocks.h"
#include "sys.h"
#include "tls.h"

static const char usage[] =
    "usage: vmca-rogue --config FILE --node NAME [--to master|NODE] [--wait MS]\n"
    "                  [--incarnation N] [--cert FILE --key FILE] COMMAND [ARGS]\n"
    "Test tool: connects as node NAME (its certificate, mutual TLS, Hello as a\n"
    "slave) to the master (default) or to node NODE's slave, sends the message(s)\n"
    "of COMMAND, prints every frame received until MS milliseconds have passed\n"
    "after the last send (default 500), and exits.\n"
    "\n"
    "commands (to the master unless said otherwise):\n"
    "  statistics --state active|leaving|inactive|recovery [--count N]\n"
    "                       N Statistics (default 1), one stats interval apart,\n"
    "                       with plausible figures: all of NAME's own pages owned\n"
    "                       and free, every configured node enabled\n"
    "  leave-req            Leave-Req\n"
    "  register             Register (NAME's configured pages and location)\n"
    "  grant-any N          Grant-Any of N pages for NAME\n"
    "  invalidate           Invalidate (\"I restarted without a clean leave\")\n"
    "  grant [--to NODE] [--xfer ID] [--req R] BLOCK...\n"
    "                       to a peer slave (--to NODE, here or before the\n"
    "                       command): a Grant with transfer id ID (default 1) of\n"
    "                       blocks HOME:INDEX/ORDER[@GENERATION] (generation\n"
    "                       default 1, the home's first memory; 0 = not known)\n"
    "options:\n"
    "  -c, --config FILE    cluster configuration (required)\n"
    "  -n, --node NAME      whose certificate and identity to use (required)\n"
    "  -t, --to DEST        master (default) or a node name\n"
    "  -w, --wait MS        listen this long after the last send (0..60000)\n"
    "  -i, --incarnation N  the envelope's incarnation (default: a new one)\n"
    "      --cert FILE      present this certificate instead of NAME's (with --key)\n"
    "      --key FILE       its private key\n"
    "  -h, --help           this text\n"
    "output: 'sent BODY' per message, 'received BODY from node N [details]' per\n"
    "frame received, 'closed: WHY' if the peer closes.\n"
    "exit status: 0 sent (whatever the answers), 1 could not connect or send\n"
    "(configuration, TLS, refused Hello, closed before sending), 2 bad usage\n";

struct rogue {
    struct vmca_config cfg;
    const struct vmca_node_cfg *self;
    const struct vmca_node_cfg *dest;    /* the node whose process we talk to */
    bool to_master;
    struct event_base *base;
    struct vmca_conn *conn;
    struct vmca_outbox out;
    struct event *timer;
    int64_t wait_ms;
    unsigned count, sent;                 /* statistics: how many, sent so far */
    bool ready, closed;
    int rc;
};

static int bad(const char *what, const char *arg, const char *want)
{
    fprintf(stderr, "vmca-rogue: %s: expected %s, got '%s'\n", what, want, arg);
    return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s[0] || s[0] < '0' || s[0] > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* HOME:INDEX/ORDER[@GEN] */
static bool parse_block(const struct vmca_config *cfg, const char *s, struct vmca_block *b)
{
    char home_s[16], index_s[24], order_s[8], gen_s[24] = "1";
    int n = sscanf(s, "%15[0-9]:%23[0-9]/%7[0-9]@%23[0-9]", home_s, index_s, order_s, gen_s);
    if (n < 3)
        return false;
    char tail[96];
    snprintf(tail, sizeof tail, "%s:%s/%s%s%s", home_s, index_s, order_s, n == 4 ? "@" : "",
             n == 4 ? gen_s : "");
    uint64_t home, index, order, gen;
    if (strcmp(tail, s) != 0 || !parse_u64(home_s, VMCA_NODE_MAX, &home) ||
        !vmca_config_node_by_id(cfg, (uint32_t)home) ||
        !parse_u64(index_s, VMCA_GFN_INDEX_MASK, &index) ||
        !parse_u64(order_s, VMCA_ORDER_MAX, &order) || !parse_u64(gen_s, UINT64_MAX, &gen) ||
        (index & ((UINT64_C(1) << order) - 1)))
        return false;
    *b = (struct vmca_block){vmca_gfn_make((uint32_t)home, index), (unsigned)order, gen};
    return true;
}

/* What the command builds: filled by main, sent by on_ready. */
static struct command {
    Vmca__Envelope__BodyCase body;
    Vmca__NodeState state;
    uint64_t pages, xfer, req;
    struct vmca_block *blocks;
    size_t n_blocks;
} cmd;

static void send_env(struct rogue *r, Vmca__Envelope *env)
{
    int rc = vmca_outbox_send(&r->out, r->dest->id, env);
    size_t n;
    struct vmca_action *act = vmca_outbox_take(&r->out, &n);
    for (size_t i = 0; rc == VMCA_OK && i < n; i++)
        rc = vmca_conn_send_frame(r->conn, act[i].frame, act[i].len);
    vmca_actions_free(act, n);
    if (rc != VMCA_OK) {
        fprintf(stderr, "vmca-rogue: cannot send %s: %s\n", vmca_body_name(env->body_case),
                vmca_strerror(rc));
        r->rc = 1;
        event_base_loopbreak(r->base);
        return;
    }
    printf("sent %s\n", vmca_body_name(env->body_case));
    fflush(stdout);
}

static void send_statistics(struct rogue *r)
{
    const struct vmca_config *c = &r->cfg;
    uint32_t max_id = 0;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].id > max_id)
            max_id = c->nodes[i].id;
    uint8_t *bits = calloc(max_id / 8 + 1, 1);
    if (!bits) {
        r->rc = 1;
        event_base_loopbreak(r->base);
        return;
    }
    for (size_t i = 0; i < c->n_nodes; i++)
        bits[c->nodes[i].id / 8] |= (uint8_t)(1u << (c->nodes[i].id % 8));
    Vmca__HomePages own = VMCA__HOME_PAGES__INIT, *ownp = &own;
    own.node = r->self->id;
    own.pages = r->self->tmem_pages;
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.total_pages = r->self->tmem_pages;
    st.free_pages = r->self->tmem_pages;
    st.owned = &ownp;
    st.n_owned = 1;
    st.enabled_bitmap.data = bits;
    st.enabled_bitmap.len = max_id / 8 + 1;
    st.state = cmd.state;
    st.period = r->sent + 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &st;
    send_env(r, &env);
    free(bits);
}

static void send_command(struct rogue *r)
{
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    Vmca__LeaveReq lr = VMCA__LEAVE_REQ__INIT;
    Vmca__Register reg = VMCA__REGISTER__INIT;
    Vmca__GrantAny ga = VMCA__GRANT_ANY__INIT;
    Vmca__Invalidate inv = VMCA__INVALIDATE__INIT;
    Vmca__Grant gr = VMCA__GRANT__INIT;
    struct vmca_pb_blocks pb = {0};
    env.body_case = cmd.body;
    switch (cmd.body) {
    case VMCA__ENVELOPE__BODY_STATISTICS:
        send_statistics(r);
        return;
    case VMCA__ENVELOPE__BODY_LEAVE_REQ:
        env.leave_req = &lr;
        break;
    case VMCA__ENVELOPE__BODY_REGISTER_NODE:
        reg.node = r->self->id;
        reg.local_pages = r->self->tmem_pages;
        reg.location = (uint32_t *)r->self->location;
        reg.n_location = r->self->location_len;
        env.register_node = &reg;
        break;
    case VMCA__ENVELOPE__BODY_GRANT_ANY:
        ga.node = r->self->id;
        ga.pages = cmd.pages;
        ga.req = 1;
        env.grant_any = &ga;
        break;
    case VMCA__ENVELOPE__BODY_INVALIDATE:
        env.invalidate = &inv;
        break;
    default: /* grant */
        if (vmca_pb_blocks_make(&pb, cmd.blocks, cmd.n_blocks) != VMCA_OK) {
            r->rc = 1;
            event_base_loopbreak(r->base);
            return;
        }
        gr.xfer = cmd.xfer;
        gr.req = cmd.req;
        gr.blocks = pb.ptrs;
        gr.n_blocks = pb.n;
        env.grant = &gr;
        break;
    }
    send_env(r, &env);
    vmca_pb_blocks_free(&pb);
}

static void arm(struct rogue *r, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(r->timer, &tv);
}

/* Timer: the next Statistics (--count), or the end of the wait. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct rogue *r = arg;
    (void)fd;
    (void)what;
    if (r->ready && r->sent < r->count) {
        send_command(r);
        r->sent++;
        arm(r, r->sent < r->count ? (int64_t)r->cfg.timing.stats_interval_ms : r->wait_ms);
        return;
    }
    event_base_loopbreak(r->base);
}

static const char *expected_name(void *arg, uint32_t node, int role)
{
    struct rogue *r = arg;
    int want = r->to_master ? VMCA__ROLE__ROLE_MASTER : VMCA__ROLE__ROLE_SLAVE;
    return role == want && node == r->dest->id ? r->dest->name : NULL;
}

static void on_ready(struct vmca_conn *c, void *arg)
{
    struct rogue *r = arg;
    (void)c;
    r->ready = true;
    on_timer(-1, 0, r);
}

static void print_blocks(Vmca__Block **b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf(" %u:%" PRIu64 "/%u", vmca_gfn_home(b[i]->gfn), vmca_gfn_index(b[i]->gfn),
               b[i]->order);
}

static void on_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg)
{
    (void)c;
    (void)arg;
    printf("received %s from node %u", vmca_body_name(env->body_case), env->from);
    switch (env->body_case) {
    case VMCA__ENVELOPE__BODY_ENABLE_NODE:
        printf(" enable %u nodes", env->enable_node->enable);
        for (size_t i = 0; i < env->enable_node->n_nodes; i++)
            printf(" %u", env->enable_node->nodes[i]);
        break;
    case VMCA__ENVELOPE__BODY_GRANT_ACK:
        printf(" xfer %" PRIu64 " accepted %" PRIu64 " bounced", env->grant_ack->xfer,
               env->grant_ack->accepted);
        print_blocks(env->grant_ack->bounced, env->grant_ack->n_bounced);
        break;
    case VMCA__ENVELOPE__BODY_GRANT:
        printf(" xfer %" PRIu64, env->grant->xfer);
        print_blocks(env->grant->blocks, env->grant->n_blocks);
        break;
    case VMCA__ENVELOPE__BODY_GRANT_FWD:
        printf(" %" PRIu64 " pages to node %u", env->grant_fwd->pages,
               env->grant_fwd->requester);
        break;
    case VMCA__ENVELOPE__BODY_FORCE_RETURN:
        printf(" node %u", env->force_return->node);
        break;
    case VMCA__ENVELOPE__BODY_INVALIDATE_NODE:
        printf(" node %u", env->invalidate_node->node);
        break;
    default:
        break;
    }
    printf("\n");
    fflush(stdout);
}

static void on_close(struct vmca_conn *c, const char *why, void *arg)
{
    struct rogue *r = arg;
    (void)c;
    printf("closed: %s\n", why);
    fflush(stdout);
    r->conn = NULL;
    r->closed = true;
    if (!r->ready || r->sent < r->count)
        r->rc = 1;
    event_base_loopbreak(r->base);
}

static const struct vmca_conn_cbs cbs = {
    .expected_name = expected_name, .on_ready = on_ready, .on_frame = on_frame,
    .on_close = on_close,
};

static int parse_command(struct rogue *r, int argc, char **argv)
{
    const char *name = argv[0];
    int rest = argc - 1;
    char **a = argv + 1;
    cmd = (struct command){.xfer = 1};
    r->count = 1;
    if (strcmp(name, "statistics") == 0) {
        cmd.body = VMCA__ENVELOPE__BODY_STATISTICS;
        bool have_state = false;
        for (int i = 0; i < rest; i++) {
            uint64_t v;
            if (strcmp(a[i], "--state") == 0 && i + 1 < rest) {
                const char *s = a[++i];
                have_state = true;
                if (strcmp(s, "active") == 0) cmd.state = VMCA__NODE_STATE__NODE_ACTIVE;
                else if (strcmp(s, "leaving") == 0) cmd.state = VMCA__NODE_STATE__NODE_LEAVING;
                else if (strcmp(s, "inactive") == 0) cmd.state = VMCA__NODE_STATE__NODE_INACTIVE;
                else if (strcmp(s, "recovery") == 0) cmd.state = VMCA__NODE_STATE__NODE_RECOVERY;
                else return bad("statistics --state", s, "active, leaving, inactive or recovery");
            } else if (strcmp(a[i], "--count") == 0 && i + 1 < rest) {
                if (!parse_u64(a[++i], 1000, &v) || v == 0)
                    return bad("statistics --count", a[i], "a number in 1..1000");
                r->count = (unsigned)v;
            } else {
                return bad("statistics", a[i], "--state STATE or --count N");
            }
        }
        if (!have_state)
            return bad("statistics", "", "--state STATE");
    } else if (strcmp(name, "leave-req") == 0 || strcmp(name, "register") == 0 ||
               strcmp(name, "invalidate") == 0) {
        if (rest)
            return bad(name, a[0], "no arguments");
        cmd.body = name[0] == 'l'   ? VMCA__ENVELOPE__BODY_LEAVE_REQ
                   : name[0] == 'r' ? VMCA__ENVELOPE__BODY_REGISTER_NODE
                                    : VMCA__ENVELOPE__BODY_INVALIDATE;
    } else if (strcmp(name, "grant-any") == 0) {
        if (rest != 1 || !parse_u64(a[0], VMCA_GFN_INDEX_MASK, &cmd.pages) || !cmd.pages)
            return bad("grant-any", rest ? a[0] : "", "one number of pages in 1..2^36");
        cmd.body = VMCA__ENVELOPE__BODY_GRANT_ANY;
    } else if (strcmp(name, "grant") == 0) {
        cmd.body = VMCA__ENVELOPE__BODY_GRANT;
        cmd.blocks = calloc((size_t)rest + 1, sizeof *cmd.blocks);
        if (!cmd.blocks)
            return 1;
        for (int i = 0; i < rest; i++) {
            if (strcmp(a[i], "--to") == 0 && i + 1 < rest) {
                r->dest = vmca_config_node_by_name(&r->cfg, a[++i]);
                if (!r->dest)
                    return bad("grant --to", a[i], "a node name of the configuration");
                r->to_master = false;
            } else if (strcmp(a[i], "--xfer") == 0 && i + 1 < rest) {
                if (!parse_u64(a[++i], UINT64_MAX, &cmd.xfer) || !cmd.xfer)
                    return bad("grant --xfer", a[i], "a transfer id >= 1");
            } else if (strcmp(a[i], "--req") == 0 && i + 1 < rest) {
                if (!parse_u64(a[++i], UINT64_MAX, &cmd.req))
                    return bad("grant --req", a[i], "a number");
            } else if (!parse_block(&r->cfg, a[i], &cmd.blocks[cmd.n_blocks++])) {
                return bad("grant", a[i],
                           "a block HOME:INDEX/ORDER[@GEN] (HOME a configured node id, INDEX "
                           "aligned to 2^ORDER)");
            }
        }
        if (!cmd.n_blocks)
            return bad("grant", "", "at least one block");
        if (r->to_master)
            return bad("grant", "master", "--to NODE (a Grant goes to a peer slave)");
    } else {
        return bad("command", name,
                   "statistics, leave-req, register, grant-any, invalidate or grant");
    }
    if (!r->to_master && cmd.body != VMCA__ENVELOPE__BODY_GRANT)
        return bad(name, r->dest->name, "--to master (only a Grant goes to a peer)");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"node", required_argument, NULL, 'n'},
        {"to", required_argument, NULL, 't'},     {"wait", required_argument, NULL, 'w'},
        {"incarnation", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
        {"cert", required_argument, NULL, 'C'},   {"key", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *node = NULL, *to = "master", *cert = NULL, *key = NULL;
    uint64_t wait_ms = 500, incarnation = 0;
    int opt;
    /* "+": options stop at the command (its own options follow it). */
    while ((opt = getopt_long(argc, argv, "+c:n:t:w:i:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'n': node = optarg; break;
        case 't': to = optarg; break;
        case 'w':
            if (!parse_u64(optarg, 60000, &wait_ms))
                return bad("--wait", optarg, "milliseconds in 0..60000");
            break;
        case 'i':
            if (!parse_u64(optarg, UINT64_MAX, &incarnation) || !incarnation)
                return bad("--incarnation", optarg, "a number >= 1");
            break;
        case 'C': cert = optarg; break;
        case 'K': key = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!cert != !key) {
        fprintf(stderr, "vmca-rogue: --cert and --key go together\n");
        return 2;
    }
    if (!config || !node) {
        fprintf(stderr, "vmca-rogue: --config and --node are required\n%s", usage);
        return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "vmca-rogue: a command is required\n%s", usage);
        return 2;
    }
    static struct rogue r;
    char err[1024];
    if (vmca_config_load(config, 1, &r.cfg, err, sizeof err) != VMCA_OK) {
        fprintf(stderr, "vmca-rogue: %s\n", err);
        return 1;
    }
    r.self = vmca_config_node_by_name(&r.cfg, node);
    if (!r.self)
        return bad("--node", node, "a node name of the configuration");
    r.to_master = strcmp(to, "master") == 0;
    r.dest = r.to_master ? vmca_config_node_by_id(&r.cfg, r.cfg.master.node_id)
                         : vmca_config_node_by_name(&r.cfg, to);
    if (!r.dest)
        return bad("--to", to, "master or a node name of the configuration");
    int rc = parse_command(&r, argc - optind, argv + optind);
    if (rc)
        return rc;
    vmca_log_init("vmca-rogue", node, false, VMCA_LOG_ERR);
    SSL_CTX *tls = vmca_tls_ctx_new(r.cfg.ca, cert ? cert : r.self->cert,
                                    key ? key : r.self->key, err, sizeof err);
    if (!tls) {
        fprintf(stderr, "vmca-rogue: TLS: %s\n", err);
        return 1;
    }
    if (!incarnation)
        incarnation = vmca_new_incarnation();
    r.wait_ms = (int64_t)wait_ms;
    r.base = event_base_new();
    r.timer = evtimer_new(r.base, on_timer, &r);
    vmca_outbox_init(&r.out, r.self->id, incarnation, r.cfg.max_frame);
    struct vmca_conn_params p = {
        .base = r.base, .tls = tls, .max_frame = r.cfg.max_frame, .self = r.self->id,
        .incarnation = incarnation, .role = VMCA__ROLE__ROLE_SLAVE,
        .hello_timeout_ms = r.cfg.timing.hello_timeout_ms,
        .out_limit = 4 * (size_t)r.cfg.max_frame,
    };
    uint16_t port = r.to_master ? (uint16_t)r.cfg.master.port : (uint16_t)r.dest->port;
    r.conn = vmca_conn_connect(&p, &cbs, &r, r.dest->address, port);
    if (!r.conn) {
        fprintf(stderr, "vmca-rogue: cannot connect to %s:%u\n", r.dest->address, port);
        r.rc = 1;
    } else {
        /* Nothing happens within the hello timeout (plus the wait): give up. */
        arm(&r, (int64_t)r.cfg.timing.hello_timeout_ms + r.wait_ms);
        event_base_dispatch(r.base);
        if (!r.ready && !r.closed) {
            fprintf(stderr, "vmca-rogue: no answer from %s:%u\n", r.dest->address, port);
            r.rc = 1;
        }
    }
    if (r.conn)
        vmca_conn_close(r.conn);
    event_base_loop(r.base, EVLOOP_NONBLOCK);
    event_free(r.timer);
    event_base_free(r.base);
    vmca_outbox_free(&r.out);
    SSL_CTX_free(tls);
    free(cmd.blocks);
    vmca_config_free(&r.cfg);
    return r.rc;
}
