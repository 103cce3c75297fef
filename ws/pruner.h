/* pruner.h -- retention (sql/retention.h) on the clock: one bounded step per
 * tick, so pruning never holds the write lock long nor stalls the sockets */
#ifndef PRUNER_H
#define PRUNER_H

#include "clock.h"
#include "retention.h"

typedef struct pruner {
    ws_timer timer;
    retention *ret; /* borrowed */
    int ms;         /* the period */
} pruner;

/* Runs a retention step every ms on clock; a step that found more to do
 * comes back sooner (100 ms at most), a busy database skips a tick. ret is
 * borrowed and outlives p's timer. */
void pruner_start(pruner *p, ws_clock *clock, retention *ret, int ms);
/* Cancels the timer. Accepts a pruner never started (zeroed). */
void pruner_stop(pruner *p);

#endif
