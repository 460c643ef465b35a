/* vmcactl: the operator's CLI. Talks to the master over its admin Unix
 * socket (docs/admin-protocol.md) and prints the reply for people or, with
 * --json, for scripts. Options go anywhere on the line. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

static const char usage[] =
    "usage: vmcactl [--config FILE | --socket PATH] [--json] [--wait SECONDS] COMMAND [ARGS]\n"
    "Asks the vMCA master of a cluster and prints its answer. Options may come\n"
    "before or after the command and its arguments; with neither --config nor\n"
    "--socket, the configuration is $VMCA_CONFIG.\n"
    "\n"
    "commands:\n"
    "  status               the node table: id, name, state, connection,\n"
    "                       age of the last statistics, free/total pages\n"
    "  nodes                per node: capacity (its tmem pages), pages owned, free,\n"
    "                       lent to other nodes and borrowed from them, in pages\n"
    "                       and MiB (from the node's last statistics)\n"
    "  vms [NODE]           per VM (of NODE, or of every member): its target, tmem\n"
    "                       pages in use, puts and failed puts of the last period,\n"
    "                       and the cap set by mem-set\n"
    "  stats                the cluster's totals: members, capacity, pages owned,\n"
    "                       free, lent/borrowed; grants forwarded, messages refused\n"
    "  audit                the invariants the master can check from the members'\n"
    "                       last statistics: every member home's pages owned once\n"
    "                       in all (I3 at rest), none held of a non-member, and\n"
    "                       each node's per-VM targets within its pages (I6);\n"
    "                       a node down (failed and recovering, silent, or not\n"
    "                       connected) is named, not counted as a leak\n"
    "  mem-limit NODE PAGES cap the pages NODE (name or id) keeps for its own VMs\n"
    "                       (Mem-Limit; 0 lifts the cap; policies that set targets)\n"
    "  mem-set NODE VM PAGES cap VM's pages on NODE (0 lifts the cap): its max_pages\n"
    "                       over the configured per-VM settings, honoured by every\n"
    "                       policy that sets targets\n"
    "  leave NODE           NODE leaves the cluster (every page goes home) and its\n"
    "                       slave stays up, inactive; waits for the leave to finish\n"
    "  join NODE            NODE's slave (running, inactive) registers again; waits\n"
    "                       until it is active. vmcactl cannot start a slave on\n"
    "                       another machine: start vmca-slave there\n"
    "options:\n"
    "  -c, --config FILE    cluster configuration (gives master.admin_socket;\n"
    "                       default $VMCA_CONFIG)\n"
    "  -S, --socket PATH    the master's admin socket, instead of --config\n"
    "  -j, --json           machine-readable output (every command)\n"
    "  -w, --wait SECONDS   audit: ask again every 0.5 s until balanced, for up\n"
    "                       to SECONDS (statistics arrive one interval apart);\n"
    "                       leave, join: how long to wait (default 60)\n"
    "  -h, --help           this text\n"
    "  -V, --version        print the version\n"
    "exit status: 0 done (audit: balanced); 1 the master could not be asked (not\n"
    "running, or its reply was unusable); 2 bad usage (or a value the master\n"
    "refuses as out of range); 3 audit: unbalanced (a leak, a double owner,\n"
    "targets above the pages owned); 4 audit: not at rest (flows or transfers in\n"
    "progress, or a node down: the lines above name it); 5 no such node (the\n"
    "known ones are named); 6 not allowed in the node's state (leave of a node\n"
    "that is not active, join of one that is not inactive or has no slave\n"
    "running), or the node failed during its leave; 7 leave or join did not\n"
    "finish within --wait (it goes on)\n";

enum {
    EXIT_MASTER = 1,
    EXIT_USAGE = 2,
    EXIT_UNBALANCED = 3,
    EXIT_NOT_AT_REST = 4,
    EXIT_NO_NODE = 5,
    EXIT_STATE = 6,
    EXIT_TIMEOUT = 7,
};

/* What every command gets: where the master is and how to answer. */
struct ctl {
    const char *path;
    bool json;
    double wait_s;
};

/* Prints s as a JSON string. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void nap(void)
{
    nanosleep(&(struct timespec){0, 500000000L}, NULL);
}

/* Sends one request line and reads the whole reply (malloc'ed, NUL-ended),
 * or NULL after saying why. */
