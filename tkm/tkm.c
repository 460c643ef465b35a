/* TKM backend `emu` on libevent; see tkm.h. */
#include "tkm.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backoff.h"
#include "err.h"
#include "log.h"
#include "sys.h"
#include "tkm_pb.h"
#include "tkm_wire.h"
#include "unixsock.h"

struct tkm {
    struct event_base *base;
    char path[108];
    struct tkm_events ev;
    void *arg;
    struct tkm_pb *pb;          /* conversion scratch */
    struct tkm_pb_sender sender;
    int fd;
    struct event *rd;
    struct event *retry;
    struct vmca_backoff backoff;
    uint64_t next_id;
    uint64_t manage_id; /* the claim of the memory manager role in flight, or 0 */
    bool managed;       /* the hypervisor took the claim: the channel is up */
    bool warned;        /* "cannot reach" logged once per outage */
};

static int send_call(void *arg, Vmca__TkmToHv *m);

static void schedule_retry(struct tkm *t)
{
    uint32_t ms = vmca_backoff_next(&t->backoff, vmca_random_u32());
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(t->retry, &tv);
}

static void go_down(struct tkm *t, const char *why)
{
    if (t->rd) {
        event_free(t->rd);
        t->rd = NULL;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
        if (t->managed && t->ev.down)
            t->ev.down(t->arg, why);
    }
    t->managed = false;
    t->manage_id = 0;
    schedule_retry(t);
}

/* The hypervisor's answer to the claim: the channel is up, or this memory
 * manager is refused for good (another one holds the node's hypervisor). */
static void on_manage_reply(struct tkm *t, const Vmca__TkmReply *r)
{
    t->manage_id = 0;
    if (r->status == 0) {
        t->managed = true;
        log_info("connected to the hypervisor at %s", t->path);
        if (t->ev.up)
            t->ev.up(t->arg);
        return;
    }
    char why[256];
    snprintf(why, sizeof why, "%s", r->error[0] ? r->error : "refused");
    event_free(t->rd);
    t->rd = NULL;
    close(t->fd);
    t->fd = -1;
    if (t->ev.refused)
        t->ev.refused(t->arg, why);
}

static void deliver_sample(struct tkm *t, const Vmca__TkmStats *st)
{
    struct tkm_sample s;
    if (tkm_pb_sample_decode(t->pb, st, &s) != VMCA_OK)
        log_err("out of memory keeping hypervisor statistics");
    else if (t->ev.sample)
        t->ev.sample(t->arg, &s);
}

static void deliver_reply(struct tkm *t, const Vmca__TkmReply *pr)
{
    struct tkm_reply r;
    if (tkm_pb_reply_decode(t->pb, pr, &r) != VMCA_OK)
        log_err("out of memory handling a hypervisor reply");
    else if (t->ev.reply)
        t->ev.reply(t->arg, &r);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct tkm *t = arg;
    for (;;) {
        Vmca__TkmFromHv *m;
        char err[256];
        int rc = tkm_recv_from_hv(t->fd, &m, err, sizeof err);
        if (rc == VMCA_ERR_AGAIN)
            return;
        if (rc != VMCA_OK) {
            log_warn("hypervisor channel %s: %s", t->path, err);
            go_down(t, err);
            return;
        }
        if (m->msg_case == VMCA__TKM_FROM_HV__MSG_REPLY && t->manage_id &&
            m->reply->id == t->manage_id)
            on_manage_reply(t, m->reply);
        else if (!t->managed)
            ; /* nothing counts before the hypervisor took the claim */
        else if (m->msg_case == VMCA__TKM_FROM_HV__MSG_STATS)
            deliver_sample(t, m->stats);
        else if (m->msg_case == VMCA__TKM_FROM_HV__MSG_REPLY)
            deliver_reply(t, m->reply);
        vmca__tkm_from_hv__free_unpacked(m, NULL);
        if (t->fd < 0)
            return; /* a callback closed us */
    }
}

static void try_connect(evutil_socket_t fd_unused, short what, void *arg)
{
    struct tkm *t = arg;
    char err[256];
    int fd = vmca_unix_connect(t->path, SOCK_SEQPACKET, err, sizeof err);
    if (fd < 0) {
        if (!t->warned)
            log_warn("hypervisor not reachable (%s); retrying", err);
        t->warned = true;
        schedule_retry(t);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    t->fd = fd;
    t->rd = event_new(t->base, fd, EV_READ | EV_PERSIST, on_read, t);
    event_add(t->rd, NULL);
    vmca_backoff_reset(&t->backoff);
    t->warned = false;
    /* The channel is up once the hypervisor takes this memory manager. */
    Vmca__TkmToHv m = VMCA__TKM_TO_HV__INIT;
    Vmca__TkmManage manage = VMCA__TKM_MANAGE__INIT;
    m.id = t->manage_id = t->next_id++;
    m.call_case = VMCA__TKM_TO_HV__CALL_MANAGE;
    m.manage = &manage;
    if (tkm_send_to_hv(t->fd, &m) != VMCA_OK)
        go_down(t, "cannot claim the memory manager role");
}

struct tkm *tkm_new(struct event_base *base, const char *path, uint32_t min_ms,
                    uint32_t max_ms, const struct tkm_events *ev, void *arg)
{
    struct tkm *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base = base;
    snprintf(t->path, sizeof t->path, "%s", path);
    t->ev = *ev;
    t->arg = arg;
    t->pb = tkm_pb_new();
    t->sender = (struct tkm_pb_sender){t->pb, send_call, t};
    t->fd = -1;
    t->next_id = 1;
    vmca_backoff_init(&t->backoff, min_ms, max_ms);
    t->retry = evtimer_new(base, try_connect, t);
    if (!t->retry || !t->pb) {
        if (t->retry)
            event_free(t->retry);
        tkm_pb_free(t->pb);
        free(t);
        return NULL;
    }
    try_connect(-1, 0, t);
    return t;
}

void tkm_free(struct tkm *t)
{
    if (!t)
        return;
    if (t->rd)
        event_free(t->rd);
    if (t->fd >= 0)
        close(t->fd);
    event_free(t->retry);
    tkm_pb_free(t->pb);
    free(t);
}

bool tkm_up(const struct tkm *t)
{
    return t->managed;
}

static int send_call(void *arg, Vmca__TkmToHv *m)
{
    struct tkm *t = arg;
    if (!t->managed)
        return VMCA_ERR_STATE;
    if (m->id == 0)
        m->id = t->next_id++;
    int rc = tkm_send_to_hv(t->fd, m);
    if (rc == VMCA_ERR_IO)
        go_down(t, "send failed");
    return rc;
}

struct tkm_backend tkm_backend(struct tkm *t)
{
    return (struct tkm_backend){&tkm_pb_call_ops, &t->sender};
}
