/* TKM backend `xen` (first tier on stock Xen); see tkm_xen.h. What it knows
 * of Xen comes only through struct tkm_xen_sys. */
#include "tkm_xen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "room.h"

#define DOMAIN_BATCH 256u         /* domains asked of libxenctrl at a time */
#define XEN_EIO (-5)
#define XEN_ENOENT (-2)

struct queued_reply {
    uint64_t id;
    int status;
    char error[200];
};

struct tkm_xen {
    struct tkm_xen_params p;
    struct tkm_xen_sys sys;
    struct tkm_events ev;
    void *arg;
    bool started;             /* `up` delivered once */
    bool down;                /* the last sample failed: Xen does not answer */
    bool sample_asked;        /* stats_now: a sample of the same period */
    int64_t next_due;         /* the next period's sample */
    uint64_t period;
    struct queued_reply *replies;
    size_t n_replies, cap_replies;
    struct tkm_xen_domain *dom;   /* the last domain list */
    size_t n_dom, cap_dom;
    struct tkm_vm *vms;
    size_t cap_vms;
    struct tkm_pages own;         /* the sample's one home: this node */
    struct tkm_sample last;       /* built by build_sample */
    uint32_t *w_ids;              /* mem-limit: what to write */
    size_t cap_w_ids;
    uint64_t *w_kib;
    size_t cap_w_kib;
};

uint64_t tkm_xen_pages_to_kib(uint64_t pages, uint32_t page_size)
{
    uint64_t per = page_size / 1024u;
    return pages > UINT64_MAX / per ? UINT64_MAX : pages * per;
}

uint64_t tkm_xen_kib_to_pages(uint64_t kib, uint32_t page_size)
{
    return kib / (page_size / 1024u);
}

/* Xen pages as vMCA pages: rounded up for what a VM uses (a partly used
 * vMCA page is used), down for what the host has. */
static uint64_t xen_to_pages(const struct tkm_xen *x, uint64_t xen_pages, bool up)
{
    uint64_t per = x->p.page_size / TKM_XEN_PAGE_SIZE;
    return xen_pages / per + (up && xen_pages % per != 0);
}

static bool managed(const struct tkm_xen_domain *d)
{
    return d->domid != 0 && !(d->flags & (TKM_XEN_DOM_DYING | TKM_XEN_DOM_XENSTORE));
}

