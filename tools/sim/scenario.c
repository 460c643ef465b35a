/* Scenario file loader (scenario.h): libconfig parsing with every value
 * checked at the boundary, each error "FILE:LINE: setting: expected ...,
 * got ..." at the setting's line, unknown settings refused. */
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_text.h"
#include "hvx.h"
#include "scenario.h"
#include "workload.h"

struct sctx {
    const char *file;
    char *err;
    size_t errlen;
    struct vmca_cfg_bigs bigs; /* literals libconfig truncates to 32 bits */
};

/* "FILE:LINE: SPATH: message"; returns -1. */
static int __attribute__((format(printf, 4, 5)))
fail(struct sctx *x, const config_setting_t *s, const char *spath, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmca_cfg_verror(x->err, x->errlen, x->file, s, spath, fmt, ap);
    va_end(ap);
    return -1;
}

/* Refuses any member of g not in known (NULL-terminated). */
static int check_known(struct sctx *x, const config_setting_t *g, const char *gpath,
                       const char *const *known)
{
    char list[512], sp[160];
    const config_setting_t *s = vmca_cfg_unknown(g, known, list, sizeof list);
    if (!s)
        return 0;
    const char *name = config_setting_name(s);
    vmca_cfg_path_join(sp, sizeof sp, gpath, name ? name : "?");
    return fail(x, s, sp, "expected one of %s, got unknown setting '%s'", list, name ? name : "?");
}

/* Member `name` of g into *s, its path into sp: 1 there, 0 absent and not
 * required, -1 absent and required (the error says "expected <want>"). */
static int member(struct sctx *x, const config_setting_t *g, const char *gpath,
                  const char *name, bool required, const char *want, char *sp, size_t spsz,
                  const config_setting_t **s)
{
    vmca_cfg_path_join(sp, spsz, gpath, name);
    *s = config_setting_get_member(g, name);
    if (*s)
        return 1;
    return required ? fail(x, g, sp, "expected %s, got nothing (missing required setting)",
                           want) : 0;
}

/* A plain literal libconfig cut to its low 32 bits is refused, as the
 * cluster configuration does (docs/configuration.md). */
static int too_big(struct sctx *x, const config_setting_t *s, const char *sp, const char *want)
{
    const struct vmca_cfg_big *b =
        config_setting_type(s) == CONFIG_TYPE_INT ? vmca_cfg_bigs_find(&x->bigs, s) : NULL;
    if (!b)
        return 0;
    return fail(x, s, sp, "expected %s, got %s (" VMCA_CFG_BIG_HINT ")", want, b->text,
                b->text);
}

