/* The master's metrics page: what master_core knows and counts, in the
 * Prometheus text format (docs/metrics.md lists every metric). Reads the
 * core only; the shell serves the page (common/metrics_http.h). */
#ifndef VMCA_MASTER_METRICS_H
#define VMCA_MASTER_METRICS_H

#include "master_core.h"
#include "prom.h"

void master_metrics_write(const struct master_core *m, struct vmca_prom *out);

#endif
