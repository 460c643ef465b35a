/* vmca-sim: a deterministic cluster simulator. It runs N nodes' real
 * slave cores and libhvx instances and the real master core in one process
 * under a seeded scheduler: simulated clock, network (per-link FIFO with
 * random delay, so messages reorder across links), connection drops, node
 * crashes and restarts (new memory generation), memory managers that die
 * on a running hypervisor and start again, Byzantine members (well-formed
 * grants and returns of blocks they do not hold), master crashes and restarts,
 * and simulated guests that put/get/flush and verify every page they read.
 * After every step it checks the invariants of PROTOCOL.md it can see:
 *   I1 single owner: no page owned by two live nodes;
 *   I2 conservation: every page of a home that has not failed itself is
 *      owned by a live node, in a live node's transit, or held by a failed
 *      node not yet recovered (what it held, or had in transit to it, since
 *      it failed; forgotten once every home's census has settled);
 *   I4 no stale read: a get never returns other data than the last put;
 *   I7 no foreign read: no VM ever reads data another VM wrote (whatever
 *      a fault or a Byzantine member does);
 *   I5 legal states: the master's node states move only along its edges,
 *      and no slave holds pages of a home it disabled unless returning them;
 *   I6 targets: the per-VM targets a slave set sum to at most what it owns;
 * and at the end, after a quiet period with every node up, I3 (no leak at
 * rest: every page of every home owned exactly once, nothing in transit).
 * The same seed replays the same run; the first violation stops it with the
 * seed, the step and a short trace. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitmap.h"
#include "config.h"
#include "err.h"
#include "gfn.h"
#include "hv_tkm.h"
#include "hvx.h"
#include "master_core.h"
#include "pbblocks.h"
#include "slave_core.h"

#define SIM_PAGE 512u           /* small pages: the sim checks, it does not copy much */
#define SIM_MAX_NODES 16u
#define SIM_KEYS 256u           /* guest keys per VM */
#define SIM_MAX_VMS 2u          /* VMs per node (2 with the vm fault, else 1) */
#define MASTER_EP 0u            /* endpoint 0 = the master; 1..N = slaves */
#define TRACE_LEN 32u

static const char *opt_policy = "greedy-remote"; /* --policy: every slave's first tier */
static uint32_t opt_watch_home;                 /* --watch HOME:INDEX, 0 none */
static uint64_t opt_watch_index;

enum ev_kind { EV_DELIVER, EV_TICK_MASTER, EV_TICK_SLAVE, EV_STATS, EV_GUEST, EV_FAULT,
               EV_RESTART_NODE, EV_RESTART_MASTER, EV_RECONNECT, EV_HEAL, EV_RESTART_SLAVE,
               EV_RESTART_HV,
               EV_RESUME };

struct event {
    int64_t at;
    uint64_t seq;               /* ties: scheduling order (determinism) */
    enum ev_kind kind;
    uint32_t a, b;              /* endpoints / node */
    uint64_t epoch;             /* deliver: link epoch at send */
    bool from_master;
    uint8_t *frame;
    size_t len;
};

struct sim_node {
    struct sim *sim;
    uint32_t id;
    bool up;
    bool core_live;
    bool leaving;               /* its slave started a leave (shuts down after) */
    bool slave_down;            /* it left: the hypervisor runs, the slave does not */
    unsigned lives;             /* slave starts in this memory generation */
    struct slave_core sc;
    struct hvx *hv;
    struct hv_tkm *tkm;         /* its TKM dispatcher (backend inproc), with hv */
    enum tkm_call_kind calling; /* the call being made */
    uint8_t *mem;               /* this home's memory */
    uint32_t *owners;           /* its owner table (hvx.h), reset with the memory */
    uint32_t claim_epoch;       /* +1 at each boot and each fence (hvx.h) */
    uint64_t gen;               /* memory generation */
    uint64_t mapped[SIM_MAX_NODES + 1];  /* generation of each home as mapped */
    uint32_t version[SIM_MAX_VMS][SIM_KEYS]; /* guests: version held in tmem, 0 none */
    int pool[SIM_MAX_VMS];
    uint64_t incarnation;
    bool remote_on;             /* members may reach this memory */
    /* I2: the census of this home last seen starting, the failure count
     * then, and the failure count its last finished census covers. */
    uint64_t census_round, census_from, settled;
    /* I2: this node failed (crashed or was fenced) and has not yet been
     * seen inactive (1) and then active again (2 -> done). */
    int recovering;
    /* ---- issue 9 faults: stopped processes (connections stay open) ---- */
    bool slave_stopped;         /* SIGSTOP: handles nothing until EV_RESUME */
    struct event *queued;       /* frames delivered meanwhile, handled at resume */
    size_t n_queued, cap_queued;
    bool hv_stopped;            /* its hypervisor: no samples, no hypercall replies */
    int64_t hv_stopped_ms;      /* ... since */
};