static bool is_int(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* Integer member `name` of g in lo..hi: 1 read, 0 absent (required: error). */
static int get_int(struct sctx *x, const config_setting_t *g, const char *gpath,
                   const char *name, bool required, long long lo, long long hi, long long *v)
{
    char sp[160], want[96];
    const config_setting_t *s;
    snprintf(want, sizeof want, "an integer in %lld..%lld", lo, hi);
    int r = member(x, g, gpath, name, required, want, sp, sizeof sp, &s);
    if (r <= 0)
        return r;
    if (!is_int(s))
        return fail(x, s, sp, "expected %s, got %s", want, vmca_cfg_type_name(s));
    if (too_big(x, s, sp, want))
        return -1;
    long long val = config_setting_get_int64(s);
    if (val < lo || val > hi)
        return fail(x, s, sp, "expected %s, got %lld", want, val);
    *v = val;
    return 1;
}

/* A number (integer or float) in lo..hi. */
static int get_num(struct sctx *x, const config_setting_t *g, const char *gpath,
                   const char *name, bool required, double lo, double hi, double *v)
{
    char sp[160], want[96];
    const config_setting_t *s;
    snprintf(want, sizeof want, "a number in %g..%g", lo, hi);
    int r = member(x, g, gpath, name, required, want, sp, sizeof sp, &s);
    if (r <= 0)
        return r;
    double val;
    if (is_int(s) && too_big(x, s, sp, want))
        return -1;
    if (is_int(s))
        val = (double)config_setting_get_int64(s);
    else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
        val = config_setting_get_float(s);
    else
        return fail(x, s, sp, "expected %s, got %s", want, vmca_cfg_type_name(s));
    if (!(val >= lo && val <= hi))
        return fail(x, s, sp, "expected %s, got %g", want, val);
    *v = val;
    return 1;
}

static int get_str(struct sctx *x, const config_setting_t *g, const char *gpath,
                   const char *name, bool required, char *out, size_t outsz)
{
    char sp[160];
    const config_setting_t *s;
    int r = member(x, g, gpath, name, required, "a string", sp, sizeof sp, &s);
    if (r <= 0)
        return r;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(x, s, sp, "expected a string, got %s", vmca_cfg_type_name(s));
    const char *v = config_setting_get_string(s);
    if (strlen(v) >= outsz)
        return fail(x, s, sp, "expected a string of at most %zu bytes, got %zu bytes",
                    outsz - 1, strlen(v));
    snprintf(out, outsz, "%s", v);
    return 1;
}

static bool profile_built(const char *name)
{
    const char *p = wl_profile_names();
    size_t len = strlen(name);
    while (*p) {
        size_t k = strcspn(p, ",");
        if (k == len && strncmp(p, name, len) == 0)
            return true;
        p += k;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return false;
}

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static const char *const top_known[] = {"name", "title", "source", "scale", "period_ms",
                                        "duration_s", "reserve_mb", "latency", "nodes",
                                        "reference", NULL};
static const char *const latency_known[] = {"cpu_us", "local_us", "remote_us", "disk_us", NULL};
static const char *const node_known[] = {"name", "tmem_mb", "location", "master", "vms", NULL};
static const char *const vm_known[] = {"id", "ram_mb", "profile", "footprint_mb", "start_s",
                                       "repeats", "min_mb", "max_mb", "weight", NULL};

static int parse_vm(struct sctx *x, const config_setting_t *g, const char *vpath,
                    const struct scenario *sc, struct scen_vm *vm)
{
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail(x, g, vpath, "expected a group, got %s", vmca_cfg_type_name(g));
    if (check_known(x, g, vpath, vm_known) != 0)
        return -1;
    long long v = 0;
    char sp[160];
    vm->line = vmca_cfg_line(g);
    if (get_int(x, g, vpath, "id", true, 1, SCEN_VM_ID_MAX, &v) < 0)
        return -1;
    vm->id = (uint32_t)v;
    if (get_str(x, g, vpath, "profile", true, vm->profile, sizeof vm->profile) < 0)
        return -1;
    if (!profile_built(vm->profile)) {
        vmca_cfg_path_join(sp, sizeof sp, vpath, "profile");
        return fail(x, config_setting_get_member(g, "profile"), sp,
                    "expected one of %s, got \"%s\"", wl_profile_names(), vm->profile);
    }
    if (get_int(x, g, vpath, "ram_mb", true, 1, (long long)SCEN_MB_MAX, &v) < 0)
        return -1;
    vm->ram_mb = (uint64_t)v;
    if (scen_pages(vm->ram_mb, sc->scale) == 0) {
        vmca_cfg_path_join(sp, sizeof sp, vpath, "ram_mb");
        return fail(x, config_setting_get_member(g, "ram_mb"), sp,
                    "expected at least one simulated page (%u MB at scale %u), got %llu",
                    (sc->scale + 255) / 256, sc->scale, (unsigned long long)vm->ram_mb);
    }
    v = 0;
    if (get_int(x, g, vpath, "footprint_mb", false, 0, (long long)SCEN_MB_MAX, &v) < 0)
        return -1;
    vm->footprint_mb = (uint64_t)v;
    vm->start_s = 0;
    if (get_num(x, g, vpath, "start_s", false, 0, sc->duration_s, &vm->start_s) < 0)
        return -1;
    v = 1;
    if (get_int(x, g, vpath, "repeats", false, 1, 1000000, &v) < 0)
        return -1;
    vm->repeats = (unsigned)v;
    v = 0;
    if (get_int(x, g, vpath, "min_mb", false, 0, (long long)SCEN_MB_MAX, &v) < 0)
        return -1;
    vm->min_mb = (uint64_t)v;
    v = 0;
    if (get_int(x, g, vpath, "max_mb", false, 0, (long long)SCEN_MB_MAX, &v) < 0)
        return -1;
    vm->max_mb = (uint64_t)v;
    if (vm->max_mb && vm->max_mb < vm->min_mb) {
        vmca_cfg_path_join(sp, sizeof sp, vpath, "max_mb");
        return fail(x, config_setting_get_member(g, "max_mb"), sp,
                    "expected 0 (no cap) or at least min_mb (%llu), got %llu",
                    (unsigned long long)vm->min_mb, (unsigned long long)vm->max_mb);
    }
    v = 1;
    if (get_int(x, g, vpath, "weight", false, 1, 1000, &v) < 0)
        return -1;
    vm->weight = (uint32_t)v;
    return 0;
}

static int parse_node(struct sctx *x, const config_setting_t *g, const char *npath,
                      const struct scenario *sc, struct scen_node *n)
{
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail(x, g, npath, "expected a group, got %s", vmca_cfg_type_name(g));
    if (check_known(x, g, npath, node_known) != 0)
        return -1;
    char sp[160];
    if (get_str(x, g, npath, "name", true, n->name, sizeof n->name) < 0)
        return -1;
    if (!name_ok(n->name)) {
        vmca_cfg_path_join(sp, sizeof sp, npath, "name");
        return fail(x, config_setting_get_member(g, "name"), sp,
                    "expected a name from [A-Za-z0-9._-], got \"%s\"", n->name);
    }
    long long v = 0;
    if (get_int(x, g, npath, "tmem_mb", true, 1, (long long)SCEN_MB_MAX, &v) < 0)
        return -1;
    n->tmem_mb = (uint64_t)v;
    uint64_t pages = scen_pages(n->tmem_mb, sc->scale);
    if (pages == 0 || pages > HVX_HOME_PAGES_MAX) {
        vmca_cfg_path_join(sp, sizeof sp, npath, "tmem_mb");
        return fail(x, config_setting_get_member(g, "tmem_mb"), sp,
                    "expected 1..%llu simulated pages at scale %u, got %llu MB (%llu pages)",
                    (unsigned long long)HVX_HOME_PAGES_MAX, sc->scale,
                    (unsigned long long)n->tmem_mb, (unsigned long long)pages);
    }
    const config_setting_t *loc = config_setting_get_member(g, "location");
    vmca_cfg_path_join(sp, sizeof sp, npath, "location");
    if (!loc)
        return fail(x, g, sp, "expected an array of integers, got nothing (missing required "
                    "setting)");
    if (config_setting_type(loc) != CONFIG_TYPE_ARRAY && config_setting_type(loc) != CONFIG_TYPE_LIST)
        return fail(x, loc, sp, "expected an array of integers, got %s", vmca_cfg_type_name(loc));
    int len = config_setting_length(loc);
    if (len > (int)VMCA_LOCATION_MAX)
        return fail(x, loc, sp, "expected at most %u levels, got %d", VMCA_LOCATION_MAX, len);
    for (int i = 0; i < len; i++) {
        const config_setting_t *e = config_setting_get_elem(loc, (unsigned)i);
        char ep[176];
        snprintf(ep, sizeof ep, "%s.[%d]", sp, i);
        if (!is_int(e))
            return fail(x, e, ep, "expected an integer in 0..%u, got %s", UINT32_MAX,
                        vmca_cfg_type_name(e));
        char want[48];
        snprintf(want, sizeof want, "an integer in 0..%u", UINT32_MAX);
        if (too_big(x, e, ep, want))
            return -1;
        long long lv = config_setting_get_int64(e);
        if (lv < 0 || lv > UINT32_MAX)
            return fail(x, e, ep, "expected an integer in 0..%u, got %lld", UINT32_MAX, lv);
        n->location[i] = (uint32_t)lv;
    }
    n->location_len = (unsigned)len;
    const config_setting_t *m = config_setting_get_member(g, "master");
    if (m) {
        if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
            vmca_cfg_path_join(sp, sizeof sp, npath, "master");
            return fail(x, m, sp, "expected true or false, got %s", vmca_cfg_type_name(m));
        }
        n->master = config_setting_get_bool(m);
    }
    const config_setting_t *vms = config_setting_get_member(g, "vms");
    vmca_cfg_path_join(sp, sizeof sp, npath, "vms");
    if (!vms)
        return 0;
    if (config_setting_type(vms) != CONFIG_TYPE_LIST)
        return fail(x, vms, sp, "expected a list of VM groups, got %s", vmca_cfg_type_name(vms));
    int nv = config_setting_length(vms);
    if (nv > (int)HVX_MAX_CLIENTS)
        return fail(x, vms, sp, "expected at most %u VMs (the hypervisor's clients at once), got %d",
                    HVX_MAX_CLIENTS, nv);
    n->vms = calloc((size_t)nv + 1, sizeof *n->vms);
    if (!n->vms)
        return fail(x, vms, sp, "out of memory");
    for (int i = 0; i < nv; i++) {
        char vp[176];
        snprintf(vp, sizeof vp, "%s.[%d]", sp, i);
        const config_setting_t *vg = config_setting_get_elem(vms, (unsigned)i);
        if (parse_vm(x, vg, vp, sc, &n->vms[i]) != 0)
            return -1;
        n->n_vms = (size_t)i + 1;
        for (int j = 0; j < i; j++)
            if (n->vms[j].id == n->vms[i].id) {
                char ip[192];
                snprintf(ip, sizeof ip, "%s.id", vp);
                return fail(x, config_setting_get_member(vg, "id"), ip,
                            "expected an id not used on this node, got %u (first at line %u)",
                            n->vms[i].id, n->vms[j].line);
            }
    }
    return 0;
}

/* The file name without directory and .conf; false when it does not fit
 * out (a longer name could not equal the scenario's name). */
static bool base_name(const char *path, char *out, size_t outsz)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strlen(b);
    if (len > 5 && strcmp(b + len - 5, ".conf") == 0)
        len -= 5;
    return snprintf(out, outsz, "%.*s", (int)len, b) < (int)outsz;
}

