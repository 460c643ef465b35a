/* vmca-sim (tools/sim/): a deterministic cluster simulator. It runs N nodes' real
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
 *   R (the donor reserve): the Grant-Fwds the master sends a donor since
 *      the donor's Statistics before last reached it never exceed the free
 *      pages above policy.reserve_pages of its last Statistics;
 *   P1 replicated pages (replicas = 2): a VM whose pages have two copies
 *      loses none (no EIO, no miss of a page it put) while at most one
 *      other node has failed since its last repair (guests.c);
 * and at the end, after a quiet period with every node up, I3 (no leak at
 * rest: every page of every home owned exactly once, nothing in transit).
 * The same seed replays the same run; the first violation stops it with the
 * seed, the step and a short trace. With --scenario (scenario_run.c) it runs
 * a scenario file's VMs (vm.c) without faults and reports what they got. */
#ifndef VMCA_SIM_H
#define VMCA_SIM_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "config.h"
#include "err.h"
#include "gfn.h"
#include "hv_tkm.h"
#include "hvx.h"
#include "master_core.h"
#include "pbblocks.h"
#include "scenario.h"
#include "slave_core.h"

#define SIM_MAX_NODES 16u
#define SIM_KEYS 256u           /* guest keys per VM */
#define SIM_MAX_VMS 2u          /* VMs per node (2 with the vm fault, else 1) */
#define MASTER_EP 0u            /* endpoint 0 = the master; 1..N = slaves */
#define TRACE_LEN 32u
#define SIM_MAX_SETS 64u        /* --set options */
/* A leave that cannot finish (persistent pages with nowhere to go) is given
 * up after this long, as vmca-slave's --leave-timeout does (scaled as the
 * simulated timings are): the slave exits as if it had crashed. */
#define SIM_LEAVE_GIVE_UP_MS 10000

/* What the command line chose for every run of a sweep (read-only). */
struct sim_opts {
    const char *config;         /* --config FILE; NULL: one generated per seed */
    const char *policy;         /* --policy: the generated config's first tier */
    unsigned nodes;             /* --nodes: the generated config's */
    uint64_t steps;             /* scheduler steps before the quiet period */
    unsigned faults;            /* 1 << enum sim_fault */
    unsigned check_every;
    uint32_t watch_home;        /* --watch HOME:INDEX, 0 none */
    uint64_t watch_index;
    bool trace, verbose;
    /* --scenario (scenario.c): no faults, the scenario's VMs (vm.c). */
    const struct scenario *scenario;
    const char *second_tier;    /* --second-tier, or NULL: the default */
    const char *const *sets;    /* --set policy.X=V, in order */
    size_t n_sets;
    const char *series;         /* --series FILE, or NULL */
    int64_t corrupt_ms;         /* --corrupt-at: every home's memory is damaged then
                                   (tests the content check); 0 never */
    unsigned replicas;          /* --replicas: the generated config's; 0 unset */
};

/* The faults --faults may inject (faults.c has what each does). */
enum sim_fault { SIM_F_CRASH, SIM_F_MASTER, SIM_F_DROP, SIM_F_PARTITION, SIM_F_SLOW,
                 SIM_F_LEAVE, SIM_F_VM, SIM_F_RESTART, SIM_F_BYZANTINE, SIM_F_STOP,
                 SIM_F_HVSTOP, SIM_F_HVCRASH, SIM_FAULTS };

