/* A histogram kept by a core as plain counters: fixed upper bounds in the
 * core's own unit (ms, pages, ...), one count per bucket (not cumulative)
 * plus the overflow bucket, the sum and the count of observations. No
 * allocation; the exposition writer (prom.h) makes the buckets cumulative. */
#ifndef VMCA_HISTO_H
#define VMCA_HISTO_H

#include <stddef.h>
#include <stdint.h>

#define VMCA_HISTO_MAX 16

struct vmca_histo {
    size_t n;                            /* bounds in use */
    uint64_t le[VMCA_HISTO_MAX];         /* upper bounds, strictly increasing */
    uint64_t counts[VMCA_HISTO_MAX + 1]; /* counts[n]: above every bound */
    uint64_t sum;                        /* saturates */
    uint64_t count;
};

/* Zero counts with bounds le[0..n-1] (n at most VMCA_HISTO_MAX, strictly
 * increasing; extra or unordered bounds are dropped). */
void vmca_histo_init(struct vmca_histo *h, const uint64_t *le, size_t n);
void vmca_histo_observe(struct vmca_histo *h, uint64_t v);

#endif
