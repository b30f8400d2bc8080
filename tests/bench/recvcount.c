/*
 * recvcount.c - an LD_PRELOAD shim for pg_bench.sh: counts the bytes a
 * process receives from sockets, and writes the total to the file named
 * by RECVCOUNT_OUT when it exits (appended: a parent that is preloaded
 * too adds its own line, usually 0).
 *
 * libpq reads the server with recv() (TLS records included, so this is
 * what came over the wire, an upper bound of the data); /proc/PID/io's
 * rchar does not count recv(), hence the shim. Built by pg_bench.sh:
 *   cc -shared -fPIC -O2 -o recvcount.so recvcount.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>

static atomic_llong received;

typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *,
                               socklen_t *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);

static ssize_t count(ssize_t n)
{
    if (n > 0)
        atomic_fetch_add(&received, (long long)n);
    return n;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    static recv_fn real;

    if (real == NULL)
        real = (recv_fn)dlsym(RTLD_NEXT, "recv");
    return count(real(fd, buf, len, flags));
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
                 struct sockaddr *addr, socklen_t *alen)
{
    static recvfrom_fn real;

    if (real == NULL)
        real = (recvfrom_fn)dlsym(RTLD_NEXT, "recvfrom");
    return count(real(fd, buf, len, flags, addr, alen));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static recvmsg_fn real;

    if (real == NULL)
        real = (recvmsg_fn)dlsym(RTLD_NEXT, "recvmsg");
    return count(real(fd, msg, flags));
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("RECVCOUNT_OUT");
    FILE *f;

    if (path == NULL || (f = fopen(path, "a")) == NULL)
        return;
    fprintf(f, "%lld\n", (long long)atomic_load(&received));
    fclose(f);
}
