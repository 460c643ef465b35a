/* Grow-only arrays; see room.h. */
#include "room.h"

#include <stdlib.h>

void *vmca_room(void *p, size_t *cap, size_t n, size_t size)
{
    if (p && n <= *cap)
        return p;
    size_t c = *cap ? *cap : 8;
    while (c < n)
        c *= 2;
    void *q = realloc(p, c * size);
    if (q)
        *cap = c;
    return q;
}