struct sim {
    uint64_t seed, rng;
    int64_t now;
    uint64_t steps, max_steps, events, seq;
    struct vmca_config cfg;
    struct vmca_node_cfg nodes_cfg[SIM_MAX_NODES];
    unsigned n;
    struct sim_node node[SIM_MAX_NODES + 1];
    struct master_core m;
    bool master_up;
    bool fenced[SIM_MAX_NODES + 1];
    uint64_t epoch[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
    int64_t link_last[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
    Vmca__NodeState prev_state[SIM_MAX_NODES + 1];
    struct event *heap;
    size_t heap_n, heap_cap;
    bool f_crash, f_master, f_drop, f_partition, f_slow, f_leave, f_vm;
    bool f_restart, f_byzantine;     /* slave crash on a running hypervisor; forged messages */
    bool f_stop, f_hvstop, f_hvcrash; /* a stopped slave / hypervisor; a crashed hypervisor */
    /* Liveness (issue 9): when the master last got Statistics from each
     * node, and when it last became a member of the master's table. */
    int64_t heard_ms[SIM_MAX_NODES + 1], member_ms[SIM_MAX_NODES + 1];
    int64_t master_boot_ms;
    unsigned vms;               /* VMs per node */
    bool cut[SIM_MAX_NODES + 1];      /* partitioned away from everyone */
    int64_t slow_until[SIM_MAX_NODES + 1];
    bool quiet;                 /* no more faults */
    unsigned check_every;
    uint64_t changed;           /* steps that may change ownership */
    bool print_trace;           /* --trace: every event to stderr */
    char trace[TRACE_LEN][96];
    unsigned trace_pos;
    uint64_t *seen;             /* I1/I2 scratch: pages of a home owned (or in transit) */
    /* I2's failed term: per failed node F and home h, the pages of h that F
     * held (owned or in transit, or in transit to F) since it failed, kept
     * until every home has settled again. */
    uint64_t *ghost;
    size_t ghost_words;         /* per (F, h) bitmap */
    uint32_t ghosts;            /* bit f: node f's ghost may have bits set */
    uint64_t failures;          /* node crashes and fences so far (I2) */
    bool failed;
    uint64_t stat_gets_ok, stat_puts_ok, stat_crashes, stat_master_crashes, stat_drops;
    uint64_t stat_checks, stat_i2;     /* home checks; of them, with I2 */
};

/* ---- randomness, trace, failure ---- */

static uint64_t rnd(struct sim *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static uint64_t rnd_range(struct sim *s, uint64_t lo, uint64_t hi)
{
    return lo + rnd(s) % (hi - lo + 1);
}

static void trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(struct sim *s, const char *fmt, ...)
{
    char *line = s->trace[s->trace_pos++ % TRACE_LEN];
    int k = snprintf(line, 96, "%8" PRId64 "ms ", s->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, (size_t)(96 - k), fmt, ap);
    va_end(ap);
    if (s->print_trace)
        fprintf(stderr, "%s\n", line);
}

/* --trace also shows what the cores log (not kept in the short trace). */
static void master_log(void *arg, enum vmca_log_level level, const char *msg)
{
    struct sim *s = arg;
    (void)level;
    if (s->print_trace)
        fprintf(stderr, "%8" PRId64 "ms   [master] %s\n", s->now, msg);
}

static void slave_log(void *arg, enum vmca_log_level level, const char *msg)
{
    struct sim_node *n = arg;
    (void)level;
    if (n->sim->print_trace)
        fprintf(stderr, "%8" PRId64 "ms   [node %u] %s\n", n->sim->now, n->id, msg);
}

static void violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(struct sim *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "VIOLATION seed=%" PRIu64 " step=%" PRIu64 " t=%" PRId64 "ms: ", s->seed,
            s->steps, s->now);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nlast events:\n");
    va_end(ap);
    for (unsigned i = 0; i < TRACE_LEN; i++) {
        const char *line = s->trace[(s->trace_pos + i) % TRACE_LEN];
        if (line[0])
            fprintf(stderr, "  %s\n", line);
    }
}

/* ---- event heap ---- */

static bool ev_before(const struct event *x, const struct event *y)
{
    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void push(struct sim *s, struct event e)
{
    if (s->heap_n == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
        s->heap = realloc(s->heap, s->heap_cap * sizeof *s->heap);
        if (!s->heap) {
            fprintf(stderr, "vmca-sim: out of memory\n");
            exit(1);
        }
    }
    e.seq = ++s->seq;
    size_t i = s->heap_n++;
    while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}

static struct event pop(struct sim *s)
{
    struct event top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n)
            break;
        if (c + 1 < s->heap_n && ev_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n)
        s->heap[i] = last;
    return top;
}

static void at(struct sim *s, int64_t when, enum ev_kind kind, uint32_t a)
{
    push(s, (struct event){.at = when, .kind = kind, .a = a});
}

/* ---- libhvx environment: memory of every home, faults like the fabric ---- */

static void *env_alloc(void *arg, size_t n) { return calloc(1, n); }
static void env_free(void *arg, void *p, size_t n) { free(p); }

/* The home's memory as `me` may reach it, as the fabric decides, or NULL. */
static struct sim_node *reach_home(struct sim_node *me, uint32_t home, int *fault)
{
    struct sim *s = me->sim;
    struct sim_node *h = home >= 1 && home <= s->n ? &s->node[home] : NULL;
    *fault = -1;
    if (!h || !h->up || !h->hv || (home != me->id && (s->fenced[me->id] || !h->remote_on)))
        return NULL;
    if (home != me->id) {
        if (!me->mapped[home])
            me->mapped[home] = h->gen;
        else if (me->mapped[home] != h->gen)
            return NULL; /* the home restarted: stale until invalidated */
    }
    *fault = 0;
    return h;
}

static void *env_page(void *arg, uint64_t gfn, int *fault)
{
    struct sim_node *h = reach_home(arg, vmca_gfn_home(gfn), fault);
    return h ? h->mem + vmca_gfn_index(gfn) * SIM_PAGE : NULL;
}

static void env_forget(void *arg, uint32_t home)
{
    struct sim_node *me = arg;
    if (home >= 1 && home <= me->sim->n && me->mapped[home] != me->sim->node[home].gen)
        me->mapped[home] = 0; /* the next access maps the current memory */
}

static uint32_t *env_owners(void *arg, uint32_t home, int *fault)
{
    struct sim_node *h = reach_home(arg, home, fault);
    return h ? h->owners : NULL;
}

static uint32_t env_claim_epoch(void *arg, uint32_t node)
{
    struct sim_node *me = arg;
    return node >= 1 && node <= me->sim->n ? me->sim->node[node].claim_epoch : 0;
}

static uint64_t env_generation(void *arg, uint32_t home)
{
    struct sim_node *me = arg;
    return home >= 1 && home <= me->sim->n ? me->sim->node[home].gen : 0;
}

/* ---- the TKM dispatcher's environment, as the fabric is to vmca-hv ---- */

static bool env_fenced(void *arg)
{
    struct sim_node *n = arg;
    return n->sim->fenced[n->id];
}

static uint64_t env_own_generation(void *arg)
{
    return ((struct sim_node *)arg)->gen;
}

static void env_set_remote(void *arg, bool open)
{
    ((struct sim_node *)arg)->remote_on = open;
}

static void env_forget_mapping(void *arg, uint32_t home)
{
    struct sim_node *n = arg;
    if (home <= n->sim->n)
        n->mapped[home] = 0;
}

static void hv_log(void *arg, enum vmca_log_level level, const char *msg)
{
    struct sim_node *n = arg;
    (void)level;
    if (n->sim->print_trace)
        fprintf(stderr, "%8" PRId64 "ms   [hv %u] %s\n", n->sim->now, n->id, msg);
}

/* ---- sending ---- */

static bool ep_up(struct sim *s, uint32_t ep)
{
    return ep == MASTER_EP ? s->master_up : s->node[ep].up && !s->node[ep].slave_down;
}

static bool reachable(struct sim *s, uint32_t a, uint32_t b)
{
    return ep_up(s, a) && ep_up(s, b) && !s->cut[a] && !s->cut[b];
}

static void send_frame(struct sim *s, uint32_t from, uint32_t to, bool from_master,
                       const uint8_t *frame, size_t len)
{
    if (!reachable(s, from, to) || from == to)
        return;
    uint8_t *copy = malloc(len);
    memcpy(copy, frame, len);
    int64_t t = s->now + (int64_t)rnd_range(s, 1, 8);
    if (s->slow_until[from] > s->now || s->slow_until[to] > s->now)
        t += (int64_t)rnd_range(s, 20, 150); /* a slow node */
    if (t < s->link_last[from][to])
        t = s->link_last[from][to]; /* FIFO on one connection */
    s->link_last[from][to] = t;
    uint32_t lo = from < to ? from : to, hi = from < to ? to : from;
    push(s, (struct event){.at = t, .kind = EV_DELIVER, .a = from, .b = to,
                           .epoch = s->epoch[lo][hi], .from_master = from_master,
                           .frame = copy, .len = len});
}

static void drain_master(struct sim *s);
static void drain_slave(struct sim *s, struct sim_node *n);

static void drain_master(struct sim *s)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(&s->m.out, &n);
    for (size_t i = 0; i < n; i++)
        send_frame(s, MASTER_EP, act[i].to, true, act[i].frame, act[i].len);
    vmca_actions_free(act, n);
    struct master_fence *f = master_core_take_fences(&s->m, &n);
    for (size_t i = 0; i < n; i++)
        if (f[i].node >= 1 && f[i].node <= s->n) {
            if (f[i].fenced && !s->fenced[f[i].node]) {
                s->failures++;
                s->node[f[i].node].recovering = 1;
            }
            if (f[i].fenced)
                s->node[f[i].node].claim_epoch++; /* as the fabric does */
            s->fenced[f[i].node] = f[i].fenced;
        }
    free(f);
}

/* The dispatcher's answer to the call being made: to the slave core. A
 * refused census reclaim means the census disagreed with the ownership. */
static void on_hv_reply(void *arg, const struct tkm_reply *r)
{
    struct sim_node *n = arg;
    if (n->calling == TKM_CALL_RECLAIM && r->status != 0)
        violation(n->sim, "node %u: census reclaim refused (%d): the census disagrees "
                  "with its ownership", n->id, r->status);
    slave_core_on_hv_reply(&n->sc, r, n->sim->now);
}

static void on_hv_sample(void *arg, const struct tkm_hv_stats *st)
{
    struct sim_node *n = arg;
    slave_core_on_hv_stats(&n->sc, &st->sample);
}

/* Makes a slave's hypercalls through backend inproc: what vmca-hv runs. */
static void run_hcalls(struct sim *s, struct sim_node *n)
{
    for (;;) {
        size_t cnt;
        struct tkm_call *hc = slave_core_take_hcalls(&n->sc, &cnt);
        if (!cnt) {
            free(hc);
            return;
        }
        for (size_t i = 0; i < cnt && n->core_live; i++) {
            n->calling = hc[i].kind;
            struct tkm_backend b = hv_tkm_backend(n->tkm);
            /* As vmca-slave's TKM channel answers with its hypervisor gone:
             * the call failed (EIO), nothing was done. */
            if (!n->hv || tkm_call_apply(&b, &hc[i]) != VMCA_OK) {
                struct tkm_reply r = {.id = hc[i].id, .status = -5};
                slave_core_on_hv_reply(&n->sc, &r, s->now);
            }
        }
        tkm_calls_free(hc, cnt);
    }
}

static void drain_slave(struct sim *s, struct sim_node *n)
{
    for (int round = 0; round < 64 && n->core_live; round++) {
        if (!n->hv_stopped) /* a stopped hypervisor leaves them queued */
            run_hcalls(s, n);
        size_t cnt;
        struct vmca_action *act = vmca_outbox_take(&n->sc.out, &cnt);
        if (!cnt) {
            free(act);
            return;
        }
        for (size_t i = 0; i < cnt; i++) {
            int b = act[i].body;
            bool peer = b == VMCA__ENVELOPE__BODY_GRANT || b == VMCA__ENVELOPE__BODY_GRANT_ACK ||
                        b == VMCA__ENVELOPE__BODY_CENSUS || b == VMCA__ENVELOPE__BODY_CENSUS_REPLY;
            send_frame(s, n->id, peer ? act[i].to : MASTER_EP, false, act[i].frame, act[i].len);
        }
        vmca_actions_free(act, cnt);
    }
}

/* ---- node and master life ---- */

/* A statistics push, as vmca-hv makes them: at the end of a period (its
 * counters reset), or of the same period when a memory manager or a VM
 * connects. */
static void hv_stats(struct sim *s, struct sim_node *n, bool period_end)
{
    if (!n->hv)
        return; /* crashed: it says nothing */
    struct tkm_hv_stats st;
    hv_tkm_sample(n->tkm, period_end, &st);
    slave_core_on_hv_stats(&n->sc, &st.sample);
}

static void slave_boot(struct sim *s, struct sim_node *n);
static void gather_ghost(struct sim *s, unsigned f);

static void bump_links(struct sim *s, uint32_t ep)
{
    for (unsigned i = 0; i <= s->n; i++) {
        uint32_t lo = ep < i ? ep : i, hi = ep < i ? i : ep;
        s->epoch[lo][hi]++;
    }
}

/* The node's hypervisor starts: a new memory generation, all its own. */
static void hv_boot(struct sim *s, struct sim_node *n)
{
    struct hvx_home homes[SIM_MAX_NODES];
    for (unsigned i = 0; i < s->n; i++)
        homes[i] = (struct hvx_home){.id = s->nodes_cfg[i].id,
                                     .pages = s->nodes_cfg[i].tmem_pages,
                                     .location = {s->nodes_cfg[i].location[0],
                                                  s->nodes_cfg[i].location[1]},
                                     .location_len = 2};
    n->gen++;
    n->claim_epoch++;
    n->remote_on = false;
    memset(n->mem, 0, s->nodes_cfg[n->id - 1].tmem_pages * SIM_PAGE);
    memset(n->owners, 0, s->nodes_cfg[n->id - 1].tmem_pages * sizeof *n->owners);
    memset(n->mapped, 0, sizeof n->mapped);
    memset(n->version, 0, sizeof n->version);
    struct hvx_params p = {.self = n->id, .page_size = SIM_PAGE, .homes = homes,
                           .n_homes = s->n};
    struct hvx_env env = {env_alloc, env_free, env_page, env_generation, n, env_owners,
                          env_claim_epoch, env_forget};
    n->hv = hvx_new(&p, &env);
    uint32_t ids[SIM_MAX_NODES];
    for (unsigned i = 0; i < s->n; i++)
        ids[i] = s->nodes_cfg[i].id;
    struct hv_tkm_params tp = {.self = n->id, .nodes = ids, .n_nodes = s->n,
                               .max_blocks = TKM_MAX_BLOCKS, .max_vms = HVX_MAX_CLIENTS};
    struct hv_tkm_env tenv = {n, env_fenced, env_own_generation, env_set_remote,
                              env_forget_mapping, hv_log};
    struct hv_tkm_answers answers = {on_hv_reply, on_hv_sample};
    n->tkm = hv_tkm_new(n->hv, &tp, &tenv, &answers, n);
    for (unsigned v = 0; v < s->vms; v++) {
        hvx_client_new(n->hv, v + 1);
        n->pool[v] = hvx_pool_new(n->hv, v + 1, HVX_POOL_EPHEMERAL);
    }
    n->census_from = n->settled = s->failures; /* fresh memory: all its own */
}

static void node_boot(struct sim *s, struct sim_node *n)
{
    hv_boot(s, n);
    n->up = true;
    n->lives = 0;
    slave_boot(s, n);
    trace(s, "node %u boots (generation %" PRIu64 ")", n->id, n->gen);
}

/* A memory manager starts on a running hypervisor (a node boots, or its
 * slave restarts after leaving): it connects to whoever it can reach. */
static void slave_boot(struct sim *s, struct sim_node *n)
{
    n->incarnation = ((uint64_t)n->gen << 32) | ((uint64_t)n->lives++ << 16) | n->id;
    slave_core_init(&n->sc, &s->cfg, &s->nodes_cfg[n->id - 1], n->incarnation, slave_log, n);
    n->core_live = true;
    n->slave_down = false;
    n->leaving = false;
    n->census_round = 0;
    if (n->hv) { /* else it waits for its hypervisor */
        hv_stats(s, n, false);
        slave_core_on_hv_up(&n->sc);
    }
    if (reachable(s, n->id, MASTER_EP)) {
        master_core_on_connect(&s->m, n->id, n->incarnation, s->now);
        slave_core_on_master_up(&n->sc, s->now);
        drain_master(s);
    }
    for (unsigned i = 1; i <= s->n; i++)
        if (i != n->id && reachable(s, n->id, i)) {
            slave_core_on_peer_up(&s->node[i].sc, n->id, s->now);
            drain_slave(s, &s->node[i]);
        }
    drain_slave(s, n);
}

/* The node's memory manager is gone (its connections with it); its
 * hypervisor runs on (hv_runs) or died with it. */
static void slave_gone(struct sim *s, struct sim_node *n, bool hv_runs)
{
    for (size_t i = 0; i < n->n_queued; i++) /* what a stopped slave had not read */
        free(n->queued[i].frame);
    n->n_queued = 0;
    n->slave_stopped = false;
    if (n->core_live)
        slave_core_free(&n->sc);
    if (hv_runs && n->hv)
        hv_tkm_manager_gone(n->tkm); /* as vmca-hv does when its manager's channel closes */
    n->core_live = false;
    n->slave_down = hv_runs;
    n->leaving = false;
    bump_links(s, n->id);
    if (s->master_up) {
        master_core_on_disconnect(&s->m, n->id, s->now);
        drain_master(s);
    }
}

/* Its leave is over (Leave-Notify): the slave exits, as vmca-slave does;
 * the hypervisor keeps running. It starts again a little later. */
static void slave_exit(struct sim *s, struct sim_node *n)
{
    trace(s, "node %u's slave exits after leaving (%s)", n->id,
          n->sc.left_clean ? "all its pages back" : "NOT all its pages back");
    if (!n->sc.left_clean && n->hv) /* a crashed hypervisor has nothing to check */
        violation(s, "node %u left without all its own pages", n->id);
    slave_gone(s, n, true);
    at(s, s->now + (int64_t)rnd_range(s, 200, 3000), EV_RESTART_SLAVE, n->id);
}


/* A failure of node n (I2): what it held, or had in transit, dies with it
 * (its ghost) until every home has settled again. Call before its state
 * goes. */
static void node_fails(struct sim *s, struct sim_node *n)
{
    gather_ghost(s, n->id);
    s->failures++;
    n->recovering = 1;
    s->stat_crashes++;
}

/* The hypervisor and its memory are gone. */
static void hv_gone(struct sim_node *n)
{
    n->hv_stopped = false;
    hv_tkm_free(n->tkm);
    n->tkm = NULL;
    hvx_destroy(n->hv);
    n->hv = NULL;
}

static void node_crash(struct sim *s, struct sim_node *n)
{
    trace(s, "node %u crashes", n->id);
    node_fails(s, n);
    n->up = false;
    hv_gone(n);
    slave_gone(s, n, false);
}

/* The memory manager dies (kill -9) while its hypervisor runs on: what the
 * hypervisor holds stays, the slave's memory (transfers, census debt) is
 * gone. It starts again a little later on the same hypervisor. For I2 the
 * node counts as failed: members drop its pages, homes take back theirs. */
static void slave_crash(struct sim *s, struct sim_node *n)
{
    trace(s, "node %u's slave crashes (its hypervisor runs on)", n->id);
    node_fails(s, n);
    slave_gone(s, n, true);
    at(s, s->now + (int64_t)rnd_range(s, 5, 2000), EV_RESTART_SLAVE, n->id);
}

/* The hypervisor dies under a live memory manager (kill -9 of vmca-hv):
 * its memory and every claim it held are gone, the slave stays connected
 * to everyone and must stop vouching for the node. The hypervisor starts
 * again later (a new memory generation). */
static void hv_crash(struct sim *s, struct sim_node *n)
{
    trace(s, "node %u's hypervisor crashes (its slave runs on)", n->id);
    node_fails(s, n);
    hv_gone(n);
    n->hv_stopped_ms = s->now; /* silent from now on (liveness) */
    n->remote_on = false;
    if (n->core_live) {
        slave_core_on_hv_down(&n->sc);
        drain_slave(s, n);
    }
    at(s, s->now + (int64_t)rnd_range(s, 200, 4000), EV_RESTART_HV, n->id);
}

struct pick {
    struct sim *s;
    struct vmca_block b;
    uint64_t seen, want;
};

static int pick_cb(void *arg, struct hvx_block b)
{
    struct pick *p = arg;
    if (p->seen++ == p->want) {
        p->b = (struct vmca_block){b.gfn, b.order, b.generation};
        return 1;
    }
    return 0;
}

/* A Byzantine member answers a running census of another home before its
 * own hypervisor does, saying it holds none of the home's pages (it may
 * hold many): the home must not take back pages a live holder uses. */
static bool forge_census_reply(struct sim *s, struct sim_node *r, struct sim_node *home)
{
    if (home == r || !r->up || !r->core_live || r->slave_stopped || !home->up ||
        !home->core_live ||
        !home->sc.census.running || !vmca_bitmap_test(&home->sc.census.waiting, r->id))
        return false;
    Vmca__CensusReply cr = VMCA__CENSUS_REPLY__INIT;
    cr.home = home->id;
    cr.round = home->sc.census.round;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
    env.census_reply = &cr;
    vmca_outbox_send(&r->sc.out, home->id, &env);
    trace(s, "node %u forges an empty census reply to home %u (it holds %" PRIu64 " pages)",
          r->id, home->id, r->hv ? hvx_owned_of(r->hv, home->id) : 0);
    drain_slave(s, r);
    return true;
}

/* A Byzantine member: live node R sends a well-formed Grant it has no
 * right to send, in its own name and incarnation: blocks another node
 * owns (to a third node, or a "return" to their home), or pages of its
 * own home it has lent out. Whatever it sends, no page may get two
 * owners and no VM may read data it did not write. */
static void byzantine(struct sim *s)
{
    struct sim_node *r = &s->node[rnd_range(s, 1, s->n)];
    if (rnd(s) % 2 && forge_census_reply(s, r, &s->node[rnd_range(s, 1, s->n)]))
        return;
    struct sim_node *o = &s->node[rnd_range(s, 1, s->n)];
    if (!r->up || !r->core_live || r->slave_stopped || !o->up || !o->hv || o == r)
        return;
    /* A block o owns, of a random home o holds pages of. */
    uint32_t home = (uint32_t)rnd_range(s, 1, s->n);
    struct pick p = {s, {0, 0, 0}, 0, 0};
    uint64_t owned = hvx_owned_of(o->hv, home);
    if (!owned)
        return;
    p.want = UINT64_MAX; /* first count the blocks, then pick one */
    hvx_owned_blocks(o->hv, home, pick_cb, &p);
    if (!p.seen)
        return;
    p.want = rnd(s) % p.seen;
    p.seen = 0;
    hvx_owned_blocks(o->hv, home, pick_cb, &p);
    if (p.seen <= p.want)
        return; /* not found: never send the empty block */
    uint32_t to = rnd(s) % 2 ? home : (uint32_t)rnd_range(s, 1, s->n);
    if (to == r->id)
        return;
    struct vmca_pb_blocks pb;
    if (vmca_pb_blocks_make(&pb, &p.b, 1) != VMCA_OK)
        return;
    Vmca__Grant g = VMCA__GRANT__INIT;
    g.xfer = (UINT64_C(1) << 40) + rnd(s) % 1000000; /* never a real transfer's id */
    g.blocks = pb.ptrs;
    g.n_blocks = pb.n;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT;
    env.grant = &g;
    vmca_outbox_send(&r->sc.out, to, &env);
    vmca_pb_blocks_free(&pb);
    trace(s, "node %u forges a grant of %u:%" PRIu64 "/%u (held by node %u) to node %u",
          r->id, vmca_gfn_home(p.b.gfn), vmca_gfn_index(p.b.gfn), p.b.order, o->id, to);
    drain_slave(s, r);
}

static void master_boot(struct sim *s)
{
    master_core_init(&s->m, &s->cfg, UINT64_C(0x4d00000000) + s->seq, master_log, s);
    s->master_up = true;
    s->master_boot_ms = s->now;
    for (unsigned i = 1; i <= s->n; i++)
        s->prev_state[i] = VMCA__NODE_STATE__NODE_INACTIVE;
    for (unsigned i = 1; i <= s->n; i++) {
        struct sim_node *n = &s->node[i];
        if (!reachable(s, MASTER_EP, i))
            continue; /* down or cut off: it connects when it can */
        master_core_on_connect(&s->m, n->id, n->incarnation, s->now);
        slave_core_on_master_up(&n->sc, s->now);
        drain_slave(s, n);
    }
    drain_master(s);
    trace(s, "master boots");
}

static void master_crash(struct sim *s)
{
    trace(s, "master crashes");
    s->master_up = false;
    bump_links(s, MASTER_EP);
    master_core_free(&s->m);
    for (unsigned i = 1; i <= s->n; i++)
        if (s->node[i].up) {
            slave_core_on_master_down(&s->node[i].sc, s->now);
            drain_slave(s, &s->node[i]);
        }
    s->stat_master_crashes++;
}

/* ---- guests ---- */

/* A page's content names its writer (VM slot), key and version in its
 * first words, so a wrong read says whose data it was. */
static void fill(uint8_t *buf, uint32_t writer, uint32_t key, uint32_t version)
{
    for (unsigned i = 0; i < SIM_PAGE; i += 4) {
        uint32_t w = (writer * 2654435761u) ^ (key * 40503u) ^ (version * 97u) ^ i;
        memcpy(buf + i, &w, 4);
    }
    memcpy(buf, &writer, 4);
    memcpy(buf + 4, &key, 4);
    memcpy(buf + 8, &version, 4);
}

static void guest_op(struct sim *s, struct sim_node *n)
{
    uint8_t buf[SIM_PAGE], want[SIM_PAGE];
    unsigned vi = s->vms > 1 ? (unsigned)(rnd(s) % s->vms) : 0;
    uint32_t vm = vi + 1, *version = n->version[vi];
    unsigned pool = (unsigned)n->pool[vi];
    uint32_t key = (uint32_t)(rnd(s) % SIM_KEYS);
    unsigned op = (unsigned)(rnd(s) % 10);
    if (op < 6) {
        uint32_t v = version[key] + 1 + (uint32_t)(rnd(s) % 3);
        fill(buf, n->id * SIM_MAX_VMS + vi, key, v);
        int rc = hvx_put(n->hv, vm, pool, 0, key, buf);
        if (rc >= 0) {
            version[key] = v;
            s->stat_puts_ok++;
        } else if (rc == HVX_ENOMEM || rc == HVX_ENOENT) {
            /* not stored (or an old entry lost with its home): nothing held */
            if (rc == HVX_ENOENT)
                version[key] = 0;
        }
    } else if (op < 9) {
        int rc = hvx_get(n->hv, vm, pool, 0, key, buf);
        if (rc >= 0) {
            if (!version[key]) {
                violation(s, "I4: node %u VM %u key %u: get returned data that was never "
                          "put (or was flushed)", n->id, vm, key);
                return;
            }
            uint32_t me = n->id * SIM_MAX_VMS + vi;
            fill(want, me, key, version[key]);
            if (memcmp(buf, want, SIM_PAGE) != 0) {
                uint32_t writer;
                memcpy(&writer, buf, 4);
                if (writer != me)
                    /* I7: the first rule of a memory system. */
                    violation(s, "I7: node %u VM %u key %u read data it did not write "
                              "(written by node %u VM %u)", n->id, vm, key,
                              writer / SIM_MAX_VMS, writer % SIM_MAX_VMS + 1);
                else
                    violation(s, "I4: node %u VM %u key %u: get returned stale data "
                              "(expected version %u)", n->id, vm, key, version[key]);
                return;
            }
            s->stat_gets_ok++;
        }
        version[key] = 0; /* ephemeral gets are exclusive; a miss holds nothing */
    } else {
        hvx_flush_page(n->hv, vm, pool, 0, key);
        version[key] = 0;
    }
}

/* ---- invariants ---- */

/* Marks pages idx..idx+n-1 in bitmap w, a word at a time; returns how many
 * were not marked yet, and in *dup the first that was (if any). */
static uint64_t range_mark(uint64_t *w, uint64_t idx, uint64_t n, uint64_t *dup)
{
    uint64_t fresh = 0;
    bool seen_dup = false;
    while (n) {
        unsigned off = (unsigned)(idx & 63);
        uint64_t take = 64 - off < n ? 64 - off : n;
        uint64_t mask = (take == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << take) - 1)) << off;
        uint64_t old = w[idx >> 6] & mask;
        if (old && !seen_dup) {
            seen_dup = true;
            *dup = (idx & ~UINT64_C(63)) + (uint64_t)__builtin_ctzll(old);
        }
        fresh += (uint64_t)vmca_popcount64(mask & ~old);
        w[idx >> 6] |= mask;
        idx += take;
        n -= take;
    }
    return fresh;
}

