/* Fencing: cutting a node declared failed off the global address space
 * before its pages get new owners, and lifting that for its next life. The
 * master asks through this interface; a backend does it (the emulated
 * fabric: hv-ext/emu/fence_emu.c). */
#ifndef VMCA_FENCE_H
#define VMCA_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmca_fence_backend {
    const char *name;
    /* Opens the backend for `cluster`: returns its handle, or NULL with
     * the reason in err. */
    void *(*open)(const char *cluster, char *err, size_t errlen);
    /* Fences `node` (fenced) or lifts its fence: 0, or -1 with the reason
     * in err (lifting a fence that is not there may fail too). */
    int (*set)(void *impl, uint32_t node, bool fenced, char *err, size_t errlen);
    void (*close)(void *impl);
};

struct vmca_fence {
    const struct vmca_fence_backend *backend;
    void *impl;
};

/* Opens the backend named `name` ("emu") for `cluster` into *f. Returns 0,
 * or -1 with the reason in err (a name that is not built lists those that
 * are). */
int vmca_fence_open(const char *name, const char *cluster, struct vmca_fence *f, char *err,
                    size_t errlen);

/* See struct vmca_fence_backend.set. */
int vmca_fence_set(struct vmca_fence *f, uint32_t node, bool fenced, char *err, size_t errlen);

void vmca_fence_close(struct vmca_fence *f);

#endif