static char *ask(const char *path, const char *req)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        fprintf(stderr, "vmcactl: socket path %s is too long\n", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        fprintf(stderr, "vmcactl: cannot reach the master at %s: is vmca-master running? (%s)\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t rl = strlen(req);
    if (write(fd, req, rl) != (ssize_t)rl || write(fd, "\n", 1) != 1) {
        fprintf(stderr, "vmcactl: sending to %s: %s\n", path, strerror(errno));
        close(fd);
        return NULL;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (buf)
        buf[len] = '\0';
    else
        fprintf(stderr, "vmcactl: out of memory reading the master's reply\n");
    return buf;
}

/* 0 when reply is not an error line; else says what the master said and
 * returns the exit status of its class (docs/admin-protocol.md). */
static int master_refused(const char *reply)
{
    if (strncmp(reply, "error ", 6) != 0)
        return 0;
    const char *cls = reply + 6;
    size_t cl = strcspn(cls, " \n");
    const char *why = cls[cl] == ' ' ? cls + cl + 1 : cls + cl;
    fprintf(stderr, "vmcactl: master says: %.*s\n", (int)strcspn(why, "\n"), why);
#define CLASS(name) (cl == strlen(name) && strncmp(cls, name, cl) == 0)
    if (CLASS("no-node"))
        return EXIT_NO_NODE;
    if (CLASS("state") || CLASS("no-slave"))
        return EXIT_STATE;
    if (CLASS("usage") || CLASS("range"))
        return EXIT_USAGE;
#undef CLASS
    return EXIT_MASTER;
}

/* Asks req; the reply (malloc'ed) in *reply, or the exit status. */
static int ask_ok(const struct ctl *c, const char *req, char **reply)
{
    *reply = ask(c->path, req);
    if (!*reply)
        return EXIT_MASTER;
    int rc = master_refused(*reply);
    if (rc) {
        free(*reply);
        *reply = NULL;
    }
    return rc;
}

/* Grows *v (of *cap elements of size sz) to hold n + 1. */
static bool grow(void *v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *nv = realloc(*(void **)v, nc * sz);
    if (!nv) {
        fprintf(stderr, "vmcactl: out of memory\n");
        return false;
    }
    *(void **)v = nv;
    *cap = nc;
    return true;
}

static int unexpected(const char *line)
{
    fprintf(stderr, "vmcactl: unexpected line from the master: %s\n", line);
    return EXIT_MASTER;
}

static int ended_early(void)
{
    fprintf(stderr, "vmcactl: the master's reply ended early\n");
    return EXIT_MASTER;
}

/* A number argument: digits only, at most max; else says which is wrong. */
static bool arg_number(const char *cmd, const char *what, const char *s, uint64_t max,
                       uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || *end || s[0] < '0' || s[0] > '9' || n > max) {
        fprintf(stderr, "vmcactl: %s: %s must be a number%s, got '%s'\n", cmd, what,
                strcmp(what, "PAGES") == 0 ? " of pages" : " (a VM id)", s);
        return false;
    }
    *v = n;
    return true;
}

/* A node argument: a name or an id the master resolves; no spaces. */
static bool arg_node(const char *cmd, const char *node)
{
    if (strlen(node) >= VMCA_NAME_MAX || strchr(node, ' ') || !*node) {
        fprintf(stderr, "vmcactl: %s: bad node name '%s'\n", cmd, node);
        return false;
    }
    return true;
}

struct row {
    unsigned id;
    char name[VMCA_NAME_MAX];
    char state[16];
    long long age_ms;
    int connected;
    unsigned long long stats, free_pages, total_pages;
};

static int cmd_status(const struct ctl *c, char **argv)
{
    (void)argv;
    char *reply;
    int rc = ask_ok(c, "status", &reply);
    if (rc)
        return rc;
    char cluster[VMCA_NAME_MAX] = "", master[VMCA_NAME_MAX] = "";
    size_t n_rows = 0, cap = 0;
    struct row *rows = NULL;
    bool ended = false;
    for (char *save, *line = strtok_r(reply, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, "end") == 0) {
            ended = true;
            break;
        }
        if (sscanf(line, "cluster %63s master %63s", cluster, master) == 2)
            continue;
        if (!grow(&rows, &cap, n_rows, sizeof *rows)) {
            rc = EXIT_MASTER;
            break;
        }
        struct row *r = &rows[n_rows];
        if (sscanf(line, "node %u %63s %15s %lld %d %llu %llu %llu", &r->id, r->name,
                   r->state, &r->age_ms, &r->connected, &r->stats, &r->free_pages,
                   &r->total_pages) != 8) {
            rc = unexpected(line);
            break;
        }
        n_rows++;
    }
    if (rc == 0 && !ended)
        rc = ended_early();
    if (rc == 0 && c->json) {
        printf("{\"cluster\":");
        json_str(cluster);
        printf(",\"master\":");
        json_str(master);
        printf(",\"nodes\":[");
        for (size_t i = 0; i < n_rows; i++) {
            struct row *r = &rows[i];
            printf("%s{\"id\":%u,\"name\":", i ? "," : "", r->id);
            json_str(r->name);
            printf(",\"state\":\"%s\",\"connected\":%s,", r->state,
                   r->connected ? "true" : "false");
            if (r->age_ms < 0)
                printf("\"stats_age_ms\":null,");
            else
                printf("\"stats_age_ms\":%lld,", r->age_ms);
            printf("\"stats_count\":%llu,\"free_pages\":%llu,\"total_pages\":%llu}",
                   r->stats, r->free_pages, r->total_pages);
        }
        printf("]}\n");
    } else if (rc == 0) {
        printf("cluster %s, master %s\n", cluster, master);
        printf("%-5s %-16s %-9s %-5s %-10s %10s %10s\n", "ID", "NAME", "STATE", "CONN",
               "STATS-AGE", "FREE", "TOTAL");
        for (size_t i = 0; i < n_rows; i++) {
            struct row *r = &rows[i];
            char age[32];
            if (r->age_ms < 0)
                snprintf(age, sizeof age, "never");
            else
                snprintf(age, sizeof age, "%.1fs", (double)r->age_ms / 1000.0);
            printf("%-5u %-16s %-9s %-5s %-10s %10llu %10llu\n", r->id, r->name, r->state,
                   r->connected ? "yes" : "no", age, r->free_pages, r->total_pages);
        }
    }
    free(rows);
    free(reply);
    return rc;
}

