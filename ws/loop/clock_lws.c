/* clock_lws.c -- the program's clock (clock.h): lws's time and one libev timer
 * on the loop lws runs on */
#include "clock_lws.h"

#include <stdlib.h>

#include "log.h"

struct clock_lws {
    ws_clock *clock;
    struct ev_loop *loop; /* NULL until started, and once stopped */
    struct lws_context *ctx;
    ev_timer timer;
    lws_sorted_usec_list_t pump; /* lws's own timers: see pump() */
    /* the loop's turns: from the end of a wait (check) to the next (prepare) */
    ev_prepare before_wait;
    ev_check after_wait;
    long long turn_began_us;
    clock_lws_turns turns;
};

/* A turn longer than this is logged when it happens. */
#define CLOCK_LWS_LONG_TURN_US 1000000

static long long now_us(void *ud) {
    (void)ud;
    return (long long)lws_now_usecs();
}

static void fire(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    clock_lws *cl = w->data;
    ws_clock_run(cl->clock);
}

/* lws 4.1's libev glue runs lws's own timers (lws_sul: connection timeouts,
 * LWS_TO_KILL_ASYNC, the bus's timers) from a libev idle
 * watcher, which never runs while I/O keeps coming, or from one libev timer
 * that it cannot move earlier once armed (ev_timer_set on an active
 * watcher): an lws timer due at once could wait for one due much later.
 * This lws timer, due every CLOCK_LWS_PUMP_MS, keeps that libev timer armed
 * at most that far ahead, so under load lws's timers are that late at most. */
#define CLOCK_LWS_PUMP_MS 10

static void pump(lws_sorted_usec_list_t *sul) {
    clock_lws *cl = lws_container_of(sul, clock_lws, pump);
    if (cl->ctx) lws_sul_schedule(cl->ctx, 0, &cl->pump, pump, CLOCK_LWS_PUMP_MS * LWS_US_PER_MS);
}

/* A libev timer, not an lws one: exact under load (see pump()). */
static void wake(long long delay_us, void *ud) {
    clock_lws *cl = ud;
    if (!cl->loop) return; /* started later: clock_lws_start wakes it */
    ev_timer_stop(cl->loop, &cl->timer);
    if (delay_us < 0) return;
    ev_timer_set(&cl->timer, (ev_tstamp)delay_us / 1e6, 0.);
    ev_timer_start(cl->loop, &cl->timer);
}

static void after_wait(struct ev_loop *loop, ev_check *w, int revents) {
    (void)loop, (void)revents;
    clock_lws *cl = w->data;
    cl->turn_began_us = now_us(cl);
}

static void before_wait(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)loop, (void)revents;
    clock_lws *cl = w->data;
    if (!cl->turn_began_us) return;
    long long us = now_us(cl) - cl->turn_began_us;
    cl->turns.count++;
    if (us > 5000) cl->turns.over_5ms++;
    if (us > 50000) cl->turns.over_50ms++;
    if (us > cl->turns.longest_us) cl->turns.longest_us = us;
    if (us > CLOCK_LWS_LONG_TURN_US)
        log_event(LOG_LEVEL_WARN, "ws: the event loop was held up", "ms", LOG_I(us / 1000), NULL);
}

clock_lws *clock_lws_new(void) {
    clock_lws *cl = calloc(1, sizeof *cl);
    if (!cl) return NULL;
    ws_clock_backend be = {now_us, wake, cl};
    if (!(cl->clock = ws_clock_new(&be))) {
        free(cl);
        return NULL;
    }
    ev_init(&cl->timer, fire);
    cl->timer.data = cl;
    ev_prepare_init(&cl->before_wait, before_wait);
    cl->before_wait.data = cl;
    ev_check_init(&cl->after_wait, after_wait);
    cl->after_wait.data = cl;
    return cl;
}

void clock_lws_free(clock_lws *cl) {
    if (!cl) return;
    clock_lws_stop(cl);
    ws_clock_free(cl->clock);
    free(cl);
}

ws_clock *clock_lws_clock(clock_lws *cl) {
    return cl->clock;
}

void clock_lws_start(clock_lws *cl, struct ev_loop *loop, struct lws_context *ctx) {
    cl->loop = loop;
    cl->ctx = ctx;
    ev_prepare_start(loop, &cl->before_wait);
    ev_check_start(loop, &cl->after_wait);
    pump(&cl->pump);
    long long due;
    if (ws_clock_next(cl->clock, &due)) {
        long long delay = due - now_us(cl);
        wake(delay > 0 ? delay : 0, cl);
    }
}

clock_lws_turns clock_lws_turn_stats(const clock_lws *cl) {
    return cl->turns;
}

void clock_lws_stop(clock_lws *cl) {
    if (cl->ctx) lws_sul_cancel(&cl->pump);
    if (cl->loop) {
        ev_timer_stop(cl->loop, &cl->timer);
        ev_prepare_stop(cl->loop, &cl->before_wait);
        ev_check_stop(cl->loop, &cl->after_wait);
    }
    cl->loop = NULL;
    cl->ctx = NULL;
    ws_clock_stop(cl->clock);
}
