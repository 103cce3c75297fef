/* recovery.h -- what a connection state recovery may replay, read from the store */
#ifndef RECOVERY_H
#define RECOVERY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The offset a recovery replays from: the client's offset (decimal digits,
 * >= 0), raised to floor, the offset the stored session was first served
 * from (a client cannot make the server read from before it). Returns 0, or
 * -1 when offset is malformed (no recovery then). */
int recovery_from(const char *offset, int64_t floor, int64_t *from);

/* The messages of namespace ns's rooms named in rooms (a JSON array of
 * names; others, unknown rooms and repeats are skipped) with from < id <=
 * upto, in log order, each turned into an array element by encode (which
 * returns a new reference, or NULL to skip). At most max: past it, or on a
 * store error, returns NULL (the caller refuses the recovery). Reads at most
 * max + one page per room, through the rooms' index, so one call never holds
 * the event loop long. The caller owns the array. */
json_t *recovery_gather(store *st, const char *ns, const json_t *rooms, int64_t from, int64_t upto,
                        size_t max, json_t *(*encode)(const store_message *m));

#endif
