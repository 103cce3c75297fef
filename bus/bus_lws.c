/* bus_lws.c -- listens on the lws event loop, runs the fallback poll (bus_lws.h) */
#include "bus_lws.h"

#include "bus_backend.h"
#include "contract.h"
#include "log.h"

static struct lws *loop_adopt(struct lws_vhost *vh, int fd, void *owner) {
    lws_sock_file_fd_type f = {.filefd = fd};
    struct lws *wsi =
        lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, f, BUS_PROTOCOL, NULL);
    /* adopting runs no RX callback before this line: that comes from the loop */
    if (wsi) lws_set_opaque_user_data(wsi, owner);
    return wsi;
}

static void loop_release(struct lws *wsi, enum pending_timeout reason) {
    lws_set_opaque_user_data(wsi, NULL);
    lws_set_timeout(wsi, reason, LWS_TO_KILL_ASYNC);
}

static void loop_schedule(struct lws_context *ctx, lws_sorted_usec_list_t *sul, sul_cb_t cb,
                          lws_usec_t us) {
    lws_sul_schedule(ctx, 0, sul, cb, us);
}

static void loop_writable(struct lws *wsi) {
    lws_callback_on_writable(wsi);
}

static const bus_loop lws_loop = {
    .adopt = loop_adopt,
    .release = loop_release,
    .schedule = loop_schedule,
    .cancel = lws_sul_cancel,
    .writable = loop_writable,
    .unlisten = bus_unlisten,
};

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
    b->loop = &lws_loop;
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
