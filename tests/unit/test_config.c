/* Unit tests for common/config.c: the demo configuration loads with the
 * expected values, and every class of bad file is refused with one line
 * naming file, line, setting and what was expected. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"
#include "first_tier_policy.h"

#ifndef VMCA_SOURCE_DIR
#error "compile with -DVMCA_SOURCE_DIR=\"<absolute source dir>\""
#endif

#define MARK "#!" /* marks the line an error must point at */

struct tmp {
    char dir[PATH_MAX];  /* resolved mkdtemp directory */
    char file[PATH_MAX + 16]; /* <dir>/bad.conf */
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    char templ[] = "/tmp/vmca-test-config-XXXXXX";
    if (!mkdtemp(templ) || !realpath(templ, t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->file, sizeof(t->file), "%s/bad.conf", t->dir);
    *state = t;
    return 0;
}

/* Removes what any test may have left behind (a failed assertion skips the
 * test's own clean-up). */
static int teardown(void **state)
{
    struct tmp *t = *state;
    static const char *const left[] = { "certs/ca.crt", "certs/a.crt", "certs/a.key",
                                        "certs/b.crt", "certs/b.key", "certs" };
    char p[PATH_MAX + 32];
    unlink(t->file);
    for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", t->dir, left[i]);
        if (strcmp(left[i], "certs") == 0)
            rmdir(p);
        else
            unlink(p);
    }
    int rc = rmdir(t->dir);
    free(t);
    return rc;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int is_zero(const struct vmca_config *c)
{
    static const struct vmca_config zero;
    return memcmp(c, &zero, sizeof(zero)) == 0;
}

/* Line (1-based) of the first line of text holding MARK. */
static unsigned marked_line(const char *text)
{
    const char *m = strstr(text, MARK);
    assert_non_null(m);
    unsigned line = 1;
    for (const char *p = text; p < m; p++)
        line += *p == '\n';
    return line;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in error \"%s\"", needle, hay);
}

/* Loads `file`, which must fail; the error must be one line starting with
 * "<file>:<line>: " (line 0: "<file>: ") and contain "<spath>: " (if given)
 * and `expected`. *cfg must come back zeroed. */
static void expect_fail_file(const char *file, int check_files, unsigned line,
                             const char *spath, const char *expected)
{
    struct vmca_config cfg;
    char err[1024];
    memset(&cfg, 0xa5, sizeof(cfg));
    int rc = vmca_config_load(file, check_files, &cfg, err, sizeof(err));
    if (rc == VMCA_OK)
        vmca_config_free(&cfg);
    assert_int_equal(rc, VMCA_ERR_CONFIG);
    assert_true(is_zero(&cfg));
    assert_null(strchr(err, '\n'));
    char prefix[PATH_MAX + 32];
    if (line)
        snprintf(prefix, sizeof(prefix), "%s:%u: ", file, line);
    else
        snprintf(prefix, sizeof(prefix), "%s: ", file);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("expected error to start with \"%s\", got \"%s\"", prefix, err);
    if (spath) {
        char sp[128];
        snprintf(sp, sizeof(sp), ": %s: ", spath);
        assert_contains(err, sp);
    }
    assert_contains(err, expected);
}

/* Writes text to <tmp>/bad.conf and expects it to fail at the MARK line. */
static void expect_bad(void **state, const char *text, const char *spath,
                       const char *expected)
{
    struct tmp *t = *state;
    write_file(t->file, text);
    expect_fail_file(t->file, 0, marked_line(text), spath, expected);
    unlink(t->file);
}

/* A valid configuration is built from these (node a is on line 4). */
#define HEAD "cluster = \"t\";\n"                                    /* line 1 */
#define MASTER "master = { node = \"a\"; port = 7400; };\n"          /* line 2 */
#define NODES_OPEN "nodes = (\n"                                     /* line 3 */
#define NODE_A "  { id = 1; name = \"a\"; address = \"127.0.0.1\"; port = 7401; tmem_pages = 1024; }"
#define NODE_B "  { id = 2; name = \"b\"; address = \"127.0.0.1\"; port = 7402; tmem_pages = 1024; }"
#define NODES NODES_OPEN NODE_A ",\n" NODE_B "\n);\n"
#define VALID HEAD MASTER NODES

/* ------------------------------------------------------------ good files */

/* Loads config/NAME of the source tree into cfg, or fails the test with
 * the loader's error. */
static void load_shipped(const char *name, struct vmca_config *cfg)
{
    char path[PATH_MAX], err[1024] = "";
    snprintf(path, sizeof path, "%s/config/%s", VMCA_SOURCE_DIR, name);
    if (vmca_config_load(path, 0, cfg, err, sizeof(err)) != VMCA_OK)
        fail_msg("%s: %s", name, err);
}