struct audit_reply {
    char verdict[16];
    unsigned long long pending;
    size_t flows, unreported;
    struct { unsigned id; unsigned long long a, b; } *homes, *targets;
    size_t n_homes, n_targets;
    struct { unsigned id; char name[VMCA_NAME_MAX]; char why[16]; long long ms; } *down;
    size_t n_down;
};

/* The down entry of node id, or NULL. */
static const char *down_of(const struct audit_reply *a, unsigned id, long long *ms)
{
    for (size_t i = 0; i < a->n_down; i++)
        if (a->down[i].id == id) {
            *ms = a->down[i].ms;
            return a->down[i].why;
        }
    return NULL;
}

/* Parses the master's audit reply; 0, or 1 after saying what was wrong. */
static int parse_audit(char *reply, struct audit_reply *a)
{
    *a = (struct audit_reply){0};
    size_t lines = 1;
    for (const char *c = reply; *c; c++)
        lines += *c == '\n';
    a->homes = calloc(lines, sizeof *a->homes);
    a->targets = calloc(lines, sizeof *a->targets);
    a->down = calloc(lines, sizeof *a->down);
    if (!a->homes || !a->targets || !a->down) {
        fprintf(stderr, "vmcactl: out of memory\n");
        return 1;
    }
    bool head = false;
    for (char *save, *line = strtok_r(reply, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, "end") == 0)
            return head ? 0 : (fprintf(stderr, "vmcactl: no audit line in the reply\n"), 1);
        if (!head && sscanf(line, "audit %15s flows %zu pending %llu unreported %zu",
                            a->verdict, &a->flows, &a->pending, &a->unreported) == 4) {
            head = true;
            continue;
        }
        if (head && sscanf(line, "home %u %llu %llu", &a->homes[a->n_homes].id,
                           &a->homes[a->n_homes].a, &a->homes[a->n_homes].b) == 3) {
            a->n_homes++;
            continue;
        }
        if (head && sscanf(line, "down %u %63s %15s %lld", &a->down[a->n_down].id,
                           a->down[a->n_down].name, a->down[a->n_down].why,
                           &a->down[a->n_down].ms) == 4) {
            a->n_down++;
            continue;
        }
        if (head && sscanf(line, "targets %u %llu %llu", &a->targets[a->n_targets].id,
                           &a->targets[a->n_targets].a, &a->targets[a->n_targets].b) == 3) {
            a->n_targets++;
            continue;
        }
        fprintf(stderr, "vmcactl: unexpected line from the master: %s\n", line);
        return 1;
    }
    fprintf(stderr, "vmcactl: the master's reply ended early\n");
    return 1;
}

static void print_audit(const struct audit_reply *a, bool json)
{
    if (json) {
        printf("{\"verdict\":\"%s\",\"flows\":%zu,\"pending\":%llu,\"unreported\":%zu,"
               "\"homes\":[", a->verdict, a->flows, a->pending, a->unreported);
        for (size_t i = 0; i < a->n_homes; i++)
            printf("%s{\"home\":%u,\"owned\":%llu,\"pages\":%llu}", i ? "," : "",
                   a->homes[i].id, a->homes[i].a, a->homes[i].b);
        printf("],\"down\":[");
        for (size_t i = 0; i < a->n_down; i++)
            printf("%s{\"node\":%u,\"name\":\"%s\",\"why\":\"%s\",\"silent_ms\":%lld}",
                   i ? "," : "", a->down[i].id, a->down[i].name, a->down[i].why,
                   a->down[i].ms);
        printf("],\"targets\":[");
        for (size_t i = 0; i < a->n_targets; i++)
            printf("%s{\"node\":%u,\"sum\":%llu,\"owned\":%llu}", i ? "," : "",
                   a->targets[i].id, a->targets[i].a, a->targets[i].b);
        printf("]}\n");
        return;
    }
    printf("audit: %s (flows in progress %zu, transfers in transit %llu, members not "
           "reporting %zu)\n", a->verdict, a->flows, a->pending, a->unreported);
    /* What is down first: a home of a node that is down is not a leak. */
    for (size_t i = 0; i < a->n_down; i++) {
        if (strcmp(a->down[i].why, "recovery") == 0)
            printf("home %u: %s failed (recovery in progress)\n", a->down[i].id,
                   a->down[i].name);
        else if (strcmp(a->down[i].why, "silent") == 0 && a->down[i].ms >= 0)
            printf("home %u: %s silent for %lld ms (the node or its hypervisor is down or "
                   "hung)\n", a->down[i].id, a->down[i].name, a->down[i].ms);
        else if (strcmp(a->down[i].why, "silent") == 0)
            printf("home %u: %s has not reported yet\n", a->down[i].id, a->down[i].name);
        else
            printf("home %u: %s not connected\n", a->down[i].id, a->down[i].name);
    }
    printf("%-6s %12s %12s\n", "HOME", "OWNED", "PAGES");
    for (size_t i = 0; i < a->n_homes; i++) {
        long long ms;
        const char *down = down_of(a, a->homes[i].id, &ms);
        printf("%-6u %12llu %12llu  %s\n", a->homes[i].id, a->homes[i].a, a->homes[i].b,
               down                            ? "node down (see above)"
               : a->homes[i].a == a->homes[i].b ? "ok"
               : a->homes[i].b == 0           ? "held of a non-member"
               : a->homes[i].a < a->homes[i].b ? "missing" : "owned twice");
    }
    if (a->n_targets)
        printf("%-6s %12s %12s\n", "NODE", "TARGETS", "OWNED");
    for (size_t i = 0; i < a->n_targets; i++)
        printf("%-6u %12llu %12llu  %s\n", a->targets[i].id, a->targets[i].a, a->targets[i].b,
               a->targets[i].a <= a->targets[i].b ? "ok" : "above the pages owned");
}

