/* The real xen ops (tkm_xen.h): libxenctrl for the host and its domains,
 * libxenstore for balloon targets. Built only when both are found. Never
 * run against a real Xen in this project's tests: this machine has none. */
#include "tkm_xen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "err.h"

#define TXN_TRIES 8 /* a xenstore transaction that races another is retried */

struct xen_sys {
    xentoollog_logger_stdiostream *logger;
    xc_interface *xch;
    struct xs_handle *xsh;
    xc_domaininfo_t *info;
    size_t cap_info;
};

static int sys_physinfo(void *arg, uint64_t *total, uint64_t *free_pages, char *err,
                        size_t errlen)
{
    struct xen_sys *s = arg;
    xc_physinfo_t pi;
    memset(&pi, 0, sizeof pi);
    if (xc_physinfo(s->xch, &pi) != 0) {
        snprintf(err, errlen, "xc_physinfo: %s", strerror(errno));
        return VMCA_ERR_IO;
    }
    *total = pi.total_pages;
    *free_pages = pi.free_pages;
    return VMCA_OK;
}

static int sys_domains(void *arg, uint32_t first, struct tkm_xen_domain *out, size_t cap,
                       char *err, size_t errlen)
{
    struct xen_sys *s = arg;
    if (cap > s->cap_info) {
        xc_domaininfo_t *p = realloc(s->info, cap * sizeof *p);
        if (!p) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        s->info = p;
        s->cap_info = cap;
    }
    int got = xc_domain_getinfolist(s->xch, first, (unsigned)cap, s->info);
    if (got < 0) {
        snprintf(err, errlen, "xc_domain_getinfolist: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < got && (size_t)i < cap; i++) {
        const xc_domaininfo_t *d = &s->info[i];
        out[i] = (struct tkm_xen_domain){
            .domid = d->domain,
            .flags = (d->flags & XEN_DOMINF_dying ? TKM_XEN_DOM_DYING : 0) |
                     (d->flags & XEN_DOMINF_xs_domain ? TKM_XEN_DOM_XENSTORE : 0),
            .tot_pages = d->tot_pages,
            .max_pages = d->max_pages,
        };
    }
    return got;
}

static int sys_read_target(void *arg, uint32_t domid, uint64_t *kib)
{
    struct xen_sys *s = arg;
    char path[64];
    snprintf(path, sizeof path, "/local/domain/%u/memory/target", domid);
    unsigned len = 0;
    char *v = xs_read(s->xsh, XBT_NULL, path, &len);
    if (!v)
        return errno == ENOENT ? VMCA_ERR_NOTFOUND : VMCA_ERR_IO;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    int rc = len == 0 || end != v + len || errno || v[0] == '-' ? VMCA_ERR_NOTFOUND : VMCA_OK;
    free(v);
    if (rc == VMCA_OK)
        *kib = n;
    return rc;
}

static int sys_write_targets(void *arg, const uint32_t *domids, const uint64_t *kib, size_t n,
                             char *err, size_t errlen)
{
    struct xen_sys *s = arg;
    for (int tries = 0; tries < TXN_TRIES; tries++) {
        xs_transaction_t t = xs_transaction_start(s->xsh);
        if (t == XBT_NULL) {
            snprintf(err, errlen, "cannot start a transaction: %s", strerror(errno));
            return VMCA_ERR_IO;
        }
        for (size_t i = 0; i < n; i++) {
            char path[64], val[24];
            snprintf(path, sizeof path, "/local/domain/%u/memory/target", domids[i]);
            int len = snprintf(val, sizeof val, "%" PRIu64, kib[i]);
            if (!xs_write(s->xsh, t, path, val, (unsigned)len)) {
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                xs_transaction_end(s->xsh, t, true);
                return VMCA_ERR_IO;
            }
        }
        if (xs_transaction_end(s->xsh, t, false))
            return VMCA_OK;
        if (errno != EAGAIN) {
            snprintf(err, errlen, "cannot commit the transaction: %s", strerror(errno));
            return VMCA_ERR_IO;
        }
    }
    snprintf(err, errlen, "the transaction raced other writers %d times", TXN_TRIES);
    return VMCA_ERR_IO;
}

static void sys_close(void *arg)
{
    struct xen_sys *s = arg;
    if (!s)
        return;
    if (s->xsh)
        xs_close(s->xsh);
    if (s->xch)
        xc_interface_close(s->xch);
    xtl_logger_destroy((xentoollog_logger *)s->logger);
    free(s->info);
    free(s);
}

int tkm_xen_sys_open(struct tkm_xen_sys *out, char *err, size_t errlen)
{
    struct xen_sys *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return VMCA_ERR_NOMEM;
    }
    /* libxenctrl logs only what is critical: the slave reports errors in
     * its own voice. */
    s->logger = xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
    s->xch = xc_interface_open((xentoollog_logger *)s->logger,
                               (xentoollog_logger *)s->logger, 0);
    if (!s->xch) {
        snprintf(err, errlen, "cannot open the Xen control interface: %s (is this the "
                 "control domain of a Xen host, and run as root?)", strerror(errno));
        sys_close(s);
        return VMCA_ERR_IO;
    }
    s->xsh = xs_open(0);
    if (!s->xsh) {
        snprintf(err, errlen, "cannot open xenstore: %s (is xenstored running?)",
                 strerror(errno));
        sys_close(s);
        return VMCA_ERR_IO;
    }
    *out = (struct tkm_xen_sys){
        .arg = s,
        .physinfo = sys_physinfo,
        .domains = sys_domains,
        .read_target = sys_read_target,
        .write_targets = sys_write_targets,
        .close = sys_close,
    };
    return VMCA_OK;
}
