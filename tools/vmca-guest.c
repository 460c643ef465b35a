/* vmca-guest: an emulated VM. Replays a workload against the node's emulated
 * hypervisor (vmca-hv) over the guest channel (hv-ext/emu/guest_proto.h),
 * swapping the pages its RAM cannot hold to tmem, and reports what a real
 * guest would feel. The logic lives in guest_workload.c; this is the shell:
 * options, the socket, the shared page buffer, signals and clocks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../hv-ext/emu/guest_proto.h"
#include "../hv-ext/hvx.h"
#include "config.h"
#include "err.h"
#include "guest_workload.h"

#define EXIT_USAGE 2
/* Largest page size a cluster configuration allows (docs/configuration.md). */
#define HELLO_PAGE_SIZE_MAX 65536u

static const char usage[] =
    "usage: vmca-guest (--socket PATH | --config FILE --node NAME) --vm ID --ram MB\n"
    "                  --workload SPEC [options]\n"
    "An emulated VM: replays SPEC against vmca-hv's guest socket, swapping the\n"
    "pages its RAM cannot hold to tmem (a failed put = a page written to disk),\n"
    "verifies every page it gets back, and prints one line of counters and the\n"
    "modelled run time (docs/guest.md).\n"
    "\n"
    "  -s, --socket PATH          vmca-hv's guest socket\n"
    "  -c, --config FILE          cluster configuration: with --node, the guest\n"
    "  -n, --node NAME            socket of that node's vmca-hv (its default path)\n"
    "  -v, --vm ID                VM id, unique on the node (0..4294967295)\n"
    "  -r, --ram MB               guest RAM in MB (in pages of vmca-hv's page size)\n"
    "  -w, --workload SPEC        one of:\n"
    "        usemem:LIMIT_MB      grow by 128 MB steps to LIMIT_MB (write the new\n"
    "                             pages, then read the whole allocation), then\n"
    "                             --loops passes of (write all, read all)\n"
    "        phases:FILE          lines 'WSS_MB SECONDS' ('#' comments): uniform\n"
    "                             random pages of the working set, 50% writes\n"
    "        trace:FILE           lines 'r PAGE' / 'w PAGE', replayed --loops times\n"
    "        hold:PAGES           write PAGES pages, print 'holding', wait for\n"
    "                             SIGUSR1 (or --hold-seconds), read them all, end\n"
    "  -p, --pool KIND            persistent (default, frontswap-like) or\n"
    "                             ephemeral (cleancache-like)\n"
    "      --slots N              pages in the shared buffer, 1..65536 (default 256);\n"
    "                             a batch holds min(N, vmca-hv's max_batch) ops\n"
    "      --seed S               phases: random seed (default 1)\n"
    "      --loops N              usemem: passes after the limit (default 3, 0 ok);\n"
    "                             trace: replays (default 1)\n"
    "      --ops-per-phase N      phases: N accesses per phase instead of SECONDS\n"
    "      --hold-seconds N       hold: stop holding after N s even without SIGUSR1\n"
    "      --progress             print the counters to stderr every second\n"
    "      --tmem-local-us N      model: cost of a local tmem op (default 2)\n"
    "      --remote-latency-us N  model: added to a remote tmem op (default 50)\n"
    "      --disk-latency-us N    model: cost of a disk read or write (default 5000)\n"
    "  -h, --help                 this text\n"
    "  -V, --version              print the version\n"
    "\n"
    "output: 'vm=.. accesses=.. ram_hits=.. ... model_ms=..' on stdout at the end\n"
    "exit status: 0 done, 1 connection or protocol failure, 2 bad usage,\n"
    "             3 VM failed (vmca-hv lost persistent data: EIO),\n"
    "             4 a page came back wrong (content mismatch) or a persistent\n"
    "               page vanished without the VM being failed\n";

static const char *prog = "vmca-guest";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(EXIT_USAGE);
}