/* Queues the reply to call id (delivered by tkm_xen_run). */
static int reply(struct tkm_xen *x, uint64_t id, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int reply(struct tkm_xen *x, uint64_t id, int status, const char *fmt, ...)
{
    if (!VMCA_ROOM(x->replies, x->cap_replies, x->n_replies + 1))
        return VMCA_ERR_NOMEM;
    struct queued_reply *q = &x->replies[x->n_replies++];
    q->id = id;
    q->status = status;
    q->error[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(q->error, sizeof q->error, fmt, ap);
        va_end(ap);
    }
    return VMCA_OK;
}

/* Reads every domain into x->dom. 0, or VMCA_ERR_IO / VMCA_ERR_PROTO (a
 * list out of order) / VMCA_ERR_NOMEM with err. */
static int list_domains(struct tkm_xen *x, char *err, size_t errlen)
{
    x->n_dom = 0;
    uint32_t first = 0;
    for (;;) {
        if (!VMCA_ROOM(x->dom, x->cap_dom, x->n_dom + DOMAIN_BATCH)) {
            snprintf(err, errlen, "out of memory");
            return VMCA_ERR_NOMEM;
        }
        int got = x->sys.domains(x->sys.arg, first, x->dom + x->n_dom, DOMAIN_BATCH, err,
                                 errlen);
        if (got < 0)
            return VMCA_ERR_IO;
        if ((size_t)got > DOMAIN_BATCH) {
            snprintf(err, errlen, "the domain list gave %d domains for %u asked", got,
                     DOMAIN_BATCH);
            return VMCA_ERR_PROTO;
        }
        for (int i = 0; i < got; i++) {
            uint32_t id = x->dom[x->n_dom + (size_t)i].domid;
            if (id < first) {
                snprintf(err, errlen, "the domain list is out of order (domain %u after %u)",
                         id, first ? first - 1 : 0);
                return VMCA_ERR_PROTO;
            }
            first = id + 1;
        }
        x->n_dom += (size_t)got;
        if ((size_t)got < DOMAIN_BATCH || first == 0)
            return VMCA_OK;
    }
}

static const struct tkm_xen_domain *find_domain(const struct tkm_xen *x, uint32_t domid)
{
    for (size_t i = 0; i < x->n_dom; i++)
        if (x->dom[i].domid == domid)
            return &x->dom[i];
    return NULL;
}

/* Builds the sample of the host and its domains in x->last. 0, or an
 * error with err. */
static int build_sample(struct tkm_xen *x, char *err, size_t errlen)
{
    uint64_t total, free_pages;
    if (x->sys.physinfo(x->sys.arg, &total, &free_pages, err, errlen) != 0)
        return VMCA_ERR_IO;
    int rc = list_domains(x, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    if (!VMCA_ROOM(x->vms, x->cap_vms, x->n_dom)) {
        snprintf(err, errlen, "out of memory");
        return VMCA_ERR_NOMEM;
    }
    size_t n_vms = 0;
    for (size_t i = 0; i < x->n_dom; i++) {
        const struct tkm_xen_domain *d = &x->dom[i];
        if (!managed(d))
            continue;
        uint64_t kib;
        uint64_t target = VM_TARGET_UNLIMITED;
        int trc = x->sys.read_target(x->sys.arg, d->domid, &kib);
        if (trc == VMCA_OK) {
            target = tkm_xen_kib_to_pages(kib, x->p.page_size);
        } else if (trc != VMCA_ERR_NOTFOUND) {
            snprintf(err, errlen, "cannot read the balloon target of domain %u from xenstore",
                     d->domid);
            return VMCA_ERR_IO;
        }
        /* Stock Xen counts no puts (no tmem): the counters stay 0. */
        x->vms[n_vms++] = (struct tkm_vm){.vm = d->domid,
                                          .used = xen_to_pages(x, d->tot_pages, true),
                                          .target = target};
    }
    x->own = (struct tkm_pages){x->p.node, xen_to_pages(x, total, false)};
    x->last = (struct tkm_sample){
        .generation = 1, /* the host's memory does not restart under us */
        .total_pages = x->own.pages,
        .free_pages = xen_to_pages(x, free_pages, false),
        .owned = &x->own,
        .n_owned = 1,
        .vms = x->vms,
        .n_vms = n_vms,
        .period = x->period,
    };
    return VMCA_OK;
}

static void deliver_replies(struct tkm_xen *x)
{
    /* Only those queued before: a reply's handling may queue more calls,
     * answered at the next run. */
    size_t n = x->n_replies;
    for (size_t i = 0; i < n; i++) {
        struct queued_reply q = x->replies[i]; /* the array may grow meanwhile */
        struct tkm_reply r = {.id = q.id, .status = q.status,
                              .error = q.error[0] ? q.error : NULL};
        if (x->ev.reply)
            x->ev.reply(x->arg, &r);
    }
    if (!n)
        return;
    memmove(x->replies, x->replies + n, (x->n_replies - n) * sizeof *x->replies);
    x->n_replies -= n;
}

uint32_t tkm_xen_run(struct tkm_xen *x, int64_t now_ms)
{
    if (!x->started) {
        x->started = true;
        x->next_due = now_ms;
        if (x->ev.up)
            x->ev.up(x->arg);
    }
    deliver_replies(x);
    bool due = now_ms >= x->next_due;
    if (due || (x->sample_asked && !x->down)) {
        if (due) {
            x->period++;
            x->next_due += x->p.interval_ms;
            if (x->next_due <= now_ms) /* slept through periods: none to catch up */
                x->next_due = now_ms + x->p.interval_ms;
        }
        x->sample_asked = false;
        char err[256] = "";
        if (build_sample(x, err, sizeof err) != VMCA_OK) {
            bool was_down = x->down;
            x->down = true;
            if (!was_down && x->ev.down) {
                char why[320];
                snprintf(why, sizeof why, "Xen does not answer: %s", err);
                x->ev.down(x->arg, why);
            }
        } else {
            if (x->down) {
                /* Back: `up` first, as when the emu channel reconnects. */
                x->down = false;
                if (x->ev.up)
                    x->ev.up(x->arg);
                deliver_replies(x);
            }
            if (x->ev.sample)
                x->ev.sample(x->arg, &x->last);
        }
    }
    return now_ms >= x->next_due ? 0 : (uint32_t)(x->next_due - now_ms);
}

bool tkm_xen_pending(const struct tkm_xen *x)
{
    return x->n_replies != 0 || (x->sample_asked && !x->down);
}

/* ---- the ops ---- */

static int op_stats_now(void *be, uint64_t id)
{
    struct tkm_xen *x = be;
    if (x->down)
        return VMCA_ERR_STATE;
    int rc = reply(x, id, 0, NULL);
    if (rc == VMCA_OK)
        x->sample_asked = true;
    return rc;
}

static int op_mem_limit(void *be, uint64_t id, const struct vm_target *t, size_t n)
{
    struct tkm_xen *x = be;
    if (x->down)
        return VMCA_ERR_STATE;
    if (!n)
        return reply(x, id, 0, NULL);
    char err[256] = "";
    int rc = list_domains(x, err, sizeof err);
    if (rc == VMCA_ERR_NOMEM)
        return rc;
    if (rc != VMCA_OK)
        return reply(x, id, XEN_EIO, "mem-limit: cannot list the domains: %s", err);
    if (!VMCA_ROOM(x->w_ids, x->cap_w_ids, n) || !VMCA_ROOM(x->w_kib, x->cap_w_kib, n))
        return VMCA_ERR_NOMEM;
    /* Every VM named must be one this backend manages, or nothing changes. */
    for (size_t i = 0; i < n; i++) {
        const struct tkm_xen_domain *d = find_domain(x, t[i].vm);
        if (!d || !managed(d))
            return reply(x, id, XEN_ENOENT, "mem-limit: no VM %u%s", t[i].vm,
                         !d ? "" : d->domid == 0 ? " (dom0 is not managed)"
                         : d->flags & TKM_XEN_DOM_DYING ? " (the domain is dying)"
                                                        : " (the xenstore domain is not managed)");
        /* Xen will not populate a domain past max_pages: a higher target
         * (or none) asks for max_pages. */
        uint64_t max_kib = tkm_xen_pages_to_kib(d->max_pages, TKM_XEN_PAGE_SIZE);
        uint64_t kib = t[i].pages == VM_TARGET_UNLIMITED
                           ? max_kib : tkm_xen_pages_to_kib(t[i].pages, x->p.page_size);
        x->w_ids[i] = d->domid;
        x->w_kib[i] = kib < max_kib ? kib : max_kib;
    }
    if (x->sys.write_targets(x->sys.arg, x->w_ids, x->w_kib, n, err, sizeof err) != 0)
        return reply(x, id, XEN_EIO, "mem-limit: cannot write the balloon targets to "
                     "xenstore: %s", err);
    return reply(x, id, 0, NULL);
}

static int refuse(struct tkm_xen *x, uint64_t id, const char *call)
{
    if (x->down)
        return VMCA_ERR_STATE;
    return reply(x, id, TKM_XEN_EOPNOTSUPP,
                 "%s: not supported by the xen backend: stock Xen has no tmem", call);
}

static int op_grant(void *be, uint64_t id, uint32_t from, const struct vmca_block *b,
                    size_t n)
{
    (void)from, (void)b, (void)n;
    return refuse(be, id, "grant");
}

static int op_request(void *be, uint64_t id, uint32_t to, uint64_t pages)
{
    (void)to, (void)pages;
    return refuse(be, id, "request");
}

static int op_give_back(void *be, uint64_t id, uint32_t home, uint32_t max_migrate)
{
    (void)home, (void)max_migrate;
    return refuse(be, id, "return");
}

static int op_give_surplus(void *be, uint64_t id, uint32_t home, uint64_t pages)
{
    (void)home, (void)pages;
    return refuse(be, id, "surplus");
}

static int op_invalidate(void *be, uint64_t id, uint32_t home)
{
    (void)home;
    return refuse(be, id, "invalidate");
}

static int op_owned(void *be, uint64_t id, uint32_t home)
{
    (void)home;
    return refuse(be, id, "owned");
}

static int op_reclaim(void *be, uint64_t id, const struct vmca_block *held, size_t n_held,
                      const uint32_t *owners, size_t n_owners)
{
    (void)held, (void)n_held, (void)owners, (void)n_owners;
    return refuse(be, id, "reclaim");
}

static int op_enable(void *be, uint64_t id, uint32_t home, bool enable)
{
    (void)home, (void)enable;
    return refuse(be, id, "enable");
}

static int op_freeze(void *be, uint64_t id, uint32_t home, bool frozen)
{
    (void)home, (void)frozen;
    return refuse(be, id, "freeze");
}

static const struct tkm_ops xen_ops = {
    .stats_now = op_stats_now,
    .mem_limit = op_mem_limit,
    .grant = op_grant,
    .request = op_request,
    .give_back = op_give_back,
    .give_surplus = op_give_surplus,
    .invalidate = op_invalidate,
    .owned = op_owned,
    .reclaim = op_reclaim,
    .enable = op_enable,
    .freeze = op_freeze,
};

struct tkm_backend tkm_xen_backend(struct tkm_xen *x)
{
    return (struct tkm_backend){&xen_ops, x};
}

struct tkm_xen *tkm_xen_new(const struct tkm_xen_params *p, const struct tkm_xen_sys *sys,
                            const struct tkm_events *ev, void *arg)
{
    struct tkm_xen *x = NULL;
    if (p->page_size >= TKM_XEN_PAGE_SIZE && p->page_size % TKM_XEN_PAGE_SIZE == 0 &&
        p->interval_ms > 0)
        x = calloc(1, sizeof *x);
    if (!x) {
        if (sys->close)
            sys->close(sys->arg);
        return NULL;
    }
    x->p = *p;
    x->sys = *sys;
    x->ev = *ev;
    x->arg = arg;
    return x;
}

void tkm_xen_free(struct tkm_xen *x)
{
    if (!x)
        return;
    if (x->sys.close)
        x->sys.close(x->sys.arg);
    free(x->replies);
    free(x->dom);
    free(x->vms);
    free(x->w_ids);
    free(x->w_kib);
    free(x);
}
