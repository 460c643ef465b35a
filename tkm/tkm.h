/* The memory manager's side of the TKM channel (backend `emu`: vmca-hv's TKM
 * socket), on the daemon's libevent loop. It connects, claims the memory
 * manager role (TkmManage; the channel is up once the hypervisor takes it),
 * reconnects with backoff when the hypervisor is down or restarts, delivers
 * the pushed statistics and the replies to calls. */
#ifndef VMCA_TKM_H
#define VMCA_TKM_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "tkm.pb-c.h"

struct tkm;

struct tkm_cbs {
    void (*on_up)(void *arg);
    void (*on_stats)(void *arg, const Vmca__TkmStats *st);
    void (*on_reply)(void *arg, const Vmca__TkmReply *r);
    void (*on_down)(void *arg, const char *why);
    /* The hypervisor has another memory manager (TkmManage refused): the
     * channel stays down, no retry. */
    void (*on_refused)(void *arg, const char *why);
};

/* Starts connecting to `path` (retrying every min_ms..max_ms with backoff).
 * NULL on allocation failure. */
struct tkm *tkm_new(struct event_base *base, const char *path, uint32_t min_ms,
                    uint32_t max_ms, const struct tkm_cbs *cbs, void *arg);
void tkm_free(struct tkm *t);

bool tkm_up(const struct tkm *t);

/* Sends a call; m->id is the caller's when not 0, else chosen here
 * (returned in *id). Returns 0 or a vmca_err
 * (VMCA_ERR_STATE when the channel is down). */
int tkm_call(struct tkm *t, Vmca__TkmToHv *m, uint64_t *id);

#endif
