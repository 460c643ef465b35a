/* vmca-run's read-ahead window (docs/run.md "Read-ahead"): which evicted
 * pages a fault fetches along, from the page numbers of the faults alone.
 * A pure core: no memory, no clock; the shim (vmca-run-preload.c) owns one
 * struct ra under its lock. */
#ifndef VMCA_RUN_READAHEAD_H
#define VMCA_RUN_READAHEAD_H

#include <stdbool.h>
#include <stdint.h>

#define RA_STREAMS 8u

struct ra_stream {
    uint64_t lo, hi; /* the run fetched last: pages [lo, hi) */
    uint64_t used;   /* ra.clock at its last fault: LRU replacement */
    uint32_t win;    /* pages to fetch now; 0: slot unused */
    int dir;         /* +1 ascending, -1 descending, 0 not known yet */
};

struct ra {
    struct ra_stream s[RA_STREAMS];
    uint64_t clock;
    uint32_t max;    /* window at most, >= 1 */
};

/* A fault on evicted page idx. A fault on the page just past the run a
 * stream fetched last (hi), or just before it (lo - 1), is a hit: the
 * stream's window doubles (up to max) and its direction is set. Any other
 * fault takes the least recently used stream and starts it with a window
 * of 1. Returns the stream: fetch up to win pages from idx in direction
 * dir (0: idx alone), then report the run with ra_fetched. */
struct ra_stream *ra_fault(struct ra *ra, uint64_t idx, bool *hit);

/* The run [lo, hi) actually fetched for st (it may be shorter than the
 * window: it stops at a page that is not evicted). */
void ra_fetched(struct ra_stream *st, uint64_t lo, uint64_t hi);

#endif
