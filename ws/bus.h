/* bus.h -- broadcasts that reach every ws process, through the database */
#ifndef BUS_H
#define BUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "peers.h"
#include "sio.h"
#include "store.h"

/* The chat's cross-process broadcast adapter. A room's members may be on
 * any ws process; an event published here is appended to the store's
 * control log and applied by every process as it tails that log (this one
 * included), the way chat messages are delivered from the message log.
 * Volatile emits (typing) are ephemeral instead: applied here at once and
 * handed to the peers channel (peers.h), never written to the database. */
typedef struct bus bus;

/* Applies a published event of one kind on this process. payload is
 * borrowed. */
typedef void (*bus_fn)(json_t *payload, void *ud);

/* st and clock (its batching timer's) are borrowed and must outlive the
 * bus. Returns NULL when out of memory. */
bus *bus_new(sio_server *srv, store *st, ws_clock *clock);
void bus_free(bus *b);
/* Where the offset of emits published with with_offset comes from at the
 * moment they are applied (the chat's delivered cursor). */
void bus_offset_source(bus *b, int64_t (*fn)(void *ud), void *ud);

/* Gives the bus the channel its volatile emits reach the other processes
 * through; NULL (the default) keeps them on this process. p is borrowed.
 * Accepts a NULL bus (a process without one). */
void bus_peers(bus *b, peers *p);
/* A peers_fn for bus_peers' channel: applies a volatile emit that another
 * process sent (data is hostile: anything else is ignored); ud is the bus. */
void bus_peers_received(const char *data, size_t len, void *ud);

/* Registers the applier of a kind ("emit" is built in). */
void bus_on(bus *b, const char *kind, bus_fn fn, void *ud);

/* Publishes an event: queued, and committed with the others of this loop
 * turn in one transaction. Steals payload. Returns 0, -1 out of memory. */
int bus_publish(bus *b, const char *kind, json_t *payload);
/* Publishes at once, in its own transaction; *id is its control id.
 * Returns a store status. Steals payload. */
int bus_publish_now(bus *b, const char *kind, json_t *payload, int64_t *id);

/* An emit to namespace ns on every process: to rooms (none: the whole
 * namespace), except the socket with sid except_sid (may be NULL); args is
 * borrowed. with_offset appends the log offset at the time it is applied
 * as the last argument (room broadcasts, for recovery). is_volatile emits
 * are applied here before returning and sent to the peers, never stored:
 * a peer that is slow misses them, and with_offset is ignored. */
int bus_emit(bus *b, const char *ns, const char *room, const char *except_sid, const char *event,
             json_t *args, bool is_volatile, bool with_offset);

/* Applies the events appended since the last call, by any process. */
void bus_deliver_new(bus *b);

#endif