enum ev_kind { EV_DELIVER, EV_TICK_MASTER, EV_TICK_SLAVE, EV_STATS, EV_GUEST, EV_FAULT,
               EV_RESTART_NODE, EV_RESTART_MASTER, EV_RECONNECT, EV_HEAL, EV_RESTART_SLAVE,
               EV_RESTART_HV,
               EV_RESUME,
               EV_SAMPLE };             /* scenario runs: the statistics period's samples */

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
    /* P1: VMs with replicas = 2 (persistent pools), and per VM the nodes
     * (bit id) that failed since its last full repair; bit 0: its own. */
    bool replicated[SIM_MAX_VMS];
    int64_t leave_ms;           /* when its slave started leaving */
    uint32_t rep_failed[SIM_MAX_VMS];
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
    const struct sim_opts *opts;
    uint64_t seed, rng;
    int64_t now;
    uint64_t steps, max_steps, events, seq;
    struct vmca_config cfg;
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
    unsigned faults;            /* 1 << enum sim_fault, for each fault injected */
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
    uint8_t *page_buf;          /* the guests' shared buffer: one page */
    char watch_last[512];       /* --watch: the last line printed */
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
    /* The reserve check, from what the network carries (not the master's
     * own bookkeeping): per donor, the free pages of its last Statistics
     * delivered to a master, and the Grant-Fwd pages sent to it since then
     * and since the one before. */
    struct sim_donor {
        uint64_t free, recent, older;
    } donor[SIM_MAX_NODES + 1];
    uint64_t stat_frames;       /* frames the master and the slaves sent */
    uint64_t stat_rep_losses;   /* replicated VMs' losses after two failures (allowed) */
    uint64_t stat_repairs;      /* second copies restored */
    uint64_t stat_rep_peak;     /* most second copies one node held */
    bool persistent;            /* some VM keeps persistent pages (replicas = 2) */
    uint64_t stat_granted;      /* pages in the Grants delivered between nodes */
    /* ---- scenario runs (vm.c) ---- */
    struct svm *svm;            /* every node's VMs, in scenario order */
    size_t n_svm, svm_turn;     /* svm_turn: who runs first in the next quantum */
    struct {
        int64_t cpu, local, remote, disk;  /* ns per simulated page */
    } cost;
};

/* A scenario VM (vm.c): its RAM (CLOCK over ram frames), where each page
 * of its footprint is, the version it last wrote, its clock and counts. */
struct svm_sample {
    int64_t t_ms;
    uint64_t tmem, ws, failed;  /* tmem pages, working set, failed puts of the period */
    int64_t target;             /* -1: unlimited */
};
struct svm {
    uint32_t node;              /* node id */
    const struct scen_vm *cfg;
    struct wl *w;
    uint64_t ram, fp;           /* frames; pages of its footprint */
    uint8_t *where;             /* per page: in RAM, tmem, on disk or untouched */
    uint32_t *version;          /* per page: writes so far */
    uint32_t *frame_of;         /* per page in RAM: its frame */
    uint64_t *frame_page;       /* per frame: its page */
    uint8_t *ref;               /* per frame: CLOCK's referenced bit */
    uint64_t used, hand;        /* frames in use; CLOCK's hand */
    int pool;
    bool started, done;
    int64_t start_ns, clock_ns, end_ns;
    uint64_t accesses, puts, failed_puts, gets_local, gets_remote, gets_disk;
    uint64_t period_failed;
    uint64_t ref_ws;            /* working set at the last demand change */
    int64_t *changes;           /* demand changes (clock_ns) */
    size_t n_changes, cap_changes;
    struct svm_sample *samples;
    size_t n_samples, cap_samples;
};

/* ---- sched.c: randomness, the event heap, the trace, violations ---- */
uint64_t rnd(struct sim *s);
uint64_t rnd_range(struct sim *s, uint64_t lo, uint64_t hi);
void trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first violation of a run: printed with the seed, the step and the trace. */
void violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void master_log(void *arg, enum vmca_log_level level, const char *msg);
void slave_log(void *arg, enum vmca_log_level level, const char *msg);
void push(struct sim *s, struct event e);
struct event pop(struct sim *s);
void at(struct sim *s, int64_t when, enum ev_kind kind, uint32_t a);

/* ---- hv.c: each node's hypervisor side ---- */
void hv_boot(struct sim *s, struct sim_node *n);
void hv_gone(struct sim_node *n);
void run_hcalls(struct sim *s, struct sim_node *n);
void hv_stats(struct sim *s, struct sim_node *n, bool period_end);

