/* prefork.h -- a parent that keeps N worker processes running and stops them on a signal */
#ifndef PREFORK_H
#define PREFORK_H

#include "contract.h"

/* The body of a worker: runs in the child process, returns its exit status. */
typedef int (*prefork_worker_fn)(void *ctx);

/* Forks nworkers (1..CONTRACT_WORKERS_MAX) children that each run fn(ctx),
 * and supervises them from the calling process: a child that exits is
 * restarted (after a second when it lived less than one, so a crashing worker
 * does not spin); SIGHUP restarts every child; SIGTERM or SIGINT sends SIGTERM
 * to the children, waits up to 5 s (then SIGKILL) and returns 0. Children get
 * default signal dispositions and SIGTERM when the parent dies. Returns 1 when
 * nworkers is out of range or the signal setup fails. */
int prefork_run(int nworkers, prefork_worker_fn fn, void *ctx);

#endif
