/*
 * launch: run a program COUNT times in a row and report each run's wall time, CPU time and
 * peak RSS. Compiled by scripts/bench at start (cc -O2), used for every measured client run.
 *
 * Why not spawn the clients from Python directly: on Linux, ru_maxrss of a child includes
 * the high-water RSS of the memory image it had before exec, and a child spawned from the
 * Python driver starts from the driver's image (vfork shares it, fork copies it), so every
 * client would report at least the driver's ~15-20 MiB. Spawned from this small process,
 * the floor is about 1 MiB. It also keeps Python's own spawn overhead out of batch timings.
 *
 * usage: launch COUNT STDIN STDERR PROG [ARG...]
 * Each run: stdin = STDIN (reopened), stdout = /dev/null, stderr = STDERR (truncated).
 * Output, one line per run: "run WALL_NS UTIME_US STIME_US MAXRSS_KB EXIT", then
 * "total WALL_NS" (first spawn to last reap). Stops after the first run that does not exit 0
 * (exit status 1); status 2 for usage or spawn errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tv_us(struct timeval tv)
{
    return (long long)tv.tv_sec * 1000000LL + tv.tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: launch COUNT STDIN STDERR PROG [ARG...]\n");
        return 2;
    }
    long count = strtol(argv[1], NULL, 10);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, argv[2], O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    long long start = now_ns();
    for (long i = 0; i < count; i++) {
        pid_t pid;
        int status;
        struct rusage ru;
        long long t0 = now_ns();
        int err = posix_spawn(&pid, argv[4], &fa, NULL, argv + 4, environ);
        if (err != 0) {
            fprintf(stderr, "launch: cannot run %s: %s\n", argv[4], strerror(err));
            return 2;
        }
        while (wait4(pid, &status, 0, &ru) < 0) {
            if (errno != EINTR) {
                perror("launch: wait4");
                return 2;
            }
        }
        long long wall = now_ns() - t0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        printf("run %lld %lld %lld %ld %d\n", wall, tv_us(ru.ru_utime), tv_us(ru.ru_stime),
               ru.ru_maxrss, code);
        if (code != 0) {
            fflush(stdout);
            return 1;
        }
    }
    printf("total %lld\n", now_ns() - start);
    return 0;
}
