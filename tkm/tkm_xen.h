/* Backend `xen` of the TKM interface (tkm_ops.h) for a stock Xen 4.17
 * host: first tier only. Per-VM figures come from the domain list of
 * libxenctrl (domain ids are the VM ids; dom0 is not managed), Mem-Limit
 * writes balloon targets to xenstore (/local/domain/<domid>/memory/target,
 * KiB), and every call that needs tmem or the global address space is
 * refused with a reply: stock Xen has neither.
 *
 * The backend never calls Xen itself: every libxenctrl/xenstore call goes
 * through struct tkm_xen_sys (the "xen ops"), the real ones from
 * tkm_xen_sys_open (built only when the Xen headers and libraries are
 * found: VMCA_HAVE_XEN), fake ones in tests/unit/test_tkm_xen.c. It owns no
 * clock and no event loop: the shell calls tkm_xen_run with the time, and
 * runs it again when tkm_xen_pending says something waits. */
#ifndef VMCA_TKM_XEN_H
#define VMCA_TKM_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tkm_ops.h"

/* Xen's page size on x86 (XC_PAGE_SIZE): tot_pages, max_pages and the
 * host's pages are counted in these. */
#define TKM_XEN_PAGE_SIZE 4096u

/* Reply status of a call stock Xen cannot make, as Xen's own -EOPNOTSUPP. */
#define TKM_XEN_EOPNOTSUPP (-95)

#define TKM_XEN_DOM_DYING 1u     /* being destroyed: its memory is going */
#define TKM_XEN_DOM_XENSTORE 2u  /* the xenstore stub domain: infrastructure */

/* One domain as libxenctrl reports it (pages of TKM_XEN_PAGE_SIZE). */
struct tkm_xen_domain {
    uint32_t domid;
    uint32_t flags;           /* TKM_XEN_DOM_* */
    uint64_t tot_pages;       /* pages it has now */
    uint64_t max_pages;       /* the most Xen lets it have */
};

/* The xen ops: everything the backend asks of Xen. Each error string is
 * written to err (errlen bytes) when the call fails. */
struct tkm_xen_sys {
    void *arg;
    /* The host's total and free pages (xc_physinfo). 0 or VMCA_ERR_IO. */
    int (*physinfo)(void *arg, uint64_t *total_pages, uint64_t *free_pages, char *err,
                    size_t errlen);
    /* Up to cap domains with ids >= first, in increasing id order
     * (xc_domain_getinfolist): how many (fewer than cap: there are no
     * more), or -1. */
    int (*domains)(void *arg, uint32_t first, struct tkm_xen_domain *out, size_t cap,
                   char *err, size_t errlen);
    /* The domain's balloon target in KiB (xenstore memory/target): 0,
     * VMCA_ERR_NOTFOUND (no such key, or not a number) or VMCA_ERR_IO. */
    int (*read_target)(void *arg, uint32_t domid, uint64_t *kib);
    /* memory/target of domids[i] := kib[i] for every i, in one xenstore
     * transaction: all are written or none. 0 or VMCA_ERR_IO. */
    int (*write_targets)(void *arg, const uint32_t *domids, const uint64_t *kib, size_t n,
                         char *err, size_t errlen);
    /* Closes the handles; arg is freed. */
    void (*close)(void *arg);
};

#ifdef VMCA_HAVE_XEN
/* The real xen ops: opens libxenctrl and xenstore. 0, or VMCA_ERR_IO with
 * "cannot open the Xen control interface: ..." (or the xenstore one) in
 * err when this is not a Xen host's control domain. */
int tkm_xen_sys_open(struct tkm_xen_sys *out, char *err, size_t errlen);
#endif

struct tkm_xen_params {
    uint32_t node;          /* this node's id: the one home of its pages */
    uint32_t page_size;     /* vMCA's page (configuration), a multiple of 4096 */
    uint32_t interval_ms;   /* statistics period (timing.stats_interval_ms) */
};

struct tkm_xen;

/* A backend over sys (taken: closed by tkm_xen_free, also on failure).
 * Events go to ev with arg, never from inside an op: replies wait for
 * tkm_xen_run. NULL on allocation failure or a page size that is not a
 * multiple of TKM_XEN_PAGE_SIZE. */
struct tkm_xen *tkm_xen_new(const struct tkm_xen_params *p, const struct tkm_xen_sys *sys,
                            const struct tkm_events *ev, void *arg);
void tkm_xen_free(struct tkm_xen *x);

/* The ops. Each returns 0 (a reply will come from tkm_xen_run),
 * VMCA_ERR_STATE while Xen does not answer (down), or VMCA_ERR_NOMEM. */
struct tkm_backend tkm_xen_backend(struct tkm_xen *x);

/* Delivers what is due at now_ms, in this order: `up` (the first run, or
 * the first sample that works after a failed one), the replies queued by
 * ops, a sample (every interval_ms from the first run, and one of the same
 * period after stats_now). A sample Xen cannot give delivers `down` once,
 * and the next interval tries again. Returns ms until the next sample is
 * due (0: now). */
uint32_t tkm_xen_run(struct tkm_xen *x, int64_t now_ms);

/* Replies or an asked-for sample wait: run again without waiting. */
bool tkm_xen_pending(const struct tkm_xen *x);

/* Converts between Xen's pages and vMCA's: KiB of `pages` of page_size
 * (saturating), and whole vMCA pages in `kib`. */
uint64_t tkm_xen_pages_to_kib(uint64_t pages, uint32_t page_size);
uint64_t tkm_xen_kib_to_pages(uint64_t kib, uint32_t page_size);

#endif
