/* The cluster audit (`vmcactl audit`): the invariants the master can check
 * from the members' last Statistics. I3 at rest: every member home's pages
 * are owned exactly as many times as it has pages, summed over the members
 * (a leak shows as fewer, a double owner as more), and no member holds
 * pages of a home that is not a member; I6: each member's per-VM targets
 * sum to at most the pages it owns. Pure: reads the master core's table. */
#ifndef VMCA_AUDIT_H
#define VMCA_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "master_core.h"

enum audit_verdict {
    AUDIT_BALANCED = 0,
    AUDIT_UNBALANCED = 1,
    AUDIT_NOT_AT_REST = 2,   /* flows running, transfers pending, or a member
                                not reporting: pages may be on their way */
};

struct audit_home {
    uint32_t home;
    uint64_t owned;          /* summed over the members */
    uint64_t pages;          /* the home's pages; 0 when it is not a member */
};

/* A node the audit cannot count on: what is down, so that a missing home
 * is not taken for a leak. */
enum audit_down_why {
    AUDIT_DOWN_RECOVERY,     /* declared failed: recovery in progress */
    AUDIT_DOWN_SILENT,       /* a member whose Statistics stopped (the node or its
                                hypervisor is down or hung) */
    AUDIT_DOWN_DISCONNECTED, /* a member with no connection */
};

struct audit_down {
    uint32_t node;
    enum audit_down_why why;
    int64_t silent_ms;       /* since its last Statistics; -1 none yet */
};

struct audit_targets {
    uint32_t node;
    uint64_t sum, owned;
};

struct audit_report {
    enum audit_verdict verdict;
    size_t flows;            /* leaves and recoveries in progress */
    uint64_t pending;        /* transfers in transit, and page moves not yet in
                                a member's figures (Statistics.unsettled) */
    size_t unreported;       /* members not connected or without recent Statistics */
    struct audit_down *down; /* nodes down (each also makes the audit not at rest) */
    size_t n_down;
    struct audit_home *homes;     /* member homes, then others held */
    size_t n_homes;
    struct audit_targets *targets; /* members with targets set */
    size_t n_targets;
};

/* Fills r (free with audit_report_free) at time now_ms: a member whose
 * last Statistics are more than two statistics intervals old is silent.
 * Returns 0 or VMCA_ERR_NOMEM. */
int audit_run(const struct master_core *m, int64_t now_ms, struct audit_report *r);
void audit_report_free(struct audit_report *r);

const char *audit_verdict_name(enum audit_verdict v);
/* One word: "recovery", "silent", "disconnected". */
const char *audit_down_name(enum audit_down_why why);

#endif