static int cmd_audit(const struct ctl *c, char **argv)
{
    (void)argv;
    double t0 = now_s(), wait_s = c->wait_s;
    bool json = c->json;
    for (;;) {
        char *reply;
        int rc = ask_ok(c, "audit", &reply);
        if (rc)
            return rc;
        struct audit_reply a;
        rc = parse_audit(reply, &a);
        free(reply);
        double waited = now_s() - t0;
        bool balanced = rc == 0 && strcmp(a.verdict, "balanced") == 0;
        if (rc == 0 && (balanced || waited + 0.5 > wait_s)) {
            print_audit(&a, json);
            rc = balanced ? 0 : strcmp(a.verdict, "unbalanced") == 0 ? 3 : 4;
        }
        free(a.homes);
        free(a.targets);
        free(a.down);
        if (rc == 1 || balanced || waited + 0.5 > wait_s)
            return rc;
        nap();
    }
}


/* ---- nodes ---- */

struct node_row {
    unsigned id;
    char name[VMCA_NAME_MAX];
    char state[16];
    int connected;
    unsigned long long capacity, owned, free_pages, lent, borrowed;
    long long age_ms;
};

struct node_table {
    unsigned page_size;
    struct node_row *rows;
    size_t n, cap;
};

/* Asks "nodes" into t (free t->rows); 0 or the exit status. */
static int fetch_nodes(const struct ctl *c, struct node_table *t)
{
    *t = (struct node_table){0};
    char *reply;
    int rc = ask_ok(c, "nodes", &reply);
    if (rc)
        return rc;
    bool head = false, ended = false;
    size_t count;
    for (char *save, *line = strtok_r(reply, "\n", &save); line && !rc;
         line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, "end") == 0) {
            ended = true;
            break;
        }
        if (!head && sscanf(line, "nodes %zu page_size %u", &count, &t->page_size) == 2) {
            head = true;
            continue;
        }
        if (!head || !grow(&t->rows, &t->cap, t->n, sizeof *t->rows)) {
            rc = head ? EXIT_MASTER : unexpected(line);
            break;
        }
        struct node_row *r = &t->rows[t->n];
        if (sscanf(line, "node %u %63s %15s %d %llu %llu %llu %llu %llu %lld", &r->id, r->name,
                   r->state, &r->connected, &r->capacity, &r->owned, &r->free_pages, &r->lent,
                   &r->borrowed, &r->age_ms) != 10)
            rc = unexpected(line);
        else
            t->n++;
    }
    free(reply);
    if (!rc && !ended)
        rc = ended_early();
    if (rc) {
        free(t->rows);
        t->rows = NULL;
    }
    return rc;
}

static const struct node_row *row_of(const struct node_table *t, const char *node)
{
    char *end;
    unsigned long id = strtoul(node, &end, 10);
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, node) == 0 || (!*end && *node && t->rows[i].id == id))
            return &t->rows[i];
    return NULL;
}

static double mib(const struct node_table *t, unsigned long long pages)
{
    return (double)pages * t->page_size / (1024.0 * 1024.0);
}

