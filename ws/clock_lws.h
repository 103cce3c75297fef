/* clock_lws.h -- the program's clock (clock.h): lws's time and one lws timer */
#ifndef CLOCK_LWS_H
#define CLOCK_LWS_H

#include <libwebsockets.h>

#include "clock.h"

typedef struct clock_lws clock_lws;

/* A clock on lws_now_usecs(). Timers may be scheduled at once; they fire
 * once clock_lws_start() gave it a context. Returns NULL when out of memory. */
clock_lws *clock_lws_new(void);
/* Frees the clock, and the timers still pending with it. Accepts NULL. */
void clock_lws_free(clock_lws *cl);
/* The clock to hand to the chat, the bus and presence. */
ws_clock *clock_lws_clock(clock_lws *cl);

/* Runs the timers in ctx's service loop (this runs under the lws service
 * thread only). */
void clock_lws_start(clock_lws *cl, struct lws_context *ctx);
/* Before ctx is destroyed: cancels every timer, and later schedules are
 * refused (ws_clock_stop), for the sessions that still close meanwhile. */
void clock_lws_stop(clock_lws *cl);

#endif
