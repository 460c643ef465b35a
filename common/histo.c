/* Histogram counters; see histo.h. */
#include "histo.h"

void vmca_histo_init(struct vmca_histo *h, const uint64_t *le, size_t n)
{
    *h = (struct vmca_histo){0};
    for (size_t i = 0; i < n && h->n < VMCA_HISTO_MAX; i++)
        if (h->n == 0 || le[i] > h->le[h->n - 1])
            h->le[h->n++] = le[i];
}

void vmca_histo_observe(struct vmca_histo *h, uint64_t v)
{
    size_t b = 0;
    while (b < h->n && v > h->le[b])
        b++;
    h->counts[b]++;
    h->count++;
    h->sum = v > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + v;
}