static int cmd_nodes(const struct ctl *c, char **argv)
{
    (void)argv;
    struct node_table t;
    int rc = fetch_nodes(c, &t);
    if (rc)
        return rc;
    static const char *const cols[] = {"capacity", "owned", "free", "lent", "borrowed"};
    if (c->json) {
        printf("{\"page_size\":%u,\"nodes\":[", t.page_size);
        for (size_t i = 0; i < t.n; i++) {
            const struct node_row *r = &t.rows[i];
            unsigned long long v[] = {r->capacity, r->owned, r->free_pages, r->lent, r->borrowed};
            printf("%s{\"id\":%u,\"name\":", i ? "," : "", r->id);
            json_str(r->name);
            printf(",\"state\":\"%s\",\"connected\":%s", r->state,
                   r->connected ? "true" : "false");
            for (size_t k = 0; k < 5; k++)
                printf(",\"%s_pages\":%llu,\"%s_mib\":%.3f", cols[k], v[k], cols[k],
                       mib(&t, v[k]));
            if (r->age_ms < 0)
                printf(",\"stats_age_ms\":null}");
            else
                printf(",\"stats_age_ms\":%lld}", r->age_ms);
        }
        printf("]}\n");
    } else {
        printf("page size %u bytes; pages (MiB) from each node's last statistics\n",
               t.page_size);
        printf("%-5s %-16s %-9s %-4s", "ID", "NAME", "STATE", "CONN");
        for (size_t k = 0; k < 5; k++) {
            char up[16];
            size_t j;
            for (j = 0; cols[k][j] && j < sizeof up - 1; j++)
                up[j] = (char)(cols[k][j] - 'a' + 'A');
            up[j] = '\0';
            printf(" %19s", up);
        }
        putchar('\n');
        for (size_t i = 0; i < t.n; i++) {
            const struct node_row *r = &t.rows[i];
            unsigned long long v[] = {r->capacity, r->owned, r->free_pages, r->lent, r->borrowed};
            printf("%-5u %-16s %-9s %-4s", r->id, r->name, r->state, r->connected ? "yes" : "no");
            for (size_t k = 0; k < 5; k++) {
                char cell[40];
                snprintf(cell, sizeof cell, "%llu (%.1f)", v[k], mib(&t, v[k]));
                printf(" %19s", cell);
            }
            putchar('\n');
        }
    }
    free(t.rows);
    return 0;
}

/* ---- vms ---- */

static int cmd_vms(const struct ctl *c, char **argv)
{
    char req[128];
    if (argv[0] && !arg_node("vms", argv[0]))
        return EXIT_USAGE;
    snprintf(req, sizeof req, "vms%s%s", argv[0] ? " " : "", argv[0] ? argv[0] : "");
    char *reply;
    int rc = ask_ok(c, req, &reply);
    if (rc)
        return rc;
    struct vm_row {
        unsigned node, vm;
        char name[VMCA_NAME_MAX];
        long long target;
        unsigned long long used, puts, failed, cap;
        bool reported;
    } *rows = NULL;
    size_t n = 0, cap = 0;
    bool ended = false;
    for (char *save, *line = strtok_r(reply, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, "end") == 0) {
            ended = true;
            break;
        }
        if (!grow(&rows, &cap, n, sizeof *rows)) {
            rc = EXIT_MASTER;
            break;
        }
        struct vm_row *r = &rows[n];
        *r = (struct vm_row){.target = -1, .reported = true};
        if (sscanf(line, "vm %u %63s %u %lld %llu %llu %llu %llu", &r->node, r->name, &r->vm,
                   &r->target, &r->used, &r->puts, &r->failed, &r->cap) == 8) {
            n++;
            continue;
        }
        r->reported = false;
        if (sscanf(line, "cap %u %63s %u %llu", &r->node, r->name, &r->vm, &r->cap) == 4) {
            n++;
            continue;
        }
        rc = unexpected(line);
        break;
    }
    if (!rc && !ended)
        rc = ended_early();
    if (!rc && c->json) {
        printf("{\"vms\":[");
        for (size_t i = 0; i < n; i++) {
            const struct vm_row *r = &rows[i];
            printf("%s{\"node\":%u,\"name\":", i ? "," : "", r->node);
            json_str(r->name);
            printf(",\"vm\":%u,\"reported\":%s", r->vm, r->reported ? "true" : "false");
            if (r->reported && r->target >= 0)
                printf(",\"target\":%lld", r->target);
            else
                printf(",\"target\":null");
            if (r->reported)
                printf(",\"used\":%llu,\"puts\":%llu,\"failed_puts\":%llu", r->used, r->puts,
                       r->failed);
            else
                printf(",\"used\":null,\"puts\":null,\"failed_puts\":null");
            if (r->cap)
                printf(",\"cap\":%llu}", r->cap);
            else
                printf(",\"cap\":null}");
        }
        printf("]}\n");
    } else if (!rc) {
        printf("%-5s %-16s %-10s %10s %10s %10s %12s %10s\n", "NODE", "NAME", "VM", "TARGET",
               "USED", "PUTS", "FAILED-PUTS", "CAP");
        for (size_t i = 0; i < n; i++) {
            const struct vm_row *r = &rows[i];
            char target[24], capc[24];
            snprintf(target, sizeof target, r->reported && r->target >= 0 ? "%lld" : "-",
                     r->target);
            snprintf(capc, sizeof capc, r->cap ? "%llu" : "-", r->cap);
            if (r->reported)
                printf("%-5u %-16s %-10u %10s %10llu %10llu %12llu %10s\n", r->node, r->name,
                       r->vm, target, r->used, r->puts, r->failed, capc);
            else
                printf("%-5u %-16s %-10u %10s %10s %10s %12s %10s  (not reported)\n", r->node,
                       r->name, r->vm, "-", "-", "-", "-", capc);
        }
        if (!n)
            printf("no VM reported by a member\n");
    }
    free(rows);
    free(reply);
    return rc;
}

