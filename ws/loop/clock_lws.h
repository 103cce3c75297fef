/* clock_lws.h -- the program's clock (clock.h): lws's time and one libev timer
 * on the loop lws runs on */
#ifndef CLOCK_LWS_H
#define CLOCK_LWS_H

#include <ev.h>
#include <libwebsockets.h>

#include "clock.h"

typedef struct clock_lws clock_lws;

/* A clock on lws_now_usecs(). Timers may be scheduled at once; they fire
 * once clock_lws_start() gave it the loop. Returns NULL when out of memory. */
clock_lws *clock_lws_new(void);
/* Frees the clock, and the timers still pending with it. Accepts NULL. */
void clock_lws_free(clock_lws *cl);
/* The clock to hand to the chat, the bus and presence. */
ws_clock *clock_lws_clock(clock_lws *cl);

/* Runs the timers on loop, the libev loop ctx was created on (this runs
 * under the loop's thread only). */
void clock_lws_start(clock_lws *cl, struct ev_loop *loop, struct lws_context *ctx);
/* How long the loop's turns took (the callbacks between two waits for
 * events): how long a client may have waited behind the others. A turn
 * over a second is logged as it ends. */
typedef struct clock_lws_turns {
    long long count, over_5ms, over_50ms;
    long long longest_us;
} clock_lws_turns;
clock_lws_turns clock_lws_turn_stats(const clock_lws *cl);

/* Before ctx is destroyed: cancels every timer, and later schedules are
 * refused (ws_clock_stop), for the sessions that still close meanwhile. */
void clock_lws_stop(clock_lws *cl);

#endif
