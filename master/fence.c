/* Fencing backends by name; see fence.h. Adding one (xen): its file and one
 * line in FENCE_BUILT. */
#include "fence.h"

#include <stdio.h>
#include <string.h>

#include "names.h"

#define FENCE_BUILT(X) \
    X(vmca_fence_emu)

#define DECLARE(sym) extern const struct vmca_fence_backend sym;
FENCE_BUILT(DECLARE)
#undef DECLARE

#define ENTRY(sym) &sym,
static const struct vmca_fence_backend *const built[] = { FENCE_BUILT(ENTRY) };
#undef ENTRY

int vmca_fence_open(const char *name, const char *cluster, struct vmca_fence *f, char *err,
                    size_t errlen)
{
    *f = (struct vmca_fence){0};
    for (size_t i = 0; i < sizeof built / sizeof built[0]; i++) {
        if (strcmp(built[i]->name, name) != 0)
            continue;
        f->impl = built[i]->open(cluster, err, errlen);
        if (!f->impl)
            return -1;
        f->backend = built[i];
        return 0;
    }
    char names[128] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof built / sizeof built[0]; i++)
        used = vmca_names_add(names, sizeof names, used, built[i]->name);
    snprintf(err, errlen, "no fencing backend \"%s\" (built: %s)", name, names);
    return -1;
}

int vmca_fence_set(struct vmca_fence *f, uint32_t node, bool fenced, char *err, size_t errlen)
{
    return f->backend->set(f->impl, node, fenced, err, errlen);
}

void vmca_fence_close(struct vmca_fence *f)
{
    if (f->backend)
        f->backend->close(f->impl);
    *f = (struct vmca_fence){0};
}
