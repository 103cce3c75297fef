/* ack.h -- the one way the chat and admin handlers answer an emit: [value]
 * or [{error}] */
#ifndef ACK_H
#define ACK_H

#include <jansson.h>

#include "contract.h"
#include "sio.h"

/* Sends [obj] as the answer and drops the reference to obj (steals it;
 * NULL obj sends [null]). ack may be NULL (the client asked for none): obj
 * is dropped. */
void ack_reply(sio_ack *ack, json_t *obj);

/* Sends [{"error": msg}]. ack may be NULL. */
void ack_error(sio_ack *ack, const char *msg);

/* Sends the error of a store status: core/status.h's message, but "no such
 * <thing>" for STORE_NOTFOUND when thing (what was looked up) is not NULL. */
void ack_store_error(sio_ack *ack, int rc, const char *thing);

/* Sends the error of a value that breaks row id of the contract
 * (contract_message: "invalid text: 1-4000 characters"). */
void ack_refuse(sio_ack *ack, contract_id id);

#endif
