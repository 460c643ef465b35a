/* vmca-tkm: talks to a node's hypervisor (vmca-hv) over its TKM socket, as
 * the node's memory manager would: statistics, grant, request, return,
 * invalidate, enable, owned (census), mem-limit. For operators and tests.
 * Blocks are written HOME:INDEX/ORDER (e.g. 2:64/6 = 64 pages of node 2
 * from page 64). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "gfn.h"
#include "tkm_wire.h"
#include "unixsock.h"

static const char usage[] =
    "usage: vmca-tkm (--config FILE --node NAME | --socket PATH) COMMAND [ARGS]\n"
    "Sends one call to a node's hypervisor over its TKM socket and prints the\n"
    "answer. Blocks are written HOME:INDEX/ORDER.\n"
    "\n"
    "commands:\n"
    "  stats                         owned/free/used pages, per home, lent, VMs\n"
    "  request PAGES TO              give up to PAGES free pages for node TO;\n"
    "                                prints the blocks taken out\n"
    "  grant FROM BLOCK...           add blocks received from node FROM\n"
    "  return HOME                   give back every page homed at HOME\n"
    "                                (repeats until done); prints the blocks\n"
    "  invalidate HOME               drop every page homed at HOME\n"
    "  enable HOME 0|1               accept (1) or refuse (0) pages of HOME\n"
    "  owned HOME                    blocks of HOME this node owns (census)\n"
    "  mem-limit VM PAGES [VM PAGES]...  per-VM targets\n"
    "options:\n"
    "  -c, --config FILE   cluster configuration\n"
    "  -n, --node NAME     node whose hypervisor to ask (default socket path)\n"
    "  -S, --socket PATH   the TKM socket, instead of --config/--node\n"
    "  -h, --help          this text\n"
    "  -V, --version       print the version\n"
    "exit status: 0 done, 1 the hypervisor refused or could not be reached,\n"
    "2 bad usage\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vmca-tkm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_block(const char *s, Vmca__Block *b)
{
    unsigned home, order;
    unsigned long long index;
    char tail;
    if (sscanf(s, "%u:%llu/%u%c", &home, &index, &order, &tail) != 3 ||
        !vmca_node_valid(home) || index > VMCA_GFN_INDEX_MASK || order > VMCA_ORDER_MAX)
        return false;
    vmca__block__init(b);
    b->gfn = vmca_gfn_make(home, index);
    b->order = order;
    return true;
}

static void print_blocks(const Vmca__TkmReply *r)
{
    for (size_t i = 0; i < r->n_blocks; i++)
        printf("%s%u:%" PRIu64 "/%u", i ? " " : "", vmca_gfn_home(r->blocks[i]->gfn),
               vmca_gfn_index(r->blocks[i]->gfn), r->blocks[i]->order);
    if (r->n_blocks)
        printf("\n");
}

/* Sends m and waits for its reply (statistics pushes are skipped unless
 * want_stats, then the first one after the reply is returned in *stats). */
static int call(int fd, Vmca__TkmToHv *m, Vmca__TkmFromHv **reply, Vmca__TkmFromHv **stats)
{
    static uint64_t id;
    m->id = ++id;
    int rc = tkm_send_to_hv(fd, m);
    if (rc != VMCA_OK) {
        fprintf(stderr, "vmca-tkm: cannot send: %s\n", vmca_strerror(rc));
        return 1;
    }
    *reply = NULL;
    for (;;) {
        Vmca__TkmFromHv *in;
        char err[256];
        rc = tkm_recv_from_hv(fd, &in, err, sizeof err);
        if (rc != VMCA_OK) {
            fprintf(stderr, "vmca-tkm: no answer from the hypervisor: %s\n",
                    rc == VMCA_ERR_AGAIN ? "timed out" : err);
            if (*reply)
                vmca__tkm_from_hv__free_unpacked(*reply, NULL);
            return 1;
        }
        if (in->msg_case == VMCA__TKM_FROM_HV__MSG_REPLY && in->reply->id == m->id && !*reply) {
            *reply = in;
            if (!stats)
                return 0;
            continue;
        }
        if (in->msg_case == VMCA__TKM_FROM_HV__MSG_STATS && stats && *reply) {
            *stats = in;
            return 0;
        }
        vmca__tkm_from_hv__free_unpacked(in, NULL);
    }
}