/* Whole decimal number in [min, max] or a usage error naming the option. */
static uint64_t opt_num(const char *opt, const char *arg, uint64_t min, uint64_t max,
                        const char *unit)
{
    uint64_t v = 0;
    bool ok = arg && *arg;
    for (const char *p = arg; ok && *p; p++) {
        if (*p < '0' || *p > '9') {
            ok = false;
            break;
        }
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            ok = false;
            break;
        }
        v = v * 10 + d;
    }
    if (!ok || v < min || v > max)
        usage_error("%s: expected a whole number of %s from %" PRIu64 " to %" PRIu64
                    ", got '%s'",
                    opt, unit, min, max, arg ? arg : "");
    return v;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the guest channel ---- */

struct hv_conn {
    int fd;
    const char *path;
    char err[256];
    unsigned char out[sizeof(struct guest_ops_hdr) + GUEST_MAX_BATCH * sizeof(struct guest_op)];
    unsigned char in[sizeof(struct guest_ops_hdr) + GUEST_MAX_BATCH * sizeof(struct guest_op)];
};

static void conn_err(struct hv_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_err(struct hv_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

static ssize_t recv_msg(struct hv_conn *c, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            conn_err(c, "receiving from vmca-hv at %s: %s", c->path, strerror(errno));
        else if (n == 0)
            conn_err(c, "vmca-hv at %s closed the connection", c->path);
        return n;
    }
}

/* gw_exec_fn: one batch out, the same batch back with results. */
static int hv_exec(void *arg, struct guest_op *ops, unsigned count)
{
    struct hv_conn *c = arg;
    struct guest_ops_hdr h = {.magic = GUEST_MAGIC, .type = GUEST_MSG_OPS, .count = count};
    size_t len = sizeof h + (size_t)count * sizeof *ops;
    memcpy(c->out, &h, sizeof h);
    memcpy(c->out + sizeof h, ops, (size_t)count * sizeof *ops);
    ssize_t n;
    do
        n = send(c->fd, c->out, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len) {
        conn_err(c, "sending a batch to vmca-hv at %s: %s", c->path,
                 n < 0 ? strerror(errno) : "short send");
        return -1;
    }
    n = recv_msg(c, c->in, sizeof c->in);
    if (n <= 0)
        return -1;
    if ((size_t)n != len) {
        conn_err(c, "protocol: vmca-hv answered a batch of %u ops with %zd bytes, not %zu",
                 count, n, len);
        return -1;
    }
    struct guest_ops_hdr rh;
    memcpy(&rh, c->in, sizeof rh);
    if (rh.magic != GUEST_MAGIC || rh.type != GUEST_MSG_OPS || rh.count != count) {
        conn_err(c, "protocol: bad batch reply header (magic %#x type %u count %u)",
                 rh.magic, rh.type, rh.count);
        return -1;
    }
    for (unsigned i = 0; i < count; i++) {
        struct guest_op r;
        memcpy(&r, c->in + sizeof rh + (size_t)i * sizeof r, sizeof r);
        if (r.op != ops[i].op || r.pool != ops[i].pool || r.index != ops[i].index ||
            r.oid != ops[i].oid || r.slot != ops[i].slot) {
            conn_err(c, "protocol: op %u of the batch reply does not echo the request", i);
            return -1;
        }
        ops[i].result = r.result;
    }
    return 0;
}

static int connect_hv(struct hv_conn *c)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(c->path) >= sizeof sun.sun_path) {
        conn_err(c, "socket path %s is too long (at most %zu bytes)", c->path,
                 sizeof sun.sun_path - 1);
        return -1;
    }
    strcpy(sun.sun_path, c->path);
    c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_err(c, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        conn_err(c, "cannot reach vmca-hv at %s: %s", c->path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Sends the hello with the buffer's fd and checks the reply. */
static int hello(struct hv_conn *c, uint32_t vm, uint32_t slots, int memfd,
                 struct guest_hello_reply *rep)
{
    struct guest_hello h = {.magic = GUEST_MAGIC, .type = GUEST_MSG_HELLO, .vm = vm,
                            .slots = slots};
    struct iovec iov = {.iov_base = &h, .iov_len = sizeof h};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof h) {
        conn_err(c, "sending the hello to vmca-hv at %s: %s", c->path,
                 n < 0 ? strerror(errno) : "short send");
        return -1;
    }
    n = recv_msg(c, c->in, sizeof c->in);
    if (n <= 0)
        return -1;
    if ((size_t)n != sizeof *rep) {
        conn_err(c, "protocol: hello reply of %zd bytes, expected %zu", n, sizeof *rep);
        return -1;
    }
    memcpy(rep, c->in, sizeof *rep);
    if (rep->magic != GUEST_MAGIC || rep->type != GUEST_MSG_HELLO) {
        conn_err(c, "protocol: bad hello reply (magic %#x type %u)", rep->magic, rep->type);
        return -1;
    }
    return 0;
}

/* ---- main ---- */

enum {
    OPT_SLOTS = 256,
    OPT_SEED,
    OPT_LOOPS,
    OPT_OPS_PER_PHASE,
    OPT_HOLD_SECONDS,
    OPT_PROGRESS,
    OPT_TMEM_LOCAL,
    OPT_REMOTE_LAT,
    OPT_DISK_LAT,
};

static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"vm", required_argument, NULL, 'v'},
    {"ram", required_argument, NULL, 'r'},
    {"workload", required_argument, NULL, 'w'},
    {"pool", required_argument, NULL, 'p'},
    {"slots", required_argument, NULL, OPT_SLOTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"loops", required_argument, NULL, OPT_LOOPS},
    {"ops-per-phase", required_argument, NULL, OPT_OPS_PER_PHASE},
    {"hold-seconds", required_argument, NULL, OPT_HOLD_SECONDS},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"tmem-local-us", required_argument, NULL, OPT_TMEM_LOCAL},
    {"remote-latency-us", required_argument, NULL, OPT_REMOTE_LAT},
    {"disk-latency-us", required_argument, NULL, OPT_DISK_LAT},
    {"config", required_argument, NULL, 'c'},
    {"node", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

struct cli {
    const char *socket, *workload;
    const char *config, *node;         /* --config, --node: the socket from the file */
    char socket_buf[VMCA_PATH_MAX];
    bool have_vm, have_ram;
    uint32_t vm;
    uint64_t ram_mb;
    unsigned pool_kind;
    uint32_t slots;
    bool have_seed, have_loops, have_opp, have_hold;
    uint64_t seed, loops, ops_per_phase, hold_seconds;
    bool progress;
    struct gw_model model;
};

static void parse_cli(int argc, char **argv, struct cli *o)
{
    *o = (struct cli){.pool_kind = HVX_POOL_PERSISTENT, .slots = 256, .seed = 1,
                      .model = GW_MODEL_DEFAULT};
    const uint64_t us_max = UINT64_C(1) << 32;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":s:v:r:w:p:c:n:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (!*optarg)
                usage_error("--socket: expected a path, got an empty string");
            o->socket = optarg;
            break;
        case 'v':
            o->vm = (uint32_t)opt_num("--vm", optarg, 0, UINT32_MAX, "VM id");
            o->have_vm = true;
            break;
        case 'r':
            o->ram_mb = opt_num("--ram", optarg, 1, GW_MAX_PAGES, "MB");
            o->have_ram = true;
            break;
        case 'w':
            o->workload = optarg;
            break;
        case 'p':
            if (strcmp(optarg, "persistent") == 0)
                o->pool_kind = HVX_POOL_PERSISTENT;
            else if (strcmp(optarg, "ephemeral") == 0)
                o->pool_kind = HVX_POOL_EPHEMERAL;
            else
                usage_error("--pool: expected 'persistent' or 'ephemeral', got '%s'", optarg);
            break;
        case OPT_SLOTS:
            o->slots = (uint32_t)opt_num("--slots", optarg, 1, GUEST_MAX_SLOTS, "slots");
            break;
        case OPT_SEED:
            o->seed = opt_num("--seed", optarg, 0, UINT64_MAX, "seed");
            o->have_seed = true;
            break;
        case OPT_LOOPS:
            o->loops = opt_num("--loops", optarg, 0, UINT32_MAX, "passes");
            o->have_loops = true;
            break;
        case OPT_OPS_PER_PHASE:
            o->ops_per_phase = opt_num("--ops-per-phase", optarg, 1, UINT64_MAX, "accesses");
            o->have_opp = true;
            break;
        case OPT_HOLD_SECONDS:
            o->hold_seconds = opt_num("--hold-seconds", optarg, 1, UINT32_MAX, "seconds");
            o->have_hold = true;
            break;
        case OPT_PROGRESS:
            o->progress = true;
            break;
        case OPT_TMEM_LOCAL:
            o->model.tmem_local_us =
                opt_num("--tmem-local-us", optarg, 0, us_max, "microseconds");
            break;
        case OPT_REMOTE_LAT:
            o->model.remote_latency_us =
                opt_num("--remote-latency-us", optarg, 0, us_max, "microseconds");
            break;
        case OPT_DISK_LAT:
            o->model.disk_latency_us =
                opt_num("--disk-latency-us", optarg, 0, us_max, "microseconds");
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'n':
            o->node = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        case 'V':
            puts("vmca-guest " VMCA_VERSION);
            exit(0);
        case ':':
            if (strncmp(argv[optind - 1], "--", 2) != 0 && optopt > 0 && optopt < 128)
                usage_error("option -%c needs an argument", optopt);
            usage_error("option %s needs an argument", argv[optind - 1]);
        default:
            if (strncmp(argv[optind - 1], "--", 2) != 0 && optopt > 0 && optopt < 128)
                usage_error("unknown option '-%c'", optopt);
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (o->socket && (o->config || o->node))
        usage_error("give --socket PATH or --config FILE --node NAME, not both");
    if (!o->socket && (!o->config || !o->node))
        usage_error(o->config || o->node ? "--config FILE and --node NAME go together"
                                         : "--socket PATH (or --config FILE --node NAME) is required");
    if (!o->socket) {
        struct vmca_config cfg;
        char err[1024];
        if (vmca_config_load(o->config, 0, &cfg, err, sizeof err) != VMCA_OK)
            usage_error("%s", err);
        int bad = !vmca_config_node_by_name(&cfg, o->node) ||
                  vmca_config_socket_path(&cfg, o->node, "guest", o->socket_buf,
                                          sizeof o->socket_buf);
        vmca_config_free(&cfg);
        if (bad)
            usage_error("--node: no node named '%s' in %s (or its socket path is too long)",
                        o->node, o->config);
        o->socket = o->socket_buf;
    }
    if (!o->have_vm)
        usage_error("--vm ID is required");
    if (!o->have_ram)
        usage_error("--ram MB is required");
    if (!o->workload)
        usage_error("--workload SPEC is required");
}

/* Options that only mean something for some workloads are refused elsewhere. */
static void check_cli_for(const struct cli *o, const struct gw_spec *s, struct gw_run_opts *ro)
{
    const char *name = s->kind == GW_USEMEM   ? "usemem"
                       : s->kind == GW_PHASES ? "phases"
                       : s->kind == GW_TRACE  ? "trace"
                                              : "hold";
    if (o->have_loops && s->kind != GW_USEMEM && s->kind != GW_TRACE)
        usage_error("--loops applies to usemem and trace workloads, not %s", name);
    if (o->have_loops && s->kind == GW_TRACE && o->loops == 0)
        usage_error("--loops: a trace is replayed at least once, got '0'");
    if (o->have_seed && s->kind != GW_PHASES)
        usage_error("--seed applies to phases workloads, not %s", name);
    if (o->have_opp && s->kind != GW_PHASES)
        usage_error("--ops-per-phase applies to phases workloads, not %s", name);
    if (o->have_hold && s->kind != GW_HOLD)
        usage_error("--hold-seconds applies to hold workloads, not %s", name);
    ro->loops = o->have_loops ? o->loops : s->kind == GW_USEMEM ? 3 : 1;
    ro->ops_per_phase = o->ops_per_phase;
    ro->seed = o->seed;
}

static void print_stats(FILE *f, const struct gw_guest *g, const struct gw_model *m)
{
    char line[1024];
    gw_format_stats(line, sizeof line, g->cfg.vm, &g->st, m);
    fprintf(f, "%s\n", line);
    fflush(f);
}

/* Waits for SIGUSR1 (blocked since start-up, so one sent early is kept) or
 * the timeout. */
static void hold_wait(const struct cli *o)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    struct timespec ts = {.tv_sec = (time_t)o->hold_seconds};
    for (;;) {
        int r = sigtimedwait(&set, NULL, o->have_hold ? &ts : NULL);
        if (r == SIGUSR1 || (r < 0 && errno == EAGAIN))
            return;
        /* EINTR: another signal's handler ran; keep waiting (the timeout
         * restarts, which only lengthens an interrupted hold). */
    }
}

