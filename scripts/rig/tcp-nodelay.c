/*
 * tcp-nodelay.c — LD_PRELOAD shim for pcscd (test rig: test/rig/README.md).
 *
 * Why: vsmartcard-vpcd (the virtual reader driver loaded by pcscd) writes each
 * 2-byte length prefix and its payload in two send() calls on a socket without
 * TCP_NODELAY. With Nagle on pcscd's side and delayed ACK on the card's side,
 * every APDU then stalls about 45 ms (measured here, see TRAPS.md).
 * vpcd accepts the virtual card's connection with accept(); this shim wraps
 * accept() and accept4() and sets TCP_NODELAY on every accepted TCP socket.
 * Unix-domain sockets (pcscd's own client socket) are left alone.
 *
 * Built by test/rig/rig.ts with: cc -shared -fPIC -O2 -o build/rig/tcp-nodelay.so
 * tcp-nodelay.c -ldl, and used as LD_PRELOAD=build/rig/tcp-nodelay.so pcscd ...
 * Setting RIG_NODELAY_LOG=1 in pcscd's environment logs each socket it tunes
 * to stderr (the rig's tests use this to prove the shim is active).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);

/* Sets TCP_NODELAY when fd is an IPv4/IPv6 stream socket; returns fd unchanged. */
static int tune(int fd)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof local;
    int one = 1;

    if (fd < 0)
        return fd;
    if (getsockname(fd, (struct sockaddr *) &local, &len) != 0)
        return fd;
    if (local.ss_family != AF_INET && local.ss_family != AF_INET6)
        return fd;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) {
        const char *log = getenv("RIG_NODELAY_LOG");
        if (log && log[0] == '1')
            fprintf(stderr, "tcp-nodelay: TCP_NODELAY set on fd %d\n", fd);
    }
    return fd;
}

int accept(int sockfd, struct sockaddr *addr, socklen_t *addrlen)
{
    static accept_fn real;
    if (!real)
        real = (accept_fn) dlsym(RTLD_NEXT, "accept");
    return tune(real(sockfd, addr, addrlen));
}

int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
    static accept4_fn real;
    if (!real)
        real = (accept4_fn) dlsym(RTLD_NEXT, "accept4");
    return tune(real(sockfd, addr, addrlen, flags));
}