static void print_stats(const Vmca__TkmStats *s)
{
    printf("owned=%" PRIu64 " free=%" PRIu64 " used=%" PRIu64 " metadata_bytes=%" PRIu64
           " generation=%" PRIu64 "\n", s->owned_pages, s->free_pages, s->used_pages,
           s->metadata_bytes, s->generation);
    for (size_t i = 0; i < s->n_owned; i++)
        printf("owned_home %u %" PRIu64 "\n", s->owned[i]->node, s->owned[i]->pages);
    for (size_t i = 0; i < s->n_lent; i++)
        printf("lent_to %u %" PRIu64 "\n", s->lent[i]->node, s->lent[i]->pages);
    for (size_t i = 0; i < s->n_vms; i++)
        printf("vm %u used=%" PRIu64 " target=%" PRIu64 "\n", s->vms[i]->vm,
               s->vms[i]->tmem_used, s->vms[i]->mm_target);
    for (size_t i = 0; i < s->n_failed_vms; i++)
        printf("failed_vm %u\n", s->failed_vms[i]);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"node", required_argument, NULL, 'n'},
        {"socket", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *node = NULL, *sock = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:n:S:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'n': node = optarg; break;
        case 'S': sock = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': puts("vmca-tkm " VMCA_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind >= argc)
        return usage_error("expected a command (see --help)");
    if (!sock && !(config && node))
        return usage_error("give --socket PATH, or --config FILE and --node NAME");
    char path[VMCA_PATH_MAX];
    if (sock) {
        snprintf(path, sizeof path, "%s", sock);
    } else {
        struct vmca_config cfg;
        char err[1024];
        if (vmca_config_load(config, 0, &cfg, err, sizeof err) != VMCA_OK) {
            fprintf(stderr, "vmca-tkm: %s\n", err);
            return 2;
        }
        int bad = !vmca_config_node_by_name(&cfg, node) ||
                  vmca_config_socket_path(&cfg, node, "tkm", path, sizeof path);
        vmca_config_free(&cfg);
        if (bad)
            return usage_error("--node: no node named '%s' (or its socket path is too long)", node);
    }
    const char *cmd = argv[optind];
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;

    /* Build the call before connecting: bad usage never reaches the hypervisor. */
    Vmca__TkmToHv m = VMCA__TKM_TO_HV__INIT;
    Vmca__TkmRequest rq = VMCA__TKM_REQUEST__INIT;
    Vmca__TkmGrant gr = VMCA__TKM_GRANT__INIT;
    Vmca__TkmReturn rt = VMCA__TKM_RETURN__INIT;
    Vmca__TkmInvalidate inv = VMCA__TKM_INVALIDATE__INIT;
    Vmca__TkmEnable en = VMCA__TKM_ENABLE__INIT;
    Vmca__TkmOwned ow = VMCA__TKM_OWNED__INIT;
    Vmca__TkmStatsNow sn = VMCA__TKM_STATS_NOW__INIT;
    Vmca__TkmMemLimit ml = VMCA__TKM_MEM_LIMIT__INIT;
    Vmca__Block *blocks = NULL, **bptr = NULL;
    Vmca__VmTarget *targets = NULL, **tptr = NULL;
    uint64_t a, b;
    int status = 0, fd = -1;
    if (strcmp(cmd, "stats") == 0 && nargs == 0) {
        m.call_case = VMCA__TKM_TO_HV__CALL_STATS_NOW;
        m.stats_now = &sn;
    } else if (strcmp(cmd, "request") == 0 && nargs == 2) {
        if (!parse_u64(args[0], &a) || !parse_u64(args[1], &b) || !vmca_node_valid((uint32_t)b) || b > VMCA_NODE_MAX) {
            status = usage_error("request: expected PAGES and a node id TO, got '%s ...'", args[0]);
            goto out;
        }
        rq.pages = a;
        rq.to = (uint32_t)b;
        m.call_case = VMCA__TKM_TO_HV__CALL_REQUEST;
        m.request = &rq;
    } else if (strcmp(cmd, "grant") == 0 && nargs >= 2) {
        if (!parse_u64(args[0], &a) || a == 0 || a > VMCA_NODE_MAX) {
            status = usage_error("grant: FROM must be a node id, got '%s'", args[0]);
            goto out;
        }
        blocks = calloc((size_t)nargs, sizeof *blocks);
        bptr = calloc((size_t)nargs, sizeof *bptr);
        if (!blocks || !bptr) {
            fprintf(stderr, "vmca-tkm: out of memory\n");
            status = 1;
            goto out;
        }
        for (int i = 1; i < nargs; i++) {
            if (!parse_block(args[i], &blocks[i - 1])) {
                status = usage_error("grant: '%s' is not a block HOME:INDEX/ORDER", args[i]);
                goto out;
            }
            bptr[i - 1] = &blocks[i - 1];
        }
        gr.from = (uint32_t)a;
        gr.blocks = bptr;
        gr.n_blocks = (size_t)nargs - 1;
        m.call_case = VMCA__TKM_TO_HV__CALL_GRANT;
        m.grant = &gr;
    } else if ((strcmp(cmd, "return") == 0 || strcmp(cmd, "invalidate") == 0 ||
                strcmp(cmd, "owned") == 0) && nargs == 1) {
        if (!parse_u64(args[0], &a) || a == 0 || a > VMCA_NODE_MAX) {
            status = usage_error("expected a node id, got '%s'", args[0]);
            goto out;
        }
        if (cmd[0] == 'r') {
            rt.home = (uint32_t)a;
            m.call_case = VMCA__TKM_TO_HV__CALL_RET;
            m.ret = &rt;
        } else if (cmd[0] == 'i') {
            inv.home = (uint32_t)a;
            m.call_case = VMCA__TKM_TO_HV__CALL_INVALIDATE;
            m.invalidate = &inv;
        } else {
            ow.home = (uint32_t)a;
            m.call_case = VMCA__TKM_TO_HV__CALL_OWNED;
            m.owned = &ow;
        }
    } else if (strcmp(cmd, "enable") == 0 && nargs == 2) {
        if (!parse_u64(args[0], &a) || a == 0 || a > VMCA_NODE_MAX ||
            (strcmp(args[1], "0") != 0 && strcmp(args[1], "1") != 0)) {
            status = usage_error("enable: expected HOME and 0 or 1, got '%s ...'", args[0]);
            goto out;
        }
        en.home = (uint32_t)a;
        en.enable = args[1][0] == '1';
        m.call_case = VMCA__TKM_TO_HV__CALL_ENABLE;
        m.enable = &en;
    } else if (strcmp(cmd, "mem-limit") == 0 && nargs >= 2 && nargs % 2 == 0) {
        targets = calloc((size_t)nargs / 2, sizeof *targets);
        tptr = calloc((size_t)nargs / 2, sizeof *tptr);
        if (!targets || !tptr) {
            fprintf(stderr, "vmca-tkm: out of memory\n");
            status = 1;
            goto out;
        }
        for (int i = 0; i < nargs; i += 2) {
            if (!parse_u64(args[i], &a) || a > UINT32_MAX || !parse_u64(args[i + 1], &b)) {
                status = usage_error("mem-limit: expected VM PAGES pairs, got '%s ...'", args[i]);
                goto out;
            }
            vmca__vm_target__init(&targets[i / 2]);
            targets[i / 2].vm = (uint32_t)a;
            targets[i / 2].pages = b;
            tptr[i / 2] = &targets[i / 2];
        }
        ml.targets = tptr;
        ml.n_targets = (size_t)nargs / 2;
        m.call_case = VMCA__TKM_TO_HV__CALL_MEM_LIMIT;
        m.mem_limit = &ml;
    } else {
        status = usage_error("unknown command or wrong arguments: '%s' (see --help)", cmd);
        goto out;
    }

    char err[512];
    fd = vmca_unix_connect(path, SOCK_SEQPACKET, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "vmca-tkm: %s\n", err);
        status = 1;
        goto out;
    }
    struct timeval tmo = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    for (;;) {
        Vmca__TkmFromHv *reply, *stats = NULL;
        if (call(fd, &m, &reply, m.call_case == VMCA__TKM_TO_HV__CALL_STATS_NOW ? &stats : NULL)) {
            status = 1;
            break;
        }
        const Vmca__TkmReply *r = reply->reply;
        if (r->status != 0) {
            fprintf(stderr, "vmca-tkm: refused: %s (%d)\n", r->error[0] ? r->error : "error",
                    r->status);
            status = 1;
        } else if (stats) {
            print_stats(stats->stats);
        } else if (m.call_case == VMCA__TKM_TO_HV__CALL_GRANT) {
            printf("accepted=%" PRIu64 "\n", r->pages);
            for (size_t i = 0; i < r->n_results; i++)
                printf("%s %s\n", args[i + 1],
                       r->results[i] == VMCA__GRANT_RESULT__GRANT_ACCEPTED  ? "accepted"
                       : r->results[i] == VMCA__GRANT_RESULT__GRANT_BOUNCED ? "bounced"
                                                                            : "rejected");
        } else {
            if (m.call_case != VMCA__TKM_TO_HV__CALL_ENABLE &&
                m.call_case != VMCA__TKM_TO_HV__CALL_MEM_LIMIT)
                printf("pages=%" PRIu64 "\n", r->pages);
            print_blocks(r);
        }
        bool again = status == 0 && m.call_case == VMCA__TKM_TO_HV__CALL_RET && !r->done;
        vmca__tkm_from_hv__free_unpacked(reply, NULL);
        if (stats)
            vmca__tkm_from_hv__free_unpacked(stats, NULL);
        if (!again)
            break;
    }
out:
    if (fd >= 0)
        close(fd);
    free(blocks);
    free(bptr);
    free(targets);
    free(tptr);
    return status;
}
