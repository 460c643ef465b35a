/* vmca-hv: the emulated hypervisor of one node. It holds the node's libhvx
 * instance over the emulated global address space (fabric.c), serves
 * emulated VMs on the guest socket (guest_proto.h) and the node's memory
 * manager on the TKM socket (proto/tkm.proto), and pushes statistics every
 * interval. A restart is a node crash: the node's segment comes back empty
 * with a new generation. */
#define _GNU_SOURCE /* struct ucred via unixsock, memfd in guests */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "err.h"
#include "fabric.h"
#include "guest_exec.h"
#include "guest_proto.h"
#include "hv_tkm.h"
#include "hvx.h"
#include "log.h"
#include "tkm_pb.h"
#include "tkm_wire.h"
#include "unixsock.h"

struct hv;

struct guest {
    struct hv *hv;
    int fd;
    struct event *ev;
    bool registered;
    uint32_t vm;
    uint8_t *buf;             /* the guest's shared page buffer */
    size_t buf_len;
    uint32_t slots;
    struct guest *next;
};

struct tkm_client {
    struct hv *hv;
    int fd;
    long pid;                    /* of the peer (SO_PEERCRED), for the logs */
    struct event *ev;
    struct tkm_client *next;
};

struct hv {
    struct vmca_config cfg;
    const struct vmca_node_cfg *self;
    struct event_base *base;
    struct fabric *fabric;
    struct hvx *hvx;
    struct hv_tkm *tkm;          /* the TKM dispatcher over hvx */
    struct tkm_pb *pb;           /* protobuf <-> its plain calls and answers */
    struct tkm_client *calling;  /* whose call the dispatcher is answering */
    int guest_lfd, tkm_lfd;
    struct event *guest_lev, *tkm_lev, *stats_ev;
    uint64_t replica_pages, under; /* last logged (repair_replicas) */
    char guest_path[108], tkm_path[108];
    struct guest *guests;
    size_t n_guests, max_guests;  /* connections, registered or not */
    bool guests_full_logged;      /* "refused: too many" once per overload */
    struct tkm_client *tkms;
    struct tkm_client *manager;  /* the one that claimed the role, or NULL */
    uint32_t fault_logged_home;   /* last home whose fault was logged */
};

static const char usage[] =
    "usage: vmca-hv --config FILE --node NAME [options]\n"
    "Runs the emulated hypervisor of node NAME: its tmem pages live in a shared\n"
    "memory segment of the emulated global address space; emulated VMs\n"
    "(vmca-guest) connect to the guest socket, the node's memory manager\n"
    "(vmca-slave) to the TKM socket, one at a time. It exits 1 when another\n"
    "vmca-hv of NAME holds <config dir>/<cluster>-<node>-hv.lock.\n"
    "\n"
    "  -c, --config FILE          cluster configuration (required)\n"
    "  -n, --node NAME            this node's name in FILE (required)\n"
    "      --guest-socket PATH    default: <config dir>/<cluster>-<node>-guest.sock\n"
    "      --tkm-socket PATH      default: <config dir>/<cluster>-<node>-tkm.sock\n"
    "      --remote-latency-us N  busy-wait per remote page access (default 0;\n"
    "                             the paper's hardware: 50)\n"
    "  -l, --log-level LEVEL      err, warn, info (default) or debug\n"
    "  -s, --syslog               log to syslog instead of stderr\n"
    "  -h, --help                 this text\n"
    "  -V, --version              print the version\n";

/* ---- libhvx environment: memory from the heap, pages from the fabric ---- */

static void *env_alloc(void *arg, size_t n)
{
    return calloc(1, n);
}

static void env_free(void *arg, void *p, size_t n)
{
    free(p);
}

static void *env_page(void *arg, uint64_t gfn, int *fault)
{
    struct hv *hv = arg;
    void *p = fabric_page(hv->fabric, gfn, fault);
    if (!p && hv->fault_logged_home != (gfn >> 36)) {
        hv->fault_logged_home = (uint32_t)(gfn >> 36);
        log_warn("access to a page of node %u faulted: %s", (unsigned)(gfn >> 36),
                 fabric_strerror(*fault));
    }
    return p;
}