/* The first page below `pages` not marked in w (pages if none). */
static uint64_t first_unmarked(const uint64_t *w, uint64_t pages)
{
    for (uint64_t p = 0; p < pages; p++)
        if (!((w[p >> 6] >> (p & 63)) & 1))
            return p;
    return pages;
}

/* Marks in s->seen the pages of home h that node o owns, a word at a time;
 * returns how many. A page already marked is owned twice (I1). */
static uint64_t mark_owned(struct sim *s, unsigned o, unsigned h, uint64_t home_pages)
{
    uint64_t pages, gen, count = 0;
    const uint64_t *w = hvx_owned_bitmap(s->node[o].hv, h, &pages, &gen);
    /* A claim on an earlier life of the home is void (libhvx never lets it
     * be used or passed on, and drops it at its next statistics). */
    if (!w || (o != h && gen && gen != s->node[h].gen))
        return 0;
    if (pages != home_pages) {
        violation(s, "node %u's zone of home %u has %" PRIu64 " pages, the home %" PRIu64, o,
                  h, pages, home_pages);
        return 0;
    }
    for (uint64_t i = 0; i < (pages + 63) / 64; i++) {
        uint64_t m = w[i];
        if (i == pages / 64)
            m &= (UINT64_C(1) << (pages % 64)) - 1; /* the tail of the last word */
        if (!m)
            continue;
        uint64_t old = s->seen[i] & m;
        if (old) {
            violation(s, "I1: page %u:%" PRIu64 " owned by two live nodes (one is %u)", h,
                      i * 64 + (uint64_t)__builtin_ctzll(old), o);
            return count;
        }
        s->seen[i] |= m;
        count += m == ~UINT64_C(0) ? 64 : (uint64_t)vmca_popcount64(m);
    }
    return count;
}

