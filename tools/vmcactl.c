/* vmcactl: the operator's CLI. Talks to the master over its admin Unix
 * socket (docs/admin-protocol.md) and prints the reply for people or, with
 * --json, for scripts. */
#include <errno.h>
#include <getopt.h>
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
    "usage: vmcactl (--config FILE | --socket PATH) [--json] [--wait SECONDS] COMMAND [ARGS]\n"
    "(options before the command)\n"
    "Asks the vMCA master of a cluster and prints its answer.\n"
    "\n"
    "commands:\n"
    "  status               the node table: id, name, state, connection,\n"
    "                       age of the last statistics, free/total pages\n"
    "  audit                the invariants the master can check from the members'\n"
    "                       last statistics: every member home's pages owned once\n"
    "                       in all (I3 at rest), none held of a non-member, and\n"
    "                       each node's per-VM targets within its pages (I6);\n"
    "                       a node down (failed and recovering, silent, or not\n"
    "                       connected) is named, not counted as a leak\n"
    "  mem-limit NODE PAGES cap the pages NODE (name or id) keeps for its own VMs\n"
    "                       (Mem-Limit; 0 lifts the cap; honoured by the tlp policy)\n"
    "options:\n"
    "  -c, --config FILE    cluster configuration (gives master.admin_socket)\n"
    "  -S, --socket PATH    the master's admin socket, instead of --config\n"
    "  -j, --json           machine-readable output\n"
    "  -w, --wait SECONDS   audit: ask again every 0.5 s until balanced, for up\n"
    "                       to SECONDS (statistics arrive one interval apart)\n"
    "  -h, --help           this text\n"
    "exit status: 0 done (audit: balanced), 1 the master could not be asked,\n"
    "2 bad usage, 3 audit: unbalanced (a leak, a double owner, targets above the\n"
    "pages owned), 4 audit: not at rest (flows or transfers in progress, or a\n"
    "node down: the lines above name it)\n";

struct row {
    unsigned id;
    char name[VMCA_NAME_MAX];
    char state[16];
    long long age_ms;
    int connected;
    unsigned long long stats, free_pages, total_pages;
};

/* Sends one request line and reads the whole reply (malloc'ed, NUL-ended). */
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
        fprintf(stderr, "vmcactl: cannot reach the master at %s: %s\n", path,
                strerror(errno));
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
    return buf;
}

