/* The Prometheus text exposition format (version 0.0.4) written into a
 * growing buffer: a family's # HELP and # TYPE lines, then its samples with
 * escaped label values, and histograms with cumulative buckets, +Inf, _sum
 * and _count. Both daemons' metrics pages are built with it; no I/O here.
 * A name or label name that is not valid, or running out of memory, marks
 * the buffer failed (vmca_prom_failed) and writes nothing more. */
#ifndef VMCA_PROM_H
#define VMCA_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histo.h"

/* The Content-Type of the text format. */
#define VMCA_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct vmca_prom {
    char *buf;          /* NUL-terminated text, owned; NULL until written */
    size_t len, cap;
    bool failed;
};

struct vmca_prom_label {
    const char *name;   /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value;  /* any bytes but NUL: escaped here */
};

void vmca_prom_init(struct vmca_prom *p);
void vmca_prom_free(struct vmca_prom *p);
bool vmca_prom_failed(const struct vmca_prom *p);

/* "# HELP name help" (help escaped) and "# TYPE name type"; type is
 * "counter", "gauge" or "histogram". Once per family, before its samples. */
void vmca_prom_family(struct vmca_prom *p, const char *name, const char *type,
                      const char *help);

/* One sample "name{labels} value" (no braces without labels). */
void vmca_prom_u64(struct vmca_prom *p, const char *name, const struct vmca_prom_label *l,
                   size_t nl, uint64_t v);

/* A family of one sample: vmca_prom_family and vmca_prom_u64. */
void vmca_prom_one(struct vmca_prom *p, const char *name, const char *type, const char *help,
                   const struct vmca_prom_label *l, size_t nl, uint64_t v);

/* Counters kept as uint64_t fields of one struct: a table of them by
 * offset, each written as a family of one sample (labels l). */
struct vmca_prom_field {
    const char *name, *help;
    size_t offset;                     /* offsetof the uint64_t in the struct */
};
#define VMCA_PROM_FIELD(type, field, name, help) {name, help, offsetof(type, field)}
void vmca_prom_counters(struct vmca_prom *p, const struct vmca_prom_field *f, size_t n,
                        const void *base, const struct vmca_prom_label *l, size_t nl);

/* A state set: one sample per state name, labels l plus label="name",
 * 1 for names[current] and 0 for the others. */
void vmca_prom_stateset(struct vmca_prom *p, const char *name, const struct vmca_prom_label *l,
                        size_t nl, const char *label, const char *const *names, size_t n,
                        size_t current);

/* A histogram's samples: name_bucket{labels,le="..."} cumulative, the +Inf
 * bucket, name_sum and name_count. Bounds and sum are in units of
 * 10^-decimals of the exposed unit (ms exposed as seconds: decimals 3) and
 * are written exactly, without trailing zeros. */
void vmca_prom_histogram(struct vmca_prom *p, const char *name, const struct vmca_prom_label *l,
                         size_t nl, const struct vmca_histo *h, unsigned decimals);

#endif
