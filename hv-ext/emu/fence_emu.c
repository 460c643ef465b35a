/* The emulated fabric as the master's fencing backend "emu" (common/fence.h):
 * each fence sets or clears the node's fenced word in the cluster's control
 * segment (fabric_fence_node), as the fabric's hardware would. */
#include "fence.h"

#include <stdio.h>
#include <stdlib.h>

#include "fabric.h"

struct fence_emu {
    char cluster[64];
};

static void *emu_open(const char *cluster, char *err, size_t errlen)
{
    struct fence_emu *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(e->cluster, sizeof e->cluster, "%s", cluster);
    return e;
}

static int emu_set(void *impl, uint32_t node, bool fenced, char *err, size_t errlen)
{
    struct fence_emu *e = impl;
    return fabric_fence_node(e->cluster, node, fenced, err, errlen);
}

static void emu_close(void *impl)
{
    free(impl);
}

const struct vmca_fence_backend vmca_fence_emu = {
    .name = "emu",
    .open = emu_open,
    .set = emu_set,
    .close = emu_close,
};