/* Follows each home's census (every step: a round must not be missed). A
 * home has no pages out of reach once a census that started after the last
 * failure has run to its end, follow-up included. */
static void track_census(struct sim *s)
{
    for (unsigned h = 1; h <= s->n; h++) {
        struct sim_node *n = &s->node[h];
        if (!n->up)
            continue;
        /* A failed node is back once it registered anew: its recovery is
         * over and the census after it takes back what it had. */
        bool active = n->sc.state == VMCA__NODE_STATE__NODE_ACTIVE;
        if (n->recovering == 1 && !active)
            n->recovering = 2;
        else if (n->recovering == 2 && active) {
            n->recovering = 0;
            s->failures++;
        }
        if (n->sc.census.round != n->census_round) {
            n->census_round = n->sc.census.round;
            n->census_from = s->failures;
            /* A census is short: the Byzantine fault answers some at once. */
            if (s->f_byzantine && !s->quiet && n->sc.census.running && rnd(s) % 2)
                forge_census_reply(s, &s->node[rnd_range(s, 1, s->n)], n);
        }
        if (!n->sc.census.running && !n->sc.census_retry_ms)
            n->settled = n->census_from;
    }
}

/* Whether home h's census, follow-up included, has run to its end since
 * the last failure and recovery. */
static bool census_settled(const struct sim *s, unsigned h)
{
    const struct sim_node *n = &s->node[h];
    return n->settled == s->failures && !n->sc.census.running && !n->sc.census_retry_ms;
}

/* Marks (in s->seen) the pages of home h in transit at live nodes that
 * nobody owns (current memory only); returns how many. */
static uint64_t count_transit(struct sim *s, unsigned h)
{
    uint64_t k = 0;
    for (unsigned o = 1; o <= s->n; o++) {
        const struct xfer_table *x = &s->node[o].sc.xfers;
        for (size_t i = 0; s->node[o].up && i < x->n_out; i++)
            for (size_t b = 0; b < x->out[i].n; b++) {
                struct vmca_block v = x->out[i].blocks[b];
                if (vmca_gfn_home(v.gfn) != h ||
                    (v.generation && v.generation != s->node[h].gen))
                    continue;
                uint64_t dup;
                k += range_mark(s->seen, vmca_gfn_index(v.gfn), UINT64_C(1) << v.order, &dup);
            }
    }
    return k;
}

static uint64_t *ghost_of(struct sim *s, unsigned f, unsigned h)
{
    return s->ghost + ((size_t)f * (SIM_MAX_NODES + 1) + h) * s->ghost_words;
}

struct ghost_ctx {
    struct sim *s;
    unsigned f, h;
};

static int ghost_cb(void *arg, struct hvx_block b)
{
    struct ghost_ctx *c = arg;
    uint64_t dup;
    if (!b.generation || b.generation == c->s->node[c->h].gen)
        range_mark(ghost_of(c->s, c->f, c->h), vmca_gfn_index(b.gfn), UINT64_C(1) << b.order,
                   &dup);
    return 0;
}

/* Adds to F's ghost what F holds now (if its memory is still there) and
 * what live nodes have in transit to F. */
