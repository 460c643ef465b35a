/* Who holds a listening TCP port; see porthold.h. */
#include "porthold.h"

#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TCP_LISTEN 0x0A

/* The inode of a socket listening on port in /proc/net/FILE, or 0. */
static unsigned long listen_inode(const char *file, uint16_t port)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/net/%s", file);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long inode = 0;
    if (!fgets(line, sizeof line, f)) /* the header */
        line[0] = '\0';
    while (!inode && fgets(line, sizeof line, f)) {
        char local[128];
        unsigned st, uid;
        unsigned long ino;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*s %127s %*s %x %*s %*s %*s %u %*s %lu", local, &st, &uid,
                   &ino) != 4)
            continue;
        const char *colon = strrchr(local, ':');
        if (colon && st == TCP_LISTEN && strtoul(colon + 1, NULL, 16) == port)
            inode = ino;
    }
    fclose(f);
    return inode;
}

/* The process with socket `inode` among its descriptors: its pid, or 0. */
static long holder_pid(unsigned long inode)
{
    char want[64];
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    long found = 0;
    struct dirent *p;
    while (!found && (p = readdir(proc))) {
        if (!isdigit((unsigned char)p->d_name[0]))
            continue;
        char dir[300];
        snprintf(dir, sizeof dir, "/proc/%s/fd", p->d_name);
        DIR *fds = opendir(dir);
        struct dirent *d;
        while (fds && !found && (d = readdir(fds))) {
            char link[600], target[128];
            snprintf(link, sizeof link, "%s/%s", dir, d->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                if (strcmp(target, want) == 0)
                    found = strtol(p->d_name, NULL, 10);
            }
        }
        if (fds)
            closedir(fds);
    }
    closedir(proc);
    return found;
}

void vmca_port_holder(uint16_t port, char *out, size_t outlen)
{
    unsigned long inode = listen_inode("tcp", port);
    if (!inode)
        inode = listen_inode("tcp6", port);
    long pid = inode ? holder_pid(inode) : 0;
    char comm[64] = "", path[64];
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    FILE *f = pid ? fopen(path, "r") : NULL;
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    if (!comm[0])
        snprintf(out, outlen, "the holder is not visible here");
    else if (strncmp(comm, "vmca-", 5) == 0)
        snprintf(out, outlen, "another vMCA process holds it (%s, pid %ld)", comm, pid);
    else
        snprintf(out, outlen, "%s (pid %ld) holds it, not a vMCA process", comm, pid);
}

void vmca_port_listen_error(uint16_t port, const char *err, char *out, size_t outlen)
{
    char holder[160] = "";
    if (strstr(err, "in use"))
        vmca_port_holder(port, holder, sizeof holder);
    snprintf(out, outlen, "%s%s%s", err, holder[0] ? ": " : "", holder);
}
