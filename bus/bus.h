/* bus.h -- tells the other processes what this one committed: messages, control events, ephemera */
#ifndef BUS_H
#define BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The bus replicates what a process just did to every other process of the
 * deployment. It carries no state of its own: the store is the truth, and
 * the bus only says "look, there is news" -- with the news itself when it
 * fits, so that a receiver need not read it back from the store.
 *
 * Local first: a process delivers what it committed to its own sockets from
 * memory, then publishes it here. The bus never hands a process back what
 * that process published (no echo), and a process that is alone on its bus
 * makes no bus I/O at all.
 *
 * Delivery is at most once and may be lost (a full queue, a backend down):
 * every listener also polls the store every fallback_ms (bus_listen), so a
 * lost wake-up delays, never loses, a committed row. Order: a receiver gets
 * one publisher's messages in that publisher's log order, but publishers
 * interleave; the receiver compares each message with the cursor of what it
 * delivered and reads the store from that cursor when they do not follow.
 *
 * Two backends, chosen by the db string given to bus_open:
 * - local (a file path, the SQLite store): the processes on one machine,
 *   through unix datagram sockets in "<db>-peers/" and an inotify watch on
 *   "<db>-notify" (the backup channel when a datagram could not be queued);
 * - pg (a "postgres://" or "postgresql://" URL): nodes on several hosts,
 *   through LISTEN/NOTIFY; built only when bus/bus_pg.c is linked in.
 *
 * Every function runs in the calling process's only thread (for chat-ws, the
 * lws service thread). None blocks on the network. This header is the
 * publishing side, which needs no event loop (chat-fcgi); the listening side,
 * on lws's, is bus_lws.h. */
typedef struct bus bus;

typedef struct bus_options {
    /* The bus's name on its backend, so that two deployments can share one
     * backend (pg: the NOTIFY channel; local: unused, the db path is the
     * name). NULL: "chat". At most BUS_CHANNEL_MAX bytes of [a-z0-9_]. */
    const char *channel;
} bus_options;

#define BUS_CHANNEL_MAX 32

/* The largest ephemeral payload, in bytes; bus_publish_ephemeral refuses a
 * bigger one and a listener drops one. Below PostgreSQL's NOTIFY limit (8000
 * bytes) with room for the backend's framing. */
#define BUS_EPHEMERAL_MAX 4000

/* Opens the bus of the deployment whose store is db: a file path (local
 * backend) or a postgres:// / postgresql:// URL (pg backend). opt may be
 * NULL. Publishing works at once; receiving needs bus_listen (bus_lws.h).
 * Returns NULL and fills err (if not NULL; errlen bytes, NUL-terminated) when the backend
 * is not built in, db is malformed, or out of memory. A backend that is
 * merely unreachable still opens (bus_connected says false; it reconnects). */
bus *bus_open(const char *db, const bus_options *opt, char *err, size_t errlen);

/* Releases the backend and frees. A listening bus is either closed before
 * its lws context is destroyed, or unlistened (bus_unlisten) before and
 * closed after. Accepts NULL. */
void bus_close(bus *b);

/* Publishes messages this process just committed (msgs[0..n), ascending ids,
 * strings borrowed for the call only), so that the other processes deliver
 * them. Call it after the COMMIT, never before: a receiver may read the store
 * at once. A backend carries the rows themselves when they fit in its
 * datagram/notification, else a bare wake-up (receivers read the store).
 * Never blocks. Returns 0 when every listening peer was told (or there is
 * none), -1 when a wake-up may be lost (the receivers' fallback poll covers
 * it; the backend also takes its own backup path when it has one). */
int bus_publish_messages(bus *b, const store_message *msgs, size_t n);

/* Publishes a control event this process just committed to the store's
 * control log (control_id is its id): the receivers read the control log from
 * their cursor. Same timing and return as bus_publish_messages. */
int bus_publish_control(bus *b, int64_t control_id);

/* Publishes an ephemeral event that is never stored (typing): data is len
 * bytes of text (no NUL byte), at most BUS_EPHEMERAL_MAX. It reaches the
 * listening peers that can take it now; a slow or absent one misses it
 * (dropped, never queued). Returns 0 when handed to every listening peer,
 * -1 when refused (too big, a NUL byte) or dropped for some peer. */
int bus_publish_ephemeral(bus *b, const char *data, size_t len);

/* For health checks: whether the backend is reachable now (local: always
 * true once open; pg: the LISTEN connection is up). Accepts NULL (false). */
bool bus_connected(const bus *b);

#endif