static void gather_ghost(struct sim *s, unsigned f)
{
    for (unsigned h = 1; h <= s->n; h++) {
        if (h == f)
            continue;
        struct ghost_ctx c = {s, f, h};
        if (s->node[f].hv)
            hvx_owned_blocks(s->node[f].hv, h, ghost_cb, &c);
        for (unsigned o = 1; o <= s->n; o++) {
            const struct xfer_table *x = &s->node[o].sc.xfers;
            for (size_t i = 0; s->node[o].up && s->node[o].core_live && i < x->n_out; i++) {
                if (o != f && x->out[i].to != f)
                    continue;
                for (size_t b = 0; b < x->out[i].n; b++)
                    if (vmca_gfn_home(x->out[i].blocks[b].gfn) == h)
                        ghost_cb(&c, (struct hvx_block){x->out[i].blocks[b].gfn,
                                                        x->out[i].blocks[b].order,
                                                        x->out[i].blocks[b].generation});
            }
        }
    }
    s->ghosts |= UINT32_C(1) << f;
}

static bool node_failed(const struct sim *s, unsigned f)
{
    return !s->node[f].up || !s->node[f].hv || s->fenced[f] || s->node[f].recovering;
}

/* Ghosts are gathered while nodes are failed, and forgotten once every
 * node is back and reachable and every home has settled (then I2 holds
 * without them). */
static void track_ghosts(struct sim *s)
{
    bool settled = true;
    for (unsigned f = 1; f <= s->n; f++) {
        if (node_failed(s, f)) {
            gather_ghost(s, f);
            settled = false;
        } else if (s->cut[f] || !census_settled(s, f)) {
            settled = false;
        }
    }
    if (settled && s->ghosts) {
        memset(s->ghost, 0,
               (SIM_MAX_NODES + 1) * (SIM_MAX_NODES + 1) * s->ghost_words * sizeof *s->ghost);
        s->ghosts = 0;
    }
}

/* Marks in s->seen the pages of home h the failed nodes held; returns how
 * many were not marked yet. */
static uint64_t count_ghosts(struct sim *s, unsigned h)
{
    uint64_t k = 0;
    for (unsigned f = 1; f <= s->n; f++) {
        if (!(s->ghosts >> f & 1))
            continue;
        const uint64_t *g = ghost_of(s, f, h);
        for (size_t w = 0; w < s->ghost_words; w++) {
            if (!g[w])
                continue;
            k += (uint64_t)vmca_popcount64(g[w] & ~s->seen[w]);
            s->seen[w] |= g[w];
        }
    }
    return k;
}

/* I1 for every home; I2 for every home that has not itself failed: each
 * page owned by a live node, in transit, or held by a failed node not yet
 * recovered (its ghost); with `at_rest`, I3: each page owned exactly once. */
static void check_ownership(struct sim *s, bool at_rest)
{
    for (unsigned h = 1; h <= s->n && !s->failed; h++) {
        uint64_t pages = s->nodes_cfg[h - 1].tmem_pages;
        memset(s->seen, 0, (pages + 63) / 64 * sizeof *s->seen);
        uint64_t owned = 0;
        for (unsigned o = 1; o <= s->n && !s->failed; o++) {
            /* Claims on a home whose memory is closed (it rebooted and is not
             * a member again) are an earlier life's, pending invalidation:
             * nobody can reach that memory through them. */
            /* A fenced node's claims on other homes are inert: its remote
             * accesses fault and it gives nothing away until it drops them. */
            if (!s->node[o].hv || (o != h && s->fenced[o]))
                continue;
            owned += mark_owned(s, o, h, pages);
        }
        /* None owned twice (I1, above): so each once iff all are owned. */
        if (at_rest && !s->failed && owned != pages)
            violation(s, "I3: at rest, page %u:%" PRIu64 " is not owned by anyone", h,
                      first_unmarked(s->seen, pages));
        s->stat_checks++;
        /* A home that failed itself gets its pages back by its own
         * recovery (members drop them on Invalidate, it reclaims them). */
        /* A stopped hypervisor has hypercalls of its slave pending (say the
         * reclaim of its own pages after a recovery): its home's figures
         * catch up when it resumes. */
        if (at_rest || s->failed || node_failed(s, h) || s->node[h].hv_stopped)
            continue;
        s->stat_i2++;
        /* No page owned twice (I1), so counting is enough; the scan only
         * names the missing page. */
        if (owned + count_transit(s, h) + count_ghosts(s, h) != pages)
            violation(s, "I2: page %u:%" PRIu64 " is neither owned, nor in transit, nor "
                      "held by a failed node", h, first_unmarked(s->seen, pages));
    }
}

static bool legal_edge(Vmca__NodeState from, Vmca__NodeState to)
{
    if (from == to)
        return true;
    switch (from) {
    case VMCA__NODE_STATE__NODE_INACTIVE:
        return true; /* register, or a restarted master learning the node's state */
    case VMCA__NODE_STATE__NODE_ACTIVE:
        return to == VMCA__NODE_STATE__NODE_LEAVING || to == VMCA__NODE_STATE__NODE_RECOVERY;
    case VMCA__NODE_STATE__NODE_LEAVING:
        return to == VMCA__NODE_STATE__NODE_INACTIVE || to == VMCA__NODE_STATE__NODE_RECOVERY;
    case VMCA__NODE_STATE__NODE_RECOVERY:
        return to == VMCA__NODE_STATE__NODE_INACTIVE;
    default:
        return false;
    }
}

static void check_states(struct sim *s)
{
    if (!s->master_up)
        return;
    for (unsigned i = 1; i <= s->n; i++) {
        Vmca__NodeState st = master_core_node(&s->m, i)->state;
        /* A recovery that starts and ends in one step (no member left to
         * wait for) passed through Recovery: the master marks it. */
        bool through_recovery = st == VMCA__NODE_STATE__NODE_INACTIVE &&
                                vmca_state_member(s->prev_state[i]) &&
                                master_core_node(&s->m, i)->recovered;
        if (!through_recovery && !legal_edge(s->prev_state[i], st))
            violation(s, "I5: node %u moved %s -> %s", i, vmca_state_name(s->prev_state[i]),
                      vmca_state_name(st));
        if (vmca_state_member(st) && !vmca_state_member(s->prev_state[i]))
            s->member_ms[i] = s->now;

        s->prev_state[i] = st;
    }
}

/* Liveness (issue 9): a node whose Statistics have not reached the master
 * for longer than the failure timeout (plus a master tick and a little) is
 * not a member of the master's table any more: it was declared failed,
 * whether its connection is open or not (a stopped slave, a stopped
 * hypervisor). */
static void check_liveness(struct sim *s)
{
    if (!s->master_up)
        return;
    int64_t bound = (int64_t)s->cfg.timing.failure_timeout_ms + 300;
    for (unsigned i = 1; i <= s->n && !s->failed; i++) {
        if (!vmca_state_member(master_core_node(&s->m, i)->state))
            continue;
        int64_t since = s->heard_ms[i];
        if (s->member_ms[i] > since)
            since = s->member_ms[i];
        if (s->master_boot_ms > since)
            since = s->master_boot_ms;
        if (s->now - since > bound)
            violation(s, "liveness: node %u sent the master no statistics for %" PRId64
                      " ms (failure timeout %u) and is still %s", i, s->now - since,
                      s->cfg.timing.failure_timeout_ms,
                      vmca_state_name(master_core_node(&s->m, i)->state));
        /* A hypervisor that says nothing: its slave stops vouching within
         * slave_core_hv_silence_ms, then the master's timeout runs. */
        const struct sim_node *n = &s->node[i];
        int64_t hv_since = n->hv_stopped_ms;
        if (s->member_ms[i] > hv_since)
            hv_since = s->member_ms[i];
        if (s->master_boot_ms > hv_since)
            hv_since = s->master_boot_ms;
        if ((n->hv_stopped || (n->up && !n->hv)) &&
            s->now - hv_since > bound + slave_core_hv_silence_ms(&s->cfg) + 100)
            violation(s, "liveness: node %u's hypervisor said nothing for %" PRId64
                      " ms and the node is still %s", i, s->now - hv_since,
                      vmca_state_name(master_core_node(&s->m, i)->state));
    }
}

/* I5, the slave's part: no pages held of a home the slave has disabled,
 * unless it is still returning them (Force-Return or leave); an Invalidate
 * runs at once here. I6: the per-VM targets a slave set sum to at most the
 * pages it owns. */
static void check_slaves(struct sim *s)
{
    for (unsigned i = 1; i <= s->n && !s->failed; i++) {
        struct sim_node *n = &s->node[i];
        if (!n->up || !n->hv)
            continue;
        /* A hypervisor whose manager died holds what it held until the
         * next manager drops it; a stopped hypervisor has not run the
         * Invalidates its slave asked for; a fenced node's claims are
         * inert until it drops them (I1). */
        for (unsigned h = 1; h <= s->n && !s->failed && n->core_live && !n->hv_stopped &&
                             !s->fenced[i];
             h++) {
            if (h == i || slave_core_enabled(&n->sc, h) ||
                vmca_bitmap_test(&n->sc.returning, h))
                continue;
            uint64_t held = hvx_owned_of(n->hv, h);
            if (held)
                violation(s, "I5: node %u holds %" PRIu64 " pages of node %u, which it has "
                          "disabled (no return in progress)", i, held, h);
        }
        size_t set;
        uint64_t sum = hvx_targets_sum(n->hv, &set), owned = hvx_owned_pages(n->hv);
        if (set && sum > owned)
            violation(s, "I6: node %u: per-VM targets sum to %" PRIu64 " pages, above the %"
                      PRIu64 " it owns", i, sum, owned);
        /* With tlp no VM runs unbounded once its slave has seen it (the
         * hypervisor pushes a sample when a VM connects). */
        if (n->core_live && n->sc.hv_up && set < s->vms && !n->slave_stopped &&
            !n->hv_stopped &&
            strcmp(s->cfg.policy.first_tier, "tlp") == 0)
            violation(s, "I6: node %u: %zu of its %u VMs have no target under tlp", i,
                      s->vms - set, s->vms);
    }
}

/* --watch: a trace line whenever the set of nodes that own the page, or
 * have it in transit, changes. */
