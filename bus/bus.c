/* bus.c -- picks the backend by the db string, checks arguments (bus.h) */
#include "bus_backend.h"

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

void bus_close(bus *b) {
    if (!b) return;
    if (b->loop) b->loop->unlisten(b);
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

bool bus_connected(const bus *b) {
    return b && b->ops->connected(b);
}