static void test_demo_loads(void **state)
{
    (void)state;
    struct vmca_config cfg;
    load_shipped("demo.conf", &cfg);

    char dir[PATH_MAX], want[PATH_MAX + 64];
    assert_non_null(realpath(VMCA_SOURCE_DIR "/config", dir));
    snprintf(want, sizeof(want), "%s/demo.conf", dir);
    assert_string_equal(cfg.path, want);
    assert_string_equal(cfg.cluster, "demo");
    assert_int_equal(cfg.page_size, 4096);
    assert_int_equal(cfg.max_frame, 1048576);
    snprintf(want, sizeof(want), "%s/certs", dir);
    assert_string_equal(cfg.certs_dir, want);
    snprintf(want, sizeof(want), "%s/certs/ca.crt", dir);
    assert_string_equal(cfg.ca, want);

    assert_string_equal(cfg.master.node, "node1");
    assert_int_equal(cfg.master.node_id, 1);
    assert_int_equal(cfg.master.port, 7400);
    snprintf(want, sizeof(want), "%s/demo-master.sock", dir);
    assert_string_equal(cfg.master.admin_socket, want);

    assert_int_equal(cfg.n_nodes, 3);
    static const uint32_t loc[3][3] = { { 0, 0, 1 }, { 0, 0, 2 }, { 0, 1, 3 } };
    for (size_t i = 0; i < 3; i++) {
        const struct vmca_node_cfg *n = &cfg.nodes[i];
        char name[16];
        snprintf(name, sizeof(name), "node%zu", i + 1);
        assert_int_equal(n->id, i + 1);
        assert_string_equal(n->name, name);
        assert_string_equal(n->address, "127.0.0.1");
        assert_int_equal(n->port, 7401 + i);
        assert_int_equal(n->tmem_pages, 65536);
        assert_int_equal(n->location_len, 3);
        for (size_t k = 0; k < 3; k++)
            assert_int_equal(n->location[k], loc[i][k]);
        snprintf(want, sizeof(want), "%s/certs/%s.crt", dir, name);
        assert_string_equal(n->cert, want);
        snprintf(want, sizeof(want), "%s/certs/%s.key", dir, name);
        assert_string_equal(n->key, want);
    }

    assert_string_equal(cfg.policy.first_tier, "tlp");
    assert_string_equal(cfg.policy.second_tier, "sorted");
    assert_int_equal(cfg.policy.reserve_pages, 1024);
    assert_int_equal(cfg.policy.first_tier_params.tlp.percent, 2);
    assert_int_equal(cfg.policy.surplus_quiet_periods, 3);
    assert_int_equal(cfg.policy.first_tier_params.tlp.threshold, 256);
    assert_int_equal(cfg.policy.first_tier_params.greedy_remote.batch, 1000);
    assert_int_equal(cfg.timing.stats_interval_ms, 1000);
    assert_int_equal(cfg.timing.failure_timeout_ms, 5000);
    assert_int_equal(cfg.timing.reconnect_min_ms, 100);
    assert_int_equal(cfg.timing.reconnect_max_ms, 5000);
    assert_int_equal(cfg.timing.hello_timeout_ms, 5000);

    vmca_config_free(&cfg);
    assert_true(is_zero(&cfg));
    vmca_config_free(&cfg); /* twice is harmless */
    vmca_config_free(NULL);
}

/* The configuration of make demo (scripts/demo.sh): four nodes, the
 * master on node2, which has the pages to lend; the others are small. */
static void test_demo4_loads(void **state)
{
    (void)state;
    struct vmca_config cfg;
    load_shipped("demo4.conf", &cfg);
    assert_string_equal(cfg.cluster, "demo");
    assert_string_equal(cfg.master.node, "node2");
    assert_int_equal(cfg.master.node_id, 2);
    assert_int_equal(cfg.n_nodes, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cfg.nodes[i].id, i + 1);
        assert_int_equal(cfg.nodes[i].location_len, 3);
        assert_int_equal(cfg.nodes[i].tmem_pages, i == 1 ? 16384 : 3072);
    }
    assert_string_equal(cfg.policy.first_tier, "tlp");
    assert_string_equal(cfg.policy.second_tier, "sorted");
    assert_int_equal(cfg.policy.reserve_pages, 1024);
    assert_int_equal(cfg.policy.first_tier_params.tlp.percent, 5);
    vmca_config_free(&cfg);
}

static void test_lookups(void **state)
{
    (void)state;
    struct vmca_config cfg;
    char err[1024] = "";
    assert_int_equal(vmca_config_load(VMCA_SOURCE_DIR "/config/demo.conf", 0, &cfg, err,
                                      sizeof(err)),
                     VMCA_OK);
    const struct vmca_node_cfg *n = vmca_config_node_by_name(&cfg, "node2");
    assert_non_null(n);
    assert_int_equal(n->id, 2);
    assert_ptr_equal(vmca_config_node_by_id(&cfg, 2), n);
    assert_ptr_equal(vmca_config_node_by_id(&cfg, 3), &cfg.nodes[2]);
    assert_ptr_equal(vmca_config_node_by_id(&cfg, cfg.master.node_id),
                     vmca_config_node_by_name(&cfg, cfg.master.node));
    assert_null(vmca_config_node_by_name(&cfg, "node4"));
    assert_null(vmca_config_node_by_name(&cfg, "node"));
    assert_null(vmca_config_node_by_name(&cfg, NULL));
    assert_null(vmca_config_node_by_id(&cfg, 0));
    assert_null(vmca_config_node_by_id(&cfg, 4));
    assert_null(vmca_config_node_by_id(NULL, 1));
    vmca_config_free(&cfg);
    assert_null(vmca_config_node_by_id(&cfg, 1)); /* freed: empty */
}

/* Only the required settings: everything else takes its default. */
static void test_defaults(void **state)
{
    struct tmp *t = *state;
    write_file(t->file, VALID);
    struct vmca_config cfg;
    char err[1024] = "", want[PATH_MAX + 64];
    int rc = vmca_config_load(t->file, 0, &cfg, err, sizeof(err));
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    assert_string_equal(cfg.path, t->file);
    assert_int_equal(cfg.page_size, 4096);
    assert_int_equal(cfg.max_frame, 1048576);
    snprintf(want, sizeof(want), "%s/certs", t->dir);
    assert_string_equal(cfg.certs_dir, want);
    snprintf(want, sizeof(want), "%s/certs/ca.crt", t->dir);
    assert_string_equal(cfg.ca, want);
    snprintf(want, sizeof(want), "%s/t-master.sock", t->dir);
    assert_string_equal(cfg.master.admin_socket, want);
    assert_int_equal(cfg.master.node_id, 1);
    assert_int_equal(cfg.n_nodes, 2);
    assert_int_equal(cfg.nodes[1].location_len, 0);
    snprintf(want, sizeof(want), "%s/certs/b.crt", t->dir);
    assert_string_equal(cfg.nodes[1].cert, want);
    snprintf(want, sizeof(want), "%s/certs/b.key", t->dir);
    assert_string_equal(cfg.nodes[1].key, want);
    assert_string_equal(cfg.policy.first_tier, "tlp");
    assert_string_equal(cfg.policy.second_tier, "sorted");
    assert_int_equal(cfg.policy.reserve_pages, 1024);
    assert_int_equal(cfg.policy.first_tier_params.tlp.percent, 2);
    assert_int_equal(cfg.policy.first_tier_params.tlp.threshold, 256);
    assert_int_equal(cfg.policy.first_tier_params.greedy_remote.batch, 1000);
    assert_int_equal(cfg.timing.stats_interval_ms, 1000);
    assert_int_equal(cfg.timing.failure_timeout_ms, 5000);
    assert_int_equal(cfg.timing.reconnect_min_ms, 100);
    assert_int_equal(cfg.timing.reconnect_max_ms, 5000);
    assert_int_equal(cfg.timing.hello_timeout_ms, 5000);
    vmca_config_free(&cfg);
    unlink(t->file);
}

