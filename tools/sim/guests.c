/* Simulated guests: each node's VMs put, get and flush pages through the
 * same guest ops vmca-hv executes (hv-ext/emu/guest_exec.h), with the page
 * content of vmca-guest (tools/guest_workload.h) naming the writer, so
 * every read is checked: I4 (no stale read) and I7 (no foreign read). The
 * access pattern is the simulator's own seeded choice of key and op. */
#include "guest_exec.h"
#include "guest_workload.h"
#include "sim.h"

/* The writer id in a page's content: unique across the cluster. */
static uint32_t writer_of(const struct sim_node *n, unsigned vi)
{
    return n->id * SIM_MAX_VMS + vi;
}

static int32_t exec(struct sim *s, struct sim_node *n, unsigned vi, uint8_t op, uint32_t key)
{
    struct guest_op g = {.op = op, .pool = (uint8_t)n->pool[vi], .index = key, .oid = 0,
                         .slot = 0};
    return guest_exec(n->hv, vi + 1, &g, s->page_buf, 1, s->cfg.page_size);
}

static void vm_start(struct sim *s, struct sim_node *n, unsigned vi)
{
    struct guest_op g = {.op = GUEST_OP_NEW_POOL, .pool = HVX_POOL_EPHEMERAL};
    hvx_client_new(n->hv, vi + 1);
    n->pool[vi] = guest_exec(n->hv, vi + 1, &g, NULL, 0, 0);
    if (n->pool[vi] < 0 || n->pool[vi] > UINT8_MAX) { /* a pool id fits a guest op */
        fprintf(stderr, "vmca-sim: node %u VM %u: no pool (%d)\n", n->id, vi + 1, n->pool[vi]);
        exit(2);
    }
    (void)s;
    memset(n->version[vi], 0, sizeof n->version[vi]);
}

void guests_boot(struct sim *s, struct sim_node *n)
{
    for (unsigned v = 0; v < s->vms; v++)
        vm_start(s, n, v);
}

void guest_reconnect(struct sim *s, struct sim_node *n, unsigned vi)
{
    hvx_client_destroy(n->hv, vi + 1);
    vm_start(s, n, vi);
}

void guest_op(struct sim *s, struct sim_node *n)
{
    uint32_t ps = s->cfg.page_size;
    unsigned vi = s->vms > 1 ? (unsigned)(rnd(s) % s->vms) : 0;
    uint32_t vm = vi + 1, *version = n->version[vi], me = writer_of(n, vi);
    uint32_t key = (uint32_t)(rnd(s) % SIM_KEYS);
    unsigned op = (unsigned)(rnd(s) % 10);
    if (op < 6) {
        uint32_t v = version[key] + 1 + (uint32_t)(rnd(s) % 3);
        gw_content_fill(s->page_buf, ps, me, key, v);
        int rc = exec(s, n, vi, GUEST_OP_PUT, key);
        if (rc >= 0) {
            version[key] = v;
            s->stat_puts_ok++;
        } else if (rc == HVX_ENOENT) {
            version[key] = 0; /* an old entry lost with its home: nothing held */
        }
    } else if (op < 9) {
        int rc = exec(s, n, vi, GUEST_OP_GET, key);
        if (rc >= 0) {
            if (!version[key]) {
                violation(s, "I4: node %u VM %u key %u: get returned data that was never "
                          "put (or was flushed)", n->id, vm, key);
                return;
            }
            if (gw_content_check(s->page_buf, ps, me, key, version[key]) >= 0) {
                uint32_t writer, wversion;
                uint64_t wkey;
                gw_content_writer(s->page_buf, &writer, &wkey, &wversion);
                if (writer != me)
                    /* I7: the first rule of a memory system. */
                    violation(s, "I7: node %u VM %u key %u read data it did not write "
                              "(written by node %u VM %u)", n->id, vm, key,
                              writer / SIM_MAX_VMS, writer % SIM_MAX_VMS + 1);
                else
                    violation(s, "I4: node %u VM %u key %u: get returned stale data "
                              "(expected version %u, got key %" PRIu64 " version %u)",
                              n->id, vm, key, version[key], wkey, wversion);
                return;
            }
            s->stat_gets_ok++;
        }
        version[key] = 0; /* ephemeral gets are exclusive; a miss holds nothing */
    } else {
        exec(s, n, vi, GUEST_OP_FLUSH_PAGE, key);
        version[key] = 0;
    }
}