static void watch_page(struct sim *s)
{
    static char last[512];
    char now[512];
    size_t k = (size_t)snprintf(now, sizeof now, "owned by");
    uint32_t h = opt_watch_home;
    uint64_t idx = opt_watch_index;
    for (unsigned o = 1; o <= s->n; o++) {
        uint64_t pages, gen;
        const uint64_t *w = s->node[o].hv ? hvx_owned_bitmap(s->node[o].hv, h, &pages, &gen)
                                          : NULL;
        if (w && idx < pages && (w[idx >> 6] >> (idx & 63) & 1) && k < sizeof now)
            k += (size_t)snprintf(now + k, sizeof now - k, " %u (gen %" PRIu64 ")", o, gen);
        const struct xfer_table *x = &s->node[o].sc.xfers;
        for (size_t t = 0; s->node[o].core_live && t < x->n_out; t++)
            for (size_t b = 0; b < x->out[t].n; b++) {
                struct vmca_block v = x->out[t].blocks[b];
                uint64_t first = vmca_gfn_index(v.gfn);
                if (vmca_gfn_home(v.gfn) == h && idx >= first &&
                    idx < first + (UINT64_C(1) << v.order) && k < sizeof now)
                    k += (size_t)snprintf(now + k, sizeof now - k, " [%u -> %u xfer %" PRIu64
                                          "]", o, x->out[t].to, x->out[t].xfer);
            }
    }
    if (s->steps == 1 || strcmp(now, last) != 0) {
        trace(s, "watch %u:%" PRIu64 ": %s", h, idx, now);
        memcpy(last, now, sizeof last);
    }
}

/* The checks after a step. A guest's put/get/flush changes no ownership,
 * transit or census state, so I1/I2 are only re-checked after other steps
 * (every one, or every check_every-th with --check-every). */
static void after_step(struct sim *s, const struct event *e)
{
    for (unsigned i = 1; i <= s->n; i++)
        if (s->node[i].leaving && s->node[i].core_live && s->node[i].sc.left)
            slave_exit(s, &s->node[i]);
    if (opt_watch_home)
        watch_page(s);
    check_states(s); /* cheap, and edges must not be skipped */
    check_liveness(s);
    track_census(s);
    if (e->kind != EV_GUEST)
        track_ghosts(s); /* every such step: a failed node's holdings must not be missed */
    if (e->kind != EV_GUEST && s->changed++ % s->check_every == 0) {
        check_ownership(s, false);
        check_slaves(s);
    }
}

/* ---- the run ---- */

static void schedule_fault(struct sim *s)
{
    if (s->f_crash || s->f_master || s->f_drop || s->f_partition || s->f_slow || s->f_leave ||
        s->f_vm || s->f_restart || s->f_byzantine || s->f_stop || s->f_hvstop ||
        s->f_hvcrash)
        at(s, s->now + (int64_t)rnd_range(s, 300, 3000), EV_FAULT, 0);
}

static void do_fault(struct sim *s)
{
    if (s->quiet)
        return;
    unsigned kinds[12], nk = 0;
    if (s->f_crash)
        kinds[nk++] = 0;
    if (s->f_master)
        kinds[nk++] = 1;
    if (s->f_drop)
        kinds[nk++] = 2;
    if (s->f_partition)
        kinds[nk++] = 3;
    if (s->f_slow)
        kinds[nk++] = 4;
    if (s->f_leave)
        kinds[nk++] = 5;
    if (s->f_vm)
        kinds[nk++] = 6;
    if (s->f_restart)
        kinds[nk++] = 7;
    if (s->f_byzantine)
        kinds[nk++] = 8;
    if (s->f_stop)
        kinds[nk++] = 9;
    if (s->f_hvstop)
        kinds[nk++] = 10;
    if (s->f_hvcrash)
        kinds[nk++] = 11;
    unsigned k = kinds[rnd(s) % nk];
    if (k == 7) {
        struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
        if (n->up && n->core_live && !n->leaving)
            slave_crash(s, n);
    } else if (k == 8) {
        byzantine(s);
    } else if (k == 11) {
        struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
        if (n->up && n->hv && n->id != s->cfg.master.node_id)
            hv_crash(s, n);
    } else if (k == 9 || k == 10) {
        /* Issue 9: a slave (9) or a hypervisor (10) stopped (SIGSTOP) with its
         * connections open, for up to three failure timeouts. */
        struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
        bool *stopped = k == 9 ? &n->slave_stopped : &n->hv_stopped;
        if (n->up && n->hv && n->core_live && !n->slave_stopped && !n->hv_stopped) {
            *stopped = true;
            n->hv_stopped_ms = s->now;
            trace(s, "node %u's %s stopped", n->id, k == 9 ? "slave" : "hypervisor");
            push(s, (struct event){.at = s->now + (int64_t)rnd_range(
                                       s, 200, 3 * (uint64_t)s->cfg.timing.failure_timeout_ms),
                                   .kind = EV_RESUME, .a = n->id});
        }
    } else if (k == 6) {
        /* A VM goes away and connects again under the same id, with no
         * data; its hypervisor pushes a sample of the same period. */
        struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
        unsigned vi = (unsigned)(rnd(s) % s->vms);
        if (n->up && n->hv && !n->hv_stopped) { /* a stopped hypervisor takes no VM */
            trace(s, "node %u: VM %u reconnects", n->id, vi + 1);
            hvx_client_destroy(n->hv, vi + 1);
            hvx_client_new(n->hv, vi + 1);
            n->pool[vi] = hvx_pool_new(n->hv, vi + 1, HVX_POOL_EPHEMERAL);
            memset(n->version[vi], 0, sizeof n->version[vi]);
            if (n->core_live && !n->slave_stopped) { /* else: a sample at resume */
                hv_stats(s, n, false);
                drain_slave(s, n);
            }
        }
    } else if (k == 5) {
        /* A clean shutdown: the slave leaves, exits, and starts again. */
        struct sim_node *n = &s->node[rnd_range(s, 2, s->n)];
        if (n->up && n->core_live && !n->leaving && n->sc.state == VMCA__NODE_STATE__NODE_ACTIVE) {
            trace(s, "node %u leaves", n->id);
            n->leaving = true;
            slave_core_leave(&n->sc, s->now);
            drain_slave(s, n);
        }
    } else if (k == 3) {
        /* Cut one slave off from everyone (master included) for a while. */
        uint32_t a = (uint32_t)rnd_range(s, 2, s->n);
        if (s->node[a].up && s->node[a].core_live && !s->cut[a]) {
            trace(s, "node %u partitioned away", a);
            bump_links(s, a);
            s->cut[a] = true;
            if (s->master_up) {
                master_core_on_disconnect(&s->m, a, s->now);
                drain_master(s);
            }
            slave_core_on_master_down(&s->node[a].sc, s->now);
            drain_slave(s, &s->node[a]);
            at(s, s->now + (int64_t)rnd_range(s, 300, 4000), EV_HEAL, a);
        }
    } else if (k == 4) {
        uint32_t a = (uint32_t)rnd_range(s, 1, s->n);
        s->slow_until[a] = s->now + (int64_t)rnd_range(s, 500, 5000);
        trace(s, "node %u slow", a);
    } else if (k == 0) {
        struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
        if (n->up && n->id != s->cfg.master.node_id) {
            node_crash(s, n);
            at(s, s->now + (int64_t)rnd_range(s, 200, 4000), EV_RESTART_NODE, n->id);
        }
    } else if (k == 1) {
        if (s->master_up) {
            master_crash(s);
            at(s, s->now + (int64_t)rnd_range(s, 100, 1500), EV_RESTART_MASTER, 0);
        }
    } else {
        uint32_t a = (uint32_t)rnd_range(s, 1, s->n), b = (uint32_t)rnd_range(s, 0, s->n);
        if (a != b && ep_up(s, a) && ep_up(s, b)) {
            uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
            s->epoch[lo][hi]++; /* in-flight messages on this connection are lost */
            s->stat_drops++;
            trace(s, "connection %u-%u drops", a, b);
            if (b == MASTER_EP) {
                master_core_on_disconnect(&s->m, a, s->now);
                slave_core_on_master_down(&s->node[a].sc, s->now);
                drain_master(s);
                drain_slave(s, &s->node[a]);
            }
            push(s, (struct event){.at = s->now + (int64_t)rnd_range(s, 20, 300),
                                   .kind = EV_RECONNECT, .a = a, .b = b});
        }
    }
    schedule_fault(s);
}

static void deliver(struct sim *s, struct event *e)
{
    uint32_t lo = e->a < e->b ? e->a : e->b, hi = e->a < e->b ? e->b : e->a;
    if (e->epoch != s->epoch[lo][hi] || !reachable(s, e->a, e->b))
        return;
    Vmca__Envelope *env;
    size_t used;
    char err[128];
    if (vmca_decode_frame(e->frame, e->len, s->cfg.max_frame, &env, &used, err, sizeof err)) {
        violation(s, "a core sent an undecodable frame: %s", err);
        return;
    }
    s->events++;
    trace(s, "%s %u -> %u", vmca_body_name(env->body_case), e->a, e->b);
    if (e->b == MASTER_EP) {
        if (env->body_case == VMCA__ENVELOPE__BODY_STATISTICS)
            s->heard_ms[e->a] = s->now;
        master_core_on_message(&s->m, e->a, env, s->now);
        drain_master(s);
    } else {
        struct sim_node *n = &s->node[e->b];
        if (n->slave_stopped) {
            /* It reads its sockets when it resumes, in order. */
            vmca_envelope_free(env);
            s->events--;
            if (n->n_queued == n->cap_queued) {
                n->cap_queued = n->cap_queued ? 2 * n->cap_queued : 64;
                n->queued = realloc(n->queued, n->cap_queued * sizeof *n->queued);
                if (!n->queued) {
                    fprintf(stderr, "vmca-sim: out of memory\n");
                    exit(1);
                }
            }
            n->queued[n->n_queued++] = *e;
            e->frame = NULL; /* kept by the queue */
            return;
        }
        uint32_t from = e->from_master ? s->cfg.master.node_id : e->a;
        slave_core_on_message(&n->sc, from, e->from_master, env, s->now);
        drain_slave(s, n);
    }
    vmca_envelope_free(env);
}

