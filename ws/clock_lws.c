/* clock_lws.c -- the program's clock (clock.h): lws's time and one lws timer */
#include "clock_lws.h"

#include <stdlib.h>

struct clock_lws {
    ws_clock *clock;
    struct lws_context *ctx; /* NULL until started, and once stopped */
    lws_sorted_usec_list_t sul;
};

static long long now_us(void *ud) {
    (void)ud;
    return (long long)lws_now_usecs();
}

static void fire(lws_sorted_usec_list_t *sul) {
    clock_lws *cl = lws_container_of(sul, clock_lws, sul);
    ws_clock_run(cl->clock);
}

static void wake(long long delay_us, void *ud) {
    clock_lws *cl = ud;
    if (!cl->ctx) return; /* started later: clock_lws_start wakes it */
    if (delay_us < 0) {
        lws_sul_cancel(&cl->sul);
        return;
    }
    /* 1 us at least: lws runs it on the next turn of the loop */
    lws_sul_schedule(cl->ctx, 0, &cl->sul, fire, delay_us > 0 ? (lws_usec_t)delay_us : 1);
}

clock_lws *clock_lws_new(void) {
    clock_lws *cl = calloc(1, sizeof *cl);
    if (!cl) return NULL;
    ws_clock_backend be = {now_us, wake, cl};
    if (!(cl->clock = ws_clock_new(&be))) {
        free(cl);
        return NULL;
    }
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

void clock_lws_start(clock_lws *cl, struct lws_context *ctx) {
    cl->ctx = ctx;
    long long due;
    if (ws_clock_next(cl->clock, &due)) {
        long long delay = due - now_us(cl);
        wake(delay > 0 ? delay : 0, cl);
    }
}

void clock_lws_stop(clock_lws *cl) {
    if (cl->ctx) lws_sul_cancel(&cl->sul);
    cl->ctx = NULL;
    ws_clock_stop(cl->clock);
}