static uint64_t env_generation(void *arg, uint32_t home)
{
    struct hv *hv = arg;
    return fabric_generation(hv->fabric, home);
}

static uint32_t *env_owners(void *arg, uint32_t home, int *fault)
{
    struct hv *hv = arg;
    return fabric_owners(hv->fabric, home, fault);
}

static uint32_t env_claim_epoch(void *arg, uint32_t node)
{
    struct hv *hv = arg;
    return fabric_claim_epoch(hv->fabric, node);
}

static void env_forget(void *arg, uint32_t home)
{
    struct hv *hv = arg;
    fabric_forget_stale(hv->fabric, home);
}

/* ---- guests ---- */

static void guest_close(struct guest *g, const char *why)
{
    struct hv *hv = g->hv;
    if (g->registered) {
        bool failed = hvx_client_failed(hv->hvx, g->vm);
        hvx_client_destroy(hv->hvx, g->vm);
        if (failed)
            log_warn("VM %u disconnected after failing (it lost persistent pages): %s",
                     g->vm, why);
        else
            log_info("VM %u disconnected: %s", g->vm, why);
    } else {
        log_warn("guest connection closed: %s", why);
    }
    for (struct guest **p = &hv->guests; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    hv->n_guests--;
    event_free(g->ev);
    close(g->fd);
    if (g->buf)
        munmap(g->buf, g->buf_len);
    free(g);
}

static void push_stats(struct hv *hv, struct tkm_client *only, bool new_period);

/* NULL when `fd` is a page buffer a guest cannot take away from under the
 * hypervisor: a memfd sealed against shrinking (else a truncate after the
 * hello would make every access to the mapping a SIGBUS of vmca-hv) and
 * against further sealing, writable, of at least `need` bytes; else why
 * not, in `why`. */
static const char *buffer_problem(int fd, size_t need, char *why, size_t whylen)
{
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) {
        snprintf(why, whylen, "the page buffer is not a memfd (F_GET_SEALS: %s)",
                 strerror(errno));
        return why;
    }
    int want = F_SEAL_SHRINK | F_SEAL_SEAL;
    if ((seals & want) != want) {
        snprintf(why, whylen, "the page buffer lacks the seal%s%s%s (memfd_create with "
                 "MFD_ALLOW_SEALING, then F_ADD_SEALS)",
                 (seals & F_SEAL_SHRINK) ? "" : " F_SEAL_SHRINK",
                 (seals & want) == 0 ? " and" : "", (seals & F_SEAL_SEAL) ? "" : " F_SEAL_SEAL");
        return why;
    }
    int nowrite = F_SEAL_WRITE;
#ifdef F_SEAL_FUTURE_WRITE
    nowrite |= F_SEAL_FUTURE_WRITE;
#endif
    if (seals & nowrite) {
        snprintf(why, whylen, "the page buffer is sealed against writing (gets write into it)");
        return why;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < need) {
        snprintf(why, whylen, "the page buffer has %lld bytes, the hello's slots need %zu",
                 (long long)st.st_size, need);
        return why;
    }
    return NULL;
}

/* Sends a hello reply; false when the socket did not take it. */
static bool hello_reply(struct guest *g, int32_t status)
{
    struct hv *hv = g->hv;
    struct guest_hello_reply reply = {
        .magic = GUEST_MAGIC, .type = GUEST_MSG_HELLO, .status = status,
        .page_size = hv->cfg.page_size, .max_batch = GUEST_MAX_BATCH,
        .node = hv->self->id,
    };
    return send(g->fd, &reply, sizeof reply, MSG_NOSIGNAL) == (ssize_t)sizeof reply;
}

/* The hello, with the `npassed` descriptors it carried (the caller closes
 * them). A refused hello is answered with a negative status (when the
 * message was a hello at all) and -1 returned with the reason in `why`. */
