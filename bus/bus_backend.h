/* bus_backend.h -- what a bus backend implements (private to bus/) */
#ifndef BUS_BACKEND_H
#define BUS_BACKEND_H

#include "bus_lws.h"

typedef struct bus_ops bus_ops;

/* What a backend asks of the event loop, so that no file of bus/ but
 * bus_lws.c calls lws: a program that only publishes (chat-fcgi) links bus/
 * without bus_lws.c and without libwebsockets. bus_listen sets it (b->loop)
 * before the backend's listen; a bus that never listened has none, and its
 * backend then touches no loop. */
typedef struct bus_loop {
    /* Adopts the descriptor fd into vh as a raw file of BUS_PROTOCOL, with
     * owner as the wsi's opaque user data (bus_lws_callback routes by it).
     * NULL on failure: fd is still the caller's. */
    struct lws *(*adopt)(struct lws_vhost *vh, int fd, void *owner);
    /* Forgets wsi's owner and has lws close it with its descriptor (at once
     * inside its callback, else on the next loop turn); reason is what lws
     * logs. */
    void (*release)(struct lws *wsi, enum pending_timeout reason);
    /* Runs cb once after us microseconds on ctx's loop (again: moves it). */
    void (*schedule)(struct lws_context *ctx, lws_sorted_usec_list_t *sul, sul_cb_t cb,
                     lws_usec_t us);
    void (*cancel)(lws_sorted_usec_list_t *sul);
    /* Asks for a writable callback on wsi. */
    void (*writable)(struct lws *wsi);
    /* bus_unlisten, for bus_close. */
    void (*unlisten)(bus *b);
} bus_loop;

/* The part of every bus that bus.c owns. A backend's state struct starts
 * with it (`struct my_bus { bus base; ... }`), so a bus * is the backend's
 * state and bus.c reaches the ops through it. */
struct bus {
    const bus_ops *ops;          /* set by bus_open after the backend's open */
    const bus_loop *loop;        /* bus_listen's, NULL before */
    bus_handlers h;              /* bus_listen's; all NULL before it */
    void *ud;                    /* bus_listen's */
    struct lws_context *ctx;     /* bus_listen's, NULL before */
    lws_sorted_usec_list_t poll; /* the fallback poll, run by bus.c */
    int fallback_ms;
    bool listened; /* bus_listen ran (once only) */
};

/* A backend. bus.c validates arguments (NULL bus, n == 0, an ephemeral
 * payload too big or with a NUL) before calling these, and keeps the
 * fallback poll; a backend only moves bytes. Unless said, they return 0 or
 * -1 with the meaning given in bus.h. */
struct bus_ops {
    const char *name; /* "local", "pg": for logs */
    /* Allocates the backend's state (zeroed base first) for db and opt
     * (never NULL here: defaults filled in); NULL with err filled on
     * failure. */
    bus *(*open)(const char *db, const bus_options *opt, char *err, size_t errlen);
    /* Releases everything open and listen took, the state included. A wsi
     * lws closed already (its RAW_CLOSE_FILE came: the backend forgot it and
     * its descriptor then) is not touched; one still open is released
     * (b->loop->release). After
     * bus_unlisten, b->h is all NULL: the backend calls no handler. */
    void (*close)(bus *b);
    int (*publish_messages)(bus *b, const store_message *msgs, size_t n);
    int (*publish_control)(bus *b, int64_t control_id);
    int (*publish_ephemeral)(bus *b, const char *data, size_t len);
    /* Adopts the backend's descriptors into vh (b->loop->adopt), each wsi
     * with the bus as its opaque user data, so bus_lws_callback can route
     * their events to lws_event. b->h, b->ud, b->ctx and b->loop are set
     * before. */
    int (*listen)(bus *b, struct lws_vhost *vh);
    /* Optional (NULL: nothing to do): bus_unlisten calls it first, while
     * b->ctx and its context still stand, so that a backend with timers or
     * a connection in the loop (pg) takes them out before the context goes.
     * Publishing must still work after it. */
    void (*unlisten)(bus *b);
    /* One lws event (RAW_RX_FILE, RAW_CLOSE_FILE, ...) of a wsi this
     * backend adopted; the return is bus_lws_callback's. */
    int (*lws_event)(bus *b, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                     size_t len);
    bool (*connected)(const bus *b);
};

/* The local backend (bus_local.c). */
extern const bus_ops bus_local_ops;

/* The PostgreSQL backend (bus_pg.c), weak: NULL's address when that file is
 * not linked in, and bus_open then says so. */
extern const bus_ops bus_pg_ops __attribute__((weak));

#endif
