/* Prometheus text exposition writer; see prom.h. */
#include "prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vmca_prom_init(struct vmca_prom *p)
{
    *p = (struct vmca_prom){0};
}

void vmca_prom_free(struct vmca_prom *p)
{
    free(p->buf);
    *p = (struct vmca_prom){0};
}

bool vmca_prom_failed(const struct vmca_prom *p)
{
    return p->failed;
}

static bool room(struct vmca_prom *p, size_t more)
{
    if (p->failed)
        return false;
    if (p->len + more + 1 <= p->cap)
        return true;
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + more + 1)
        cap *= 2;
    char *b = realloc(p->buf, cap);
    if (!b) {
        p->failed = true;
        return false;
    }
    p->buf = b;
    p->cap = cap;
    return true;
}

static void put(struct vmca_prom *p, const char *s, size_t n)
{
    if (!room(p, n))
        return;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void puts_(struct vmca_prom *p, const char *s)
{
    put(p, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(struct vmca_prom *p, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        p->failed = true;
        return;
    }
    put(p, tmp, (size_t)n);
}

/* Backslash and newline escaped (HELP text); also '"' in label values. */
static void put_escaped(struct vmca_prom *p, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            puts_(p, "\\\\");
        else if (*s == '\n')
            puts_(p, "\\n");
        else if (quote && *s == '"')
            puts_(p, "\\\"");
        else
            put(p, s, 1);
    }
}

static bool name_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

/* Metric names may hold ':', label names not (nor start with "__"). */
static bool valid_name(struct vmca_prom *p, const char *s, bool metric)
{
    bool ok = s && *s && (metric || strncmp(s, "__", 2) != 0);
    for (const char *c = s; ok && *c; c++)
        ok = name_char(*c, c == s, metric);
    if (!ok)
        p->failed = true;
    return ok;
}

void vmca_prom_family(struct vmca_prom *p, const char *name, const char *type,
                      const char *help)
{
    if (!valid_name(p, name, true))
        return;
    puts_(p, "# HELP ");
    puts_(p, name);
    puts_(p, " ");
    put_escaped(p, help, false);
    puts_(p, "\n# TYPE ");
    puts_(p, name);
    puts_(p, " ");
    puts_(p, type);
    puts_(p, "\n");
}

/* name{a="x",b="y"} with an optional extra label (le) last. */
static void put_series(struct vmca_prom *p, const char *name, const char *suffix,
                       const struct vmca_prom_label *l, size_t nl,
                       const struct vmca_prom_label *extra)
{
    if (!valid_name(p, name, true))
        return;
    puts_(p, name);
    puts_(p, suffix);
    if (nl == 0 && !extra)
        return;
    puts_(p, "{");
    for (size_t i = 0; i < nl + (extra != NULL); i++) {
        const struct vmca_prom_label *x = i < nl ? &l[i] : extra;
        if (!valid_name(p, x->name, false))
            return;
        if (i)
            puts_(p, ",");
        puts_(p, x->name);
        puts_(p, "=\"");
        put_escaped(p, x->value, true);
        puts_(p, "\"");
    }
    puts_(p, "}");
}

void vmca_prom_u64(struct vmca_prom *p, const char *name, const struct vmca_prom_label *l,
                   size_t nl, uint64_t v)
{
    put_series(p, name, "", l, nl, NULL);
    putf(p, " %llu\n", (unsigned long long)v);
}

void vmca_prom_one(struct vmca_prom *p, const char *name, const char *type, const char *help,
                   const struct vmca_prom_label *l, size_t nl, uint64_t v)
{
    vmca_prom_family(p, name, type, help);
    vmca_prom_u64(p, name, l, nl, v);
}

void vmca_prom_counters(struct vmca_prom *p, const struct vmca_prom_field *f, size_t n,
                        const void *base, const struct vmca_prom_label *l, size_t nl)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)base + f[i].offset, sizeof v);
        vmca_prom_one(p, f[i].name, "counter", f[i].help, l, nl, v);
    }
}

void vmca_prom_stateset(struct vmca_prom *p, const char *name, const struct vmca_prom_label *l,
                        size_t nl, const char *label, const char *const *names, size_t n,
                        size_t current)
{
    for (size_t i = 0; i < n; i++) {
        struct vmca_prom_label x = {label, names[i]};
        put_series(p, name, "", l, nl, &x);
        putf(p, " %d\n", i == current);
    }
}

/* v / 10^decimals, exactly, without trailing zeros ("0.05", "1", "2.5"). */
static void fixed(char *out, size_t outlen, uint64_t v, unsigned decimals)
{
    uint64_t div = 1;
    for (unsigned i = 0; i < decimals && i < 19; i++)
        div *= 10;
    uint64_t frac = v % div;
    int n = snprintf(out, outlen, "%llu", (unsigned long long)(v / div));
    if (!frac || n < 0 || (size_t)n >= outlen)
        return;
    char digits[24];
    snprintf(digits, sizeof digits, "%0*llu", (int)decimals, (unsigned long long)frac);
    size_t k = strlen(digits);
    while (k > 0 && digits[k - 1] == '0')
        k--;
    snprintf(out + n, outlen - (size_t)n, ".%.*s", (int)k, digits);
}

void vmca_prom_histogram(struct vmca_prom *p, const char *name, const struct vmca_prom_label *l,
                         size_t nl, const struct vmca_histo *h, unsigned decimals)
{
    char le[48];
    uint64_t cum = 0;
    for (size_t b = 0; b <= h->n; b++) {
        cum += h->counts[b];
        if (b < h->n)
            fixed(le, sizeof le, h->le[b], decimals);
        else
            snprintf(le, sizeof le, "+Inf");
        struct vmca_prom_label x = {"le", le};
        put_series(p, name, "_bucket", l, nl, &x);
        putf(p, " %llu\n", (unsigned long long)cum);
    }
    fixed(le, sizeof le, h->sum, decimals);
    put_series(p, name, "_sum", l, nl, NULL);
    puts_(p, " ");
    puts_(p, le);
    puts_(p, "\n");
    put_series(p, name, "_count", l, nl, NULL);
    putf(p, " %llu\n", (unsigned long long)h->count);
}
