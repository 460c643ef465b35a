/* "a, b, c" lists of built names (policies, backends) for error messages
 * that say what is built. Header only: the policy libraries use it too. */
#ifndef VMCA_NAMES_H
#define VMCA_NAMES_H

#include <stddef.h>
#include <stdio.h>

/* Appends `name` to the list in out (", "-separated; used bytes so far),
 * truncating to outsz; returns the bytes used now (out stays a string). */
static inline size_t vmca_names_add(char *out, size_t outsz, size_t used, const char *name)
{
    if (!outsz || used >= outsz - 1)
        return used;
    int w = snprintf(out + used, outsz - used, "%s%s", used ? ", " : "", name);
    if (w < 0)
        return used;
    used += (size_t)w;
    return used < outsz ? used : outsz - 1;
}

#endif
