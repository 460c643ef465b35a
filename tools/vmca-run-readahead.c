/* vmca-run's read-ahead window (vmca-run-readahead.h). */
#include "vmca-run-readahead.h"

#include <stddef.h>

struct ra_stream *ra_fault(struct ra *ra, uint64_t idx, bool *hit)
{
    struct ra_stream *st = NULL, *lru = &ra->s[0];
    int dir = 0;
    for (unsigned i = 0; i < RA_STREAMS && !st; i++) {
        struct ra_stream *s = &ra->s[i];
        if (s->win && s->dir >= 0 && idx == s->hi)
            st = s, dir = 1;
        else if (s->win && s->dir <= 0 && idx + 1 == s->lo)
            st = s, dir = -1;
        else if (s->used < lru->used)
            lru = s;
    }
    *hit = st != NULL;
    if (st) {
        uint32_t max = ra->max ? ra->max : 1;
        st->win = st->win > max / 2 ? max : st->win * 2;
        st->dir = dir;
    } else {
        st = lru;
        *st = (struct ra_stream){.win = 1, .lo = idx, .hi = idx + 1};
    }
    st->used = ++ra->clock;
    return st;
}

void ra_fetched(struct ra_stream *st, uint64_t lo, uint64_t hi)
{
    st->lo = lo;
    st->hi = hi;
}
