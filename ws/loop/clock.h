/* clock.h -- a monotonic clock and one-shot timers: how the chat, the bus and
 * presence see time, so that they run on lws (clock_lws.h) or on a test's
 * hand-advanced fake */
#ifndef WS_CLOCK_H
#define WS_CLOCK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ws_clock ws_clock;

/* What runs the clock: its time source and its wake-up. */
typedef struct ws_clock_backend {
    /* The current time, microseconds, monotonic. */
    long long (*now_us)(void *ud);
    /* Asks for ws_clock_run() in delay_us (>= 0; 0: the next loop turn), or
     * never (-1), replacing the earlier request. May be NULL when the owner
     * calls ws_clock_run() by itself (a test's fake). */
    void (*wake)(long long delay_us, void *ud);
    void *ud; /* passed to both */
} ws_clock_backend;

typedef void (*ws_timer_fn)(void *ud);

/* A one-shot timer, embedded in its owner's struct. Its fields belong to
 * clock.c; set it up with ws_timer_init() and cancel it before its memory
 * goes. */
typedef struct ws_timer {
    ws_clock *clock;
    ws_timer_fn fn;
    void *ud;
    long long due_us;
    unsigned long long seq; /* order of scheduling: ties fire first come first */
    bool pending;
    size_t slot; /* its place in the clock's heap, while pending */
} ws_timer;

/* be is copied. Returns NULL when out of memory. */
ws_clock *ws_clock_new(const ws_clock_backend *be);
/* Timers still pending are forgotten (not run). Accepts NULL. */
void ws_clock_free(ws_clock *c);

long long ws_clock_now_us(ws_clock *c);
long long ws_clock_now_ms(ws_clock *c);

/* Runs the timers due by now, earliest first (a timer scheduled by one of
 * them waits for the next run, even when due at once), then asks the
 * backend to wake it for the next. The backend's wake-up calls it. */
void ws_clock_run(ws_clock *c);
/* Whether a timer is pending, and when the earliest is due (may be NULL). */
bool ws_clock_next(const ws_clock *c, long long *due_us);
/* Drops every pending timer without running it, and refuses any later
 * schedule: the loop under the clock is going away. */
void ws_clock_stop(ws_clock *c);

/* Sets t up on clock c, not pending: fn(ud) runs when it fires. */
void ws_timer_init(ws_timer *t, ws_clock *c, ws_timer_fn fn, void *ud);
/* Fires t once in delay_ms (0: at the clock's next run, after what is
 * running now), replacing an earlier schedule of t. O(log n) in the timers
 * pending, as are cancelling and firing. Returns 0, or -1 when the clock is
 * stopped or out of memory (t is then not pending). */
int ws_timer_schedule(ws_timer *t, long long delay_ms);
/* Unschedules t if pending. Accepts a timer never initialised (zeroed). */
void ws_timer_cancel(ws_timer *t);
bool ws_timer_pending(const ws_timer *t);

#endif
