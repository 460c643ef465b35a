/* What the hypervisor does with one guest op (guest_proto.h) on libhvx: the
 * one implementation behind vmca-hv's guest channel and vmca-sim's guests,
 * so the simulator's VMs reach libhvx exactly as real ones do. */
#ifndef VMCA_GUEST_EXEC_H
#define VMCA_GUEST_EXEC_H

#include <stdint.h>

#include "guest_proto.h"
#include "hvx.h"

/* Executes op for VM `vm`, whose shared buffer `buf` holds `slots` pages of
 * page_size bytes. Returns the op's result (guest_proto.h): a slot outside
 * the buffer or an unknown op is HVX_EINVAL and changes nothing. */
int32_t guest_exec(struct hvx *h, uint32_t vm, const struct guest_op *op, uint8_t *buf,
                   uint32_t slots, uint32_t page_size);

#endif
