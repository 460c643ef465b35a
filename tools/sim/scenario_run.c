/* vmca-sim --scenario: one run of a scenario file (scenario.h) with no
 * faults: the real master and slave cores and libhvx under the seeded
 * scheduler, the scenario's VMs (vm.c) on their own clocks between the
 * scheduler's events, and the measures (docs/testing.md, "Output"). */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "second_tier.h"
#include "sim.h"

/* Page size of scenario runs: libhvx's smallest (its put/get copy a page,
 * and gw_content_check reads all of it), 8 times less copying than 4 KiB. */
#define SCEN_PAGE_SIZE 512u

/* What a generated configuration line came from, for the loader's errors. */
struct origin {
    unsigned line;
    char what[192];             /* "--set policy.x=4", "--policy tlp", ... */
};

/* A --set argument: policy.NAME=VALUE, NAME an identifier, VALUE an
 * integer or a bare name (written quoted). Returns NULL when it is not. */
static const char *set_parts(const char *arg, char *name, size_t namesz, bool *quoted)
{
    if (strncmp(arg, "policy.", 7) != 0)
        return NULL;
    const char *n = arg + 7, *eq = strchr(n, '=');
    if (!eq || eq == n || (size_t)(eq - n) >= namesz)
        return NULL;
    for (const char *p = n; p < eq; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return NULL;
    snprintf(name, namesz, "%.*s", (int)(eq - n), n);
    const char *v = eq + 1;
    bool digits = *v != 0, word = *v != 0;
    for (const char *p = v + (*v == '-'); *p; p++)
        digits = digits && *p >= '0' && *p <= '9';
    for (const char *p = v; *p; p++)
        word = word && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                        (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-');
    if (!digits && !word)
        return NULL;
    *quoted = !digits;
    return v;
}

static bool set_later(const struct sim_opts *o, size_t i, const char *name)
{
    for (size_t j = i + 1; j < o->n_sets; j++) {
        char other[64];
        bool q;
        if (set_parts(o->sets[j], other, sizeof other, &q) && strcmp(other, name) == 0)
            return true;
    }
    return false;
}

/* The cluster configuration of the scenario, as a configuration file: the
 * loader's checks (policy names, each policy's settings, unknown settings)
 * apply to --policy, --second-tier and --set as to any file. */
static int write_config(const struct sim_opts *o, FILE *f, struct origin *org, size_t *n_org,
                        char *err, size_t errlen)
{
    const struct scenario *sc = o->scenario;
    unsigned line = 1;
    bool reserve_set = false;
    fprintf(f, "cluster = \"scenario\";\npage_size = 4096;\n"
               "master = { node = \"%s\"; port = 7400; };\nnodes = (\n",
            sc->nodes[sc->master].name);
    line += 4;
    for (size_t i = 0; i < sc->n_nodes; i++) {
        const struct scen_node *n = &sc->nodes[i];
        fprintf(f, "  { id = %zu; name = \"%s\"; address = \"127.0.0.1\"; port = %zu;\n"
                   "    tmem_pages = %" PRIu64 "L;", i + 1, n->name, 7401 + i,
                scen_pages(n->tmem_mb, sc->scale));
        if (n->location_len) {
            fprintf(f, " location = [");
            for (unsigned k = 0; k < n->location_len; k++) /* L: one type, any 32 bits */
                fprintf(f, "%s%uL", k ? ", " : "", n->location[k]);
            fprintf(f, "];");
        }
        fprintf(f, " }%s\n", i + 1 < sc->n_nodes ? "," : "");
        line += 2;
    }
    fprintf(f, ");\npolicy = {\n");
    line += 2;
    org[*n_org] = (struct origin){.line = line};
    snprintf(org[(*n_org)++].what, sizeof org->what, "--policy %s", o->policy);
    fprintf(f, "  first_tier = \"%s\";\n", o->policy);
    line++;
    if (o->second_tier) {
        org[*n_org] = (struct origin){.line = line};
        snprintf(org[(*n_org)++].what, sizeof org->what, "--second-tier %s", o->second_tier);
        fprintf(f, "  second_tier = \"%s\";\n", o->second_tier);
        line++;
    }
    for (size_t i = 0; i < o->n_sets; i++) {
        char name[64];
        bool quoted;
        const char *v = set_parts(o->sets[i], name, sizeof name, &quoted);
        if (!v) {
            snprintf(err, errlen, "--set: expected policy.SETTING=VALUE (VALUE an integer or "
                     "a name), got '%s'", o->sets[i]);
            return -1;
        }
        if (strcmp(name, "first_tier") == 0 || strcmp(name, "second_tier") == 0) {
            snprintf(err, errlen, "--set %s: expected a setting of the policies, got "
                     "policy.%s (give it with --%s)", o->sets[i], name,
                     name[0] == 'f' ? "policy" : "second-tier");
            return -1;
        }
        if (!quoted) { /* libconfig saturates an L literal past 64 bits */
            errno = 0;
            (void)strtoll(v, NULL, 10);
            if (errno == ERANGE) {
                snprintf(err, errlen, "--set %s: policy.%s: expected a 64-bit integer, got %s",
                         o->sets[i], name, v);
                return -1;
            }
        }
        if (set_later(o, i, name))
            continue; /* the last one given wins */
        reserve_set = reserve_set || strcmp(name, "reserve_pages") == 0;
        org[*n_org] = (struct origin){.line = line};
        snprintf(org[(*n_org)++].what, sizeof org->what, "--set %s", o->sets[i]);
        fprintf(f, quoted ? "  %s = \"%s\";\n" : "  %s = %sL;\n", name, v);
        line++;
    }
    if (sc->reserve_mb >= 0 && !reserve_set)
        fprintf(f, "  reserve_pages = %" PRIu64 "L;\n",
                scen_pages((uint64_t)sc->reserve_mb, sc->scale));
    /* No faults: a failure timeout no run reaches by silence. */
    uint64_t timeout = 10ull * sc->period_ms < 86400000ull ? 10ull * sc->period_ms : 86400000ull;
    if (timeout <= sc->period_ms)
        timeout = sc->period_ms + 1;
    fprintf(f, "};\ntiming = { stats_interval_ms = %u; failure_timeout_ms = %" PRIu64 ";\n"
               "  reconnect_min_ms = 1; reconnect_max_ms = 1; };\n", sc->period_ms, timeout);
    return ferror(f) ? -1 : 0;
}

/* The loader's "FILE:LINE: rest" said of the generated file: the option
 * that wrote the line, else the scenario. */
static void blame(const struct sim_opts *o, const char *msg, const struct origin *org,
                  size_t n_org, char *err, size_t errlen)
{
    const char *p = msg;
    unsigned line = 0;
    while ((p = strchr(p, ':')) != NULL) {
        char *end;
        unsigned long l = strtoul(p + 1, &end, 10);
        if (end != p + 1 && end[0] == ':' && end[1] == ' ') {
            line = (unsigned)l;
            p = end + 2;
            break;
        }
        p++;
    }
    if (!p) {
        snprintf(err, errlen, "%s: the cluster configuration built from it: %s",
                 o->scenario->path, msg);
        return;
    }
    for (size_t i = 0; i < n_org; i++)
        if (org[i].line == line) {
            snprintf(err, errlen, "%s: %s", org[i].what, p);
            return;
        }
    snprintf(err, errlen, "%s: the cluster configuration built from it: %s",
             o->scenario->path, p);
}

/* s->cfg from the scenario; the per-VM settings set in memory (the loader
 * reads none). 0, or -1 with the reason in err. */
static int scenario_config(struct sim *s, char *err, size_t errlen)
{
    const struct sim_opts *o = s->opts;
    const struct scenario *sc = o->scenario;
    struct origin *org = calloc(o->n_sets + 2, sizeof *org);
    size_t n_org = 0;
    int fd = memfd_create("vmca-scenario.conf", MFD_CLOEXEC);
    FILE *f = fd < 0 ? NULL : fdopen(dup(fd), "w");
    if (!org || !f) {
        snprintf(err, errlen, "cannot write the cluster configuration: %s", strerror(errno));
        if (f)
            fclose(f);
        if (fd >= 0)
            close(fd);
        free(org);
        return -1;
    }
    int rc = write_config(o, f, org, &n_org, err, errlen);
    fclose(f);
    if (rc == 0) {
        char path[64], msg[768];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (vmca_config_load(path, 0, &s->cfg, msg, sizeof msg) != VMCA_OK) {
            blame(o, msg, org, n_org, err, errlen);
            rc = -1;
        }
    }
    close(fd);
    free(org);
    if (rc != 0)
        return -1;
    s->cfg.page_size = SCEN_PAGE_SIZE;
    for (size_t i = 0; i < sc->n_nodes; i++) {
        const struct scen_node *n = &sc->nodes[i];
        s->cfg.nodes[i].vms = calloc(n->n_vms ? n->n_vms : 1, sizeof *s->cfg.nodes[i].vms);
        if (!s->cfg.nodes[i].vms) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t j = 0; j < n->n_vms; j++) {
            const struct scen_vm *v = &n->vms[j];
            struct ft_vm_settings *vs = &s->cfg.nodes[i].vms[j];
            *vs = FT_VM_DEFAULTS(v->id);
            vs->min_pages = scen_pages(v->min_mb, sc->scale);
            if (v->max_mb)
                vs->max_pages = scen_pages(v->max_mb, sc->scale);
            vs->weight = v->weight;
        }
        s->cfg.nodes[i].n_vms = n->n_vms;
    }
    return 0;
}

static double jain(const double *x, size_t n)
{
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        sq += x[i] * x[i];
    }
    return n && sq > 0 ? sum * sum / ((double)n * sq) : 1.0;
}

