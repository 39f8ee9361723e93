/*
 * bench/floor.c: the floor for the spawn benchmark, the least work a job runner can do.
 *
 *     floor N P [PROGRAM]
 *
 * Runs PROGRAM (default /bin/true) N times, at most P at once, with the job's number as its
 * one argument (PROGRAM 1, PROGRAM 2, ...: the same command lines the runners under test
 * build from `seq N`; it matters, since coreutils' true loads the locale only when it has
 * an argument): posix_spawn with no file actions and no attributes (the child inherits
 * stdin, stdout and stderr), then waitpid(-1) for any child and start the next one. PROGRAM is resolved once,
 * by the caller: there is no PATH search, no input parsing, no output capture, no threads.
 * A runner that reads items, builds argv, captures output and reports statuses cannot be
 * faster than this; bench/run divides its wall time by this one's.
 *
 * Exits 0 if every child exited 0, 1 otherwise, 2 on bad usage or a failed spawn.
 * Built by bench/run with `cc -O2`; not part of the pmap build.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

static long parse(const char *s, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1) {
        fprintf(stderr, "floor: %s must be a positive integer, got '%s'\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: floor N P [PROGRAM]\n");
        return 2;
    }
    long n = parse(argv[1], "N"), p = parse(argv[2], "P");
    char *prog = argc == 4 ? argv[3] : "/bin/true";
    char number[24];
    char *child_argv[] = {prog, number, NULL};
    long started = 0, running = 0, failed = 0;

    while (started < n || running > 0) {
        while (started < n && running < p) {
            pid_t pid;
            snprintf(number, sizeof number, "%ld", started + 1);
            int err = posix_spawn(&pid, prog, NULL, NULL, child_argv, environ);
            if (err) {
                fprintf(stderr, "floor: posix_spawn %s: %s\n", prog, strerror(err));
                return 2;
            }
            started++;
            running++;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            perror("floor: waitpid");
            return 2;
        }
        running--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    return failed ? 1 : 0;
}
