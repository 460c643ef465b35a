/* Cluster configuration loader (libconfig). Everything is validated before a
 * daemon starts; every error is one line "FILE:LINE: SETTING: what was
 * expected, got what". See docs/configuration.md for the format. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>

#include "config_text.h"
#include "err.h"
#include "gfn.h"
#include "second_tier.h"

#define CLUSTER_NAME_MAX 32u
#define NODE_NAME_MAX (VMCA_NAME_MAX - 1)
#define ADDRESS_MAX 63u
#define TMEM_PAGES_MAX (1LL << VMCA_GFN_INDEX_BITS)
#define MS_MAX 86400000LL                    /* one day */
#define FILE_SIZE_MAX (64u << 20)
#define SUN_PATH_SIZE (sizeof(((struct sockaddr_un *)0)->sun_path))
#define SPATH_MAX 128                        /* "nodes.[4095].location.[7]" */

struct node_aux {
    const config_setting_t *group, *id, *name, *address, *port, *cert, *key, *metrics;
};

struct ctx {
    const char *file;        /* absolute path of the file being loaded */
    const char *dir;         /* its directory, resolved */
    char *err;
    size_t errlen;
    struct vmca_cfg_bigs bigs;
};

/* ---------------------------------------------------------------- errors */

static void sanitize(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            *s = '?';
    }
}

static void __attribute__((format(printf, 2, 3)))
raw_error(struct ctx *x, const char *fmt, ...)
{
    if (!x->err || x->errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
    sanitize(x->err);
}

/* "FILE:LINE: SPATH: message" at the line of setting s. Always
 * returns VMCA_ERR_CONFIG so callers can `return fail(...)`. */
static int __attribute__((format(printf, 4, 5)))
fail(struct ctx *x, const config_setting_t *s, const char *spath, const char *fmt, ...)
{
    if (!x->err || x->errlen == 0)
        return VMCA_ERR_CONFIG;
    va_list ap;
    va_start(ap, fmt);
    vmca_cfg_verror(x->err, x->errlen, x->file, s, spath, fmt, ap);
    va_end(ap);
    sanitize(x->err);
    return VMCA_ERR_CONFIG;
}

/* ----------------------------------------------------------- value access */

static int check_int(struct ctx *x, const config_setting_t *s, const char *spath,
                     long long lo, long long hi, long long *out)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return fail(x, s, spath, "expected an integer, got %s", vmca_cfg_type_name(s));
    if (t == CONFIG_TYPE_INT) {
        const struct vmca_cfg_big *b = vmca_cfg_bigs_find(&x->bigs, s);
        if (b)
            return fail(x, s, spath,
                        "expected an integer in %lld..%lld, got %s (" VMCA_CFG_BIG_HINT ")",
                        lo, hi, b->text, b->text);
    }
    long long v = config_setting_get_int64(s);
    if (v < lo || v > hi)
        return fail(x, s, spath, "expected an integer in %lld..%lld, got %lld", lo, hi, v);
    *out = v;
    return 0;
}

/* Optional/required member lookups: 1 = found (value in *out), 0 = absent
 * (*out untouched, i.e. the caller's default), < 0 = error written. */
static int get_int(struct ctx *x, const config_setting_t *grp, const char *gpath,
                   const char *name, int required, long long lo, long long hi,
                   long long *out, const config_setting_t **where)
{
    char sp[SPATH_MAX];
    vmca_cfg_path_join(sp, sizeof(sp), gpath, name);
    const config_setting_t *s = config_setting_get_member(grp, name);
    if (where)
        *where = s;
    if (!s)
        return required ? fail(x, grp, sp, "missing required setting") : 0;
    return check_int(x, s, sp, lo, hi, out) == 0 ? 1 : VMCA_ERR_CONFIG;
}

static int get_string(struct ctx *x, const config_setting_t *grp, const char *gpath,
                      const char *name, int required, const char **out,
                      const config_setting_t **where)
{
    char sp[SPATH_MAX];
    vmca_cfg_path_join(sp, sizeof(sp), gpath, name);
    const config_setting_t *s = config_setting_get_member(grp, name);
    if (where)
        *where = s;
    if (!s)
        return required ? fail(x, grp, sp, "missing required setting") : 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(x, s, sp, "expected a string, got %s", vmca_cfg_type_name(s));
    *out = config_setting_get_string(s);
    return 1;
}

static int get_group(struct ctx *x, const config_setting_t *grp, const char *name,
                     int required, const config_setting_t **out)
{
    const config_setting_t *s = config_setting_get_member(grp, name);
    *out = s;
    if (!s)
        return required ? fail(x, grp, name, "missing required setting") : 0;
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return fail(x, s, name, "expected a group, got %s", vmca_cfg_type_name(s));
    return 1;
}

/* Every member of grp must be one of `known` (NULL-terminated). */
static int check_known(struct ctx *x, const config_setting_t *grp, const char *gpath,
                       const char *const *known)
{
    char list[256];
    const config_setting_t *s = vmca_cfg_unknown(grp, known, list, sizeof list);
    if (!s)
        return 0;
    const char *name = config_setting_name(s);
    char sp[SPATH_MAX];
    vmca_cfg_path_join(sp, sizeof(sp), gpath, name ? name : "?");
    return fail(x, s, sp, "unknown setting '%s' (expected one of: %s)", name ? name : "?", list);
}

/* --------------------------------------------------------------- checks */

static int name_ok(const char *s, size_t max, int allow_dot)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || c == '_' || c == '-' || (allow_dot && c == '.')))
            return 0;
    }
    return 1;
}

/* NULL when s is a node address the resolver can take as it is: a numeric
 * IPv4 or IPv6 literal, or a syntactically valid host name (labels of
 * letters, digits and '-', not starting or ending with '-'); else
 * what is wrong with it. A string of digits and dots must be an IPv4
 * literal: "127.0.0.-1" or "10.0.0.256" is an error, not a host name. */