static void report(const struct sim *s, double wall_ms, int64_t end_ms)
{
    const struct sim_opts *o = s->opts;
    const struct scenario *sc = o->scenario;
    printf("#vm\tnode\tvm\tprofile\taccesses\tputs\tfailed_puts\tgets_local\tgets_remote\t"
           "gets_disk\truntime_s\tdemand_met\tconverge_s\tfinished\n");
    double *met = calloc(s->n_svm ? s->n_svm : 1, sizeof *met);
    double sum_rt = 0, max_rt = 0;
    uint64_t failed = 0;
    for (size_t i = 0; i < s->n_svm; i++) {
        const struct svm *v = &s->svm[i];
        int64_t end_ns = v->done ? v->end_ns : end_ms * 1000000;
        double rt = end_ns > v->start_ns ? (double)(end_ns - v->start_ns) / 1e9 : 0;
        double m = v->puts ? (double)(v->puts - v->failed_puts) / (double)v->puts : 1.0;
        double conv = svm_converge_s(v);
        char cbuf[32] = "-";
        if (conv >= 0)
            snprintf(cbuf, sizeof cbuf, "%.3f", conv);
        met[i] = m;
        sum_rt += rt;
        max_rt = rt > max_rt ? rt : max_rt;
        failed += v->failed_puts;
        printf("vm\t%s\t%u\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
               "\t%" PRIu64 "\t%.3f\t%.4f\t%s\t%d\n", s->cfg.nodes[v->node - 1].name, v->cfg->id,
               v->cfg->profile, v->accesses, v->puts, v->failed_puts, v->gets_local,
               v->gets_remote, v->gets_disk, rt, m, cbuf, v->done ? 1 : 0);
    }
    printf("#run\tscenario\tpolicy\tsecond_tier\tseed\tscale\tfailed_puts\tmean_runtime_s\t"
           "max_runtime_s\tjain\tpages_moved\tmessages\tsim_s\twall_ms\n");
    printf("run\t%s\t%s\t%s\t%" PRIu64 "\t%u\t%" PRIu64 "\t%.3f\t%.3f\t%.4f\t%" PRIu64 "\t%"
           PRIu64 "\t%.3f\t%.0f\n", sc->name, s->cfg.policy.first_tier, s->cfg.policy.second_tier,
           s->seed, sc->scale, failed, s->n_svm ? sum_rt / (double)s->n_svm : 0, max_rt,
           jain(met, s->n_svm), s->stat_granted, s->stat_frames, (double)end_ms / 1000.0,
           wall_ms);
    free(met);
}