/* Every setting given; relative, "./" and absolute paths; 64-bit values. */
static void test_all_settings(void **state)
{
    struct tmp *t = *state;
    write_file(t->file,
               "cluster = \"c-1_x\";\n"
               "page_size = 65536;\n"
               "max_frame = 4096;\n"
               "certs_dir = \"./keys\";\n"
               "ca = \"/etc/vmca/ca.pem\";\n"
               "master = { node = \"b.2\"; port = 7400; admin_socket = \"run/m.sock\"; };\n"
               "nodes = (\n"
               "  { id = 65535; name = \"a\"; address = \"127.0.0.1\"; port = 7401;\n"
               "    tmem_pages = 68719476736L; location = (4294967295L, 0, 1, 2, 3, 4, 5, 6);\n"
               "    cert = \"a/a.pem\"; key = \"/k/a.key\"; },\n"
               "  { id = 2; name = \"b.2\"; address = \"::1\"; port = 7401; tmem_pages = 1;\n"
               "    location = (7); }\n"
               ");\n"
               "policy = { first_tier = \"greedy-remote\"; second_tier = \"sorted\";\n"
               "  reserve_pages = 0; tlp_percent = 100; tlp_threshold = 0x10; grant_batch = 1;\n"
               "  surplus_quiet_periods = 0; };\n"
               "timing = { stats_interval_ms = 10; failure_timeout_ms = 11; reconnect_min_ms = 7;\n"
               "  reconnect_max_ms = 7; hello_timeout_ms = 1; };\n");
    struct vmca_config cfg;
    char err[1024] = "", want[PATH_MAX + 64];
    int rc = vmca_config_load(t->file, 1 - 1, &cfg, err, sizeof(err));
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    assert_string_equal(cfg.cluster, "c-1_x");
    assert_int_equal(cfg.page_size, 65536);
    assert_int_equal(cfg.max_frame, 4096);
    snprintf(want, sizeof(want), "%s/keys", t->dir);
    assert_string_equal(cfg.certs_dir, want);
    assert_string_equal(cfg.ca, "/etc/vmca/ca.pem");
    assert_string_equal(cfg.master.node, "b.2");
    assert_int_equal(cfg.master.node_id, 2);
    snprintf(want, sizeof(want), "%s/run/m.sock", t->dir);
    assert_string_equal(cfg.master.admin_socket, want);
    assert_int_equal(cfg.nodes[0].id, 65535);
    assert_int_equal(cfg.nodes[0].tmem_pages, UINT64_C(1) << 36);
    assert_int_equal(cfg.nodes[0].location_len, 8);
    assert_int_equal(cfg.nodes[0].location[0], UINT32_MAX);
    assert_int_equal(cfg.nodes[0].location[7], 6);
    snprintf(want, sizeof(want), "%s/a/a.pem", t->dir);
    assert_string_equal(cfg.nodes[0].cert, want);
    assert_string_equal(cfg.nodes[0].key, "/k/a.key");
    assert_string_equal(cfg.nodes[1].address, "::1");
    assert_int_equal(cfg.nodes[1].location_len, 1);
    assert_int_equal(cfg.nodes[1].location[0], 7);
    snprintf(want, sizeof(want), "%s/keys/b.2.crt", t->dir);
    assert_string_equal(cfg.nodes[1].cert, want);
    assert_string_equal(cfg.policy.first_tier, "greedy-remote");
    assert_string_equal(cfg.policy.second_tier, "sorted");
    assert_int_equal(cfg.policy.reserve_pages, 0);
    assert_int_equal(cfg.policy.surplus_quiet_periods, 0);
    assert_int_equal(cfg.policy.first_tier_params.tlp.percent, 100);
    assert_int_equal(cfg.policy.first_tier_params.tlp.threshold, 16);
    assert_int_equal(cfg.policy.first_tier_params.greedy_remote.batch, 1);
    assert_int_equal(cfg.timing.stats_interval_ms, 10);
    assert_int_equal(cfg.timing.failure_timeout_ms, 11);
    assert_int_equal(cfg.timing.reconnect_min_ms, 7);
    assert_int_equal(cfg.timing.reconnect_max_ms, 7);
    assert_int_equal(cfg.timing.hello_timeout_ms, 1);
    vmca_config_free(&cfg);
    unlink(t->file);
}