/* ---- stats ---- */

static int cmd_stats(const struct ctl *c, char **argv)
{
    (void)argv;
    char *reply;
    int rc = ask_ok(c, "stats", &reply);
    if (rc)
        return rc;
    char *save, *line = strtok_r(reply, "\n", &save);
    char *end = line ? strtok_r(NULL, "\n", &save) : NULL;
    if (!line || strncmp(line, "stats ", 6) != 0 || !end || strcmp(end, "end") != 0) {
        rc = line ? unexpected(line) : ended_early();
        free(reply);
        return rc;
    }
    /* "stats KEY VALUE ...": numbers, printed in the master's order. */
    char *keys[32];
    unsigned long long vals[32];
    size_t n = 0;
    char *ws, *w = strtok_r(line + 6, " ", &ws);
    while (w && n < 32) {
        char *v = strtok_r(NULL, " ", &ws), *e;
        if (!v || (vals[n] = strtoull(v, &e, 10), *e)) {
            rc = unexpected(line);
            break;
        }
        keys[n++] = w;
        w = strtok_r(NULL, " ", &ws);
    }
    if (!rc && c->json) {
        printf("{");
        for (size_t i = 0; i < n; i++)
            printf("%s\"%s\":%llu", i ? "," : "", keys[i], vals[i]);
        printf("}\n");
    } else if (!rc) {
        for (size_t i = 0; i < n; i++)
            printf("%-18s %llu\n", keys[i], vals[i]);
    }
    free(reply);
    return rc;
}

/* ---- mem-limit, mem-set ---- */

/* Sends a request whose answer is "ok"; 0 or the exit status. */
static int ask_done(const struct ctl *c, const char *req)
{
    char *reply;
    int rc = ask_ok(c, req, &reply);
    if (rc)
        return rc;
    if (strcmp(reply, "ok\n") != 0)
        rc = unexpected(reply);
    free(reply);
    return rc;
}

static int cmd_mem_limit(const struct ctl *c, char **argv)
{
    uint64_t n;
    if (!arg_number("mem-limit", "PAGES", argv[1], UINT64_MAX, &n) ||
        !arg_node("mem-limit", argv[0]))
        return EXIT_USAGE;
    char req[256];
    snprintf(req, sizeof req, "mem-limit %s %llu", argv[0], (unsigned long long)n);
    int rc = ask_done(c, req);
    if (rc)
        return rc;
    if (c->json) {
        printf("{\"node\":");
        json_str(argv[0]);
        printf(n ? ",\"mem_limit\":%llu}\n" : ",\"mem_limit\":null}\n", (unsigned long long)n);
    } else if (n) {
        printf("mem-limit of %s: %llu\n", argv[0], (unsigned long long)n);
    } else {
        printf("mem-limit of %s: no cap\n", argv[0]);
    }
    return 0;
}

static int cmd_mem_set(const struct ctl *c, char **argv)
{
    uint64_t vm, n;
    if (!arg_node("mem-set", argv[0]) || !arg_number("mem-set", "VM", argv[1], UINT32_MAX, &vm) ||
        !arg_number("mem-set", "PAGES", argv[2], UINT64_MAX, &n))
        return EXIT_USAGE;
    char req[256];
    snprintf(req, sizeof req, "mem-set %s %llu %llu", argv[0], (unsigned long long)vm,
             (unsigned long long)n);
    int rc = ask_done(c, req);
    if (rc)
        return rc;
    if (c->json) {
        printf("{\"node\":");
        json_str(argv[0]);
        printf(n ? ",\"vm\":%llu,\"cap\":%llu}\n" : ",\"vm\":%llu,\"cap\":null}\n",
               (unsigned long long)vm, (unsigned long long)n);
    } else if (n) {
        printf("mem-set of VM %llu on %s: at most %llu pages\n", (unsigned long long)vm,
               argv[0], (unsigned long long)n);
    } else {
        printf("mem-set of VM %llu on %s: no cap\n", (unsigned long long)vm, argv[0]);
    }
    return 0;
}

/* ---- leave, join ---- */

/* Asks `verb NODE`, then watches the node table until done(row) says the
 * flow finished (0), failed (an exit status) or --wait runs out; a
 * progress line (stderr with --json) whenever what it shows changes. */