static int guest_hello(struct guest *g, const uint8_t *msg, size_t len, const int *passed,
                       size_t npassed, char *why, size_t whylen)
{
    struct hv *hv = g->hv;
    struct guest_hello hello;
    if (len != sizeof hello) {
        snprintf(why, whylen, "hello of %zu bytes, expected %zu", len, sizeof hello);
        return -1;
    }
    memcpy(&hello, msg, sizeof hello);
    if (hello.magic != GUEST_MAGIC || hello.type != GUEST_MSG_HELLO) {
        snprintf(why, whylen, "first message is not a hello");
        return -1;
    }
    char reason[200];
    size_t need = (size_t)hello.slots * hv->cfg.page_size;
    if (hello.slots == 0 || hello.slots > GUEST_MAX_SLOTS)
        snprintf(reason, sizeof reason, "slots %u not in 1..%u", hello.slots, GUEST_MAX_SLOTS);
    else if (npassed != 1)
        snprintf(reason, sizeof reason, "%zu descriptors passed, expected one (the page buffer)",
                 npassed);
    else if (!buffer_problem(passed[0], need, reason, sizeof reason)) {
        g->buf = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, passed[0], 0);
        if (g->buf == MAP_FAILED) {
            g->buf = NULL;
            snprintf(reason, sizeof reason, "cannot map the page buffer: %s", strerror(errno));
        } else {
            reason[0] = '\0';
        }
    }
    if (!g->buf) {
        hello_reply(g, HVX_EINVAL);
        snprintf(why, whylen, "hello of VM %u refused: %s", hello.vm, reason);
        return -1;
    }
    g->buf_len = need;
    g->slots = hello.slots;
    int32_t status = hvx_client_new(hv->hvx, hello.vm);
    if (status != HVX_OK) {
        hello_reply(g, status);
        snprintf(why, whylen, "VM %u refused: %s", hello.vm,
                 status == HVX_EEXIST ? "a VM with that id is connected" : "no room");
        return -1;
    }
    /* Copies of its remote persistent pages: the configuration's (1 or 2). */
    unsigned copies = vmca_config_replicas(&hv->cfg, hv->self, hello.vm);
    hvx_set_replicas(hv->hvx, hello.vm, copies);
    g->registered = true;
    g->vm = hello.vm;
    if (!hello_reply(g, HVX_OK)) {
        snprintf(why, whylen, "cannot answer the hello: %s", strerror(errno));
        return -1;
    }
    log_info("VM %u connected (%u-page buffer, %u %s of remote persistent pages)", g->vm,
             g->slots, copies, copies == 1 ? "copy" : "copies");
    /* The memory manager sets the new VM's target now, not next period. */
    push_stats(hv, NULL, false);
    return 0;
}

static int32_t guest_op(struct guest *g, const struct guest_op *op)
{
    return guest_exec(g->hv->hvx, g->vm, op, g->buf, g->slots, g->hv->cfg.page_size);
}

#define GUEST_MSG_MAX (sizeof(struct guest_ops_hdr) + GUEST_MAX_BATCH * sizeof(struct guest_op))
#define GUEST_FDS_MAX 8 /* descriptors taken from one message (one is valid) */