/* --corrupt-at: one byte past the header of every page of every home
 * flipped, as a fabric fault would; the next get of any page must notice. */
static void corrupt(struct sim *s)
{
    for (unsigned i = 1; i <= s->n; i++)
        for (uint64_t p = 0; p < s->cfg.nodes[i - 1].tmem_pages; p++)
            s->node[i].mem[p * s->cfg.page_size + 32] ^= 0x5a;
    trace(s, "every home's memory damaged (--corrupt-at)");
}

static int64_t next_event_ms(const struct sim *s, int64_t cap)
{
    return s->heap_n && s->heap[0].at < cap ? s->heap[0].at : cap;
}

int scenario_run(const struct sim_opts *o, uint64_t seed)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[2048];
    struct sim *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "vmca-sim: out of memory\n");
        return 2;
    }
    s->opts = o;
    s->seed = seed;
    s->rng = seed * 0x9E3779B97F4A7C15ull + 1;
    FILE *series = NULL;
    if (scenario_config(s, err, sizeof err) != 0 || sim_alloc(s, err, sizeof err) != 0 ||
        svms_create(s, err, sizeof err) != 0) {
        fprintf(stderr, "vmca-sim: %s\n", err);
        sim_teardown(s);
        free(s);
        return 2;
    }
    if (o->series && !(series = fopen(o->series, "w"))) {
        fprintf(stderr, "vmca-sim: --series %s: %s\n", o->series, strerror(errno));
        sim_teardown(s);
        free(s);
        return 2;
    }
    if (series)
        fprintf(series, "#t_s\tnode\tvm\ttmem_pages\ttarget_pages\tworking_set_pages\tfailed_puts\n");
    s->print_trace = o->trace;
    s->check_every = o->check_every;
    s->quiet = true; /* no faults, no fault-sweep guests */
    master_boot(s);
    for (unsigned i = 1; i <= s->n; i++) {
        node_boot(s, &s->node[i]);
        at(s, (int64_t)rnd_range(s, 0, 49), EV_TICK_SLAVE, i);
        at(s, (int64_t)rnd_range(s, 0, 199), EV_STATS, i);
    }
    at(s, 50, EV_TICK_MASTER, 0);
    at(s, o->scenario->period_ms, EV_SAMPLE, 0);
    int64_t cap = (int64_t)(o->scenario->duration_s * 1000.0 + 0.5), end = cap;
    bool corrupted = false;
    while (!s->failed) {
        int64_t next = next_event_ms(s, cap);
        if (o->corrupt_ms && !corrupted && next >= o->corrupt_ms) {
            svms_advance(s, o->corrupt_ms);
            corrupt(s);
            corrupted = true;
        }
        svms_advance(s, next);
        if (s->failed)
            break;
        if (svms_done(s)) {
            end = 0;
            for (size_t i = 0; i < s->n_svm; i++) {
                int64_t e = (s->svm[i].end_ns + 999999) / 1000000;
                end = e > end ? e : end;
            }
            break;
        }
        if (next >= cap || !s->heap_n)
            break;
        struct event e = pop(s);
        s->steps++;
        if (e.kind == EV_SAMPLE) {
            s->now = e.at;
            svms_sample(s, series);
            at(s, s->now + o->scenario->period_ms, EV_SAMPLE, 0);
        }
        sim_step(s, &e);
        after_step(s, &e);
    }
    if (series && fclose(series) != 0 && !s->failed) {
        fprintf(stderr, "vmca-sim: --series %s: %s\n", o->series, strerror(errno));
        sim_teardown(s);
        free(s);
        return 2;
    }
    int rc = s->failed ? 1 : 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (!rc)
        report(s, wall, end);
    sim_teardown(s);
    free(s);
    return rc;
}