/* A path given without a directory is taken relative to the working one. */
static void test_relative_file_name(void **state)
{
    struct tmp *t = *state;
    char cwd[PATH_MAX], err[1024] = "", want[PATH_MAX + 64];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    write_file(t->file, VALID);
    assert_int_equal(chdir(t->dir), 0);
    struct vmca_config cfg;
    int rc = vmca_config_load("bad.conf", 0, &cfg, err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    assert_string_equal(cfg.path, t->file);
    snprintf(want, sizeof(want), "%s/certs/a.crt", t->dir);
    assert_string_equal(cfg.nodes[0].cert, want);
    vmca_config_free(&cfg);
    unlink(t->file);
}

/* check_files with every file present loads. */
static void test_check_files_ok(void **state)
{
    struct tmp *t = *state;
    char certs[PATH_MAX + 16], f[PATH_MAX + 32], err[1024] = "";
    static const char *const files[] = { "ca.crt", "a.crt", "a.key", "b.crt", "b.key" };
    snprintf(certs, sizeof(certs), "%s/certs", t->dir);
    assert_int_equal(mkdir(certs, 0700), 0);
    for (size_t i = 0; i < 5; i++) {
        snprintf(f, sizeof(f), "%s/%s", certs, files[i]);
        write_file(f, "x\n");
    }
    write_file(t->file, VALID);
    struct vmca_config cfg;
    int rc = vmca_config_load(t->file, 1, &cfg, err, sizeof(err));
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    vmca_config_free(&cfg);

    /* ... and one missing certificate is named */
    snprintf(f, sizeof(f), "%s/b.crt", certs);
    unlink(f);
    char expected[PATH_MAX + 64];
    snprintf(expected, sizeof(expected), "expected a readable file, got \"%s\"", f);
    /* the default path comes from node b's group (line 5) */
    expect_fail_file(t->file, 1, 5, "nodes.[1].cert", expected);
    assert_contains(expected, "/certs/b.crt");

    /* a missing CA */
    snprintf(f, sizeof(f), "%s/ca.crt", certs);
    unlink(f);
    snprintf(expected, sizeof(expected), "expected a readable file, got \"%s\"", f);
    expect_fail_file(t->file, 1, 1, "ca", expected);

    for (size_t i = 0; i < 5; i++) {
        snprintf(f, sizeof(f), "%s/%s", certs, files[i]);
        unlink(f);
    }
    assert_int_equal(rmdir(certs), 0);
    unlink(t->file);
}

/* check_files with a missing cert named in the file: error names its path. */
static void test_check_files_missing_cert(void **state)
{
    struct tmp *t = *state;
    char certs[PATH_MAX + 16], f[PATH_MAX + 32], text[2048], expected[PATH_MAX + 64];
    snprintf(certs, sizeof(certs), "%s/certs", t->dir);
    assert_int_equal(mkdir(certs, 0700), 0);
    static const char *const files[] = { "ca.crt", "a.crt", "a.key", "b.key" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(f, sizeof(f), "%s/%s", certs, files[i]);
        write_file(f, "x\n");
    }
    snprintf(text, sizeof(text),
             HEAD MASTER NODES_OPEN NODE_A ",\n"
             "  { id = 2; name = \"b\"; address = \"127.0.0.1\"; port = 7402; tmem_pages = 1;\n"
             "    cert = \"certs/missing.crt\"; } " MARK "\n);\n");
    write_file(t->file, text);
    snprintf(expected, sizeof(expected), "expected a readable file, got \"%s/certs/missing.crt\"",
             t->dir);
    expect_fail_file(t->file, 1, marked_line(text), "nodes.[1].cert", expected);
    assert_contains(expected, "No such file"[0] ? "missing.crt" : "");
    /* without check_files the same file loads */
    struct vmca_config cfg;
    char err[1024] = "";
    assert_int_equal(vmca_config_load(t->file, 0, &cfg, err, sizeof(err)), VMCA_OK);
    vmca_config_free(&cfg);

    for (size_t i = 0; i < 4; i++) {
        snprintf(f, sizeof(f), "%s/%s", certs, files[i]);
        unlink(f);
    }
    assert_int_equal(rmdir(certs), 0);
    unlink(t->file);
}

/* ------------------------------------------------------------- bad files */

static void test_syntax_error(void **state)
{
    expect_bad(state, HEAD "page_size = ; " MARK "\n" MASTER NODES, NULL, "syntax error");
    expect_bad(state, HEAD "cluster = \"u\"; " MARK "\n" MASTER NODES, NULL,
               "syntax error: duplicate setting name");
    /* a plain and an L integer in one array (the L fix half applied) */
    expect_bad(state, HEAD "x = [0, 5000000000L]; " MARK "\n" MASTER NODES, NULL,
               "syntax error: mismatched element type in array (the integers of an array must "
               "all be plain or all end in L)");
    /* one file holds everything: @include is refused */
    expect_bad(state, HEAD MASTER "/* \"*/ @include \"nodes.conf\" " MARK "\n", "@include",
               "expected settings, got an @include directive");
}

static void test_missing_file(void **state)
{
    struct tmp *t = *state;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/nope.conf", t->dir);
    expect_fail_file(path, 0, 0, NULL, "cannot read: No such file or directory");
    snprintf(path, sizeof(path), "%s/nodir/nope.conf", t->dir);
    expect_fail_file(path, 0, 0, NULL, "cannot read: No such file or directory");
    expect_fail_file(t->dir, 0, 0, NULL, "cannot read: Is a directory");
    /* no error buffer at all */
    struct vmca_config cfg;
    assert_int_equal(vmca_config_load(path, 0, &cfg, NULL, 0), VMCA_ERR_CONFIG);
    assert_true(is_zero(&cfg));
}

static void test_missing_cluster(void **state)
{
    /* a missing top-level setting points at line 1 */
    expect_bad(state, "# no cluster " MARK "\n" MASTER NODES, "cluster",
               "missing required setting");
    /* inside a group: the group's line */
    expect_bad(state, HEAD "master = { node = \"a\"; }; " MARK "\n" NODES, "master.port",
               "missing required setting");
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; port = 7402; "
                      "tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[1].address", "missing required setting");
    expect_bad(state, "# no nodes " MARK "\n" HEAD MASTER, "nodes", "missing required setting");
}

static void test_unknown_top_level(void **state)
{
    expect_bad(state, HEAD "colour = \"red\"; " MARK "\n" MASTER NODES, "colour",
               "unknown setting 'colour'");
    expect_bad(state, HEAD "master = { node = \"a\"; port = 7400; admin_sock = \"x\"; }; " MARK
                      "\n" NODES,
               "master.admin_sock", "unknown setting 'admin_sock'");
    expect_bad(state, VALID "policy = { frist_tier = \"tlp\"; }; " MARK "\n",
               "policy.frist_tier", "unknown setting 'frist_tier'");
    expect_bad(state, VALID "timing = {\n  stats_interval = 10; " MARK "\n};\n",
               "timing.stats_interval", "unknown setting 'stats_interval'");
}

static void test_unknown_node_setting(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; address = "
                      "\"127.0.0.1\"; prot = 7402; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[1].prot", "unknown setting 'prot'");
}

static void test_wrong_type(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; address = "
                      "\"127.0.0.1\"; port = \"7402\"; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[1].port", "expected an integer, got a string");
    expect_bad(state, "cluster = 5; " MARK "\n" MASTER NODES, "cluster",
               "expected a string, got an integer");
    expect_bad(state, HEAD "master = \"a\"; " MARK "\n" NODES, "master",
               "expected a group, got a string");
    expect_bad(state, HEAD MASTER "nodes = [1, 2]; " MARK "\n", "nodes",
               "expected a list of node groups, got an array");
    expect_bad(state, HEAD MASTER "nodes = ( 1 ); " MARK "\n", "nodes.[0]",
               "expected a group, got an integer");
    expect_bad(state, VALID "timing = { hello_timeout_ms = 1.5; }; " MARK "\n",
               "timing.hello_timeout_ms", "expected an integer, got a float");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 1; location = \"r1\"; } " MARK "\n);\n",
               "nodes.[0].location", "expected an array of integers, got a string");
}

