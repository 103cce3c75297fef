/* address_share.h -- Engine.IO sessions per client address, shared with the
 * other ws processes through the store, so that --max-per-address holds for
 * the deployment and not for each process (issue 21.12) */
#ifndef ADDRESS_SHARE_H
#define ADDRESS_SHARE_H

#include <stdint.h>

#include "eio.h"
#include "store.h"

typedef struct address_share {
    store *st;          /* borrowed; outlives the eio server */
    int64_t process_id; /* this process's row in the processes table */
} address_share;

/* Points cfg's address hooks at share: admission adds the sessions of the
 * address in the other live processes (store_address_sessions_elsewhere, one
 * read per new session), and each change of this process's count is
 * written (store_address_sessions_set). A store error counts as none
 * elsewhere and is logged: the process's own limit still holds. share is
 * borrowed and must outlive the eio server made from cfg. */
void address_share_attach(address_share *share, eio_config *cfg);

#endif