static int watch(const struct ctl *c, const char *verb, const char *node,
                 int (*done)(const struct node_row *r, char *what, size_t len))
{
    if (!arg_node(verb, node))
        return EXIT_USAGE;
    char req[128];
    snprintf(req, sizeof req, "%s %s", verb, node);
    int rc = ask_done(c, req);
    if (rc)
        return rc;
    FILE *progress = c->json ? stderr : stdout;
    double t0 = now_s();
    char last[256] = "", what[256] = "";
    struct node_row r = {0};
    for (;;) {
        struct node_table t;
        rc = fetch_nodes(c, &t);
        if (rc)
            return rc;
        const struct node_row *p = row_of(&t, node);
        if (!p) {
            free(t.rows);
            fprintf(stderr, "vmcactl: %s: node %s is not in the master's table\n", verb, node);
            return EXIT_MASTER;
        }
        r = *p;
        free(t.rows);
        rc = done(&r, what, sizeof what);
        double waited = now_s() - t0;
        if (strcmp(what, last) != 0) {
            fprintf(progress, "%s %s: %s (%.1f s)\n", verb, r.name, what, waited);
            fflush(progress);
            snprintf(last, sizeof last, "%s", what);
        }
        if (rc >= 0)
            break;
        if (waited + 0.5 > c->wait_s) {
            fprintf(stderr, "vmcactl: %s of %s did not finish within %g s (%s); it goes on\n",
                    verb, r.name, c->wait_s, what);
            rc = EXIT_TIMEOUT;
            break;
        }
        nap();
    }
    if (c->json) {
        printf("{\"node\":");
        json_str(r.name);
        printf(",\"id\":%u,\"state\":\"%s\",\"done\":%s,\"waited_s\":%.1f}\n", r.id, r.state,
               rc == 0 ? "true" : "false", now_s() - t0);
    }
    return rc;
}

/* -1 while the leave goes on; 0 when the node is out (Leave-Notify sent). */
static int leave_done(const struct node_row *r, char *what, size_t len)
{
    if (strcmp(r->state, "inactive") == 0) {
        snprintf(what, len, "left the cluster: inactive");
        return 0;
    }
    if (strcmp(r->state, "recovery") == 0) {
        snprintf(what, len, "failed during its leave: in recovery");
        return EXIT_STATE;
    }
    if (strcmp(r->state, "active") == 0)
        snprintf(what, len, "asked to leave, still active (its Leave-Req has not come)");
    else
        snprintf(what, len, "leaving: %llu pages of other homes held, %llu own pages lent out",
                 r->borrowed, r->lent);
    return -1;
}

/* -1 until the node is active and has reported. */
static int join_done(const struct node_row *r, char *what, size_t len)
{
    if (strcmp(r->state, "active") == 0 && r->age_ms >= 0) {
        snprintf(what, len, "joined: active, %llu pages owned", r->owned);
        return 0;
    }
    if (strcmp(r->state, "recovery") == 0)
        snprintf(what, len, "recovering an earlier life before it registers");
    else if (!r->connected)
        snprintf(what, len, "%s, its slave not connected", r->state);
    else
        snprintf(what, len, "%s, asked to register", r->state);
    return -1;
}

static int cmd_leave(const struct ctl *c, char **argv)
{
    return watch(c, "leave", argv[0], leave_done);
}

static int cmd_join(const struct ctl *c, char **argv)
{
    return watch(c, "join", argv[0], join_done);
}

/* ---- command line ---- */

struct command {
    const char *name;
    int min, max;          /* arguments */
    const char *args;      /* for the usage error */
    bool waits;            /* --wait applies */
    double wait_default;   /* seconds, without --wait */
    int (*run)(const struct ctl *c, char **argv);
};

