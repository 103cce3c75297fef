/* adapter.h -- broadcasts that reach every ws process: emits as ephemera, control events through
 * the store */
#ifndef ADAPTER_H
#define ADAPTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "hub.h"
#include "sio.h"
#include "store.h"

/* The chat's cross-process broadcast layer, like a Socket.IO adapter, over
 * the bus (bus.h). A room's members may be on any ws process. Two kinds:
 * - emits (typing, presence, room created): applied here at once, then
 *   handed to the bus as ephemeral events that the other processes apply;
 *   never written to the database, and missed by a process that is slow;
 * - control events (announcements, kicks, room deleted): appended to the
 *   store's control log, applied here from memory, then published on the bus
 *   so that every other process reads them from the log, in its order. */
typedef struct adapter adapter;

/* Applies a control event of one kind on this process. payload is
 * borrowed. */
typedef void (*adapter_fn)(json_t *payload, void *ud);

/* st, b and h are borrowed and must outlive the adapter; b may be NULL
 * (nothing reaches other processes). The hub (h) follows the control log and
 * hands the adapter each event and the other processes' emits. Returns NULL
 * when out of memory. */
adapter *adapter_new(sio_server *srv, store *st, bus *b, hub *h);
void adapter_free(adapter *a);

/* Registers the applier of a control event kind. */
void adapter_on(adapter *a, const char *kind, adapter_fn fn, void *ud);

/* Publishes a control event: appended to the control log in its own
 * transaction (*id is its id), applied here, then published on the bus.
 * Returns a store status. Steals payload. */
int adapter_publish_now(adapter *a, const char *kind, json_t *payload, int64_t *id);

/* An emit to namespace ns on every process: to room (NULL: the whole
 * namespace), except the socket with sid except_sid (may be NULL); args is
 * borrowed. is_volatile skips receivers that cannot take it now; with_offset
 * appends the hub's message cursor at the time it is applied, on each process, as the
 * last argument (room broadcasts, for recovery). Applied here before
 * returning, then sent to the other processes as an ephemeral bus event (one
 * over BUS_EPHEMERAL_MAX stays here). Returns 0, -1 out of memory. */
int adapter_emit(adapter *a, const char *ns, const char *room, const char *except_sid,
                 const char *event, json_t *args, bool is_volatile, bool with_offset);

/* The bus's ephemeral handler: applies an emit another process sent (data is
 * hostile: anything but a well-formed emit is ignored); ud is the adapter. */
void adapter_ephemeral(const char *data, size_t len, void *ud);

#endif
