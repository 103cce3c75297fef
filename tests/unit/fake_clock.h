/* fake_clock.h -- a clock (clock.h) that the test advances by hand: timers
 * run only in fake_clock_advance() (cmocka assertions; include after
 * cmocka.h) */
#ifndef FAKE_CLOCK_H
#define FAKE_CLOCK_H

#include "clock.h"

/* The time of every fake clock (and of fake_transport.h), in ms. */
static long long fake_clock_ms;

static inline long long fake_clock_now_us(void *ud) {
    (void)ud;
    return fake_clock_ms * 1000;
}

/* A clock on fake_clock_ms; nothing fires until fake_clock_advance(). */
static inline ws_clock *fake_clock_new(void) {
    ws_clock_backend be = {fake_clock_now_us, NULL, NULL};
    ws_clock *c = ws_clock_new(&be);
    assert_non_null(c);
    return c;
}

/* Moves the time ms forward, running each timer at the time it is due, in
 * order; a timer scheduled by one that runs, due by the end, runs too (in a
 * later turn, as on lws). ms 0 runs what is due now, and what that
 * schedules at once. */
static inline void fake_clock_advance(ws_clock *c, long long ms) {
    long long end_us = (fake_clock_ms + ms) * 1000, due;
    for (int turns = 0; ws_clock_next(c, &due) && due <= end_us; turns++) {
        assert_true(turns < 100000); /* a timer that re-arms itself at once forever */
        if (due > fake_clock_ms * 1000) fake_clock_ms = due / 1000;
        ws_clock_run(c);
    }
    fake_clock_ms = end_us / 1000;
}

#endif