/* Connects, runs the workload, prints the counters; returns the exit status. */
static int run(const struct cli *o, const struct gw_spec *spec, const struct gw_run_opts *ro,
               struct hv_conn *c)
{
    int rc = 1;
    char err[512];
    struct gw_guest *g = NULL;
    /* The page size is only known from the hello reply, which answers the
     * buffer the hello carries: size it for the largest page size a cluster
     * may use (memfd pages cost nothing until touched). vmca-hv takes only
     * a buffer sealed against shrinking, so it is never trimmed. */
    size_t buf_bytes = (size_t)o->slots * HELLO_PAGE_SIZE_MAX;
    unsigned char *buf = MAP_FAILED;
    int memfd = memfd_create("vmca-guest-slots", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0 || ftruncate(memfd, (off_t)buf_bytes) != 0 ||
        fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        fprintf(stderr, "%s: vm %" PRIu32 ": shared page buffer of %zu bytes: %s\n", prog,
                o->vm, buf_bytes, strerror(errno));
        goto out;
    }
    buf = mmap(NULL, buf_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (buf == MAP_FAILED) {
        fprintf(stderr, "%s: vm %" PRIu32 ": mmap of the page buffer: %s\n", prog, o->vm,
                strerror(errno));
        goto out;
    }
    struct guest_hello_reply rep;
    if (connect_hv(c) != 0 || hello(c, o->vm, o->slots, memfd, &rep) != 0) {
        fprintf(stderr, "%s: vm %" PRIu32 ": %s\n", prog, o->vm, c->err);
        goto out;
    }
    if (rep.status != 0) {
        fprintf(stderr, "%s: vm %" PRIu32 ": vmca-hv at %s refused the VM: %s (%d)%s\n", prog,
                o->vm, o->socket, gw_result_name(rep.status), rep.status,
                rep.status == HVX_EEXIST   ? ": another guest uses this VM id"
                : rep.status == HVX_EINVAL ? ": the hello or its page buffer (vmca-hv's log "
                                             "says which)"
                                           : "");
        goto out;
    }
    if (!gw_page_size_ok(rep.page_size) || rep.page_size > HELLO_PAGE_SIZE_MAX) {
        fprintf(stderr,
                "%s: vm %" PRIu32 ": protocol: hello reply page_size %" PRIu32
                " is not a power of two in %u..%u\n",
                prog, o->vm, rep.page_size, GW_PAGE_SIZE_MIN, HELLO_PAGE_SIZE_MAX);
        goto out;
    }
    if (rep.max_batch == 0 || rep.max_batch > GUEST_MAX_BATCH) {
        fprintf(stderr,
                "%s: vm %" PRIu32 ": protocol: hello reply max_batch %" PRIu32
                " is outside 1..%u\n",
                prog, o->vm, rep.max_batch, GUEST_MAX_BATCH);
        goto out;
    }
    /* vmca-hv maps slots * page_size bytes: the rest of this mapping can go
     * (the file keeps its size; its untouched pages cost nothing). */
    size_t used_bytes = (size_t)o->slots * rep.page_size;
    if (used_bytes < buf_bytes && munmap(buf + used_bytes, buf_bytes - used_bytes) == 0)
        buf_bytes = used_bytes;
    close(memfd); /* vmca-hv holds its own mapping now */
    memfd = -1;

    struct gw_workload wl;
    if (gw_workload_init(&wl, spec, rep.page_size, ro, err, sizeof err) != 0) {
        fprintf(stderr, "%s: --workload %s: %s\n", prog, o->workload, err);
        rc = EXIT_USAGE;
        goto out;
    }
    uint64_t ram_pages = o->ram_mb * ((UINT64_C(1) << 20) / rep.page_size);
    struct gw_config cfg = {
        .vm = o->vm,
        .page_size = rep.page_size,
        .ram_pages = ram_pages,
        .n_pages = gw_workload_pages(&wl),
        .pool_kind = o->pool_kind,
        .max_batch = rep.max_batch < o->slots ? rep.max_batch : o->slots,
        .slots = o->slots,
    };
    g = malloc(sizeof *g);
    if (!g) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    if (gw_guest_init(g, &cfg, buf, hv_exec, c) != GW_OK || gw_guest_open_pool(g) != GW_OK) {
        fprintf(stderr, "%s: vm %" PRIu32 ": %s%s%s\n", prog, o->vm, g->msg,
                c->err[0] ? ": " : "", c->err);
        goto out;
    }
    fprintf(stderr,
            "%s: vm %" PRIu32 " on node %" PRIu32 ": %" PRIu64 " pages of RAM, %" PRIu64
            " pages of address space, %s pool %u, batches of %u\n",
            prog, o->vm, rep.node, ram_pages, cfg.n_pages,
            o->pool_kind == HVX_POOL_PERSISTENT ? "persistent" : "ephemeral", g->pool,
            cfg.max_batch);

    uint64_t next_progress = now_ms() + 1000;
    int st = GW_OK;
    for (;;) {
        uint64_t t = now_ms();
        if (o->progress && t >= next_progress) {
            print_stats(stderr, g, &o->model);
            next_progress = t + 1000;
        }
        struct gw_access a;
        enum gw_next nx = gw_workload_next(&wl, t, &a);
        if (nx == GW_NEXT_END)
            break;
        if (nx == GW_NEXT_HOLD) {
            if ((st = gw_guest_sync(g)) != GW_OK)
                break;
            printf("holding\n");
            fflush(stdout);
            hold_wait(o);
            continue;
        }
        if ((st = gw_guest_access(g, a.gpn, a.write)) != GW_OK)
            break;
    }
    if (st == GW_OK)
        st = gw_guest_sync(g); /* the last gets are verified here */
    print_stats(stdout, g, &o->model);
    if (st != GW_OK)
        fprintf(stderr, "%s: vm %" PRIu32 ": %s%s%s\n", prog, o->vm, g->msg,
                st == GW_ERR_TRANSPORT && c->err[0] ? ": " : "",
                st == GW_ERR_TRANSPORT ? c->err : "");
    rc = st;
out:
    if (g) {
        gw_guest_free(g);
        free(g);
    }
    if (memfd >= 0)
        close(memfd);
    if (buf != MAP_FAILED)
        munmap(buf, buf_bytes);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli o;
    parse_cli(argc, argv, &o);

    char err[512];
    struct gw_spec spec;
    if (gw_spec_parse(o.workload, &spec, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return EXIT_USAGE;
    }
    struct gw_run_opts ro;
    check_cli_for(&o, &spec, &ro);

    /* Blocked from the start so that a SIGUSR1 sent before `holding` is
     * kept pending rather than killing the process. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);

    struct hv_conn *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "%s: out of memory\n", prog);
        gw_spec_free(&spec);
        return 1;
    }
    c->fd = -1;
    c->path = o.socket;
    int rc = run(&o, &spec, &ro, c);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    gw_spec_free(&spec);
    return rc;
}
