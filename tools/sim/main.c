/* vmca-sim's entry point: options, one seeded run (setup, the steps, the
 * quiet period and the checks at rest, teardown) and sweeps of seeds. */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <getopt.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "second_tier.h"
#include "sim.h"
#include "workload.h"



void sim_step(struct sim *s, struct event *e)
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
            links_up(s, n, true);
        }
        break;
    case EV_SAMPLE: /* scenario runs: scenario_run.c reschedules it */
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

/* The cluster configuration a seed runs when --config names none: K nodes
 * of 64..512 pages (drawn from the seed), small timings so that a run
 * covers many statistics periods. Written as a configuration file and
 * loaded by common/config like any other. */
static int generate_config(struct sim *s, FILE *f)
{
    unsigned k = s->opts->nodes;
    fprintf(f, "# vmca-sim --seed %" PRIu64 " --nodes %u%s\n"
               "cluster = \"sim\";\npage_size = 4096;\n"
               "master = { node = \"n1\"; port = 7400; };\nnodes = (\n",
            s->seed, k, s->opts->replicas == 2 ? " --replicas 2" : "");
    /* Replicated runs: boards of two nodes, so that a second copy has other
     * boards to go to and a board-mate to avoid, and nodes smaller than a
     * VM's keys, so that its persistent pages spill to other nodes. */
    bool rep = s->opts->replicas == 2;
    for (unsigned i = 0; i < k; i++)
        fprintf(f, "  { id = %u; name = \"n%u\"; address = \"127.0.0.1\"; port = %u;\n"
                   "    tmem_pages = %" PRIu64 "; location = [%u, %u]; }%s\n",
                i + 1, i + 1, 7401 + i, rep ? rnd_range(s, 48, 160) : rnd_range(s, 64, 512),
                rep ? i / 2 : i / 4, i,
                i + 1 < k ? "," : "");
    fprintf(f, ");\n%s", rep ? "replicas = 2;\n" : "");
    /* Small nodes: tlp's targets move a few pages a period. */
    fprintf(f, "policy = { first_tier = \"%s\"; second_tier = \"sorted\"; "
               "reserve_pages = 16;\n  tlp_percent = 5; tlp_threshold = 16; grant_batch = 64; };\n"
               "timing = { stats_interval_ms = 200; failure_timeout_ms = 1000;\n"
               "  reconnect_min_ms = 1; reconnect_max_ms = 1; };\n",
            s->opts->policy ? s->opts->policy : "greedy-remote");
    return ferror(f) ? -1 : 0;
}

/* Loads the run's configuration: --config's file, or the generated one
 * (through a memfd: nothing is left on disk). Returns 0, or -1 with the
 * reason in err. */
static int load_config(struct sim *s, char *err, size_t errlen)
{
    const char *path = s->opts->config;
    char fdpath[64];
    int fd = -1;
    if (!path) {
        fd = memfd_create("vmca-sim.conf", MFD_CLOEXEC);
        FILE *f = fd < 0 ? NULL : fdopen(dup(fd), "w");
        if (!f || generate_config(s, f) != 0) {
            snprintf(err, errlen, "cannot write the generated configuration: %s",
                     strerror(errno));
            if (f)
                fclose(f);
            if (fd >= 0)
                close(fd);
            return -1;
        }
        fclose(f);
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
        path = fdpath;
    }
    int rc = vmca_config_load(path, 0, &s->cfg, err, errlen);
    if (fd >= 0)
        close(fd);
    if (rc != VMCA_OK)
        return -1;
    /* The simulator indexes its nodes by id. */
    if (s->cfg.n_nodes < 3 || s->cfg.n_nodes > SIM_MAX_NODES) {
        snprintf(err, errlen, "%s: vmca-sim runs 3..%u nodes, the configuration has %zu",
                 s->cfg.path, SIM_MAX_NODES, s->cfg.n_nodes);
        return -1;
    }
    /* The draws the generated configuration makes, made for a given one
     * too: a configuration printed by --print-config replays its seed. */
    for (size_t i = 0; s->opts->config && i < s->cfg.n_nodes; i++)
        (void)rnd(s);
    for (size_t i = 0; i < s->cfg.n_nodes; i++)
        if (s->cfg.nodes[i].tmem_pages > HVX_HOME_PAGES_MAX) { /* as vmca-hv refuses it */
            snprintf(err, errlen, "%s: node \"%s\" has %" PRIu64 " tmem pages, more than "
                     "the hypervisor manages (%" PRIu64 ")", s->cfg.path,
                     s->cfg.nodes[i].name, s->cfg.nodes[i].tmem_pages,
                     (uint64_t)HVX_HOME_PAGES_MAX);
            return -1;
        }
    for (size_t i = 0; i < s->cfg.n_nodes; i++)
        if (s->cfg.nodes[i].id != i + 1) {
            snprintf(err, errlen, "%s: vmca-sim needs node ids 1..%zu in order, node %zu "
                     "(\"%s\") has id %u", s->cfg.path, s->cfg.n_nodes, i + 1,
                     s->cfg.nodes[i].name, s->cfg.nodes[i].id);
            return -1;
        }
    return 0;
}

