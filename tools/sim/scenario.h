/* A scenario file (libconfig, scenarios/NAME.conf; the format is
 * docs/testing.md, "Scenario files"): the cluster, its VMs and their workloads,
 * in real sizes (MB of 4 KiB pages) that the engine divides by `scale`.
 * Loading checks everything and names file, line and setting on the first
 * error; the run does not start. Pure parsing: no simulator state. */
#ifndef VMCA_SIM_SCENARIO_H
#define VMCA_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SCEN_SCALE_MAX 4096u
#define SCEN_VM_ID_MAX 65535u     /* the writer id in a page names node and VM in 32 bits */
#define SCEN_MB_MAX (UINT64_C(1) << 24)  /* 16 TB: any size above is a typo */

struct scen_vm {
    uint32_t id;                  /* unique on its node */
    char profile[32];             /* a workload profile (workload.h) */
    uint64_t ram_mb;
    uint64_t footprint_mb;        /* 0: the profile's default */
    double start_s;
    unsigned repeats;             /* >= 1 */
    uint64_t min_mb, max_mb;      /* max_mb 0: no cap */
    uint32_t weight;              /* 1..1000 */
    unsigned line;                /* of its group, for later errors */
};

struct scen_node {
    char name[VMCA_NAME_MAX];
    uint64_t tmem_mb;
    uint32_t location[VMCA_LOCATION_MAX];
    unsigned location_len;
    bool master;
    struct scen_vm *vms;          /* owned */
    size_t n_vms;
};

struct scenario {
    char path[VMCA_PATH_MAX];     /* the file as given */
    char name[VMCA_NAME_MAX];     /* = file name without .conf */
    char title[256], source[512], reference[1024];
    uint32_t scale;               /* power of two, 1..SCEN_SCALE_MAX */
    uint32_t period_ms;           /* timing.stats_interval_ms */
    double duration_s;            /* simulated-time cap */
    int64_t reserve_mb;           /* policy.reserve_pages in MB; -1: the default */
    double cpu_us, local_us, remote_us, disk_us; /* per 4 KiB page */
    struct scen_node *nodes;      /* owned */
    size_t n_nodes;
    size_t master;                /* index of the node with master = true */
};

/* Loads and checks `path` into *sc (zeroed first). Returns 0, or -1 with
 * "FILE:LINE: setting: expected ..., got ..." in err (nothing to free).
 * max_nodes: the most nodes the caller can run. */
int scenario_load(const char *path, size_t max_nodes, struct scenario *sc, char *err,
                  size_t errlen);
void scenario_free(struct scenario *sc);

/* Real MB -> simulated pages at `scale` (256 real pages per MB). */
static inline uint64_t scen_pages(uint64_t mb, uint32_t scale)
{
    return mb * 256u / scale;
}

#endif