static int parse_root(struct sctx *x, const config_setting_t *root, size_t max_nodes,
                      struct scenario *sc)
{
    if (check_known(x, root, "", top_known) != 0)
        return -1;
    if (get_str(x, root, "", "name", true, sc->name, sizeof sc->name) < 0)
        return -1;
    char want[VMCA_NAME_MAX];
    if (!base_name(x->file, want, sizeof want))
        return fail(x, config_setting_get_member(root, "name"), "name",
                    "expected the file name without .conf, which is longer than a name may "
                    "be (%d characters): rename the file", VMCA_NAME_MAX - 1);
    if (strcmp(want, sc->name) != 0)
        return fail(x, config_setting_get_member(root, "name"), "name",
                    "expected \"%s\" (the file name without .conf), got \"%s\"", want, sc->name);
    if (get_str(x, root, "", "title", true, sc->title, sizeof sc->title) < 0 ||
        get_str(x, root, "", "source", true, sc->source, sizeof sc->source) < 0 ||
        get_str(x, root, "", "reference", false, sc->reference, sizeof sc->reference) < 0)
        return -1;
    long long v = 0;
    if (get_int(x, root, "", "scale", true, 1, SCEN_SCALE_MAX, &v) < 0)
        return -1;
    if (v & (v - 1))
        return fail(x, config_setting_get_member(root, "scale"), "scale",
                    "expected a power of two in 1..%u, got %lld", SCEN_SCALE_MAX, v);
    if (!sc->scale) /* else --scale gave it */
        sc->scale = (uint32_t)v;
    if (get_int(x, root, "", "period_ms", true, 10, 3600000, &v) < 0)
        return -1;
    sc->period_ms = (uint32_t)v;
    if (get_num(x, root, "", "duration_s", true, 0.001, 1e7, &sc->duration_s) < 0)
        return -1;
    sc->reserve_mb = -1;
    if (get_int(x, root, "", "reserve_mb", false, 0, (long long)SCEN_MB_MAX, &v) < 0)
        return -1;
    if (config_setting_get_member(root, "reserve_mb"))
        sc->reserve_mb = v;
    const config_setting_t *lat = config_setting_get_member(root, "latency");
    if (!lat)
        return fail(x, root, "latency", "expected a group, got nothing (missing required "
                    "setting)");
    if (config_setting_type(lat) != CONFIG_TYPE_GROUP)
        return fail(x, lat, "latency", "expected a group, got %s", vmca_cfg_type_name(lat));
    if (check_known(x, lat, "latency", latency_known) != 0 ||
        get_num(x, lat, "latency", "cpu_us", true, 0, 1e9, &sc->cpu_us) < 0 ||
        get_num(x, lat, "latency", "local_us", true, 0, 1e9, &sc->local_us) < 0 ||
        get_num(x, lat, "latency", "remote_us", true, 0, 1e9, &sc->remote_us) < 0 ||
        get_num(x, lat, "latency", "disk_us", true, 0, 1e9, &sc->disk_us) < 0)
        return -1;
    const config_setting_t *list = config_setting_get_member(root, "nodes");
    if (!list)
        return fail(x, root, "nodes", "expected a list of node groups, got nothing (missing "
                    "required setting)");
    if (config_setting_type(list) != CONFIG_TYPE_LIST)
        return fail(x, list, "nodes", "expected a list of node groups, got %s", vmca_cfg_type_name(list));
    int n = config_setting_length(list);
    if (n < 1 || (size_t)n > max_nodes)
        return fail(x, list, "nodes", "expected 1..%zu nodes, got %d", max_nodes, n);
    sc->nodes = calloc((size_t)n, sizeof *sc->nodes);
    if (!sc->nodes)
        return fail(x, list, "nodes", "out of memory");
    int masters = 0;
    for (int i = 0; i < n; i++) {
        char np[32];
        snprintf(np, sizeof np, "nodes.[%d]", i);
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        if (parse_node(x, g, np, sc, &sc->nodes[i]) != 0) {
            sc->n_nodes = (size_t)i + 1; /* its VMs are freed too */
            return -1;
        }
        sc->n_nodes = (size_t)i + 1;
        for (int j = 0; j < i; j++)
            if (strcmp(sc->nodes[j].name, sc->nodes[i].name) == 0) {
                char sp[48];
                snprintf(sp, sizeof sp, "%s.name", np);
                return fail(x, config_setting_get_member(g, "name"), sp,
                            "expected a name not used by another node, got \"%s\"",
                            sc->nodes[i].name);
            }
        if (sc->nodes[i].master) {
            if (masters++) {
                char sp[48];
                snprintf(sp, sizeof sp, "%s.master", np);
                return fail(x, config_setting_get_member(g, "master"), sp,
                            "expected exactly one node with master = true, got a second one "
                            "(first: node \"%s\")", sc->nodes[sc->master].name);
            }
            sc->master = (size_t)i;
        }
    }
    if (!masters)
        return fail(x, list, "nodes.[].master",
                    "expected exactly one node with master = true, got none");
    return 0;
}

