/* Sharing a quantity (pages, credits) out among VMs, for the flexmemd
 * policies and their credit accounting: in proportion to weights within a
 * room each (water-filling), in a given order, and that order. Arrays are
 * the caller's, indexed by VM (0..n-1); nothing is allocated. */
#ifndef VMCA_SHARE_H
#define VMCA_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adds up to `total` units to out[], in proportion to w[], each VM i at
 * most room[i] (which is decreased by what i gets): a VM whose part would
 * pass its room gets its room and the rest is shared again among the
 * others (water-filling). The units the division leaves over (fewer than
 * the VMs still with room) go one each in index order from `start` (taken
 * mod n). A VM with w 0 or room 0 gets nothing. Returns the units added:
 * `total`, unless every room filled first. */
uint64_t share_add(uint64_t total, size_t n, const uint64_t *w, uint64_t *room, uint64_t *out,
                   size_t start);

/* Adds up to `total` units to out[], VM by VM in order[0..n-1], each as
 * much as its room (decreased likewise). Returns the units added. */
uint64_t share_in_order(uint64_t total, size_t n, const size_t *order, uint64_t *room,
                        uint64_t *out);

/* order[] becomes 0..n-1 sorted (stably) so that i comes before j when
 * before(ctx, i, j). */
void share_sort(size_t *order, size_t n, bool (*before)(const void *ctx, size_t i, size_t j),
                const void *ctx);

#endif
