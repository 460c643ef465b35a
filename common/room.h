/* Grow-only arrays: scratch space and queues that reach their working size
 * once and are then reused, so nothing is allocated per event. */
#ifndef VMCA_ROOM_H
#define VMCA_ROOM_H

#include <stdbool.h>
#include <stddef.h>

/* p (of *cap elements of `size` bytes), or it grown by doubling (from 8)
 * when it holds fewer than n or is NULL: the caller stores the result.
 * NULL when out of memory (p and *cap unchanged, p still the caller's). */
void *vmca_room(void *p, size_t *cap, size_t n, size_t size);

/* vmca_room on the pointer lvalue `ptr`, stored back: false when out of
 * memory (ptr unchanged). */
#define VMCA_ROOM(ptr, cap, n)                                                 \
    __extension__({                                                            \
        void *room_ = vmca_room((ptr), &(cap), (n), sizeof *(ptr));            \
        if (room_)                                                             \
            (ptr) = room_;                                                     \
        room_ != NULL;                                                         \
    })

#endif