static void close_all(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

static void on_guest(evutil_socket_t fd, short what, void *arg)
{
    struct guest *g = arg;
    static uint8_t msg[GUEST_MSG_MAX + 1];
    union {
        char buf[CMSG_SPACE(sizeof(int) * GUEST_FDS_MAX)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {msg, sizeof msg};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    /* Take every passed descriptor (descriptors beyond the control buffer
     * were dropped by the kernel: MSG_CTRUNC); only a hello uses one. */
    int passed[GUEST_FDS_MAX];
    size_t npassed = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd && npassed < GUEST_FDS_MAX; i++)
            memcpy(&passed[npassed++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    char why[320];
    if (n > 0 && !g->registered && !(mh.msg_flags & MSG_TRUNC)) {
        int rc = guest_hello(g, msg, (size_t)n,
                             passed, (mh.msg_flags & MSG_CTRUNC) ? GUEST_FDS_MAX + 1 : npassed,
                             why, sizeof why);
        close_all(passed, npassed);
        if (rc != 0)
            guest_close(g, why);
        return;
    }
    close_all(passed, npassed); /* descriptors on anything but a hello mean nothing */
    if (n <= 0) {
        guest_close(g, n == 0 ? "closed by the guest" : strerror(errno));
        return;
    }
    if (mh.msg_flags & MSG_TRUNC) {
        guest_close(g, "message larger than the protocol allows");
        return;
    }
    struct guest_ops_hdr hdr;
    if ((size_t)n < sizeof hdr) {
        guest_close(g, "short message");
        return;
    }
    memcpy(&hdr, msg, sizeof hdr);
    if (hdr.magic != GUEST_MAGIC || hdr.type != GUEST_MSG_OPS || hdr.count > GUEST_MAX_BATCH ||
        (size_t)n != sizeof hdr + hdr.count * sizeof(struct guest_op)) {
        snprintf(why, sizeof why, "malformed batch (%zd bytes, count %u)", n, hdr.count);
        guest_close(g, why);
        return;
    }
    struct guest_op *ops = (struct guest_op *)(msg + sizeof hdr);
    for (uint32_t i = 0; i < hdr.count; i++)
        ops[i].result = guest_op(g, &ops[i]);
    /* The socket is non-blocking: a guest that does not read its replies
     * fills it and is closed here instead of stalling every other VM. */
    if (send(fd, msg, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(why, sizeof why, "cannot answer the guest: %s",
                 errno == EAGAIN ? "its socket is full (it does not read its replies)"
                                 : strerror(errno));
        guest_close(g, why);
    }
}

static void on_guest_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct hv *hv = arg;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (!vmca_unix_peer_allowed(fd)) {
        log_warn("guest socket: refused a client running as another user");
        close(fd);
        return;
    }
    if (hv->n_guests >= hv->max_guests) {
        if (!hv->guests_full_logged)
            log_warn("guest socket: refused a connection: %zu guests connected, at most %zu",
                     hv->n_guests, hv->max_guests);
        hv->guests_full_logged = true;
        close(fd);
        return;
    }
    hv->guests_full_logged = false;
    struct guest *g = calloc(1, sizeof *g);
    if (!g) {
        close(fd);
        return;
    }
    g->hv = hv;
    g->fd = fd;
    g->ev = event_new(hv->base, fd, EV_READ | EV_PERSIST, on_guest, g);
    event_add(g->ev, NULL);
    g->next = hv->guests;
    hv->guests = g;
    hv->n_guests++;
}

/* Guest connections allowed: one per VM libhvx can hold, within the
 * descriptors this process may open (raising the soft limit if it can),
 * keeping a reserve for the TKM channel and the rest. */
static size_t guest_limit(void)
{
    const rlim_t reserve = 64, want = HVX_MAX_CLIENTS + reserve;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return HVX_MAX_CLIENTS;
    return rl.rlim_cur > reserve ? (size_t)(rl.rlim_cur - reserve) : 0;
}

/* ---- TKM ---- */

static void tkm_close(struct tkm_client *c, const char *why)
{
    struct hv *hv = c->hv;
    if (hv->manager == c) {
        hv->manager = NULL;
        log_info("memory manager (pid %ld) disconnected: %s", c->pid, why);
        /* Its censuses died with it (a new manager knows nothing of them):
         * no home stays frozen here for ever. A manager that reconnects
         * freezes again what it still counts. */
        hv_tkm_manager_gone(hv->tkm);
    } else {
        log_debug("TKM client (pid %ld) disconnected: %s", c->pid, why);
    }
    for (struct tkm_client **p = &hv->tkms; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    event_free(c->ev);
    close(c->fd);
    free(c);
}

/* ---- the dispatcher's environment: the fabric ---- */

static bool tkm_env_fenced(void *arg)
{
    struct hv *hv = arg;
    return fabric_is_fenced(hv->fabric, hv->self->id);
}

static uint64_t tkm_env_generation(void *arg)
{
    struct hv *hv = arg;
    return fabric_generation(hv->fabric, hv->self->id);
}

static void tkm_env_set_remote(void *arg, bool open)
{
    struct hv *hv = arg;
    fabric_set_remote(hv->fabric, open);
}

static void tkm_env_forget(void *arg, uint32_t home)
{
    struct hv *hv = arg;
    fabric_forget(hv->fabric, home);
}

static void send_reply(struct tkm_client *c, const struct tkm_reply *r)
{
    Vmca__TkmReply pr;
    Vmca__TkmFromHv out = VMCA__TKM_FROM_HV__INIT;
    out.msg_case = VMCA__TKM_FROM_HV__MSG_REPLY;
    out.reply = &pr;
    if (tkm_pb_reply_encode(c->hv->pb, r, &pr) != VMCA_OK ||
        tkm_send_from_hv(c->fd, &out) != VMCA_OK)
        log_warn("cannot answer the memory manager");
}

static void send_sample(struct hv *hv, struct tkm_client *only, const struct tkm_hv_stats *s)
{
    Vmca__TkmStats st;
    if (tkm_pb_sample_encode(hv->pb, s, &st) != VMCA_OK) {
        log_err("out of memory encoding statistics");
        return;
    }
    Vmca__TkmFromHv out = VMCA__TKM_FROM_HV__INIT;
    out.msg_case = VMCA__TKM_FROM_HV__MSG_STATS;
    out.stats = &st;
    for (struct tkm_client *c = hv->tkms; c; c = c->next)
        if (!only || c == only)
            tkm_send_from_hv(c->fd, &out);
}

static void on_dispatch_reply(void *arg, const struct tkm_reply *r)
{
    struct hv *hv = arg;
    send_reply(hv->calling, r);
}

/* Stats-Now: the sample after the reply, to the caller only. */
static void on_dispatch_sample(void *arg, const struct tkm_hv_stats *s)
{
    struct hv *hv = arg;
    send_sample(hv, hv->calling, s);
}

/* A call: protobuf -> the dispatcher -> protobuf. */
static void tkm_dispatch(struct tkm_client *c, const Vmca__TkmToHv *m)
{
    struct hv *hv = c->hv;
    struct tkm_backend b = hv_tkm_backend(hv->tkm);
    hv->calling = c;
    int rc = tkm_pb_call_apply(hv->pb, m, &b);
    hv->calling = NULL;
    if (rc != VMCA_OK)
        send_reply(c, &(struct tkm_reply){.id = m->id, .status = HVX_EINVAL,
                                          .error = rc == VMCA_ERR_NOMEM ? "out of memory"
                                                                        : "unknown call"});
}

/* The memory manager role (TkmManage): one connection holds it at a time,
 * since a second vmca-slave of this node would fight the first at the
 * master. Answers the claim; false when it was refused (the caller closes). */
static bool tkm_manage(struct tkm_client *c, uint64_t id)
{
    struct hv *hv = c->hv;
    char err[200];
    Vmca__TkmReply r = VMCA__TKM_REPLY__INIT;
    r.id = id;
    if (hv->manager && hv->manager != c) {
        snprintf(err, sizeof err, "node %s already has a memory manager (pid %ld)",
                 hv->self->name, hv->manager->pid);
        r.status = HVX_EBUSY;
        r.error = err;
        log_warn("refused a second memory manager (pid %ld): %s", c->pid, err);
    } else if (!hv->manager) {
        hv->manager = c;
        log_info("memory manager connected (pid %ld)", c->pid);
    }
    Vmca__TkmFromHv out = VMCA__TKM_FROM_HV__INIT;
    out.msg_case = VMCA__TKM_FROM_HV__MSG_REPLY;
    out.reply = &r;
    if (tkm_send_from_hv(c->fd, &out) != VMCA_OK)
        log_warn("cannot answer the memory manager's claim (pid %ld)", c->pid);
    return r.status == 0;
}

static void on_tkm(evutil_socket_t fd, short what, void *arg)
{
    struct tkm_client *c = arg;
    Vmca__TkmToHv *m;
    char err[256];
    int rc = tkm_recv_to_hv(fd, &m, err, sizeof err);
    if (rc == VMCA_ERR_AGAIN)
        return;
    if (rc != VMCA_OK) {
        tkm_close(c, err);
        return;
    }
    if (m->call_case == VMCA__TKM_TO_HV__CALL_MANAGE) {
        bool ok = tkm_manage(c, m->id);
        vmca__tkm_to_hv__free_unpacked(m, NULL);
        if (!ok)
            tkm_close(c, "refused as a second memory manager");
        return;
    }
    tkm_dispatch(c, m);
    vmca__tkm_to_hv__free_unpacked(m, NULL);
}

static void on_tkm_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct hv *hv = arg;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (!vmca_unix_peer_allowed(fd)) {
        log_warn("TKM socket: refused a client running as another user");
        close(fd);
        return;
    }
    int sz = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    struct tkm_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    struct ucred cred;
    socklen_t cl = sizeof cred;
    c->pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 ? (long)cred.pid : -1;
    c->hv = hv;
    c->fd = fd;
    c->ev = event_new(hv->base, fd, EV_READ | EV_PERSIST, on_tkm, c);
    event_add(c->ev, NULL);
    c->next = hv->tkms;
    hv->tkms = c;
    log_debug("TKM client connected (pid %ld)", c->pid);
    push_stats(hv, c, false);
}

/* ---- statistics ---- */

/* Statistics to every memory manager (or `only` one). Only the timer's
 * pushes start a new period; the others leave the counters running. */
static void push_stats(struct hv *hv, struct tkm_client *only, bool new_period)
{
    struct tkm_hv_stats s;
    hv_tkm_sample(hv->tkm, new_period, &s);
    send_sample(hv, only, &s);
}

/* Second copies restored per statistics period (hvx_repair's bound). */
#define REPAIR_COPIES_PER_PERIOD 4096u

/* Restores second copies of under-replicated pages, and says in the log
 * when the replication figures change (tests and operators read them). */
static void repair_replicas(struct hv *hv)
{
    uint64_t copies = hvx_repair(hv->hvx, REPAIR_COPIES_PER_PERIOD);
    struct hvx_node_stats st;
    hvx_stats(hv->hvx, &st, NULL, 0, NULL, 0, NULL, 0, false);
    if (copies || st.replica_pages != hv->replica_pages || st.under_replicated != hv->under)
        log_info("replication: %" PRIu64 " replica pages, %" PRIu64
                 " under-replicated, %" PRIu64 " copies restored",
                 st.replica_pages, st.under_replicated, copies);
    hv->replica_pages = st.replica_pages;
    hv->under = st.under_replicated;
}

static void on_stats_timer(evutil_socket_t fd, short what, void *arg)
{
    struct hv *hv = arg;
    push_stats(hv, NULL, true);
    repair_replicas(hv);
}

static int parse_u32(const char *opt, const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        fprintf(stderr, "vmca-hv: %s: expected a number in 0..%u, got '%s'\n", opt, max, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_GUEST = 256, OPT_TKM, OPT_LAT };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"node", required_argument, NULL, 'n'},
        {"guest-socket", required_argument, NULL, OPT_GUEST},
        {"tkm-socket", required_argument, NULL, OPT_TKM},
        {"remote-latency-us", required_argument, NULL, OPT_LAT},
        {"log-level", required_argument, NULL, 'l'},
        {"syslog", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *node = NULL, *guest_path = NULL, *tkm_path = NULL;
    uint32_t latency_us = 0;
    enum vmca_log_level level = VMCA_LOG_INFO;
    bool use_syslog = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:n:l:shV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'n': node = optarg; break;
        case OPT_GUEST: guest_path = optarg; break;
        case OPT_TKM: tkm_path = optarg; break;
        case OPT_LAT:
            if (parse_u32("--remote-latency-us", optarg, 1000000, &latency_us))
                return 2;
            break;
        case 'l':
            if (vmca_opt_log_level("vmca-hv", optarg, &level))
                return 2;
            break;
        case 's': use_syslog = true; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': puts("vmca-hv " VMCA_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vmca-hv: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    if (!config || !node) {
        fprintf(stderr, "vmca-hv: --config and --node are required\n%s", usage);
        return 2;
    }
    vmca_log_init("vmca-hv", node, use_syslog, level);
    static struct hv hv;
    char err[1024];
    if (vmca_config_load(config, 0, &hv.cfg, err, sizeof err) != VMCA_OK) {
        fprintf(stderr, "vmca-hv: %s\n", err);
        return 1;
    }
    hv.self = vmca_config_node_by_name(&hv.cfg, node);
    if (!hv.self) {
        fprintf(stderr, "vmca-hv: --node: no node named '%s' in %s\n", node, hv.cfg.path);
        return 1;
    }
    /* Before the fabric: a second vmca-hv of this node would recreate (and
     * so wipe) the first one's segment. */
    if (vmca_node_lock(&hv.cfg, node, "hv", "vmca-hv", err, sizeof err) != 0) {
        fprintf(stderr, "vmca-hv: %s\n", err);
        return 1;
    }
    if (hv.self->tmem_pages > HVX_HOME_PAGES_MAX) {
        fprintf(stderr, "vmca-hv: node %s: tmem_pages %llu exceeds what libhvx manages per "
                "node (%llu)\n", node, (unsigned long long)hv.self->tmem_pages,
                (unsigned long long)HVX_HOME_PAGES_MAX);
        return 1;
    }
    if (guest_path)
        snprintf(hv.guest_path, sizeof hv.guest_path, "%s", guest_path);
    else if (vmca_config_socket_path(&hv.cfg, node, "guest", hv.guest_path,
                                     sizeof hv.guest_path)) {
        fprintf(stderr, "vmca-hv: the default guest socket path is too long; use --guest-socket\n");
        return 1;
    }
    if (tkm_path)
        snprintf(hv.tkm_path, sizeof hv.tkm_path, "%s", tkm_path);
    else if (vmca_config_socket_path(&hv.cfg, node, "tkm", hv.tkm_path, sizeof hv.tkm_path)) {
        fprintf(stderr, "vmca-hv: the default TKM socket path is too long; use --tkm-socket\n");
        return 1;
    }
    uint32_t max_node = 0;
    struct hvx_home *homes = calloc(hv.cfg.n_nodes, sizeof *homes);
    for (size_t i = 0; homes && i < hv.cfg.n_nodes; i++) {
        const struct vmca_node_cfg *nc = &hv.cfg.nodes[i];
        if (nc->id > max_node)
            max_node = nc->id;
        homes[i].id = nc->id;
        homes[i].pages = nc->tmem_pages > HVX_HOME_PAGES_MAX ? HVX_HOME_PAGES_MAX : nc->tmem_pages;
        homes[i].location_len = nc->location_len > HVX_LOCATION_MAX ? HVX_LOCATION_MAX
                                                                    : nc->location_len;
        memcpy(homes[i].location, nc->location, homes[i].location_len * sizeof(uint32_t));
    }
    struct fabric_params fp = {
        .cluster = hv.cfg.cluster, .self = hv.self->id, .max_node = max_node,
        .self_pages = hv.self->tmem_pages, .page_size = hv.cfg.page_size,
        .remote_latency_ns = latency_us * 1000u,
    };
    hv.fabric = fabric_open(&fp, err, sizeof err);
    if (!hv.fabric) {
        log_err("fabric: %s", err);
        return 1;
    }
    /* Remote access stays off until the node has joined (its memory
     * manager opens it): a rebooted node's fresh memory is never reached
     * through an earlier life's ownership claims. */
    fabric_set_remote(hv.fabric, false);
    struct hvx_params hp = {.self = hv.self->id, .page_size = hv.cfg.page_size,
                            .homes = homes, .n_homes = hv.cfg.n_nodes};
    struct hvx_env env = {env_alloc, env_free, env_page, env_generation, &hv, env_owners,
                          env_claim_epoch, env_forget};
    hv.hvx = homes ? hvx_new(&hp, &env) : NULL;
    free(homes);
    uint32_t *ids = calloc(hv.cfg.n_nodes, sizeof *ids);
    for (size_t i = 0; ids && i < hv.cfg.n_nodes; i++)
        ids[i] = hv.cfg.nodes[i].id;
    struct hv_tkm_params tp = {.self = hv.self->id, .nodes = ids, .n_nodes = hv.cfg.n_nodes,
                               .max_blocks = TKM_MAX_BLOCKS, .max_vms = HVX_MAX_CLIENTS};
    struct hv_tkm_env tenv = {&hv, tkm_env_fenced, tkm_env_generation, tkm_env_set_remote,
                              tkm_env_forget, vmca_log_sink};
    struct hv_tkm_answers answers = {on_dispatch_reply, on_dispatch_sample};
    hv.tkm = hv.hvx && ids ? hv_tkm_new(hv.hvx, &tp, &tenv, &answers, &hv) : NULL;
    hv.pb = tkm_pb_new();
    free(ids);
    if (!hv.hvx || !hv.tkm || !hv.pb) {
        log_err("cannot set up the hypervisor state (out of memory?)");
        fabric_close(hv.fabric);
        return 1;
    }
    hv.max_guests = guest_limit();
    hv.base = event_base_new();
    hv.guest_lfd = vmca_unix_listen(hv.guest_path, SOCK_SEQPACKET, err, sizeof err);
    hv.tkm_lfd = hv.guest_lfd < 0 ? -1
                                  : vmca_unix_listen(hv.tkm_path, SOCK_SEQPACKET, err, sizeof err);
    if (hv.guest_lfd < 0 || hv.tkm_lfd < 0) {
        log_err("%s", err);
        if (hv.guest_lfd >= 0)
            unlink(hv.guest_path);
        fabric_close(hv.fabric);
        return 1;
    }
    hv.guest_lev = event_new(hv.base, hv.guest_lfd, EV_READ | EV_PERSIST, on_guest_accept, &hv);
    hv.tkm_lev = event_new(hv.base, hv.tkm_lfd, EV_READ | EV_PERSIST, on_tkm_accept, &hv);
    hv.stats_ev = event_new(hv.base, -1, EV_PERSIST, on_stats_timer, &hv);
    event_add(hv.guest_lev, NULL);
    event_add(hv.tkm_lev, NULL);
    uint32_t ms = hv.cfg.timing.stats_interval_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_add(hv.stats_ev, &tv);
    struct vmca_stop_signals stop = {0};
    if (vmca_stop_signals_install(&stop, hv.base, NULL, NULL)) {
        log_err("cannot install signal handlers");
        return 1;
    }
    log_info("node %u: %llu tmem pages, generation %llu; guests at %s (at most %zu), TKM at %s",
             hv.self->id, (unsigned long long)hv.self->tmem_pages,
             (unsigned long long)fabric_generation(hv.fabric, hv.self->id), hv.guest_path,
             hv.max_guests, hv.tkm_path);

    event_base_dispatch(hv.base);

    while (hv.guests)
        guest_close(hv.guests, "hypervisor shutting down");
    while (hv.tkms)
        tkm_close(hv.tkms, "hypervisor shutting down");
    event_free(hv.guest_lev);
    event_free(hv.tkm_lev);
    event_free(hv.stats_ev);
    vmca_stop_signals_free(&stop);
    close(hv.guest_lfd);
    close(hv.tkm_lfd);
    unlink(hv.guest_path);
    unlink(hv.tkm_path);
    event_base_free(hv.base);
    hv_tkm_free(hv.tkm);
    tkm_pb_free(hv.pb);
    hvx_destroy(hv.hvx);
    fabric_close(hv.fabric);
    vmca_config_free(&hv.cfg);
    log_info("stopped");
    return 0;
}