static int cmd_status(const char *path, bool json)
{
    char *reply = ask(path, "status");
    if (!reply)
        return 1;
    char cluster[VMCA_NAME_MAX] = "", master[VMCA_NAME_MAX] = "";
    size_t n_rows = 0, cap = 0;
    struct row *rows = NULL;
    bool ended = false;
    int rc = 0;
    for (char *save, *line = strtok_r(reply, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "error ", 6) == 0) {
            fprintf(stderr, "vmcactl: master says: %s\n", line + 6);
            rc = 1;
            break;
        }
        if (strcmp(line, "end") == 0) {
            ended = true;
            break;
        }
        if (sscanf(line, "cluster %63s master %63s", cluster, master) == 2)
            continue;
        if (n_rows == cap) {
            cap = cap ? cap * 2 : 16;
            struct row *nr = realloc(rows, cap * sizeof *rows);
            if (!nr) {
                rc = 1;
                break;
            }
            rows = nr;
        }
        struct row *r = &rows[n_rows];
        if (sscanf(line, "node %u %63s %15s %lld %d %llu %llu %llu", &r->id, r->name,
                   r->state, &r->age_ms, &r->connected, &r->stats, &r->free_pages,
                   &r->total_pages) != 8) {
            fprintf(stderr, "vmcactl: unexpected line from the master: %s\n", line);
            rc = 1;
            break;
        }
        n_rows++;
    }
    if (rc == 0 && !ended) {
        fprintf(stderr, "vmcactl: the master's reply ended early\n");
        rc = 1;
    }
    if (rc == 0 && json) {
        printf("{\"cluster\":\"%s\",\"master\":\"%s\",\"nodes\":[", cluster, master);
        for (size_t i = 0; i < n_rows; i++) {
            struct row *r = &rows[i];
            printf("%s{\"id\":%u,\"name\":\"%s\",\"state\":\"%s\",\"connected\":%s,",
                   i ? "," : "", r->id, r->name, r->state, r->connected ? "true" : "false");
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
        if (strncmp(line, "error ", 6) == 0) {
            fprintf(stderr, "vmcactl: master says: %s\n", line + 6);
            return 1;
        }
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

static int cmd_mem_limit(const char *path, const char *node, const char *pages)
{
    char req[256], *end;
    errno = 0;
    unsigned long long n = strtoull(pages, &end, 10);
    if (errno || *end || pages[0] < '0' || pages[0] > '9') {
        fprintf(stderr, "vmcactl: mem-limit: PAGES must be a number of pages, got '%s'\n",
                pages);
        return 2;
    }
    if (strlen(node) >= VMCA_NAME_MAX || strchr(node, ' ')) {
        fprintf(stderr, "vmcactl: mem-limit: bad node name '%s'\n", node);
        return 2;
    }
    snprintf(req, sizeof req, "mem-limit %s %llu", node, n);
    char *reply = ask(path, req);
    if (!reply)
        return 1;
    int rc = 0;
    if (strncmp(reply, "ok", 2) == 0) {
        printf("mem-limit of %s: %s\n", node, n ? pages : "no cap");
    } else {
        fprintf(stderr, "vmcactl: master says: %s", strncmp(reply, "error ", 6) == 0 ? reply + 6
                                                                                     : reply);
        rc = 1;
    }
    free(reply);
    return rc;
}

static int cmd_audit(const char *path, bool json, double wait_s)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *reply = ask(path, "audit");
        if (!reply)
            return 1;
        struct audit_reply a;
        int rc = parse_audit(reply, &a);
        free(reply);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
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
        nanosleep(&(struct timespec){0, 500000000L}, NULL);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"socket", required_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},
        {"wait", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *sock = NULL;
    bool json = false, wait_given = false;
    double wait_s = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:S:jw:h", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'c': config = optarg; break;
        case 'S': sock = optarg; break;
        case 'j': json = true; break;
        case 'w':
            errno = 0;
            wait_s = strtod(optarg, &end);
            if (errno || *end || !*optarg || !(wait_s >= 0 && wait_s <= 86400)) {
                fprintf(stderr, "vmcactl: --wait: expected seconds in 0..86400, got '%s'\n",
                        optarg);
                return 2;
            }
            wait_given = true;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "vmcactl: expected a command\n%s", usage);
        return 2;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "status") != 0 && strcmp(cmd, "audit") != 0 &&
        strcmp(cmd, "mem-limit") != 0) {
        fprintf(stderr, "vmcactl: unknown command '%s' (known: status, audit, mem-limit)\n", cmd);
        return 2;
    }
    int want = strcmp(cmd, "mem-limit") == 0 ? 2 : 0;
    if (argc - optind - 1 != want) {
        fprintf(stderr, "vmcactl: %s takes %s\n", cmd,
                want ? "NODE PAGES" : "no arguments");
        return 2;
    }
    if (wait_given && strcmp(cmd, "audit") != 0) {
        fprintf(stderr, "vmcactl: --wait applies to audit only\n");
        return 2;
    }
    if (!config == !sock) {
        fprintf(stderr, "vmcactl: give one of --config or --socket\n%s", usage);
        return 2;
    }
    struct vmca_config cfg;
    char path[VMCA_PATH_MAX];
    if (config) {
        char err[1024];
        if (vmca_config_load(config, 0, &cfg, err, sizeof err) != VMCA_OK) {
            fprintf(stderr, "vmcactl: %s\n", err);
            return 2;
        }
        snprintf(path, sizeof path, "%s", cfg.master.admin_socket);
        vmca_config_free(&cfg);
    } else {
        snprintf(path, sizeof path, "%s", sock);
    }
    if (strcmp(cmd, "mem-limit") == 0)
        return cmd_mem_limit(path, argv[optind + 1], argv[optind + 2]);
    return strcmp(cmd, "audit") == 0 ? cmd_audit(path, json, wait_s) : cmd_status(path, json);
}