/* ---- net.c: connections and the cores' actions ---- */
bool ep_up(struct sim *s, uint32_t ep);
bool reachable(struct sim *s, uint32_t a, uint32_t b);
void bump_links(struct sim *s, uint32_t ep);
void drain_master(struct sim *s);
void drain_slave(struct sim *s, struct sim_node *n);
void deliver(struct sim *s, struct event *e);
/* Node n's connections come up: to the master and to every peer it can
 * reach (each peer learns of it; with `both`, n learns of each peer too). */
void links_up(struct sim *s, struct sim_node *n, bool both);

/* ---- nodes.c: node, memory manager and master life ---- */
void node_boot(struct sim *s, struct sim_node *n);
void slave_boot(struct sim *s, struct sim_node *n);
void slave_exit(struct sim *s, struct sim_node *n);
void node_crash(struct sim *s, struct sim_node *n);
void slave_crash(struct sim *s, struct sim_node *n);
void hv_crash(struct sim *s, struct sim_node *n);
void master_boot(struct sim *s);
void master_crash(struct sim *s);

/* ---- faults.c ---- */
/* Parses --faults ("a,b,..." of fault names, or "none") into a set of
 * 1 << enum sim_fault: 0, or -1 with the entry that is no fault in bad. */
int faults_parse(const char *list, unsigned *set, char *bad, size_t badlen);
const char *fault_name(unsigned f);
void schedule_fault(struct sim *s);
void do_fault(struct sim *s);
bool forge_census_reply(struct sim *s, struct sim_node *r, struct sim_node *home);

/* ---- guests.c ---- */
/* The node's VMs start (its hypervisor booted): empty pools. */
void guests_boot(struct sim *s, struct sim_node *n);
/* VM vi goes away and comes back under its id with no data; its hypervisor
 * pushes a sample of the same period. */
void guest_reconnect(struct sim *s, struct sim_node *n, unsigned vi);
void guest_op(struct sim *s, struct sim_node *n);
/* P1: node `failed` failed (crash, fence, its memory closed, leave): copies
 * on it may be gone for every replicated VM of the other nodes. */
void replica_failure(struct sim *s, uint32_t failed);
/* P1, at a statistics period's end: the node's repair step, and a VM whose
 * pages all have two copies again, with every failed node since settled,
 * starts counting failures afresh. */
void replica_repair(struct sim *s, struct sim_node *n);

/* ---- main.c: the pieces of a run that scenario.c's runs share ---- */
void sim_step(struct sim *s, struct event *e);
/* Memory for the run of s->cfg (loaded). 0, or -1 with the reason in err. */
int sim_alloc(struct sim *s, char *err, size_t errlen);
void sim_teardown(struct sim *s);

/* ---- vm.c: scenario VMs ---- */
/* The scenario's VMs and their workloads; 0, or -1 with the reason in err. */
int svms_create(struct sim *s, char *err, size_t errlen);
void svms_free(struct sim *s);
/* Every VM that has started runs until its clock reaches until_ms. */
void svms_advance(struct sim *s, int64_t until_ms);
bool svms_done(const struct sim *s);
/* One statistics period's sample of every running VM (and its --series line). */
void svms_sample(struct sim *s, FILE *series);
/* Mean convergence time in seconds over its demand changes; -1 when none. */
double svm_converge_s(const struct svm *v);

/* ---- scenario_run.c: vmca-sim --scenario ---- */
#define SCEN_CHECK_EVERY 16u    /* I1, I2, I6 every 16 such steps unless --check-every */
/* One scenario run: its lines on stdout; returns the exit status (0, 1, 2). */
int scenario_run(const struct sim_opts *o, uint64_t seed);

/* ---- invariants.c ---- */
void gather_ghost(struct sim *s, unsigned f);
void check_ownership(struct sim *s, bool at_rest);
/* The reserve check (R above): a message delivered to the master from
 * node, and a frame the master sends to node. */
void reserve_track(struct sim *s, uint32_t node, const Vmca__Envelope *env);
void reserve_check(struct sim *s, uint32_t to, const uint8_t *frame, size_t len);
void after_step(struct sim *s, const struct event *e);

#endif
