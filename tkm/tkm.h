/* Backend `emu` of the TKM interface (tkm_ops.h): the memory manager's end
 * of vmca-hv's TKM socket, on the daemon's libevent loop. It connects,
 * claims the memory manager role (TkmManage; the channel is up once the
 * hypervisor takes it), reconnects with backoff when the hypervisor is down
 * or restarts, and delivers the pushed samples and the replies to calls. */
#ifndef VMCA_TKM_H
#define VMCA_TKM_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "tkm_ops.h"

struct tkm;

/* Starts connecting to `path` (retrying every min_ms..max_ms with backoff);
 * events go to ev with arg. refused: the hypervisor has another memory
 * manager (TkmManage refused): the channel stays down, no retry. NULL on
 * allocation failure. */
struct tkm *tkm_new(struct event_base *base, const char *path, uint32_t min_ms,
                    uint32_t max_ms, const struct tkm_events *ev, void *arg);
void tkm_free(struct tkm *t);

bool tkm_up(const struct tkm *t);

/* The ops over this channel. Each returns 0 when sent, VMCA_ERR_STATE when
 * the channel is down, or another vmca_err; a call with id 0 gets one here. */
struct tkm_backend tkm_backend(struct tkm *t);

#endif
