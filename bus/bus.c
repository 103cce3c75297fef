/* bus.c -- picks the backend by the db string, checks arguments, runs the fallback poll */
#include "bus_backend.h"
#include "contract.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static bool is_pg_url(const char *db) {
    return !strncmp(db, "postgres://", 11) || !strncmp(db, "postgresql://", 13);
}

/* [a-z0-9_], 1..BUS_CHANNEL_MAX bytes: safe as a NOTIFY channel or a file
 * name part. */
static bool valid_channel(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > BUS_CHANNEL_MAX) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
    return true;
}

bus *bus_open(const char *db, const bus_options *opt, char *err, size_t errlen) {
    char scratch[8];
    if (!err) {
        err = scratch;
        errlen = sizeof scratch;
    }
    if (!db || !*db) {
        snprintf(err, errlen, "bus: no database named");
        return NULL;
    }
    bus_options o = opt ? *opt : (bus_options){0};
    if (!o.channel) o.channel = "chat";
    if (!valid_channel(o.channel)) {
        snprintf(err, errlen, "bus: channel must be 1-%d of a-z 0-9 _", BUS_CHANNEL_MAX);
        return NULL;
    }
    const bus_ops *ops = &bus_local_ops;
    if (is_pg_url(db)) {
        if (!&bus_pg_ops) {
            snprintf(err, errlen, "bus: this build has no PostgreSQL backend (bus/bus_pg.c)");
            return NULL;
        }
        ops = &bus_pg_ops;
    }
    bus *b = ops->open(db, &o, err, errlen);
    if (b) b->ops = ops;
    return b;
}

void bus_unlisten(bus *b) {
    if (!b || !b->ctx) return;
    if (b->ops->unlisten) b->ops->unlisten(b);
    lws_sul_cancel(&b->poll);
    b->ctx = NULL;
    b->h = (bus_handlers){0};
}

void bus_close(bus *b) {
    if (!b) return;
    bus_unlisten(b);
    b->ops->close(b);
}

int bus_publish_messages(bus *b, const store_message *msgs, size_t n) {
    if (!b || !msgs || n == 0) return 0;
    return b->ops->publish_messages(b, msgs, n);
}

int bus_publish_control(bus *b, int64_t control_id) {
    if (!b) return 0;
    return b->ops->publish_control(b, control_id);
}

int bus_publish_ephemeral(bus *b, const char *data, size_t len) {
    if (!b) return 0;
    if (!data || len == 0 || len > BUS_EPHEMERAL_MAX || memchr(data, '\0', len)) return -1;
    return b->ops->publish_ephemeral(b, data, len);
}

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

bool bus_connected(const bus *b) {
    return b && b->ops->connected(b);
}

int bus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    (void)user;
    bus *b = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    return b ? b->ops->lws_event(b, wsi, reason, in, len) : 0;
}