static void test_port_out_of_range(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; address = "
                      "\"127.0.0.1\"; port = 70000; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[1].port", "expected an integer in 1..65535, got 70000");
    expect_bad(state, HEAD "master = { node = \"a\"; port = 0; }; " MARK "\n" NODES,
               "master.port", "expected an integer in 1..65535, got 0");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 65536; " MARK "\n name = \"a\"; "
                      "address = \"h\"; port = 1; tmem_pages = 1; }\n);\n",
               "nodes.[0].id", "expected an integer in 1..65535, got 65536");
}

static void test_duplicate_id(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 1; name = \"b\"; address = "
                      "\"127.0.0.1\"; port = 7402; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[1].id", "duplicate node id 1 (first at line 4)");
}

static void test_duplicate_name(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"a\"; address = "
                      "\"127.0.0.1\"; port = 7402; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[1].name", "duplicate node name \"a\" (first at line 4)");
}

static void test_duplicate_address_port(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; address = "
                      "\"127.0.0.1\"; port = 7401; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[1].port", "duplicate address and port 127.0.0.1:7401 (first at line 4");
    /* same port on another address is fine */
    struct tmp *t = *state;
    write_file(t->file, HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; address = "
                        "\"127.0.0.2\"; port = 7401; tmem_pages = 1; }\n);\n");
    struct vmca_config cfg;
    char err[1024] = "";
    int rc = vmca_config_load(t->file, 0, &cfg, err, sizeof(err));
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    vmca_config_free(&cfg);
    unlink(t->file);
}

static void test_unknown_master_node(void **state)
{
    expect_bad(state, HEAD "master = { port = 7400;\n  node = \"zz\"; " MARK "\n};\n" NODES,
               "master.node", "expected the name of a node in 'nodes', got \"zz\"");
}

static void test_master_port_collision(void **state)
{
    expect_bad(state, HEAD "master = { node = \"a\"; port = 7402; }; " MARK "\n" NODES,
               "master.port",
               "expected a port not used by a node on 127.0.0.1, got 7402 (port of node \"b\" "
               "at line 5)");
}

static void test_page_size_not_power_of_two(void **state)
{
    expect_bad(state, HEAD "page_size = 5000; " MARK "\n" MASTER NODES, "page_size",
               "expected a power of two in 4096..65536, got 5000");
    expect_bad(state, HEAD "page_size = 2048; " MARK "\n" MASTER NODES, "page_size",
               "expected an integer in 4096..65536, got 2048");
    expect_bad(state, HEAD "max_frame = 67108865; " MARK "\n" MASTER NODES, "max_frame",
               "expected an integer in 4096..67108864, got 67108865");
}

static void test_tmem_pages_zero(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 0; } " MARK "\n);\n",
               "nodes.[0].tmem_pages", "expected an integer in 1..68719476736, got 0");
}

static void test_tmem_pages_too_big(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 68719476737L; } " MARK "\n);\n",
               "nodes.[0].tmem_pages", "expected an integer in 1..68719476736, got 68719476737");
    /* without the L suffix libconfig 1.5 would silently keep 32 bits (here: 1) */
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 68719476737; } " MARK "\n);\n",
               "nodes.[0].tmem_pages", "got 68719476737 (too big for a plain integer");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1;\n    tmem_pages = " MARK "\n      5000000000; }\n);\n",
               "nodes.[0].tmem_pages", "written 5000000000L");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 0x100000001; } " MARK "\n);\n",
               "nodes.[0].tmem_pages", "got 0x100000001 (too big");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = -4294967295; } " MARK "\n);\n",
               "nodes.[0].tmem_pages", "got -4294967295 (too big");
    /* the literal is matched to its own setting and array element */
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 1; location = [1, 4294967297]; } " MARK "\n);\n",
               "nodes.[0].location.[1]", "got 4294967297 (too big");
    /* ... not to an earlier setting of the same name whose value is the
     * literal's low 32 bits (node a's 1 is legal; node b's is not) */
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 1; },\n  { id = 2; name = \"b\"; address = \"h\"; "
                      "port = 2; tmem_pages = 4294967297; } " MARK "\n);\n",
               "nodes.[1].tmem_pages", "got 4294967297 (too big");
    /* ... and not fooled by strings and comments */
    struct tmp *t = *state;
    write_file(t->file, "# 99999999999\n/* 99999999999 */ cluster = \"t\"; // 99999999999\n"
                        MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"9999999999.example\"; "
                        "port = 1; tmem_pages = 4294967296L; location = (5); } );\n");
    struct vmca_config cfg;
    char err[1024] = "";
    int rc = vmca_config_load(t->file, 0, &cfg, err, sizeof(err));
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    assert_int_equal(cfg.nodes[0].tmem_pages, UINT64_C(4294967296));
    vmca_config_free(&cfg);
    unlink(t->file);
}

static void test_failure_timeout_not_above_stats(void **state)
{
    expect_bad(state, VALID "timing = {\n  stats_interval_ms = 2000;\n"
                            "  failure_timeout_ms = 2000; " MARK "\n};\n",
               "timing.failure_timeout_ms", "expected more than stats_interval_ms (2000), got 2000");
    /* with the default failure timeout the stats interval is blamed */
    expect_bad(state, VALID "timing = {\n  stats_interval_ms = 6000; " MARK "\n};\n",
               "timing.stats_interval_ms",
               "expected less than failure_timeout_ms (5000, the default), got 6000");
    expect_bad(state, VALID "timing = { stats_interval_ms = 9; }; " MARK "\n",
               "timing.stats_interval_ms", "expected an integer in 10..3600000, got 9");
}

static void test_reconnect_min_above_max(void **state)
{
    expect_bad(state, VALID "timing = {\n  reconnect_min_ms = 500;\n"
                            "  reconnect_max_ms = 400; " MARK "\n};\n",
               "timing.reconnect_max_ms", "expected at least reconnect_min_ms (500), got 400");
    expect_bad(state, VALID "timing = {\n  reconnect_min_ms = 6000; " MARK "\n};\n",
               "timing.reconnect_min_ms",
               "expected at most reconnect_max_ms (5000, the default), got 6000");
}

