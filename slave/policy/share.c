/* Sharing among VMs; see share.h. */
#include "share.h"

__extension__ typedef unsigned __int128 u128;

uint64_t share_add(uint64_t total, size_t n, const uint64_t *w, uint64_t *room, uint64_t *out,
                   size_t start)
{
    uint64_t left = total;
    while (left) {
        u128 weights = 0;
        for (size_t i = 0; i < n; i++)
            if (w[i] && room[i])
                weights += w[i];
        if (!weights)
            break;
        /* Those whose part reaches their room are filled, and the round
         * starts again without them: the level the others get only rises. */
        bool filled = false;
        uint64_t round = left;
        for (size_t i = 0; i < n; i++) {
            if (!w[i] || !room[i] || (u128)round * w[i] / weights < room[i])
                continue;
            out[i] += room[i];
            left -= room[i];
            room[i] = 0;
            filled = true;
        }
        if (filled)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!w[i] || !room[i])
                continue;
            uint64_t part = (uint64_t)((u128)round * w[i] / weights);
            out[i] += part;
            room[i] -= part;
            left -= part;
        }
        /* fewer left than VMs with room (each part lost less than one) */
        for (size_t k = 0; k < n && left; k++) {
            size_t i = (start + k) % n;
            if (w[i] && room[i]) {
                out[i]++;
                room[i]--;
                left--;
            }
        }
        break;
    }
    return total - left;
}

uint64_t share_in_order(uint64_t total, size_t n, const size_t *order, uint64_t *room,
                        uint64_t *out)
{
    uint64_t left = total;
    for (size_t k = 0; k < n && left; k++) {
        size_t i = order[k];
        uint64_t give = room[i] < left ? room[i] : left;
        out[i] += give;
        room[i] -= give;
        left -= give;
    }
    return total - left;
}

void share_sort(size_t *order, size_t n, bool (*before)(const void *ctx, size_t i, size_t j),
                const void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = i;
        for (; k > 0 && before(ctx, i, order[k - 1]); k--)
            order[k] = order[k - 1];
        order[k] = i;
    }
}