static const struct command commands[] = {
    {"status", 0, 0, "no arguments", false, 0, cmd_status},
    {"nodes", 0, 0, "no arguments", false, 0, cmd_nodes},
    {"vms", 0, 1, "at most a NODE", false, 0, cmd_vms},
    {"stats", 0, 0, "no arguments", false, 0, cmd_stats},
    {"audit", 0, 0, "no arguments", true, 0, cmd_audit},
    {"mem-limit", 2, 2, "NODE PAGES", false, 0, cmd_mem_limit},
    {"mem-set", 3, 3, "NODE VM PAGES", false, 0, cmd_mem_set},
    {"leave", 1, 1, "NODE", true, 60, cmd_leave},
    {"join", 1, 1, "NODE", true, 60, cmd_join},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

struct options {
    const char *config, *sock;
    bool json, wait_given;
    double wait_s;
};

/* Option `name` (short letter or long name) with its value: 0, or the
 * exit status after saying what was wrong. *done: help or version shown. */
static int take_option(struct options *o, char letter, const char *value, bool *done)
{
    char *end;
    switch (letter) {
    case 'c': o->config = value; return 0;
    case 'S': o->sock = value; return 0;
    case 'j': o->json = true; return 0;
    case 'h': fputs(usage, stdout); *done = true; return 0;
    case 'V': puts("vmcactl " VMCA_VERSION); *done = true; return 0;
    case 'w':
        errno = 0;
        o->wait_s = strtod(value, &end);
        if (errno || *end || !*value || !(o->wait_s >= 0 && o->wait_s <= 86400)) {
            fprintf(stderr, "vmcactl: --wait: expected seconds in 0..86400, got '%s'\n", value);
            return EXIT_USAGE;
        }
        o->wait_given = true;
        return 0;
    }
    return EXIT_USAGE;
}

static const struct {
    const char *name;
    char letter;
    bool value;
} options[] = {
    {"config", 'c', true}, {"socket", 'S', true}, {"json", 'j', false},
    {"wait", 'w', true},   {"help", 'h', false},  {"version", 'V', false},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

/* Options anywhere (GNU style: -x V, -xV, --long V, --long=V; "--" ends
 * them); a word that is a negative number is an argument (mem-limit says
 * what is wrong with it). The rest goes to args, in order. */
static int parse_line(int argc, char **argv, struct options *o, char **args, int *n_args,
                      bool *done)
{
    bool opts_over = false;
    *n_args = 0;
    for (int i = 1; i < argc && !*done; i++) {
        char *a = argv[i];
        if (opts_over || a[0] != '-' || !a[1] || (a[1] >= '0' && a[1] <= '9')) {
            args[(*n_args)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            opts_over = true;
            continue;
        }
        bool is_long = a[1] == '-';
        const char *name = a + (is_long ? 2 : 1), *eq = is_long ? strchr(name, '=') : NULL;
        size_t k, len = eq ? (size_t)(eq - name) : strlen(name);
        for (k = 0; k < N_OPTIONS; k++)
            if (is_long ? strlen(options[k].name) == len && strncmp(options[k].name, name, len) == 0
                        : options[k].letter == name[0])
                break;
        if (k == N_OPTIONS) {
            fprintf(stderr, "vmcactl: unknown option '%s' (vmcactl --help lists them)\n", a);
            return EXIT_USAGE;
        }
        const char *value = NULL;
        if (options[k].value) {
            value = eq ? eq + 1 : !is_long && name[1] ? name + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!value) {
                fprintf(stderr, "vmcactl: option '%s' needs a value\n", a);
                return EXIT_USAGE;
            }
        } else if (eq || (!is_long && name[1])) {
            fprintf(stderr, "vmcactl: option '%s' takes no value\n", a);
            return EXIT_USAGE;
        }
        int rc = take_option(o, options[k].letter, value, done);
        if (rc)
            return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n_args = 0;
    bool done = false;
    if (!args) {
        fprintf(stderr, "vmcactl: out of memory\n");
        return EXIT_MASTER;
    }
    int rc = parse_line(argc, argv, &o, args, &n_args, &done);
    if (rc || done) {
        free(args);
        return rc;
    }
    const struct command *cmd = NULL;
    if (n_args == 0) {
        fprintf(stderr, "vmcactl: expected a command\n%s", usage);
        rc = EXIT_USAGE;
    } else {
        for (size_t i = 0; i < N_COMMANDS && !cmd; i++)
            if (strcmp(args[0], commands[i].name) == 0)
                cmd = &commands[i];
        if (!cmd) {
            fprintf(stderr, "vmcactl: unknown command '%s' (known: status, nodes, vms, stats, "
                            "audit, mem-limit, mem-set, leave, join)\n", args[0]);
            rc = EXIT_USAGE;
        } else if (n_args - 1 < cmd->min || n_args - 1 > cmd->max) {
            fprintf(stderr, "vmcactl: %s takes %s\n", cmd->name, cmd->args);
            rc = EXIT_USAGE;
        } else if (o.wait_given && !cmd->waits) {
            fprintf(stderr, "vmcactl: --wait applies to audit, leave and join only\n");
            rc = EXIT_USAGE;
        }
    }
    const char *config = o.config;
    if (!rc && o.config && o.sock) {
        fprintf(stderr, "vmcactl: give one of --config or --socket, not both\n");
        rc = EXIT_USAGE;
    } else if (!rc && !o.config && !o.sock) {
        config = getenv("VMCA_CONFIG");
        if (!config || !*config) {
            fprintf(stderr, "vmcactl: give --config FILE or --socket PATH (or set "
                            "VMCA_CONFIG)\n");
            rc = EXIT_USAGE;
        }
    }
    char path[VMCA_PATH_MAX];
    if (!rc && config) {
        struct vmca_config cfg;
        char err[1024];
        if (vmca_config_load(config, 0, &cfg, err, sizeof err) != VMCA_OK) {
            fprintf(stderr, "vmcactl: %s%s\n", err, o.config ? "" : " (from $VMCA_CONFIG)");
            rc = EXIT_USAGE;
        } else {
            snprintf(path, sizeof path, "%s", cfg.master.admin_socket);
            vmca_config_free(&cfg);
        }
    } else if (!rc) {
        snprintf(path, sizeof path, "%s", o.sock);
    }
    if (!rc) {
        struct ctl c = {path, o.json, o.wait_given ? o.wait_s : cmd->wait_default};
        rc = cmd->run(&c, args + 1);
    }
    free(args);
    return rc;
}