static void test_unknown_policy(void **state)
{
    /* The list is the registry's (every built policy, in its order). */
    char names[512], want[640];
    ft_policy_names(names, sizeof names);
    assert_non_null(strstr(names, "greedy-local, greedy-remote, tlp"));
    snprintf(want, sizeof want,
             "expected one of %s (the first-tier policies built), got \"fastest\"", names);
    expect_bad(state, VALID "policy = {\n  first_tier = \"fastest\"; " MARK "\n};\n",
               "policy.first_tier", want);
    /* A near miss is refused, never a silent fallback. */
    expect_bad(state, VALID "policy = {\n  first_tier = \"smart_alloc\"; " MARK "\n};\n",
               "policy.first_tier", "got \"smart_alloc\"");
    expect_bad(state, VALID "policy = {\n  qmemman_ratio_percent = 99; " MARK "\n};\n",
               "policy.qmemman_ratio_percent", "expected an integer in 100..1000, got 99");
    expect_bad(state, VALID "policy = {\n  second_tier = \"random\"; " MARK "\n};\n",
               "policy.second_tier", "expected one of sorted, topology, two-choices (the "
               "second-tier policies built), got \"random\"");
    /* Close to a built name is still not one: an error, not a silent "sorted". */
    expect_bad(state, VALID "policy = {\n  second_tier = \"two_choices\"; " MARK "\n};\n",
               "policy.second_tier", "expected one of sorted, topology, two-choices (the "
               "second-tier policies built), got \"two_choices\"");
    expect_bad(state, VALID "policy = {\n  second_tier = 3; " MARK "\n};\n",
               "policy.second_tier", "expected a string, got an integer");
    expect_bad(state, VALID "policy = {\n  reserve_pages = 68719476737L; " MARK "\n};\n",
               "policy.reserve_pages", "expected an integer in 0..68719476736, got 68719476737");
    expect_bad(state, VALID "policy = { surplus_quiet_periods = 1001; }; " MARK "\n",
               "policy.surplus_quiet_periods", "expected an integer in 0..1000, got 1001");
    expect_bad(state, VALID "policy = { tlp_percent = 101; }; " MARK "\n",
               "policy.tlp_percent", "expected an integer in 1..100, got 101");
    expect_bad(state, VALID "policy = { grant_batch = 0; }; " MARK "\n", "policy.grant_batch",
               "expected an integer in 1..68719476736, got 0");
}

static void test_location_too_long(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 1;\n    location = [0, 1, 2, 3, 4, 5, 6, 7, 8]; "
                      "} " MARK "\n);\n",
               "nodes.[0].location", "expected at most 8 levels, got 9");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
                      "port = 1; tmem_pages = 1;\n    location = [0,\n 1, -2]; } " MARK "\n);\n",
               "nodes.[0].location.[2]", "expected an integer in 0..4294967295, got -2");
}

static void test_bad_names(void **state)
{
    expect_bad(state, "cluster = \"a b\"; " MARK "\n" MASTER NODES, "cluster",
               "expected a name of 1..32 characters from [A-Za-z0-9_-], got \"a b\"");
    expect_bad(state, "cluster = \"abcdefghijklmnopqrstuvwxyz0123456\"; " MARK "\n" MASTER NODES,
               "cluster", "expected a name of 1..32 characters");
    expect_bad(state, "cluster = \"a.b\"; " MARK "\n" MASTER NODES, "cluster",
               "expected a name of 1..32 characters");
    /* a newline in a value cannot break the one-line rule */
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\\nb\"; "
                      " address = \"h\"; port = 1; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[0].name", "expected a name of 1..63 characters from [A-Za-z0-9._-], "
                                 "got \"a?b\"");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"\"; "
                      " port = 1; tmem_pages = 1; } " MARK "\n);\n",
               "nodes.[0].address", "expected an address of 1..63 characters");
    expect_bad(state, HEAD MASTER "nodes = ( ); " MARK "\n", "nodes",
               "expected 1..4096 nodes, got 0");
    expect_bad(state, HEAD "certs_dir = \"\"; " MARK "\n" MASTER NODES, "certs_dir",
               "expected a non-empty path, got \"\"");
}

static void test_admin_socket_too_long(void **state)
{
    char text[1024], name[128];
    memset(name, 'x', 110);
    name[110] = '\0';
    snprintf(text, sizeof(text),
             HEAD "master = { node = \"a\"; port = 7400;\n  admin_socket = \"%s\"; " MARK
                  "\n};\n" NODES,
             name);
    expect_bad(state, text, "master.admin_socket",
               "expected a socket path shorter than 108 bytes after resolving");
}

/* A node address is checked at load, so a typo fails here with file:line
 * instead of later with "cannot resolve". */
static void expect_bad_address(void **state, const char *address, const char *expected)
{
    char text[1024];
    snprintf(text, sizeof(text),
             HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; address = \"%s\"; "
             "port = 7402; tmem_pages = 1; } " MARK "\n);\n", address);
    expect_bad(state, text, "nodes.[1].address", expected);
}

static void test_bad_addresses(void **state)
{
    expect_bad_address(state, "127.0.0.-1", "expected an IPv4 literal of four numbers in 0..255, got \"127.0.0.-1\"");
    expect_bad_address(state, "10.0.0.256", "expected an IPv4 literal of four numbers in 0..255");
    expect_bad_address(state, "1.2.3", "expected an IPv4 literal of four numbers in 0..255");
    expect_bad_address(state, "1..2.3.4", "expected an IPv4 literal");
    expect_bad_address(state, "host.42", "a host name whose last label is not all digits");
    expect_bad_address(state, "::1::2", "expected an IPv6 literal");
    expect_bad_address(state, "fe80::1%lo", "expected an IPv6 literal");
    expect_bad_address(state, "-host", "labels do not start with '-'");
    expect_bad_address(state, "host-.example", "labels do not end with '-'");
    expect_bad_address(state, "a..b", "without empty labels");
    expect_bad_address(state, "a.b.", "without empty labels");
    expect_bad_address(state, "under_score", "a host name of letters, digits, '-' and '.'");
    expect_bad_address(state, "h st", "a host name of letters, digits, '-' and '.'");
    expect_bad_address(state, "", "expected an address of 1..63 characters");
}

static void test_good_addresses(void **state)
{
    static const char *const good[] = {"127.0.0.1", "0.0.0.0", "::1", "fd00::a:1",
                                       "::ffff:10.0.0.1", "localhost", "node-2.rack1.example",
                                       "x", "1host", "a.1b"};
    struct tmp *t = *state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[1024], err[1024] = "";
        snprintf(text, sizeof(text),
                 HEAD MASTER NODES_OPEN NODE_A ",\n  { id = 2; name = \"b\"; address = \"%s\"; "
                 "port = 7402; tmem_pages = 1; }\n);\n", good[i]);
        write_file(t->file, text);
        struct vmca_config cfg;
        if (vmca_config_load(t->file, 0, &cfg, err, sizeof(err)) != VMCA_OK)
            fail_msg("address \"%s\" refused: %s", good[i], err);
        assert_string_equal(cfg.nodes[1].address, good[i]);
        vmca_config_free(&cfg);
        unlink(t->file);
    }
}


