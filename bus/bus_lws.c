/* bus_lws.c -- listens on the lws event loop, runs the fallback poll (bus_lws.h) */
#include "bus_lws.h"

#include "bus_backend.h"
#include "contract.h"
#include "log.h"

/* The fallback poll: catches a lost wake-up and writers that do not
 * publish. Cheap: two indexed reads that find nothing when all is quiet. */
static void poll_due(lws_sorted_usec_list_t *sul) {
    bus *b = lws_container_of(sul, bus, poll);
    if (b->h.messages) b->h.messages(NULL, b->ud);
    if (b->h.control) b->h.control(b->ud);
    lws_sul_schedule(b->ctx, 0, &b->poll, poll_due, (lws_usec_t)b->fallback_ms * LWS_US_PER_MS);
}

int bus_listen(bus *b, struct lws_context *ctx, struct lws_vhost *vh, const bus_handlers *h,
               void *ud, int fallback_ms) {
    if (!b || !ctx || !vh || !h || b->listened) return -1;
    b->listened = true;
    b->h = *h;
    b->ud = ud;
    b->ctx = ctx;
    b->fallback_ms = fallback_ms > 0 ? fallback_ms : (int)contract_default(CONTRACT_BUS_POLL);
    int rc = b->ops->listen(b, vh);
    /* The first poll at once: it catches what was committed between the
     * caller's reading of its cursor and our listening. */
    lws_sul_schedule(b->ctx, 0, &b->poll, poll_due, 1);
    if (rc)
        log_event(LOG_LEVEL_WARN, "bus: not listening, polling only", "backend", b->ops->name,
                  NULL);
    return rc;
}

void bus_unlisten(bus *b) {
    if (!b || !b->ctx) return;
    if (b->ops->unlisten) b->ops->unlisten(b);
    lws_sul_cancel(&b->poll);
    b->ctx = NULL;
    b->h = (bus_handlers){0};
}

int bus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    (void)user;
    bus *b = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    return b ? b->ops->lws_event(b, wsi, reason, in, len) : 0;
}
