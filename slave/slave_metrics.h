/* A slave's metrics page: its hypervisor's last sample and the core's
 * counters in the Prometheus text format (docs/metrics.md lists every
 * metric). Reads the core only; the shell serves the page. */
#ifndef VMCA_SLAVE_METRICS_H
#define VMCA_SLAVE_METRICS_H

#include "prom.h"
#include "slave_core.h"

void slave_metrics_write(const struct slave_core *s, struct vmca_prom *out);

#endif