/* ------------------------------------------------------- per-VM settings */

#define NODE_A_VMS_OPEN "  { id = 1; name = \"a\"; address = \"127.0.0.1\"; port = 7401; " \
                        "tmem_pages = 1024;\n    vms = (\n"
#define VMS_CLOSE "\n    ); },\n" NODE_B "\n);\n"

/* Per-VM settings: given ones kept, the others at their defaults, each
 * node with its own list; VM ids over the hypervisor's whole range. */
static void test_vms_settings(void **state)
{
    struct tmp *t = *state;
    write_file(t->file, HEAD MASTER NODES_OPEN NODE_A_VMS_OPEN
               "      { id = 1; min_pages = 1000; max_pages = 50000; weight = 2; },\n"
               "      { id = 0; },\n"
               "      { id = 4294967295L; max_pages = 68719476736L; weight = 1000; },\n"
               "      { id = 7; min_pages = 5; max_pages = 5; }" VMS_CLOSE);
    struct vmca_config cfg;
    char err[1024] = "";
    int rc = vmca_config_load(t->file, 0, &cfg, err, sizeof(err));
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    const struct vmca_node_cfg *a = &cfg.nodes[0];
    assert_int_equal(a->n_vms, 4);
    assert_int_equal(a->vms[0].vm, 1);
    assert_int_equal(a->vms[0].min_pages, 1000);
    assert_int_equal(a->vms[0].max_pages, 50000);
    assert_int_equal(a->vms[0].weight, 2);
    assert_int_equal(a->vms[1].vm, 0);
    assert_int_equal(a->vms[1].min_pages, 0);
    assert_true(a->vms[1].max_pages == VM_TARGET_UNLIMITED);
    assert_int_equal(a->vms[1].weight, 1);
    assert_int_equal(a->vms[2].vm, UINT32_MAX);
    assert_int_equal(a->vms[2].max_pages, UINT64_C(68719476736));
    assert_int_equal(a->vms[2].weight, 1000);
    assert_int_equal(a->vms[3].min_pages, 5);
    assert_int_equal(a->vms[3].max_pages, 5);
    assert_int_equal(cfg.nodes[1].n_vms, 0);
    assert_null(cfg.nodes[1].vms);
    vmca_config_free(&cfg);
    /* An empty list is no settings. */
    write_file(t->file, HEAD MASTER NODES_OPEN NODE_A_VMS_OPEN VMS_CLOSE);
    rc = vmca_config_load(t->file, 0, &cfg, err, sizeof(err));
    if (rc != VMCA_OK)
        fail_msg("%s", err);
    assert_int_equal(cfg.nodes[0].n_vms, 0);
    vmca_config_free(&cfg);
    unlink(t->file);
}

/* replicas: the cluster's (1 when unset) unless a VM entry says otherwise. */
static void test_replicas(void **state)
{
    struct tmp *t = *state;
    write_file(t->file, HEAD "replicas = 2;\n" MASTER NODES_OPEN NODE_A_VMS_OPEN
               "      { id = 1; replicas = 1; },\n      { id = 2; }" VMS_CLOSE);
    struct vmca_config cfg;
    char err[1024] = "";
    if (vmca_config_load(t->file, 0, &cfg, err, sizeof(err)) != VMCA_OK)
        fail_msg("%s", err);
    assert_int_equal(cfg.replicas, 2);
    assert_int_equal(vmca_config_replicas(&cfg, &cfg.nodes[0], 1), 1);
    assert_int_equal(vmca_config_replicas(&cfg, &cfg.nodes[0], 2), 2);
    assert_int_equal(vmca_config_replicas(&cfg, &cfg.nodes[0], 3), 2);
    assert_int_equal(vmca_config_replicas(&cfg, &cfg.nodes[1], 1), 2);
    vmca_config_free(&cfg);
    write_file(t->file, HEAD MASTER NODES_OPEN NODE_A_VMS_OPEN
               "      { id = 1; replicas = 2; }" VMS_CLOSE);
    if (vmca_config_load(t->file, 0, &cfg, err, sizeof(err)) != VMCA_OK)
        fail_msg("%s", err);
    assert_int_equal(cfg.replicas, 1);
    assert_int_equal(vmca_config_replicas(&cfg, &cfg.nodes[0], 1), 2);
    assert_int_equal(vmca_config_replicas(&cfg, &cfg.nodes[0], 5), 1);
    vmca_config_free(&cfg);
    unlink(t->file);
    expect_bad(state, HEAD "replicas = 3; " MARK "\n" MASTER NODES, "replicas",
               "expected an integer in 1..2, got 3");
    expect_bad(state, HEAD "replicas = 0; " MARK "\n" MASTER NODES, "replicas",
               "expected an integer in 1..2, got 0");
}

/* vms: the line of entry [1] (the bad one) holds MARK. */
static void expect_bad_vm(void **state, const char *entry, const char *spath,
                          const char *expected)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s%s", HEAD MASTER NODES_OPEN NODE_A_VMS_OPEN
             "      { id = 1; min_pages = 10; },\n      ", entry, " " MARK VMS_CLOSE);
    expect_bad(state, text, spath, expected);
}

/* Each kind of bad per-VM setting is refused at its line, naming it; the
 * configuration comes back zeroed (expect_fail_file checks it). */
