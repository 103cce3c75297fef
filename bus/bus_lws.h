/* bus_lws.h -- the bus's listening side: the other processes' news, on the lws event loop */
#ifndef BUS_LWS_H
#define BUS_LWS_H

#include <libwebsockets.h>

#include "bus.h"

/* What a listener does with news. Each runs in the lws service thread, from
 * bus_listen's loop; ud is bus_listen's. */
typedef struct bus_handlers {
    /* Messages another process committed, one call each, in that
     * publisher's log order. m's strings are borrowed for the call only; a
     * field the wire did not carry is NULL (client_id) or 0. m NULL means
     * "something was committed that I cannot name, or a wake-up may have
     * been lost": read the log from your cursor. m is a notification, not
     * news to trust: any process of the same user can send a datagram, so a
     * receiver delivers only what the log holds (ws/chat/hub.c). */
    void (*messages)(const store_message *m, void *ud);
    /* Control events were committed: read the control log from your
     * cursor. */
    void (*control)(void *ud);
    /* An ephemeral event of another process: data (len bytes, at most
     * BUS_EPHEMERAL_MAX, not NUL-terminated) is hostile -- any bytes some
     * peer sent -- and borrowed for the call only. */
    void (*ephemeral)(const char *data, size_t len, void *ud);
} bus_handlers;

/* Starts receiving (chat-ws only): serves the backend's descriptors in the
 * lws event loop of ctx, adopted into its vhost vh (the vhost must list
 * BUS_PROTOCOL with bus_lws_callback), and polls: calls h->messages(NULL) and
 * h->control() once on the next loop turn (what was committed before we
 * listened) and then every fallback_ms (<= 0: the contract's bus_poll
 * default, chat-ws --bus-poll), so that a lost wake-up or a writer that does
 * not publish (the sqlite3 shell) is caught. h is copied; a NULL member is not
 * called. Call it at most once. Returns 0, or -1 (and logs why) when the
 * backend cannot listen, or not fully; the poll runs even then. */
int bus_listen(bus *b, struct lws_context *ctx, struct lws_vhost *vh, const bus_handlers *h,
               void *ud, int fallback_ms);

/* Stops receiving: no handler runs after it, the poll is cancelled, and the
 * backend's descriptors close with the lws context. Publishing still works,
 * so that what runs while the context goes (sockets closing) can publish.
 * Call it before the context is destroyed. Accepts NULL and a bus that does
 * not listen. */
void bus_unlisten(bus *b);

/* The lws protocol that serves the bus's descriptors: list
 * {BUS_PROTOCOL, bus_lws_callback, 0, 0, ...} in the vhost given to
 * bus_listen. */
#define BUS_PROTOCOL "chat-bus"
int bus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

#endif