/* Sets a run up from nothing (nothing carries over from an earlier seed).
 * Returns 0, or -1 with the reason in err. */
static int sim_setup(struct sim *s, uint64_t seed, const struct sim_opts *o, char *err,
                     size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->opts = o;
    s->seed = seed;
    s->rng = seed * 0x9E3779B97F4A7C15ull + 1;
    if (load_config(s, err, errlen) != 0)
        return -1;
    return sim_alloc(s, err, errlen);
}

int sim_alloc(struct sim *s, char *err, size_t errlen)
{
    s->n = (unsigned)s->cfg.n_nodes;
    uint64_t max_pages = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (s->cfg.nodes[i].tmem_pages > max_pages)
            max_pages = s->cfg.nodes[i].tmem_pages;
    s->seen = calloc((max_pages + 63) / 64, sizeof *s->seen);
    s->ghost_words = (max_pages + 63) / 64;
    s->ghost = calloc((SIM_MAX_NODES + 1) * (SIM_MAX_NODES + 1) * s->ghost_words,
                      sizeof *s->ghost);
    s->page_buf = malloc(s->cfg.page_size);
    bool ok = s->seen && s->ghost && s->page_buf;
    for (unsigned i = 1; i <= s->n; i++) {
        s->node[i].sim = s;
        s->node[i].id = i;
        s->node[i].mem = calloc(s->cfg.nodes[i - 1].tmem_pages, s->cfg.page_size);
        s->node[i].owners = calloc(s->cfg.nodes[i - 1].tmem_pages, sizeof(uint32_t));
        ok = ok && s->node[i].mem && s->node[i].owners;
    }
    if (!ok) {
        snprintf(err, errlen, "out of memory for %u nodes", s->n);
        return -1;
    }
    return 0;
}

void sim_teardown(struct sim *s)
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
    free(s->page_buf);
    svms_free(s);
    vmca_config_free(&s->cfg);
}