static void step(struct sim *s, struct event *e)
{
    s->now = e->at;
    struct sim_node *n = e->a >= 1 && e->a <= s->n ? &s->node[e->a] : NULL;
    switch (e->kind) {
    case EV_DELIVER:
        deliver(s, e);
        break;
    case EV_TICK_MASTER:
        if (s->master_up) {
            master_core_on_tick(&s->m, s->now);
            drain_master(s);
            s->events++;
        }
        at(s, s->now + 100, EV_TICK_MASTER, 0);
        break;
    case EV_TICK_SLAVE:
        if (n->up && n->core_live && !n->slave_stopped) {
            slave_core_on_tick(&n->sc, s->now);
            drain_slave(s, n);
            s->events++;
        }
        at(s, s->now + 50, EV_TICK_SLAVE, e->a);
        break;
    case EV_STATS:
        /* A stopped hypervisor pushes nothing; a stopped slave gets the
         * latest sample when it resumes. */
        if (n->up && n->core_live && !n->hv_stopped && !n->slave_stopped) {
            hv_stats(s, n, true);
            drain_slave(s, n);
            s->events++;
        }
        at(s, s->now + s->cfg.timing.stats_interval_ms, EV_STATS, e->a);
        break;
    case EV_GUEST:
        if (n->up && n->hv && !s->quiet && !n->hv_stopped)
            guest_op(s, n);
        at(s, s->now + (int64_t)rnd_range(s, 1, 10), EV_GUEST, e->a);
        break;
    case EV_FAULT:
        do_fault(s);
        break;
    case EV_RESTART_NODE:
        if (!n->up)
            node_boot(s, n);
        break;
    case EV_RESTART_HV:
        if (n->up && !n->hv) {
            hv_boot(s, n);
            trace(s, "node %u's hypervisor starts again (generation %" PRIu64 ")", n->id,
                  n->gen);
            if (n->core_live && !n->slave_stopped) {
                slave_core_on_hv_up(&n->sc);
                hv_stats(s, n, false);
                drain_slave(s, n);
            }
        }
        break;
    case EV_RESTART_MASTER:
        if (!s->master_up)
            master_boot(s);
        break;
    case EV_RESUME:
        if (n->slave_stopped || n->hv_stopped) {
            trace(s, "node %u resumes (%zu frames queued)", n->id, n->n_queued);
            bool slave = n->slave_stopped;
            n->slave_stopped = n->hv_stopped = false;
            for (size_t i = 0; i < n->n_queued; i++) {
                deliver(s, &n->queued[i]);
                free(n->queued[i].frame);
            }
            n->n_queued = 0;
            if (n->up && n->core_live) {
                if (slave)
                    slave_core_on_tick(&n->sc, s->now);
                hv_stats(s, n, false); /* what it queued, or what it says on waking */
                drain_slave(s, n);
            }
        }
        break;
    case EV_RESTART_SLAVE:
        if (n->up && n->slave_down) {
            slave_boot(s, n);
            trace(s, "node %u's slave starts again", n->id);
        }
        break;
    case EV_HEAL:
        if (s->cut[e->a]) {
            s->cut[e->a] = false;
            trace(s, "node %u partition heals", e->a);
            if (reachable(s, n->id, MASTER_EP)) {
                master_core_on_connect(&s->m, n->id, n->incarnation, s->now);
                slave_core_on_master_up(&n->sc, s->now);
                drain_master(s);
            }
            for (unsigned i = 1; i <= s->n; i++)
                if (i != n->id && reachable(s, n->id, i)) {
                    slave_core_on_peer_up(&s->node[i].sc, n->id, s->now);
                    slave_core_on_peer_up(&n->sc, i, s->now);
                    drain_slave(s, &s->node[i]);
                }
            drain_slave(s, n);
        }
        break;
    case EV_RECONNECT:
        if (reachable(s, e->a, e->b)) {
            if (e->b == MASTER_EP) {
                master_core_on_connect(&s->m, e->a, s->node[e->a].incarnation, s->now);
                slave_core_on_master_up(&s->node[e->a].sc, s->now);
                drain_master(s);
            } else {
                slave_core_on_peer_up(&s->node[e->b].sc, e->a, s->now);
                drain_slave(s, &s->node[e->b]);
            }
            slave_core_on_peer_up(&s->node[e->a].sc, e->b, s->now);
            drain_slave(s, &s->node[e->a]);
        }
        break;
    }
    free(e->frame);
}

static void sim_setup(struct sim *s, uint64_t seed, unsigned nodes)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->rng = seed * 0x9E3779B97F4A7C15ull + 1;
    s->n = nodes;
    uint64_t max_pages = 0;
    for (unsigned i = 0; i < nodes; i++) {
        struct vmca_node_cfg *c = &s->nodes_cfg[i];
        c->id = i + 1;
        snprintf(c->name, sizeof c->name, "n%u", i + 1);
        c->tmem_pages = rnd_range(s, 64, 512);
        c->location[0] = i / 4;
        c->location[1] = i;
        c->location_len = 2;
        if (c->tmem_pages > max_pages)
            max_pages = c->tmem_pages;
    }
    s->seen = calloc((max_pages + 63) / 64, sizeof *s->seen);
    s->ghost_words = (max_pages + 63) / 64;
    s->ghost = calloc((SIM_MAX_NODES + 1) * (SIM_MAX_NODES + 1) * s->ghost_words,
                      sizeof *s->ghost);
    s->cfg.nodes = s->nodes_cfg;
    s->cfg.n_nodes = nodes;
    s->cfg.page_size = SIM_PAGE;
    s->cfg.max_frame = 1u << 20;
    s->cfg.master.node_id = 1;
    snprintf(s->cfg.cluster, sizeof s->cfg.cluster, "sim");
    snprintf(s->cfg.policy.first_tier, sizeof s->cfg.policy.first_tier, "%s", opt_policy);
    s->cfg.policy.tlp_percent = 5; /* small nodes: targets move a few pages a period */
    s->cfg.policy.tlp_threshold = 16;
    snprintf(s->cfg.policy.second_tier, sizeof s->cfg.policy.second_tier, "sorted");
    s->cfg.policy.reserve_pages = 16;
    s->cfg.policy.grant_batch = 64;
    s->cfg.timing.stats_interval_ms = 200;
    s->cfg.timing.failure_timeout_ms = 1000;
    for (unsigned i = 1; i <= nodes; i++) {
        s->node[i].sim = s;
        s->node[i].id = i;
        s->node[i].mem = calloc(s->nodes_cfg[i - 1].tmem_pages, SIM_PAGE);
        s->node[i].owners = calloc(s->nodes_cfg[i - 1].tmem_pages, sizeof(uint32_t));
    }
}

static void sim_teardown(struct sim *s)
{
    for (unsigned i = 1; i <= s->n; i++) {
        if (s->node[i].up) {
            if (s->node[i].core_live)
                slave_core_free(&s->node[i].sc);
            hv_tkm_free(s->node[i].tkm);
            hvx_destroy(s->node[i].hv);
        }
        free(s->node[i].mem);
        free(s->node[i].owners);
        for (size_t q = 0; q < s->node[i].n_queued; q++)
            free(s->node[i].queued[q].frame);
        free(s->node[i].queued);
    }
    if (s->master_up)
        master_core_free(&s->m);
    while (s->heap_n) {
        struct event e = pop(s);
        free(e.frame);
    }
    free(s->heap);
    free(s->seen);
    free(s->ghost);
}

/* Whether the comma-separated list names fault `name` exactly. */
static bool has_fault(const char *faults, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = faults; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
            return true;
    return false;
}

/* One run; returns 0 (clean) or 1 (violation). */
static bool opt_trace;

