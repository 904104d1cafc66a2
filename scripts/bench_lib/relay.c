/*
 * relay: a minimal proxy_command for figure (g): standard input and output <-> TCP HOST PORT
 * (what `ssh -W HOST:PORT` or `socat - TCP:HOST:PORT` do, without ssh's cost), so that (g)
 * measures what postie's command stream costs (the shell, the relay process, the pipes)
 * rather than a tunnel. Compiled by scripts/bench at start (cc -O2), like launch.c.
 *
 * usage: relay HOST PORT   (HOST an IPv4 address)
 * End of standard input: the socket is shut down for writing; end of the socket: exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, ssize_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: relay HOST PORT\n");
        return 64;
    }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
        fprintf(stderr, "relay: bad address %s\n", argv[1]);
        return 64;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("relay: connect");
        return 1;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct pollfd p[2] = {{0, POLLIN, 0}, {s, POLLIN, 0}};
    static char buf[65536];
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[0].revents) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n <= 0) {
                shutdown(s, SHUT_WR);
                p[0].fd = -1;
            } else if (write_all(s, buf, n) != 0) {
                return 1;
            }
        }
        if (p[1].revents) {
            ssize_t n = read(s, buf, sizeof buf);
            if (n <= 0)
                return 0;
            if (write_all(1, buf, n) != 0)
                return 1;
        }
    }
}