/* One run; returns 0 (clean), 1 (a violation) or 2 (it could not start). */
static int run(uint64_t seed, const struct sim_opts *o, uint64_t *events)
{
    char err[512];
    struct sim *s = malloc(sizeof *s);
    if (!s) {
        fprintf(stderr, "vmca-sim: out of memory\n");
        return 2;
    }
    if (sim_setup(s, seed, o, err, sizeof err) != 0) {
        fprintf(stderr, "vmca-sim: seed %" PRIu64 ": %s\n", seed, err);
        sim_teardown(s);
        free(s);
        return 2;
    }
    s->print_trace = o->trace;
    s->max_steps = o->steps;
    s->check_every = o->check_every;
    s->faults = o->faults;
    s->vms = (s->faults >> SIM_F_VM & 1) ? 2 : 1;
    master_boot(s);
    for (unsigned i = 1; i <= s->n; i++) {
        node_boot(s, &s->node[i]);
        at(s, (int64_t)rnd_range(s, 0, 49), EV_TICK_SLAVE, i);
        at(s, (int64_t)rnd_range(s, 0, 199), EV_STATS, i);
        at(s, (int64_t)rnd_range(s, 0, 9), EV_GUEST, i);
    }
    at(s, 50, EV_TICK_MASTER, 0);
    schedule_fault(s);
    while (s->steps < o->steps && s->heap_n && !s->failed) {
        struct event e = pop(s);
        s->steps++;
        sim_step(s, &e);
        after_step(s, &e);
    }
    /* Quiet period: no faults, every node and the master up, then I3. */
    s->quiet = true;
    for (unsigned i = 1; i <= s->n; i++) {
        s->slow_until[i] = 0;
        if (s->node[i].slave_stopped || s->node[i].hv_stopped)
            push(s, (struct event){.at = s->now, .kind = EV_RESUME, .a = i});
        if (s->cut[i])
            push(s, (struct event){.at = s->now, .kind = EV_HEAL, .a = i});
        if (s->node[i].up && !s->node[i].hv)
            push(s, (struct event){.at = s->now, .kind = EV_RESTART_HV, .a = i});
    }
    if (!s->master_up && !s->failed)
        master_boot(s);
    for (unsigned i = 1; i <= s->n && !s->failed; i++)
        if (!s->node[i].up)
            node_boot(s, &s->node[i]);
    int64_t until = s->now + 20000;
    while (s->heap_n && !s->failed) {
        struct event e = pop(s);
        if (e.at > until) {
            free(e.frame);
            break;
        }
        s->steps++;
        sim_step(s, &e);
        after_step(s, &e);
    }
    if (!s->failed) {
        check_ownership(s, true);
        for (unsigned i = 1; i <= s->n && !s->failed; i++) {
            if (slave_core_transfers(&s->node[i].sc)->n_out)
                violation(s, "I3: node %u still has %zu transfers in transit at rest", i,
                          slave_core_transfers(&s->node[i].sc)->n_out);
            /* No census runs at rest: a home frozen now would never lend
             * again (its pages are lost to the cluster, if not to it). */
            for (unsigned h = 1; h <= s->n && !s->failed && s->node[i].hv; h++)
                if (hvx_frozen(s->node[i].hv, h))
                    violation(s, "I3: at rest node %u's hypervisor still freezes home %u "
                              "(no census runs)", i, h);
            Vmca__NodeState st = master_core_node(&s->m, i)->state;
            if (st != VMCA__NODE_STATE__NODE_ACTIVE) {
                violation(s, "at rest node %u is %s, not active", i, vmca_state_name(st));
                for (unsigned j = 1; j <= s->n; j++) {
                    const struct master_node *mn = master_core_node(&s->m, j);
                    fprintf(stderr, "  master view of %u: %s connected=%d pending=%u "
                            "foreign=%d clear=%#llx; slave view %s, %zu in transit\n", j,
                            vmca_state_name(mn->state), mn->connected, mn->pending,
                            mn->holds_foreign, (unsigned long long)mn->flow_clear,
                            vmca_state_name(slave_core_state(&s->node[j].sc)), slave_core_transfers(&s->node[j].sc)->n_out);
                    for (size_t x = 0; x < slave_core_transfers(&s->node[j].sc)->n_out; x++)
                        fprintf(stderr, "    transfer %llu to %u, %llu pages, first block home %u\n",
                                (unsigned long long)slave_core_transfers(&s->node[j].sc)->out[x].xfer,
                                slave_core_transfers(&s->node[j].sc)->out[x].to,
                                (unsigned long long)slave_core_transfers(&s->node[j].sc)->out[x].pages,
                                vmca_gfn_home(slave_core_transfers(&s->node[j].sc)->out[x].blocks[0].gfn));
                }
            }
        }
    }
    if (o->verbose || s->failed)
        printf("seed %" PRIu64 ": %s after %" PRIu64 " steps (%" PRIu64 " protocol events, "
               "%" PRIu64 " node crashes, %" PRIu64 " master crashes, %" PRIu64
               " drops, %" PRIu64 " verified gets, I2 in %.0f%% of checks, %" PRIu64
               " second copies restored, at most %" PRIu64 " held, %" PRIu64
               " replicated VMs lost after two failures)\n",
               seed, s->failed ? "VIOLATION" : "ok", s->steps, s->events, s->stat_crashes,
               s->stat_master_crashes, s->stat_drops, s->stat_gets_ok,
               s->stat_checks ? 100.0 * (double)s->stat_i2 / (double)s->stat_checks : 0.0,
               s->stat_repairs, s->stat_rep_peak, s->stat_rep_losses);
    *events += s->events;
    int rc = s->failed;
    sim_teardown(s);
    free(s);
    return rc;
}