static int run(uint64_t seed, unsigned nodes, uint64_t steps, const char *faults,
               unsigned check_every, bool verbose, uint64_t *events)
{
    static struct sim s;
    sim_setup(&s, seed, nodes);
    s.print_trace = opt_trace;
    s.max_steps = steps;
    s.check_every = check_every;
    s.f_crash = has_fault(faults, "crash");
    s.f_master = has_fault(faults, "master");
    s.f_drop = has_fault(faults, "drop");
    s.f_partition = has_fault(faults, "partition");
    s.f_slow = has_fault(faults, "slow");
    s.f_leave = has_fault(faults, "leave");
    s.f_vm = has_fault(faults, "vm");
    s.f_restart = has_fault(faults, "restart");
    s.f_byzantine = has_fault(faults, "byzantine");
    s.f_stop = has_fault(faults, "stop");
    s.f_hvstop = has_fault(faults, "hvstop");
    s.f_hvcrash = has_fault(faults, "hvcrash");
    s.vms = s.f_vm ? 2 : 1;
    master_boot(&s);
    for (unsigned i = 1; i <= nodes; i++) {
        node_boot(&s, &s.node[i]);
        at(&s, (int64_t)rnd_range(&s, 0, 49), EV_TICK_SLAVE, i);
        at(&s, (int64_t)rnd_range(&s, 0, 199), EV_STATS, i);
        at(&s, (int64_t)rnd_range(&s, 0, 9), EV_GUEST, i);
    }
    at(&s, 50, EV_TICK_MASTER, 0);
    schedule_fault(&s);
    while (s.steps < steps && s.heap_n && !s.failed) {
        struct event e = pop(&s);
        s.steps++;
        step(&s, &e);
        after_step(&s, &e);
    }
    /* Quiet period: no faults, every node and the master up, then I3. */
    s.quiet = true;
    for (unsigned i = 1; i <= nodes; i++) {
        s.slow_until[i] = 0;
        if (s.node[i].slave_stopped || s.node[i].hv_stopped)
            push(&s, (struct event){.at = s.now, .kind = EV_RESUME, .a = i});
        if (s.cut[i])
            push(&s, (struct event){.at = s.now, .kind = EV_HEAL, .a = i});
        if (s.node[i].up && !s.node[i].hv)
            push(&s, (struct event){.at = s.now, .kind = EV_RESTART_HV, .a = i});
    }
    if (!s.master_up && !s.failed)
        master_boot(&s);
    for (unsigned i = 1; i <= nodes && !s.failed; i++)
        if (!s.node[i].up)
            node_boot(&s, &s.node[i]);
    int64_t until = s.now + 20000;
    while (s.heap_n && !s.failed) {
        struct event e = pop(&s);
        if (e.at > until) {
            free(e.frame);
            break;
        }
        s.steps++;
        step(&s, &e);
        after_step(&s, &e);
    }
    if (!s.failed) {
        check_ownership(&s, true);
        for (unsigned i = 1; i <= nodes && !s.failed; i++) {
            if (s.node[i].sc.xfers.n_out)
                violation(&s, "I3: node %u still has %zu transfers in transit at rest", i,
                          s.node[i].sc.xfers.n_out);
            /* No census runs at rest: a home frozen now would never lend
             * again (its pages are lost to the cluster, if not to it). */
            for (unsigned h = 1; h <= nodes && !s.failed && s.node[i].hv; h++)
                if (hvx_frozen(s.node[i].hv, h))
                    violation(&s, "I3: at rest node %u's hypervisor still freezes home %u "
                              "(no census runs)", i, h);
            Vmca__NodeState st = master_core_node(&s.m, i)->state;
            if (st != VMCA__NODE_STATE__NODE_ACTIVE) {
                violation(&s, "at rest node %u is %s, not active", i, vmca_state_name(st));
                for (unsigned j = 1; j <= nodes; j++) {
                    const struct master_node *mn = master_core_node(&s.m, j);
                    fprintf(stderr, "  master view of %u: %s connected=%d pending=%u "
                            "foreign=%d clear=%#llx; slave view %s, %zu in transit\n", j,
                            vmca_state_name(mn->state), mn->connected, mn->pending,
                            mn->holds_foreign, (unsigned long long)mn->flow_clear,
                            vmca_state_name(s.node[j].sc.state), s.node[j].sc.xfers.n_out);
                    for (size_t x = 0; x < s.node[j].sc.xfers.n_out; x++)
                        fprintf(stderr, "    transfer %llu to %u, %llu pages, first block home %u\n",
                                (unsigned long long)s.node[j].sc.xfers.out[x].xfer,
                                s.node[j].sc.xfers.out[x].to,
                                (unsigned long long)s.node[j].sc.xfers.out[x].pages,
                                vmca_gfn_home(s.node[j].sc.xfers.out[x].blocks[0].gfn));
                }
            }
        }
    }
    if (verbose || s.failed)
        printf("seed %" PRIu64 ": %s after %" PRIu64 " steps (%" PRIu64 " protocol events, "
               "%" PRIu64 " node crashes, %" PRIu64 " master crashes, %" PRIu64
               " drops, %" PRIu64 " verified gets, I2 in %.0f%% of checks)\n",
               seed, s.failed ? "VIOLATION" : "ok", s.steps, s.events, s.stat_crashes,
               s.stat_master_crashes, s.stat_drops, s.stat_gets_ok,
               s.stat_checks ? 100.0 * (double)s.stat_i2 / (double)s.stat_checks : 0.0);
    *events += s.events;
    int rc = s.failed;
    sim_teardown(&s);
    return rc;
}

static const char usage[] =
    "usage: vmca-sim [--seed S | --seeds A..B] [--steps N] [--nodes K] [--faults LIST]\n"
    "                [--policy NAME] [--check-every N] [--verbose] [--trace]\n"
    "Runs K nodes' real slave cores and libhvx, and the real master core, under a\n"
    "seeded scheduler with simulated network, clock and faults. After every step\n"
    "that can change ownership it checks I1 (single owner), I2 (conservation, the\n"
    "failed nodes' holdings counted), the slaves' part of I5 (no pages of a\n"
    "disabled home) and I6 (targets within the pages owned); after every step I4\n"
    "(no stale read), I7 (no VM reads data another VM wrote), I5 (legal master\n"
    "states) and liveness (a silent node or hypervisor is declared failed); and\n"
    "I3 (no leak at rest, no home left frozen) after a final quiet period with\n"
    "every node up.\n"
    "\n"
    "  --seed S          one run (default 1)\n"
    "  --seeds A..B      a sweep of seeds A to B\n"
    "  --steps N         scheduler steps per run before the quiet period (default 20000)\n"
    "  --nodes K         nodes, 3..16 (default 4)\n"
    "  --faults LIST     comma-separated: crash, master, drop, partition, slow,\n"
    "                    leave (a slave leaves cleanly, exits and starts again),\n"
    "                    vm (a VM reconnects under the same id with no data;\n"
    "                    every node then runs two VMs), stop (a slave stopped\n"
    "                    with its connections open: what arrives meanwhile is\n"
    "                    handled at resume, in order), hvstop (a hypervisor\n"
    "                    stopped: no samples, no hypercall replies, its guests\n"
    "                    stopped), hvcrash (a hypervisor dies under its live\n"
    "                    slave and starts again later), restart (a slave dies\n"
    "                    on its running hypervisor and starts again), byzantine\n"
    "                    (a member sends grants and returns of blocks it does\n"
    "                    not hold, and empty census replies), or none\n"
    "                    (default crash,master,drop)\n"
    "  --policy NAME     first tier of every slave: greedy-remote (default),\n"
    "                    greedy-local or tlp (per-VM targets)\n"
    "  --check-every N   check I1, I2 and I6 every N such steps (default 1)\n"
    "  --verbose         a line per seed\n"
    "  --trace           print every event and the cores' log lines (to stderr)\n"
    "  --watch H:I       a trace line whenever the nodes owning page I of home H,\n"
    "                    or holding it in transit, change (debugging a seed)\n"
    "exit status: 0 no violation, 1 a violation (printed with seed, step, trace),\n"
    "2 bad usage\n";

static int bad(const char *opt, const char *arg, const char *want)
{
    fprintf(stderr, "vmca-sim: %s: expected %s, got '%s'\n", opt, want, arg);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},   {"seeds", required_argument, NULL, 'S'},
        {"steps", required_argument, NULL, 'n'},  {"nodes", required_argument, NULL, 'k'},
        {"faults", required_argument, NULL, 'f'}, {"check-every", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"trace", no_argument, NULL, 't'},        {"policy", required_argument, NULL, 'p'},
        {"watch", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    uint64_t first = 1, last = 1, steps = 20000;
    unsigned nodes = 4, check_every = 1;
    const char *faults = "crash,master,drop";
    bool verbose = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        unsigned long long a, b;
        switch (opt) {
        case 's':
            errno = 0;
            a = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg)
                return bad("--seed", optarg, "a number");
            first = last = a;
            break;
        case 'S':
            if (sscanf(optarg, "%llu..%llu", &a, &b) != 2 || b < a)
                return bad("--seeds", optarg, "A..B with A <= B");
            first = a;
            last = b;
            break;
        case 'n':
            a = strtoull(optarg, &end, 10);
            if (*end || !*optarg || a == 0)
                return bad("--steps", optarg, "a positive number");
            steps = a;
            break;
        case 'k':
            a = strtoull(optarg, &end, 10);
            if (*end || a < 3 || a > SIM_MAX_NODES)
                return bad("--nodes", optarg, "a number in 3..16");
            nodes = (unsigned)a;
            break;
        case 'f': {
            char tmp[128];
            snprintf(tmp, sizeof tmp, "%s", optarg);
            for (char *save, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (strcmp(t, "crash") && strcmp(t, "master") && strcmp(t, "drop") &&
                    strcmp(t, "partition") && strcmp(t, "slow") && strcmp(t, "leave") &&
                    strcmp(t, "vm") && strcmp(t, "restart") && strcmp(t, "byzantine") &&
                    strcmp(t, "stop") && strcmp(t, "hvstop") && strcmp(t, "hvcrash") &&
                    strcmp(t, "none"))
                    return bad("--faults", t, "crash, master, drop, partition, slow, leave, "
                                              "vm, restart, byzantine, stop, hvstop, hvcrash "
                                              "or none");
            faults = optarg;
            break;
        }
        case 'c':
            a = strtoull(optarg, &end, 10);
            if (*end || a == 0)
                return bad("--check-every", optarg, "a positive number");
            check_every = (unsigned)a;
            break;
        case 'p':
            if (strcmp(optarg, "greedy-remote") && strcmp(optarg, "greedy-local") &&
                strcmp(optarg, "tlp"))
                return bad("--policy", optarg, "greedy-remote, greedy-local or tlp");
            opt_policy = optarg;
            break;
        case 'w': {
            unsigned h;
            unsigned long long i;
            char extra;
            if (sscanf(optarg, "%u:%llu%c", &h, &i, &extra) != 2 || h == 0 || h > SIM_MAX_NODES)
                return bad("--watch", optarg, "HOME:INDEX, HOME a node id in 1..16");
            opt_watch_home = h;
            opt_watch_index = i;
            break;
        }
        case 'v': verbose = true; break;
        case 't': opt_trace = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc)
        return bad("arguments", argv[optind], "options only");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t events = 0, failed = 0;
    for (uint64_t seed = first; seed <= last; seed++)
        failed += (uint64_t)run(seed, nodes, steps, faults, check_every, verbose, &events);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("vmca-sim: %" PRIu64 " seed(s), %" PRIu64 " violation(s), %" PRIu64
           " protocol events in %.2f s (%.0f events/s)\n",
           last - first + 1, failed, events, secs, (double)events / (secs > 0 ? secs : 1));
    return failed ? 1 : 0;
}