static const char *address_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ADDRESS_MAX)
        return "an address of 1..63 characters";
    unsigned char bin[16];
    if (inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1)
        return NULL;
    if (strchr(s, ':'))
        return "an IPv6 literal (a host name has no ':')";
    /* Digits, dots and '-' only: meant as an IPv4 literal. And the last
     * label of a host name is never all digits (RFC 3696). */
    const char *last = strrchr(s, '.');
    last = last ? last + 1 : s;
    if (strspn(s, "0123456789.-") == n)
        return "an IPv4 literal of four numbers in 0..255";
    if (*last && strspn(last, "0123456789") == strlen(last))
        return "a host name whose last label is not all digits";
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' || c == '\0') {
            if (label == 0)
                return "a host name without empty labels";
            if (s[i - 1] == '-')
                return "a host name whose labels do not end with '-'";
            label = 0;
        } else if (isalnum(c) || c == '-') {
            if (label == 0 && c == '-')
                return "a host name whose labels do not start with '-'";
            label++;
        } else {
            return "an IP literal or a host name of letters, digits, '-' and '.'";
        }
    }
    return NULL;
}

/* dir + "/" + rel (rel relative, leading "./" dropped) or rel (absolute). */
static int path_join(char *out, size_t outsz, const char *dir, const char *rel, size_t *need)
{
    int n;
    if (rel[0] == '/') {
        n = snprintf(out, outsz, "%s", rel);
    } else {
        while (rel[0] == '.' && rel[1] == '/') {
            rel += 2;
            while (rel[0] == '/')
                rel++;
        }
        if (strcmp(rel, ".") == 0 || rel[0] == '\0')
            n = snprintf(out, outsz, "%s", dir);
        else
            n = snprintf(out, outsz, "%s%s%s", dir,
                         dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
    }
    *need = n < 0 ? (size_t)-1 : (size_t)n;
    return n >= 0 && (size_t)n < outsz ? 0 : -1;
}

/* Resolves a path setting's value against the configuration's directory. */
static int resolve_path(struct ctx *x, const config_setting_t *s, const char *spath,
                        const char *dir, const char *value, char *out, size_t outsz)
{
    if (value[0] == '\0')
        return fail(x, s, spath, "expected a non-empty path, got \"\"");
    size_t need;
    if (path_join(out, outsz, dir, value, &need) != 0)
        return fail(x, s, spath,
                    "expected a path of at most %zu bytes after resolving, got %zu bytes (\"%s\")",
                    outsz - 1, need, value);
    return 0;
}


static void format_endpoint(char *out, size_t outsz, const char *address, unsigned port)
{
    if (strchr(address, ':'))
        snprintf(out, outsz, "[%s]:%u", address, port);
    else
        snprintf(out, outsz, "%s:%u", address, port);
}

/* ---------------------------------------------------------------- parts */

static const char *const top_known[] = {
    "cluster", "page_size", "max_frame", "certs_dir", "ca", "master", "nodes",
    "policy", "timing", "replicas", NULL,
};
static const char *const master_known[] = { "node", "port", "admin_socket", "metrics_port",
                                             NULL };
static const char *const node_known[] = {
    "id", "name", "address", "port", "tmem_pages", "location", "cert", "key", "vms",
    "metrics_port", NULL,
};
static const char *const vm_known[] = { "id", "min_pages", "max_pages", "weight", "replicas",
                                        NULL };
static const char *const policy_known[] = {
    "first_tier", "surplus_quiet_periods", NULL,
};
static const char *const timing_known[] = {
    "stats_interval_ms", "failure_timeout_ms", "reconnect_min_ms", "reconnect_max_ms",
    "hello_timeout_ms", NULL,
};

static int parse_location(struct ctx *x, const config_setting_t *node, const char *npath,
                          struct vmca_node_cfg *n)
{
    char sp[SPATH_MAX];
    vmca_cfg_path_join(sp, sizeof(sp), npath, "location");
    const config_setting_t *s = config_setting_get_member(node, "location");
    if (!s)
        return 0;
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
        return fail(x, s, sp, "expected an array of integers, got %s", vmca_cfg_type_name(s));
    int len = config_setting_length(s);
    if (len > VMCA_LOCATION_MAX)
        return fail(x, s, sp, "expected at most %d levels, got %d", VMCA_LOCATION_MAX, len);
    for (int i = 0; i < len; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char ep[SPATH_MAX + 16];
        snprintf(ep, sizeof(ep), "%s.[%d]", sp, i);
        long long v = 0;
        if (check_int(x, e, ep, 0, UINT32_MAX, &v) != 0)
            return VMCA_ERR_CONFIG;
        n->location[i] = (uint32_t)v;
    }
    n->location_len = (unsigned)len;
    return 0;
}

/* One entry of nodes.[i].vms (first_tier_policy.h, struct ft_vm_settings).
 * VM ids are the hypervisor's (uint32_t, as vmca-guest --vm takes them). */
static int parse_vm(struct ctx *x, const config_setting_t *g, const char *vpath,
                    struct ft_vm_settings *v, uint8_t *replicas)
{
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail(x, g, vpath, "expected a group, got %s", vmca_cfg_type_name(g));
    if (check_known(x, g, vpath, vm_known) != 0)
        return VMCA_ERR_CONFIG;
    long long id = 0, min = 0, max = POLICY_PAGES_MAX, weight = 1;
    const config_setting_t *min_s = NULL, *max_s = NULL;
    int has_max;
    if (get_int(x, g, vpath, "id", 1, 0, UINT32_MAX, &id, NULL) < 0 ||
        get_int(x, g, vpath, "min_pages", 0, 0, POLICY_PAGES_MAX, &min, &min_s) < 0 ||
        (has_max = get_int(x, g, vpath, "max_pages", 0, 0, POLICY_PAGES_MAX, &max, &max_s)) < 0 ||
        get_int(x, g, vpath, "weight", 0, 1, FT_WEIGHT_MAX, &weight, NULL) < 0)
        return VMCA_ERR_CONFIG;
    long long reps = 0; /* 0: the cluster's */
    if (get_int(x, g, vpath, "replicas", 0, 1, 2, &reps, NULL) < 0)
        return VMCA_ERR_CONFIG;
    *replicas = (uint8_t)reps;
    if (has_max && min > max) {
        char sp[SPATH_MAX];
        vmca_cfg_path_join(sp, sizeof(sp), vpath, "min_pages");
        return fail(x, min_s, sp, "expected at most max_pages (%lld), got %lld", max, min);
    }
    *v = (struct ft_vm_settings){(uint32_t)id, (uint64_t)min,
                                 has_max ? (uint64_t)max : VM_TARGET_UNLIMITED, (uint32_t)weight};
    return 0;
}

/* nodes.[i].vms: a list of per-VM settings, ids unique within the node. */
static int parse_vms(struct ctx *x, const config_setting_t *node, const char *npath,
                     struct vmca_node_cfg *n)
{
    char sp[SPATH_MAX];
    vmca_cfg_path_join(sp, sizeof(sp), npath, "vms");
    const config_setting_t *s = config_setting_get_member(node, "vms");
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return fail(x, s, sp, "expected a list of VM groups, got %s", vmca_cfg_type_name(s));
    int len = config_setting_length(s);
    if (len > VMCA_NODE_VMS_MAX)
        return fail(x, s, sp, "expected at most %d VMs, got %d", VMCA_NODE_VMS_MAX, len);
    if (len == 0)
        return 0;
    struct ft_vm_settings *vms = calloc((size_t)len, sizeof(*vms));
    uint8_t *reps = calloc((size_t)len, 1);
    if (!vms || !reps) {
        free(vms);
        free(reps);
        raw_error(x, "%s: out of memory", x->file);
        return VMCA_ERR_NOMEM;
    }
    for (int i = 0; i < len; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char vp[SPATH_MAX + 16];
        snprintf(vp, sizeof(vp), "%s.[%d]", sp, i);
        int rc = parse_vm(x, e, vp, &vms[i], &reps[i]);
        for (int j = 0; rc == 0 && j < i; j++)
            if (vms[j].vm == vms[i].vm) {
                char ip[SPATH_MAX + 24];
                snprintf(ip, sizeof(ip), "%s.id", vp);
                rc = fail(x, config_setting_get_member(e, "id"), ip,
                          "expected a VM id unique within the node, got %u (also at line %u)",
                          (unsigned)vms[i].vm,
                          vmca_cfg_line(config_setting_get_elem(s, (unsigned)j)));
            }
        if (rc != 0) {
            free(vms);
            free(reps);
            return rc;
        }
    }
    n->vms = vms;
    n->vm_replicas = reps;
    n->n_vms = (size_t)len;
    return 0;
}

/* Metrics pages listen on loopback only: the node's address when it is a
 * loopback literal (nodes of one machine then keep apart), else 127.0.0.1. */
static void metrics_address(struct vmca_node_cfg *n)
{
    struct in_addr a4;
    struct in6_addr a6;
    bool loop = (inet_pton(AF_INET, n->address, &a4) == 1 &&
                 (ntohl(a4.s_addr) >> 24) == 127) ||
                (inet_pton(AF_INET6, n->address, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6));
    snprintf(n->metrics_address, sizeof n->metrics_address, "%s",
             loop ? n->address : "127.0.0.1");
}

static int parse_node(struct ctx *x, const config_setting_t *g, int idx,
                      const char *certs_dir, struct vmca_node_cfg *n, struct node_aux *aux)
{
    char np[SPATH_MAX], sp[SPATH_MAX];
    snprintf(np, sizeof(np), "nodes.[%d]", idx);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail(x, g, np, "expected a group, got %s", vmca_cfg_type_name(g));
    aux->group = g;
    if (check_known(x, g, np, node_known) != 0)
        return VMCA_ERR_CONFIG;

    long long v = 0;
    if (get_int(x, g, np, "id", 1, 1, VMCA_NODE_MAX, &v, &aux->id) < 0)
        return VMCA_ERR_CONFIG;
    n->id = (uint32_t)v;

    const char *str = NULL;
    if (get_string(x, g, np, "name", 1, &str, &aux->name) < 0)
        return VMCA_ERR_CONFIG;
    if (!name_ok(str, NODE_NAME_MAX, 1)) {
        vmca_cfg_path_join(sp, sizeof(sp), np, "name");
        return fail(x, aux->name, sp,
                    "expected a name of 1..%u characters from [A-Za-z0-9._-], got \"%s\"",
                    NODE_NAME_MAX, str);
    }
    snprintf(n->name, sizeof(n->name), "%s", str);

    if (get_string(x, g, np, "address", 1, &str, &aux->address) < 0)
        return VMCA_ERR_CONFIG;
    const char *bad = address_problem(str);
    if (bad) {
        vmca_cfg_path_join(sp, sizeof(sp), np, "address");
        return fail(x, aux->address, sp, "expected %s, got \"%s\"", bad, str);
    }
    snprintf(n->address, sizeof(n->address), "%s", str);

    if (get_int(x, g, np, "port", 1, 1, 65535, &v, &aux->port) < 0)
        return VMCA_ERR_CONFIG;
    n->port = (uint16_t)v;

    v = 0;
    if (get_int(x, g, np, "metrics_port", 0, 0, 65535, &v, &aux->metrics) < 0)
        return VMCA_ERR_CONFIG;
    n->metrics_port = (uint16_t)v;
    metrics_address(n);

    if (get_int(x, g, np, "tmem_pages", 1, 1, TMEM_PAGES_MAX, &v, NULL) < 0)
        return VMCA_ERR_CONFIG;
    n->tmem_pages = (uint64_t)v;

    if (parse_location(x, g, np, n) != 0)
        return VMCA_ERR_CONFIG;
    int vr = parse_vms(x, g, np, n);
    if (vr != 0)
        return vr;

    /* cert and key: given (relative to the file's directory) or
     * <certs_dir>/<name>.crt and .key */
    static const char *const which[2] = { "cert", "key" };
    static const char *const suffix[2] = { ".crt", ".key" };
    for (int k = 0; k < 2; k++) {
        char *out = k == 0 ? n->cert : n->key;
        const config_setting_t **where = k == 0 ? &aux->cert : &aux->key;
        vmca_cfg_path_join(sp, sizeof(sp), np, which[k]);
        int r = get_string(x, g, np, which[k], 0, &str, where);
        if (r < 0)
            return VMCA_ERR_CONFIG;
        if (r == 1) {
            if (resolve_path(x, *where, sp, x->dir, str, out, VMCA_PATH_MAX) != 0)
                return VMCA_ERR_CONFIG;
        } else {
            int w = snprintf(out, VMCA_PATH_MAX, "%s/%s%s", certs_dir, n->name, suffix[k]);
            if (w < 0 || w >= VMCA_PATH_MAX)
                return fail(x, g, sp,
                            "expected a path of at most %d bytes after resolving, got %d bytes "
                            "(default %s/%s%s)",
                            VMCA_PATH_MAX - 1, w, certs_dir, n->name, suffix[k]);
        }
    }
    return 0;
}

/* Duplicate ids, names, and (address, port) pairs among nodes 0..i. */
static int check_node_unique(struct ctx *x, const struct vmca_node_cfg *nodes,
                             const struct node_aux *aux, size_t i)
{
    char sp[SPATH_MAX], ep[96];
    for (size_t j = 0; j < i; j++) {
        if (nodes[j].id == nodes[i].id) {
            snprintf(sp, sizeof(sp), "nodes.[%zu].id", i);
            return fail(x, aux[i].id, sp, "duplicate node id %u (first at line %u)",
                        (unsigned)nodes[i].id, vmca_cfg_line(aux[j].id));
        }
    }
    for (size_t j = 0; j < i; j++) {
        if (strcmp(nodes[j].name, nodes[i].name) == 0) {
            snprintf(sp, sizeof(sp), "nodes.[%zu].name", i);
            return fail(x, aux[i].name, sp, "duplicate node name \"%s\" (first at line %u)",
                        nodes[i].name, vmca_cfg_line(aux[j].name));
        }
    }
    for (size_t j = 0; j < i; j++) {
        if (nodes[j].port == nodes[i].port &&
            strcasecmp(nodes[j].address, nodes[i].address) == 0) {
            snprintf(sp, sizeof(sp), "nodes.[%zu].port", i);
            format_endpoint(ep, sizeof(ep), nodes[i].address, nodes[i].port);
            return fail(x, aux[i].port, sp,
                        "duplicate address and port %s (first at line %u, node \"%s\")", ep,
                        vmca_cfg_line(aux[j].port), nodes[j].name);
        }
    }
    return 0;
}

static int parse_nodes(struct ctx *x, const config_setting_t *root, struct vmca_config *c,
                       struct node_aux **auxp)
{
    const config_setting_t *list = config_setting_get_member(root, "nodes");
    if (!list)
        return fail(x, root, "nodes", "missing required setting");
    if (config_setting_type(list) != CONFIG_TYPE_LIST)
        return fail(x, list, "nodes", "expected a list of node groups, got %s", vmca_cfg_type_name(list));
    int n = config_setting_length(list);
    if (n < 1 || n > VMCA_MAX_NODES)
        return fail(x, list, "nodes", "expected 1..%d nodes, got %d", VMCA_MAX_NODES, n);
    c->nodes = calloc((size_t)n, sizeof(*c->nodes));
    *auxp = calloc((size_t)n, sizeof(**auxp));
    if (!c->nodes || !*auxp) {
        raw_error(x, "%s: out of memory", x->file);
        return VMCA_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        c->n_nodes = (size_t)i + 1; /* counted first: free_nodes frees what it holds */
        int rc = parse_node(x, config_setting_get_elem(list, (unsigned)i), i, c->certs_dir,
                            &c->nodes[i], &(*auxp)[i]);
        if (rc != 0)
            return rc;
        if (check_node_unique(x, c->nodes, *auxp, (size_t)i) != 0)
            return VMCA_ERR_CONFIG;
    }
    return 0;
}

static int parse_master(struct ctx *x, const config_setting_t *root, struct vmca_config *c,
                        const config_setting_t **node_s, const config_setting_t **port_s,
                        const config_setting_t **metrics_s)
{
    const config_setting_t *g;
    if (get_group(x, root, "master", 1, &g) < 0)
        return VMCA_ERR_CONFIG;
    if (check_known(x, g, "master", master_known) != 0)
        return VMCA_ERR_CONFIG;
    const char *str = NULL;
    if (get_string(x, g, "master", "node", 1, &str, node_s) < 0)
        return VMCA_ERR_CONFIG;
    snprintf(c->master.node, sizeof(c->master.node), "%s", str);
    if (strlen(str) >= sizeof(c->master.node))
        return fail(x, *node_s, "master.node",
                    "expected the name of a node in 'nodes', got \"%s\"", str);
    long long v = 0;
    if (get_int(x, g, "master", "port", 1, 1, 65535, &v, port_s) < 0)
        return VMCA_ERR_CONFIG;
    c->master.port = (uint16_t)v;
    v = 0;
    if (get_int(x, g, "master", "metrics_port", 0, 0, 65535, &v, metrics_s) < 0)
        return VMCA_ERR_CONFIG;
    c->master.metrics_port = (uint16_t)v;

    const config_setting_t *s;
    char def[VMCA_NAME_MAX + 16];
    snprintf(def, sizeof(def), "%s-master.sock", c->cluster);
    str = def;
    int r = get_string(x, g, "master", "admin_socket", 0, &str, &s);
    if (r < 0)
        return VMCA_ERR_CONFIG;
    const config_setting_t *at = r ? s : g;
    if (resolve_path(x, at, "master.admin_socket", x->dir, str, c->master.admin_socket,
                     sizeof(c->master.admin_socket)) != 0)
        return VMCA_ERR_CONFIG;
    size_t len = strlen(c->master.admin_socket);
    if (len >= SUN_PATH_SIZE)
        return fail(x, at, "master.admin_socket",
                    "expected a socket path shorter than %zu bytes after resolving, got %zu "
                    "bytes (%s)",
                    SUN_PATH_SIZE, len, c->master.admin_socket);
    return 0;
}

/* The policy group as the policy registries (slave/policy, master/policy)
 * read it; g NULL: the group is absent. */
struct policy_reader {
    struct ctx *x;
    const config_setting_t *root, *g;
};

/* 1 read, 0 absent, <0 refused (error written). */
static int reader_int(void *arg, const char *name, long long lo, long long hi, long long *v)
{
    struct policy_reader *r = arg;
    return r->g ? get_int(r->x, r->g, "policy", name, 0, lo, hi, v, NULL) : 0;
}

static int reader_string(void *arg, const char *name, const char **v)
{
    struct policy_reader *r = arg;
    return r->g ? get_string(r->x, r->g, "policy", name, 0, v, NULL) : 0;
}

static int reader_refuse(void *arg, const char *name, const char *what)
{
    struct policy_reader *r = arg;
    char sp[SPATH_MAX];
    vmca_cfg_path_join(sp, sizeof(sp), "policy", name);
    const config_setting_t *s = r->g ? config_setting_get_member(r->g, name) : NULL;
    return fail(r->x, s ? s : r->g ? r->g : r->root, sp, "expected %s", what);
}

_Static_assert(sizeof(((struct vmca_policy_cfg *)0)->second_tier_params) == TIER2_PARAMS_BYTES,
               "room for a second tier's parameters");
_Static_assert(POLICY_PAGES_MAX == TMEM_PAGES_MAX, "one page range for every setting");

static int parse_second_tier(struct ctx *x, const config_setting_t *root,
                             const config_setting_t *g, struct vmca_policy_cfg *p)
{
    struct policy_reader r = { x, root, g };
    struct policy_settings s = { &r, reader_int, reader_string, reader_refuse };
    return tier2_configure(&s, p->second_tier, sizeof(p->second_tier), &p->reserve_pages,
                           p->second_tier_params) < 0 ? VMCA_ERR_CONFIG : 0;
}

/* first_tier: a policy the registry has, else an error listing those built. */
static int get_first_tier(struct ctx *x, const config_setting_t *g, struct vmca_policy_cfg *p)
{
    const char *v = NULL;
    const config_setting_t *s;
    int r = get_string(x, g, "policy", "first_tier", 0, &v, &s);
    if (r <= 0)
        return r;
    if (!ft_policy_find(v)) {
        char list[256];
        ft_policy_names(list, sizeof list);
        return fail(x, s, "policy.first_tier", "expected one of %s (the first-tier policies "
                    "built), got \"%s\"", list, v);
    }
    snprintf(p->first_tier, sizeof(p->first_tier), "%s", v);
    return 1;
}

/* Every setting of the policy group: the loader's own and the policies'. */
static int check_policy_known(struct ctx *x, const config_setting_t *g)
{
    const char *known[64];
    size_t n = 0;
    for (const char *const *k = policy_known; *k && n < 63; k++)
        known[n++] = *k;
    for (const struct ft_policy *const *q = ft_policies(); *q; q++)
        for (const char *const *k = (*q)->settings; *k && n < 63; k++) {
            size_t j = 0; /* policies may share a setting (tlp, smart-alloc): once */
            while (j < n && strcmp(known[j], *k) != 0)
                j++;
            if (j == n)
                known[n++] = *k;
        }
    n += tier2_setting_names(known + n, 63 - n);
    known[n < 63 ? n : 63] = NULL;
    return check_known(x, g, "policy", known);
}

static int parse_policy(struct ctx *x, const config_setting_t *root, struct vmca_policy_cfg *p)
{
    snprintf(p->first_tier, sizeof(p->first_tier), "tlp");
    const config_setting_t *g;
    int r = get_group(x, root, "policy", 0, &g);
    if (r < 0)
        return VMCA_ERR_CONFIG;
    long long quiet = 3;
    if (r == 1) {
        if (check_policy_known(x, g) != 0 || get_first_tier(x, g, p) < 0 ||
            parse_second_tier(x, root, g, p) < 0 ||
            get_int(x, g, "policy", "surplus_quiet_periods", 0, 0, 1000, &quiet, NULL) < 0)
            return VMCA_ERR_CONFIG;
    } else if (parse_second_tier(x, root, NULL, p) < 0) {
        return VMCA_ERR_CONFIG;
    }
    struct policy_reader pr = {x, root, r == 1 ? g : NULL};
    struct policy_settings in = {&pr, reader_int, reader_string, reader_refuse};
    if (ft_params_parse(&in, &p->first_tier_params) != 0)
        return VMCA_ERR_CONFIG;
    p->surplus_quiet_periods = (uint32_t)quiet;
    return 0;
}

static int parse_timing(struct ctx *x, const config_setting_t *root, struct vmca_timing_cfg *t)
{
    long long stats = VMCA_STATS_INTERVAL_MS_DEFAULT, failure = 5000, rmin = 100, rmax = 5000, hello = 5000;
    const config_setting_t *g, *stats_s = NULL, *failure_s = NULL, *rmin_s = NULL, *rmax_s = NULL;
    int r = get_group(x, root, "timing", 0, &g);
    if (r < 0)
        return VMCA_ERR_CONFIG;
    if (r == 1) {
        if (check_known(x, g, "timing", timing_known) != 0 ||
            get_int(x, g, "timing", "stats_interval_ms", 0, 10, 3600000, &stats, &stats_s) < 0 ||
            get_int(x, g, "timing", "failure_timeout_ms", 0, 1, MS_MAX, &failure, &failure_s) < 0 ||
            get_int(x, g, "timing", "reconnect_min_ms", 0, 1, MS_MAX, &rmin, &rmin_s) < 0 ||
            get_int(x, g, "timing", "reconnect_max_ms", 0, 1, MS_MAX, &rmax, &rmax_s) < 0 ||
            get_int(x, g, "timing", "hello_timeout_ms", 0, 1, MS_MAX, &hello, NULL) < 0)
            return VMCA_ERR_CONFIG;
        if (failure <= stats) {
            if (failure_s)
                return fail(x, failure_s, "timing.failure_timeout_ms",
                            "expected more than stats_interval_ms (%lld), got %lld", stats, failure);
            return fail(x, stats_s, "timing.stats_interval_ms",
                        "expected less than failure_timeout_ms (%lld, the default), got %lld",
                        failure, stats);
        }
        if (rmax < rmin) {
            if (rmax_s)
                return fail(x, rmax_s, "timing.reconnect_max_ms",
                            "expected at least reconnect_min_ms (%lld), got %lld", rmin, rmax);
            return fail(x, rmin_s, "timing.reconnect_min_ms",
                        "expected at most reconnect_max_ms (%lld, the default), got %lld", rmax,
                        rmin);
        }
    }
    t->stats_interval_ms = (uint32_t)stats;
    t->failure_timeout_ms = (uint32_t)failure;
    t->reconnect_min_ms = (uint32_t)rmin;
    t->reconnect_max_ms = (uint32_t)rmax;
    t->hello_timeout_ms = (uint32_t)hello;
    return 0;
}

static int check_readable(struct ctx *x, const config_setting_t *s, const char *spath,
                          const char *file)
{
    struct stat st;
    if (access(file, R_OK) != 0 && errno == ENOENT)
        return fail(x, s, spath, "expected a readable file, got \"%s\" (no such file; the "
                    "cluster's CA and node certificates are made by scripts/gen-certs.sh "
                    "--config %s)", file, x->file);
    if (access(file, R_OK) != 0)
        return fail(x, s, spath, "expected a readable file, got \"%s\" (%s)", file,
                    strerror(errno));
    if (stat(file, &st) != 0)
        return fail(x, s, spath, "expected a readable file, got \"%s\" (%s)", file,
                    strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(x, s, spath, "expected a readable file, got \"%s\" (not a regular file)",
                    file);
    return 0;
}

/* A listening endpoint of the configuration, for the metrics ports' check. */
struct endpoint {
    const char *address;
    unsigned port;
    char spath[SPATH_MAX];
    const config_setting_t *s;
    bool metrics;
};

/* Every metrics port (master.metrics_port, nodes.[i].metrics_port) must be
 * free of every other port of the configuration on the same address. */
static int check_metrics_ports(struct ctx *x, const struct vmca_config *c,
                               const struct vmca_node_cfg *mn, const struct node_aux *aux,
                               const config_setting_t *mport_s,
                               const config_setting_t *mmetrics_s)
{
    size_t n = 0, cap = 2 * c->n_nodes + 2;
    struct endpoint *e = calloc(cap, sizeof *e);
    if (!e) {
        raw_error(x, "%s: out of memory", x->file);
        return VMCA_ERR_NOMEM;
    }
    e[n++] = (struct endpoint){mn->address, c->master.port, "master.port", mport_s, false};
    for (size_t i = 0; i < c->n_nodes; i++) {
        e[n] = (struct endpoint){c->nodes[i].address, c->nodes[i].port, "", aux[i].port, false};
        snprintf(e[n++].spath, SPATH_MAX, "nodes.[%zu].port", i);
    }
    if (c->master.metrics_port)
        e[n++] = (struct endpoint){mn->metrics_address, c->master.metrics_port,
                                   "master.metrics_port", mmetrics_s, true};
    for (size_t i = 0; i < c->n_nodes; i++) {
        if (!c->nodes[i].metrics_port)
            continue;
        e[n] = (struct endpoint){c->nodes[i].metrics_address, c->nodes[i].metrics_port, "",
                                 aux[i].metrics, true};
        snprintf(e[n++].spath, SPATH_MAX, "nodes.[%zu].metrics_port", i);
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t j = 0; rc == 0 && e[i].metrics && j < i; j++)
            if (e[j].port == e[i].port && strcasecmp(e[j].address, e[i].address) == 0)
                rc = fail(x, e[i].s, e[i].spath,
                          "expected a port not used by another setting on %s, got %u (%s at "
                          "line %u)", e[i].address, e[i].port, e[j].spath, vmca_cfg_line(e[j].s));
    free(e);
    return rc;
}

static int parse_root(struct ctx *x, const config_setting_t *root, int check_files,
                      struct vmca_config *c)
{
    if (check_known(x, root, "", top_known) != 0)
        return VMCA_ERR_CONFIG;

    const char *str = NULL;
    const config_setting_t *s;
    if (get_string(x, root, "", "cluster", 1, &str, &s) < 0)
        return VMCA_ERR_CONFIG;
    if (!name_ok(str, CLUSTER_NAME_MAX, 0))
        return fail(x, s, "cluster",
                    "expected a name of 1..%u characters from [A-Za-z0-9_-], got \"%s\"",
                    CLUSTER_NAME_MAX, str);
    snprintf(c->cluster, sizeof(c->cluster), "%s", str);

    long long v = 4096;
    if (get_int(x, root, "", "page_size", 0, 4096, 65536, &v, &s) < 0)
        return VMCA_ERR_CONFIG;
    if ((v & (v - 1)) != 0)
        return fail(x, s, "page_size", "expected a power of two in 4096..65536, got %lld", v);
    c->page_size = (uint32_t)v;

    v = 1048576;
    if (get_int(x, root, "", "max_frame", 0, 4096, 67108864, &v, NULL) < 0)
        return VMCA_ERR_CONFIG;
    c->max_frame = (uint32_t)v;

    v = 1;
    if (get_int(x, root, "", "replicas", 0, 1, 2, &v, NULL) < 0)
        return VMCA_ERR_CONFIG;
    c->replicas = (unsigned)v;

    const config_setting_t *certs_s = NULL;
    str = "certs";
    if (get_string(x, root, "", "certs_dir", 0, &str, &certs_s) < 0 ||
        resolve_path(x, certs_s ? certs_s : root, "certs_dir", x->dir, str, c->certs_dir,
                     sizeof(c->certs_dir)) != 0)
        return VMCA_ERR_CONFIG;

    const config_setting_t *ca_s = NULL;
    int r = get_string(x, root, "", "ca", 0, &str, &ca_s);
    if (r < 0)
        return VMCA_ERR_CONFIG;
    if (r == 1) {
        if (resolve_path(x, ca_s, "ca", x->dir, str, c->ca, sizeof(c->ca)) != 0)
            return VMCA_ERR_CONFIG;
    } else if (resolve_path(x, certs_s ? certs_s : root, "ca", c->certs_dir, "ca.crt", c->ca,
                            sizeof(c->ca)) != 0) {
        return VMCA_ERR_CONFIG;
    }

    const config_setting_t *mnode_s = NULL, *mport_s = NULL, *mmetrics_s = NULL;
    if (parse_master(x, root, c, &mnode_s, &mport_s, &mmetrics_s) != 0)
        return VMCA_ERR_CONFIG;

    struct node_aux *aux = NULL;
    int rc = parse_nodes(x, root, c, &aux);
    if (rc == 0)
        rc = parse_policy(x, root, &c->policy);
    if (rc == 0)
        rc = parse_timing(x, root, &c->timing);

    /* the master's node and port */
    const struct vmca_node_cfg *mn = NULL;
    if (rc == 0) {
        mn = vmca_config_node_by_name(c, c->master.node);
        if (!mn)
            rc = fail(x, mnode_s, "master.node",
                      "expected the name of a node in 'nodes', got \"%s\"", c->master.node);
        else
            c->master.node_id = mn->id;
    }
    for (size_t i = 0; rc == 0 && i < c->n_nodes; i++) {
        const struct vmca_node_cfg *n = &c->nodes[i];
        if (n->port == c->master.port && strcasecmp(n->address, mn->address) == 0)
            rc = fail(x, mport_s, "master.port",
                      "expected a port not used by a node on %s, got %u (port of node \"%s\" "
                      "at line %u)",
                      mn->address, (unsigned)c->master.port, n->name, vmca_cfg_line(aux[i].port));
    }
    if (rc == 0)
        rc = check_metrics_ports(x, c, mn, aux, mport_s, mmetrics_s);

    if (rc == 0 && check_files) {
        rc = check_readable(x, ca_s ? ca_s : certs_s ? certs_s : root, "ca", c->ca);
        for (size_t i = 0; rc == 0 && i < c->n_nodes; i++) {
            char sp[SPATH_MAX];
            snprintf(sp, sizeof(sp), "nodes.[%zu].cert", i);
            rc = check_readable(x, aux[i].cert ? aux[i].cert : aux[i].group, sp,
                                c->nodes[i].cert);
            if (rc == 0) {
                snprintf(sp, sizeof(sp), "nodes.[%zu].key", i);
                rc = check_readable(x, aux[i].key ? aux[i].key : aux[i].group, sp,
                                    c->nodes[i].key);
            }
        }
    }
    free(aux);
    return rc;
}

/* ------------------------------------------------------------- the file */

/* Reads the whole file (NUL-terminated) into *out. */
static int read_all(struct ctx *x, char **out, size_t *lenp)
{
    int err_no = 0;
    switch (vmca_cfg_read_text(x->file, FILE_SIZE_MAX, out, lenp, &err_no)) {
    case VMCA_CFG_READ_OK:
        return 0;
    case VMCA_CFG_READ_BIG:
        raw_error(x, "%s: cannot read: file larger than %u bytes", x->file, FILE_SIZE_MAX);
        return VMCA_ERR_CONFIG;
    case VMCA_CFG_READ_NOMEM:
        raw_error(x, "%s: out of memory", x->file);
        return VMCA_ERR_NOMEM;
    default:
        raw_error(x, "%s: cannot read: %s", x->file, strerror(err_no));
        return VMCA_ERR_CONFIG;
    }
}

/* The nodes and what each owns. */
static void free_nodes(struct vmca_node_cfg *nodes, size_t n)
{
    for (size_t i = 0; nodes && i < n; i++) {
        free(nodes[i].vms);
        free(nodes[i].vm_replicas);
    }
    free(nodes);
}

int vmca_config_load(const char *path, int check_files, struct vmca_config *cfg,
                     char *err, size_t errlen)
{
    struct ctx x = { .file = path ? path : "(null)", .err = err, .errlen = errlen };
    if (err && errlen)
        err[0] = '\0';
    if (!cfg || !path || !path[0]) {
        if (cfg)
            memset(cfg, 0, sizeof(*cfg));
        raw_error(&x, "%s: cannot read: no configuration file given", x.file);
        return VMCA_ERR_INVAL;
    }
    memset(cfg, 0, sizeof(*cfg));

    /* absolute path: realpath of the directory, then the file name */
    struct vmca_config *c = calloc(1, sizeof(*c));
    char *dcopy = strdup(path);
    char *rdir = NULL, *buf = NULL;
    config_t lc;
    int lc_used = 0;
    int rc = VMCA_ERR_CONFIG;
    if (!c || !dcopy) {
        raw_error(&x, "%s: out of memory", path);
        rc = VMCA_ERR_NOMEM;
        goto out;
    }
    char *slash = strrchr(dcopy, '/');
    const char *base = path;
    const char *dir = ".";
    if (slash) {
        base = path + (slash - dcopy) + 1;
        *slash = '\0';
        dir = slash == dcopy ? "/" : dcopy;
    }
    rdir = realpath(dir, NULL);
    if (!rdir) {
        raw_error(&x, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    size_t need;
    if (path_join(c->path, sizeof(c->path), rdir, base, &need) != 0) {
        raw_error(&x, "%s: cannot read: path longer than %d bytes", path, VMCA_PATH_MAX - 1);
        goto out;
    }
    x.file = c->path;
    x.dir = rdir;

    size_t len = 0;
    rc = read_all(&x, &buf, &len);
    if (rc != 0)
        goto out;
    rc = VMCA_ERR_CONFIG;
    unsigned nul_line = vmca_cfg_nul_line(buf, len);
    if (nul_line) {
        raw_error(&x, "%s:%u: syntax error: NUL byte in the file", x.file, nul_line);
        goto out;
    }

    unsigned include_line = 0;
    if (vmca_cfg_bigs_scan(&x.bigs, buf, len, &include_line) != 0) {
        raw_error(&x, "%s: out of memory", x.file);
        rc = VMCA_ERR_NOMEM;
        goto out;
    }
    if (include_line) {
        raw_error(&x, "%s:%u: @include: expected settings, got an @include directive (not "
                  "supported: one file holds the whole configuration)", x.file, include_line);
        goto out;
    }

    config_init(&lc);
    lc_used = 1;
    if (!config_read_string(&lc, buf)) {
        const char *et = config_error_text(&lc);
        if (!et)
            et = "unknown error";
        if (strcmp(et, "syntax error") == 0)
            raw_error(&x, "%s:%d: syntax error", x.file, config_error_line(&lc));
        else
            raw_error(&x, "%s:%d: syntax error: %s%s", x.file, config_error_line(&lc), et,
                      vmca_cfg_syntax_hint(et));
        goto out;
    }
    int r = parse_root(&x, config_root_setting(&lc), check_files, c);
    if (r == 0) {
        *cfg = *c;
        c->nodes = NULL;
        rc = VMCA_OK;
    } else {
        rc = r == VMCA_ERR_NOMEM ? VMCA_ERR_NOMEM : VMCA_ERR_CONFIG;
    }

out:
    if (lc_used)
        config_destroy(&lc);
    if (c)
        free_nodes(c->nodes, c->n_nodes);
    free(c);
    free(buf);
    free(rdir);
    free(dcopy);
    vmca_cfg_bigs_free(&x.bigs);
    return rc;
}

void vmca_config_free(struct vmca_config *cfg)
{
    if (!cfg)
        return;
    free_nodes(cfg->nodes, cfg->n_nodes);
    memset(cfg, 0, sizeof(*cfg));
}

const struct vmca_node_cfg *vmca_config_node_by_name(const struct vmca_config *cfg,
                                                     const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->n_nodes; i++)
        if (strcmp(cfg->nodes[i].name, name) == 0)
            return &cfg->nodes[i];
    return NULL;
}

uint64_t vmca_config_total_pages(const struct vmca_config *cfg)
{
    uint64_t pages = 0;
    for (size_t i = 0; cfg && i < cfg->n_nodes; i++)
        pages += cfg->nodes[i].tmem_pages;
    return pages;
}

const struct vmca_node_cfg *vmca_config_node_by_id(const struct vmca_config *cfg, uint32_t id)
{
    if (!cfg)
        return NULL;
    for (size_t i = 0; i < cfg->n_nodes; i++)
        if (cfg->nodes[i].id == id)
            return &cfg->nodes[i];
    return NULL;
}

int vmca_config_node_file(const struct vmca_config *cfg, const char *node, const char *name,
                          char *out, size_t outlen)
{
    const char *slash = strrchr(cfg->path, '/');
    int dirlen = slash ? (int)(slash - cfg->path) : 1;
    const char *dir = slash ? cfg->path : ".";
    int n = snprintf(out, outlen, "%.*s/%s-%s-%s", dirlen, dir, cfg->cluster, node, name);
    return n < 0 || (size_t)n >= outlen ? VMCA_ERR_INVAL : VMCA_OK;
}

int vmca_config_socket_path(const struct vmca_config *cfg, const char *node,
                            const char *kind, char *out, size_t outlen)
{
    char name[64];
    int n = snprintf(name, sizeof name, "%s.sock", kind);
    if (n < 0 || (size_t)n >= sizeof name ||
        vmca_config_node_file(cfg, node, name, out, outlen) != VMCA_OK || strlen(out) >= 108)
        return VMCA_ERR_INVAL;
    return VMCA_OK;
}

unsigned vmca_config_replicas(const struct vmca_config *cfg, const struct vmca_node_cfg *node,
                              uint32_t vm)
{
    for (size_t i = 0; node && i < node->n_vms; i++)
        if (node->vms[i].vm == vm && node->vm_replicas && node->vm_replicas[i])
            return node->vm_replicas[i];
    return cfg->replicas ? cfg->replicas : 1;
}