static const char usage[] =
    "usage: vmca-sim [--seed S | --seeds A..B] [--steps N] [--faults LIST]\n"
    "                [--config FILE | --nodes K --policy NAME --replicas R]\n"
    "                [--print-config]\n"
    "                [--check-every N] [--verbose] [--trace] [--watch H:I]\n"
    "       vmca-sim --scenario FILE --policy NAME [--second-tier NAME] [--seed S]\n"
    "                [--set policy.SETTING=VALUE]... [--series FILE] [--scale N]\n"
    "       vmca-sim --list first-tiers | second-tiers | profiles\n"
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
    "  --config FILE     run this cluster configuration (node ids 1..K in order,\n"
    "                    K in 3..16); default: one generated from the seed\n"
    "  --print-config    print the generated configuration of --seed and exit\n"
    "                    (given back with --config, it replays the seed)\n"
    "  --nodes K         nodes of the generated configuration, 3..16 (default 4)\n"
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
    "  --policy NAME     the generated configuration's first tier: greedy-remote (default),\n"
    "                    greedy-local or tlp (per-VM targets)\n"
    "  --replicas R      the generated configuration's replicas, 1 (default) or 2: with\n"
    "                    2, boards of two nodes and every VM on a persistent pool,\n"
    "                    checked for P1 (no page lost while at most one other node\n"
    "                    failed since the VM's last full repair; with --config, the\n"
    "                    file's replicas say which VMs)\n"
    "  --check-every N   check I1, I2 and I6 every N such steps (default 1)\n"
    "  --verbose         a line per seed\n"
    "  --trace           print every event and the cores' log lines (to stderr)\n"
    "  --watch H:I       a trace line whenever the nodes owning page I of home H,\n"
    "                    or holding it in transit, change (debugging a seed)\n"
    "\n"
    "Scenario runs (docs/testing.md, \"Scenarios\"): no faults; the file's VMs\n"
    "run their workloads over CLOCK RAM and a persistent tmem pool until done or\n"
    "duration_s; prints a vm line per VM and a run line (tab-separated).\n"
    "  --scenario FILE   the scenario (scenarios/NAME.conf)\n"
    "  --second-tier N   the master's second tier (default sorted)\n"
    "  --set policy.X=V  a policy setting, with the configuration loader's checks\n"
    "  --series FILE     per statistics period and VM: tmem, target, working set,\n"
    "                    failed puts\n"
    "  --scale N         real 4 KiB pages per simulated page (overrides the file)\n"
    "  --corrupt-at T    damage every home's memory at T s (tests the content check)\n"
    "  --list WHAT       first-tiers or second-tiers: the built names, one a line;\n"
    "                    profiles: each workload profile and what it assumes\n"
    "  -h, --help        this text\n"
    "  -V, --version     print the version\n"
    "exit status: 0 no violation, 1 a violation (printed with seed, step, trace),\n"
    "2 bad usage or a configuration it cannot run\n";

static int bad(const char *opt, const char *arg, const char *want)
{
    fprintf(stderr, "vmca-sim: %s: expected %s, got '%s'\n", opt, want, arg);
    return 2;
}

/* A policy name that is not built: refused with the names that are. */
static int not_built(const char *opt, const char *arg, void (*names)(char *, size_t))
{
    char built[256];
    names(built, sizeof built);
    return bad(opt, arg, built);
}

/* A decimal count: digits only (strtoull would take "-1" as 2^64 - 1), no
 * overflow. */
static bool parse_count(const char *t, unsigned long long *out)
{
    if (*t < '0' || *t > '9')
        return false;
    char *end;
    errno = 0;
    *out = strtoull(t, &end, 10);
    return !errno && !*end;
}

/* A..B, both counts. */
static bool parse_range(const char *t, unsigned long long *a, unsigned long long *b)
{
    const char *dots = strstr(t, "..");
    char first[32];
    if (!dots || (size_t)(dots - t) >= sizeof first)
        return false;
    snprintf(first, sizeof first, "%.*s", (int)(dots - t), t);
    return parse_count(first, a) && parse_count(dots + 2, b);
}

