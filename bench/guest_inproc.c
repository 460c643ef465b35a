/* bench/guest_inproc: runs a vmca-guest workload (tools/guest_workload.c)
 * against an in-process libhvx, with no socket: the baseline guest_path.sh
 * compares the real guest -> vmca-hv path with. Prints the guest's counters
 * and the seconds the run took.  guest_inproc RAM_MB USEMEM_MB LOOPS POOL_PAGES */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gfn.h"
#include "guest_workload.h"
#include "hvx.h"

#define PAGE 4096u
#define SLOTS 256u

static uint8_t *pool_mem;
static uint8_t slot_buf[SLOTS * PAGE];

static void *env_alloc(void *arg, size_t n) { return calloc(1, n); }
static void env_free(void *arg, void *p, size_t n) { free(p); }
static void *env_page(void *arg, uint64_t gfn, int *fault)
{
    return pool_mem + vmca_gfn_index(gfn) * PAGE;
}

/* What vmca-hv does with a batch, minus the socket. */
static int exec_batch(void *arg, struct guest_op *ops, unsigned count)
{
    struct hvx *h = arg;
    for (unsigned i = 0; i < count; i++) {
        struct guest_op *op = &ops[i];
        uint8_t *slot = slot_buf + (size_t)op->slot * PAGE;
        switch (op->op) {
        case GUEST_OP_NEW_POOL: op->result = hvx_pool_new(h, 1, op->pool); break;
        case GUEST_OP_PUT: op->result = hvx_put(h, 1, op->pool, op->oid, op->index, slot); break;
        case GUEST_OP_GET: op->result = hvx_get(h, 1, op->pool, op->oid, op->index, slot); break;
        case GUEST_OP_FLUSH_PAGE:
            op->result = hvx_flush_page(h, 1, op->pool, op->oid, op->index);
            break;
        default: op->result = HVX_EINVAL; break;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: guest_inproc RAM_MB USEMEM_MB LOOPS POOL_PAGES\n");
        return 2;
    }
    uint64_t ram_mb = strtoull(argv[1], NULL, 0), pool_pages = strtoull(argv[4], NULL, 0);
    char spec_text[64], err[256];
    snprintf(spec_text, sizeof spec_text, "usemem:%s", argv[2]);
    struct gw_spec spec;
    struct gw_run_opts ro = {.loops = strtoull(argv[3], NULL, 0), .seed = 1};
    struct gw_workload wl;
    if (gw_spec_parse(spec_text, &spec, err, sizeof err) != 0 ||
        gw_workload_init(&wl, &spec, PAGE, &ro, err, sizeof err) != 0) {
        fprintf(stderr, "guest_inproc: %s\n", err);
        return 2;
    }
    pool_mem = malloc(pool_pages * PAGE);
    struct hvx_home home = {.id = 1, .pages = pool_pages};
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = &home, .n_homes = 1};
    struct hvx_env env = {env_alloc, env_free, env_page, NULL, NULL, NULL, NULL, NULL};
    struct hvx *h = pool_mem ? hvx_new(&p, &env) : NULL;
    if (!h || hvx_client_new(h, 1) != HVX_OK) {
        fprintf(stderr, "guest_inproc: cannot set up libhvx\n");
        return 1;
    }
    memset(pool_mem, 0, pool_pages * PAGE);
    struct gw_config cfg = {.vm = 1, .page_size = PAGE, .ram_pages = ram_mb * 256,
                            .n_pages = gw_workload_pages(&wl), .pool_kind = HVX_POOL_PERSISTENT,
                            .max_batch = SLOTS, .slots = SLOTS};
    static struct gw_guest g;
    if (gw_guest_init(&g, &cfg, slot_buf, exec_batch, h) != GW_OK || gw_guest_open_pool(&g)) {
        fprintf(stderr, "guest_inproc: %s\n", g.msg);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct gw_access a;
    while (gw_workload_next(&wl, 0, &a) == GW_NEXT_ACCESS)
        if (gw_guest_access(&g, a.gpn, a.write) != GW_OK)
            break;
    gw_guest_sync(&g);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (g.status != GW_OK) {
        fprintf(stderr, "guest_inproc: %s\n", g.msg);
        return 1;
    }
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char line[1024];
    struct gw_model model = GW_MODEL_DEFAULT;
    gw_format_stats(line, sizeof line, 1, &g.st, &model);
    printf("%s\ninproc_seconds=%.3f\n", line, s);
    gw_guest_free(&g);
    gw_spec_free(&spec);
    hvx_destroy(h);
    free(pool_mem);
    return 0;
}
