/*
 * bench/floor-capture.c: the floor for a runner that captures output, the least work a job
 * runner can do when, like pmap, it gives each job its own process group, an empty signal
 * mask, default signals, stdin on /dev/null and its stdout and stderr on pipes it reads.
 *
 *     floor-capture N P [PROGRAM]
 *
 * Runs PROGRAM (default /bin/true) N times, at most P at once, with the job's number as its
 * one argument, as bench/floor.c does; but each child is started by posix_spawn with
 * POSIX_SPAWN_SETPGROUP, SETSIGMASK (empty) and SETSIGDEF (SIGPIPE), and file actions that
 * put /dev/null on 0 and two fresh close-on-exec pipes on 1 and 2. One thread polls every
 * running child's pipes, reads them to end-of-file (discarding the bytes), then reaps the
 * child. No threads, no queue, no formatting: what is left of pmap's own CPU per job above
 * this one's is the price of pmap's structure. bench/run reports it beside the floor.
 *
 * Exits 0 if every child exited 0, 1 otherwise, 2 on bad usage or a failed spawn.
 * Built by bench/run with `cc -O2`; not part of the pmap build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct job {
    pid_t pid;
    int fds[2]; /* read ends of stdout and stderr; -1 once closed */
};

static long parse(const char *s, const char *what, long max) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > max) {
        fprintf(stderr, "floor-capture: %s must be an integer from 1 to %ld, got '%s'\n", what,
                max, s);
        exit(2);
    }
    return v;
}

static int start(struct job *job, char *prog, char **argv, int devnull, posix_spawnattr_t *attr) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        return errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    int e = posix_spawn(&job->pid, prog, &fa, attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    job->fds[0] = out[0];
    job->fds[1] = err[0];
    return e;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: floor-capture N P [PROGRAM]\n");
        return 2;
    }
    long n = parse(argv[1], "N", 1L << 40), p = parse(argv[2], "P", 4096);
    char *prog = argc == 4 ? argv[3] : "/bin/true";
    char number[24];
    char *child_argv[] = {prog, number, NULL};
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);

    struct job *jobs = calloc(p, sizeof *jobs);
    struct pollfd *fds = calloc(2 * p, sizeof *fds);
    long started = 0, running = 0, failed = 0;
    char buf[65536];
    for (long i = 0; i < p; i++)
        jobs[i].pid = 0;
    while (started < n || running > 0) {
        for (long i = 0; i < p && started < n; i++) {
            if (jobs[i].pid)
                continue;
            snprintf(number, sizeof number, "%ld", started + 1);
            int e = start(&jobs[i], prog, child_argv, devnull, &attr);
            if (e) {
                fprintf(stderr, "floor-capture: posix_spawn %s: %s\n", prog, strerror(e));
                return 2;
            }
            started++;
            running++;
        }
        for (long i = 0; i < p; i++)
            for (int k = 0; k < 2; k++) {
                fds[2 * i + k].fd = jobs[i].pid ? jobs[i].fds[k] : -1;
                fds[2 * i + k].events = POLLIN;
            }
        if (poll(fds, 2 * p, -1) < 0 && errno != EINTR) {
            perror("floor-capture: poll");
            return 2;
        }
        for (long i = 0; i < p; i++) {
            if (!jobs[i].pid)
                continue;
            for (int k = 0; k < 2; k++)
                if (fds[2 * i + k].fd >= 0 && fds[2 * i + k].revents &&
                    read(jobs[i].fds[k], buf, sizeof buf) <= 0) {
                    close(jobs[i].fds[k]);
                    jobs[i].fds[k] = -1;
                }
            if (jobs[i].fds[0] < 0 && jobs[i].fds[1] < 0) {
                int status;
                while (waitpid(jobs[i].pid, &status, 0) < 0 && errno == EINTR) {
                }
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    failed++;
                jobs[i].pid = 0;
                running--;
            }
        }
    }
    return failed ? 1 : 0;
}