/* --list first-tiers | second-tiers | profiles: the built names, one a line
 * (a profile with what it assumes). */
static int list_policies(const char *what)
{
    if (strcmp(what, "first-tiers") == 0) {
        for (const struct ft_policy *const *p = ft_policies(); *p; p++)
            printf("%s\n", (*p)->name);
        return 0;
    }
    if (strcmp(what, "second-tiers") == 0) {
        char names[512];
        tier2_names(names, sizeof names);
        for (char *tok = strtok(names, ", "); tok; tok = strtok(NULL, ", "))
            printf("%s\n", tok);
        return 0;
    }
    if (strcmp(what, "profiles") == 0) { /* the workloads a scenario's VM may run */
        char names[256];
        snprintf(names, sizeof names, "%s", wl_profile_names());
        for (char *tok = strtok(names, ", "); tok; tok = strtok(NULL, ", "))
            printf("%s\t%s\n", tok, wl_assumes(tok));
        return 0;
    }
    return bad("--list", what, "first-tiers, second-tiers or profiles");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},   {"seeds", required_argument, NULL, 'S'},
        {"steps", required_argument, NULL, 'n'},  {"nodes", required_argument, NULL, 'k'},
        {"faults", required_argument, NULL, 'f'}, {"check-every", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"trace", no_argument, NULL, 't'},        {"policy", required_argument, NULL, 'p'},
        {"watch", required_argument, NULL, 'w'},  {"config", required_argument, NULL, 'C'},
        {"print-config", no_argument, NULL, 'P'},
        {"scenario", required_argument, NULL, 'Z'}, {"second-tier", required_argument, NULL, 'T'},
        {"set", required_argument, NULL, 'E'},      {"series", required_argument, NULL, 'F'},
        {"scale", required_argument, NULL, 'X'},    {"list", required_argument, NULL, 'L'},
        {"corrupt-at", required_argument, NULL, 'K'},
        {"replicas", required_argument, NULL, 'R'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *scenario_path = NULL;
    const char *sets[SIM_MAX_SETS];
    unsigned long scale = 0;
    bool faults_given = false, seeds_given = false, steps_given = false, check_given = false;
    struct sim_opts o = {.steps = 20000, .nodes = 4, .check_every = 1};
    uint64_t first = 1, last = 1;
    bool print_config = false, nodes_given = false;
    char bad_fault[64];
    if (faults_parse("crash,master,drop", &o.faults, bad_fault, sizeof bad_fault) != 0)
        return 2;
    int opt;
    while ((opt = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        char *end;
        unsigned long long a, b;
        switch (opt) {
        case 's':
            if (!parse_count(optarg, &a))
                return bad("--seed", optarg, "a number in 0..18446744073709551615");
            first = last = a;
            break;
        case 'S':
            if (!parse_range(optarg, &a, &b) || b < a)
                return bad("--seeds", optarg, "A..B with A <= B");
            first = a;
            last = b;
            seeds_given = true;
            break;
        case 'n':
            if (!parse_count(optarg, &a) || a == 0)
                return bad("--steps", optarg, "a positive number");
            o.steps = a;
            steps_given = true;
            break;
        case 'k':
            if (!parse_count(optarg, &a) || a < 3 || a > SIM_MAX_NODES)
                return bad("--nodes", optarg, "a number in 3..16");
            o.nodes = (unsigned)a;
            nodes_given = true;
            break;
        case 'f':
            faults_given = true;
            if (faults_parse(optarg, &o.faults, bad_fault, sizeof bad_fault) != 0) {
                char want[256];
                size_t k = 0;
                for (unsigned f = 0; f < SIM_FAULTS; f++)
                    k += (size_t)snprintf(want + k, sizeof want - k, "%s, ", fault_name(f));
                snprintf(want + k, sizeof want - k, "or none");
                return bad("--faults", bad_fault, want);
            }
            break;
        case 'c':
            if (!parse_count(optarg, &a) || a == 0 || a > UINT32_MAX)
                return bad("--check-every", optarg, "a number in 1..4294967295");
            o.check_every = (unsigned)a;
            check_given = true;
            break;
        case 'p':
            if (!ft_policy_find(optarg))
                return not_built("--policy", optarg, ft_policy_names);
            o.policy = optarg;
            break;
        case 'w': {
            unsigned h;
            unsigned long long i;
            char extra;
            if (sscanf(optarg, "%u:%llu%c", &h, &i, &extra) != 2 || h == 0 || h > SIM_MAX_NODES)
                return bad("--watch", optarg, "HOME:INDEX, HOME a node id in 1..16");
            o.watch_home = h;
            o.watch_index = i;
            break;
        }
        case 'Z': scenario_path = optarg; break;
        case 'T':
            if (!tier2_find(optarg))
                return not_built("--second-tier", optarg, tier2_names);
            o.second_tier = optarg;
            break;
        case 'E':
            if (o.n_sets == SIM_MAX_SETS)
                return bad("--set", optarg, "at most 64 --set options");
            sets[o.n_sets++] = optarg;
            break;
        case 'F': o.series = optarg; break;
        case 'X':
            scale = strtoul(optarg, &end, 10);
            if (*end || !*optarg || scale == 0 || scale > SCEN_SCALE_MAX || (scale & (scale - 1)))
                return bad("--scale", optarg, "a power of two in 1..4096");
            break;
        case 'L': return list_policies(optarg);
        case 'K': {
            double t = strtod(optarg, &end);
            if (*end || !*optarg || !(t > 0 && t < 1e7))
                return bad("--corrupt-at", optarg, "seconds of simulated time, > 0");
            o.corrupt_ms = (int64_t)(t * 1000.0 + 0.5);
            break;
        }
        case 'R':
            if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
                return bad("--replicas", optarg, "1 or 2");
            o.replicas = (unsigned)(optarg[0] - '0');
            break;
        case 'C': o.config = optarg; break;
        case 'P': print_config = true; break;
        case 'v': o.verbose = true; break;
        case 't': o.trace = true; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': puts("vmca-sim " VMCA_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc)
        return bad("arguments", argv[optind], "options only");
    o.sets = sets;
    if (scenario_path) {
        if (o.config || nodes_given || print_config || faults_given || seeds_given ||
            steps_given || o.replicas) {
            fprintf(stderr, "vmca-sim: --scenario: the file gives the cluster and its VMs, and "
                            "runs without faults until they are done; --config, --nodes, "
                            "--print-config, --faults, --seeds, --steps and --replicas do not "
                            "apply\n");
            return 2;
        }
        if (!o.policy) {
            fprintf(stderr, "vmca-sim: --scenario: expected --policy NAME, got none\n");
            return 2;
        }
        struct scenario sc = {.scale = (uint32_t)scale};
        char err[1024];
        if (scenario_load(scenario_path, SIM_MAX_NODES, &sc, err, sizeof err) != 0) {
            fprintf(stderr, "vmca-sim: %s\n", err);
            return 2;
        }
        o.scenario = &sc;
        if (!check_given) /* the fault sweeps check every step; a scenario measures */
            o.check_every = SCEN_CHECK_EVERY;
        int rc = scenario_run(&o, first);
        scenario_free(&sc);
        return rc;
    }
    if (o.second_tier || o.n_sets || o.series || scale || o.corrupt_ms) {
        fprintf(stderr, "vmca-sim: --second-tier, --set, --series, --scale and --corrupt-at apply to "
                        "--scenario runs\n");
        return 2;
    }
    if (o.config && (o.policy || nodes_given || print_config || o.replicas)) {
        fprintf(stderr, "vmca-sim: --config: the file gives the nodes and the policy; "
                        "--nodes, --policy, --replicas and --print-config apply to the "
                        "generated one\n");
        return 2;
    }
    if (print_config) {
        struct sim s = {.opts = &o, .seed = first, .rng = first * 0x9E3779B97F4A7C15ull + 1};
        return generate_config(&s, stdout) == 0 ? 0 : 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t events = 0, failed = 0;
    for (uint64_t seed = first; seed <= last; seed++) {
        int rc = run(seed, &o, &events);
        if (rc == 2)
            return 2;
        failed += (uint64_t)rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("vmca-sim: %" PRIu64 " seed(s), %" PRIu64 " violation(s), %" PRIu64
           " protocol events in %.2f s (%.0f events/s)\n",
           last - first + 1, failed, events, secs, (double)events / (secs > 0 ? secs : 1));
    return failed ? 1 : 0;
}