int scenario_load(const char *path, size_t max_nodes, struct scenario *sc, char *err,
                  size_t errlen)
{
    uint32_t scale = sc->scale; /* --scale, or 0 */
    memset(sc, 0, sizeof *sc);
    sc->scale = scale;
    snprintf(sc->path, sizeof sc->path, "%s", path);
    struct sctx x = {path, err, errlen, {NULL, 0}};
    config_t lc;
    config_init(&lc);
    int rc;
    unsigned include_line = 0;
    char *text = NULL;
    size_t len = 0;
    int err_no = 0;
    enum vmca_cfg_read tr = vmca_cfg_read_text(path, 64u << 20, &text, &len, &err_no);
    if (tr != VMCA_CFG_READ_OK) {
        snprintf(err, errlen, "%s: %s%s", path,
                 tr == VMCA_CFG_READ_BIG ? "expected a scenario file of at most 64 MiB, got a "
                                           "larger one"
                 : tr == VMCA_CFG_READ_NOMEM ? "out of memory"
                                             : "cannot read the scenario file: ",
                 tr == VMCA_CFG_READ_IO ? strerror(err_no) : "");
        rc = -1;
    } else if (vmca_cfg_nul_line(text, len)) {
        snprintf(err, errlen, "%s: expected text, got a NUL byte in the file", path);
        rc = -1;
    } else if (vmca_cfg_bigs_scan(&x.bigs, text, len, &include_line) != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -1;
    } else if (include_line) {
        snprintf(err, errlen, "%s:%u: @include: expected settings, got an @include directive "
                 "(not supported: one file holds the whole scenario)", path, include_line);
        rc = -1;
    } else if (!config_read_string(&lc, text)) { /* the text is read: a syntax error */
        snprintf(err, errlen, "%s:%d: expected libconfig syntax, got an error: %s%s", path,
                 config_error_line(&lc), config_error_text(&lc),
                 vmca_cfg_syntax_hint(config_error_text(&lc)));
        rc = -1;
    } else {
        rc = parse_root(&x, config_root_setting(&lc), max_nodes, sc);
    }
    config_destroy(&lc);
    vmca_cfg_bigs_free(&x.bigs);
    free(text);
    if (rc != 0)
        scenario_free(sc);
    return rc;
}

void scenario_free(struct scenario *sc)
{
    for (size_t i = 0; i < sc->n_nodes; i++)
        free(sc->nodes[i].vms);
    free(sc->nodes);
    sc->nodes = NULL;
    sc->n_nodes = 0;
}
