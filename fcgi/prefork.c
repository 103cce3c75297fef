/* prefork.c -- a parent that keeps N worker processes running and stops them on a signal */
#include "prefork.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PREFORK_MIN_LIFE_MS 1000 /* a worker dying younger waits this long to restart */
#define PREFORK_STOP_MS 5000     /* grace period before SIGKILL */

typedef struct prefork_slot {
    pid_t pid;          /* 0 when not running */
    int64_t started_ms; /* when it was forked */
    int64_t restart_ms; /* when it may be forked again */
} prefork_slot;

static int64_t prefork_now_ms(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void prefork_nop(int sig) {
    (void)sig;
}

/* Forks one worker. In the child: default signals, the parent's old mask,
 * SIGTERM on the parent's death, then fn. Returns the pid or -1. */
static pid_t prefork_spawn(prefork_worker_fn fn, void *ctx, const sigset_t *oldmask) {
    pid_t parent = getpid();
    pid_t pid;
    int status;

    fflush(NULL);
    pid = fork();
    if (pid != 0) return pid;
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0); /* the parent died before prctl */
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    status = fn(ctx);
    fflush(NULL);
    _exit(status);
}

/* Reaps every exited child, marking its slot free. */
static void prefork_reap(prefork_slot *slots, int n, bool stopping) {
    int64_t now = prefork_now_ms();
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < n; i++) {
            if (slots[i].pid != pid) continue;
            if (!stopping && WIFSIGNALED(status))
                log_event(LOG_LEVEL_WARN, "worker killed, restarting", "worker", LOG_I(pid),
                          "signal", LOG_I(WTERMSIG(status)), NULL);
            else if (!stopping && WIFEXITED(status) && WEXITSTATUS(status) != 0)
                log_event(LOG_LEVEL_WARN, "worker exited, restarting", "worker", LOG_I(pid),
                          "status", LOG_I(WEXITSTATUS(status)), NULL);
            slots[i].pid = 0;
            slots[i].restart_ms =
                now - slots[i].started_ms < PREFORK_MIN_LIFE_MS ? now + PREFORK_MIN_LIFE_MS : now;
        }
    }
}

static int prefork_alive(const prefork_slot *slots, int n) {
    int alive = 0;

    for (int i = 0; i < n; i++)
        alive += slots[i].pid > 0;
    return alive;
}

static void prefork_signal_all(const prefork_slot *slots, int n, int sig) {
    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0) kill(slots[i].pid, sig);
}

/* Waits up to ms for a signal of mask; returns it, or -1 on timeout. */
static int prefork_wait(const sigset_t *mask, int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    if (ms < 0) ts = (struct timespec){0, 0};
    return sigtimedwait(mask, NULL, &ts);
}

int prefork_run(int nworkers, prefork_worker_fn fn, void *ctx) {
    prefork_slot slots[CONTRACT_WORKERS_MAX];
    struct sigaction sa;
    sigset_t mask, oldmask;
    int64_t now, next, deadline;
    int sig;

    if (nworkers < 1 || nworkers > CONTRACT_WORKERS_MAX) return 1;
    memset(slots, 0, sizeof slots);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prefork_nop; /* so a blocked SIGCHLD is queued, not discarded */
    sigemptyset(&sa.sa_mask);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigaction(SIGCHLD, &sa, NULL) != 0 || sigprocmask(SIG_BLOCK, &mask, &oldmask) != 0) {
        perror("chat-fcgi: signals");
        return 1;
    }

    for (;;) {
        now = prefork_now_ms();
        next = now + 1000;
        for (int i = 0; i < nworkers; i++) {
            if (slots[i].pid > 0) continue;
            if (now < slots[i].restart_ms) {
                if (slots[i].restart_ms < next) next = slots[i].restart_ms;
                continue;
            }
            slots[i].pid = prefork_spawn(fn, ctx, &oldmask);
            slots[i].started_ms = now;
            if (slots[i].pid < 0) {
                log_event(LOG_LEVEL_ERROR, "fork failed", "error", strerror(errno), NULL);
                slots[i].pid = 0;
                slots[i].restart_ms = now + PREFORK_MIN_LIFE_MS;
            }
        }
        sig = prefork_wait(&mask, next - now);
        if (sig == SIGTERM || sig == SIGINT) break;
        if (sig == SIGHUP) prefork_signal_all(slots, nworkers, SIGTERM);
        prefork_reap(slots, nworkers, false);
    }

    prefork_signal_all(slots, nworkers, SIGTERM);
    deadline = prefork_now_ms() + PREFORK_STOP_MS;
    prefork_reap(slots, nworkers, true);
    while (prefork_alive(slots, nworkers) > 0 && (now = prefork_now_ms()) < deadline) {
        prefork_wait(&mask, deadline - now < 100 ? deadline - now : 100);
        prefork_reap(slots, nworkers, true);
    }
    if (prefork_alive(slots, nworkers) > 0) {
        prefork_signal_all(slots, nworkers, SIGKILL);
        for (int i = 0; i < nworkers; i++)
            if (slots[i].pid > 0) waitpid(slots[i].pid, NULL, 0);
    }
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    return 0;
}