static void test_vms_bad(void **state)
{
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
               "port = 1; tmem_pages = 1; vms = 3; } " MARK "\n);\n",
               "nodes.[0].vms", "expected a list of VM groups, got an integer");
    expect_bad(state, HEAD MASTER NODES_OPEN "  { id = 1; name = \"a\"; address = \"h\"; "
               "port = 1; tmem_pages = 1; vms = [1, 2]; } " MARK "\n);\n",
               "nodes.[0].vms", "expected a list of VM groups, got an array");
    expect_bad_vm(state, "5", "nodes.[0].vms.[1]", "expected a group, got an integer");
    expect_bad_vm(state, "{ id = 2; replicas = 3; }", "nodes.[0].vms.[1].replicas",
                  "expected an integer in 1..2, got 3");
    expect_bad_vm(state, "{ id = 2; max = 3; }", "nodes.[0].vms.[1].max",
                  "unknown setting 'max' (expected one of: id, min_pages, max_pages, weight, "
                  "replicas)");
    expect_bad_vm(state, "{ weight = 2; }", "nodes.[0].vms.[1].id", "missing required setting");
    expect_bad_vm(state, "{ id = -1; }", "nodes.[0].vms.[1].id",
                  "expected an integer in 0..4294967295, got -1");
    expect_bad_vm(state, "{ id = 4294967296L; }", "nodes.[0].vms.[1].id",
                  "expected an integer in 0..4294967295, got 4294967296");
    expect_bad_vm(state, "{ id = \"2\"; }", "nodes.[0].vms.[1].id",
                  "expected an integer, got a string");
    expect_bad_vm(state, "{ id = 1; }", "nodes.[0].vms.[1].id",
                  "expected a VM id unique within the node, got 1 (also at line 6)");
    expect_bad_vm(state, "{ id = 2; min_pages = 101; max_pages = 100; }",
                  "nodes.[0].vms.[1].min_pages", "expected at most max_pages (100), got 101");
    expect_bad_vm(state, "{ id = 2; min_pages = -1; }", "nodes.[0].vms.[1].min_pages",
                  "expected an integer in 0..68719476736, got -1");
    expect_bad_vm(state, "{ id = 2; max_pages = 68719476737L; }", "nodes.[0].vms.[1].max_pages",
                  "expected an integer in 0..68719476736, got 68719476737");
    expect_bad_vm(state, "{ id = 2; max_pages = 5000000000; }", "nodes.[0].vms.[1].max_pages",
                  "written 5000000000L");
    expect_bad_vm(state, "{ id = 2; weight = 0; }", "nodes.[0].vms.[1].weight",
                  "expected an integer in 1..1000, got 0");
    expect_bad_vm(state, "{ id = 2; weight = 1001; }", "nodes.[0].vms.[1].weight",
                  "expected an integer in 1..1000, got 1001");
    expect_bad_vm(state, "{ id = 2; weight = 1.5; }", "nodes.[0].vms.[1].weight",
                  "expected an integer, got a float");
}

/* master.metrics_port and nodes.[i].metrics_port: 0 or absent is off, the
 * page listens on the node's address when it is a loopback literal, else on
 * 127.0.0.1; every metrics port is free of the other ports on its address. */
static void test_metrics_ports(void **state)
{
    struct tmp *t = *state;
    write_file(t->file, HEAD "master = { node = \"a\"; port = 7400; metrics_port = 9100; };\n"
                        NODES_OPEN
                        "  { id = 1; name = \"a\"; address = \"127.0.0.2\"; port = 7401; "
                        "tmem_pages = 1; metrics_port = 9101; },\n"
                        "  { id = 2; name = \"b\"; address = \"10.0.0.5\"; port = 7402; "
                        "tmem_pages = 1; metrics_port = 7402; },\n"
                        "  { id = 3; name = \"c\"; address = \"::1\"; port = 7403; "
                        "tmem_pages = 1; }\n);\n");
    struct vmca_config cfg;
    char err[1024] = "";
    if (vmca_config_load(t->file, 0, &cfg, err, sizeof err) != VMCA_OK)
        fail_msg("%s", err);
    assert_int_equal(cfg.master.metrics_port, 9100);
    assert_int_equal(cfg.nodes[0].metrics_port, 9101);
    assert_string_equal(cfg.nodes[0].metrics_address, "127.0.0.2");
    /* Not loopback: 127.0.0.1, so its own port number is free there. */
    assert_int_equal(cfg.nodes[1].metrics_port, 7402);
    assert_string_equal(cfg.nodes[1].metrics_address, "127.0.0.1");
    assert_int_equal(cfg.nodes[2].metrics_port, 0);
    assert_string_equal(cfg.nodes[2].metrics_address, "::1");
    vmca_config_free(&cfg);

    expect_bad(state, HEAD "master = { node = \"a\"; port = 7400; metrics_port = 70000; }; " MARK
                      "\n" NODES,
               "master.metrics_port", "expected an integer in 0..65535, got 70000");
    expect_bad(state, HEAD "master = { node = \"a\"; port = 7400; metrics_port = \"9100\"; }; "
                      MARK "\n" NODES,
               "master.metrics_port", "expected an integer, got a string");
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n"
                      "  { id = 2; name = \"b\"; address = \"127.0.0.1\"; port = 7402; "
                      "tmem_pages = 1; metrics_port = -1; } " MARK "\n);\n",
               "nodes.[1].metrics_port", "expected an integer in 0..65535, got -1");
    /* A node's peer port on the same address. */
    expect_bad(state, HEAD MASTER NODES_OPEN NODE_A ",\n"
                      "  { id = 2; name = \"b\"; address = \"127.0.0.1\"; port = 7402; "
                      "tmem_pages = 1; metrics_port = 7401; } " MARK "\n);\n",
               "nodes.[1].metrics_port",
               "expected a port not used by another setting on 127.0.0.1, got 7401 "
               "(nodes.[0].port at line 4)");
    /* The master's TLS port. */
    expect_bad(state, HEAD "master = { node = \"a\"; port = 7400; metrics_port = 7400; }; " MARK
                      "\n" NODES,
               "master.metrics_port",
               "expected a port not used by another setting on 127.0.0.1, got 7400 "
               "(master.port at line 2)");
    /* Two metrics pages: the master's and its node's slave's. */
    expect_bad(state, HEAD "master = { node = \"a\"; port = 7400; metrics_port = 9100; };\n"
                      NODES_OPEN
                      "  { id = 1; name = \"a\"; address = \"127.0.0.1\"; port = 7401; "
                      "tmem_pages = 1; metrics_port = 9100; } " MARK "\n);\n",
               "nodes.[0].metrics_port",
               "expected a port not used by another setting on 127.0.0.1, got 9100 "
               "(master.metrics_port at line 2)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_loads),
        cmocka_unit_test(test_demo4_loads),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_file_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_files_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_files_missing_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_top_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_node_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_address_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_master_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_master_port_collision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_size_not_power_of_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmem_pages_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmem_pages_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_timeout_not_above_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_min_above_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_location_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_socket_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vms_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vms_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_ports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
