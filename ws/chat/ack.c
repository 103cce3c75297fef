/* ack.c -- the one way the chat and admin handlers answer an emit */
#include "ack.h"

#include <stdio.h>

#include "status.h"
#include "store.h"

void ack_reply(sio_ack *ack, json_t *obj) {
    if (!ack) {
        json_decref(obj);
        return;
    }
    json_t *args = json_array();
    json_array_append_new(args, obj ? obj : json_null());
    sio_ack_send(ack, args);
    json_decref(args);
}

void ack_error(sio_ack *ack, const char *msg) {
    if (ack) ack_reply(ack, json_pack("{s:s}", "error", msg));
}

void ack_store_error(sio_ack *ack, int rc, const char *thing) {
    char msg[64];
    if (rc == STORE_NOTFOUND && thing) {
        snprintf(msg, sizeof msg, "no such %s", thing);
        return ack_error(ack, msg);
    }
    ack_error(ack, status_of_store(rc)->message);
}

void ack_refuse(sio_ack *ack, contract_id id) {
    char msg[CONTRACT_MESSAGE_MAX];
    ack_error(ack, contract_message(id, NULL, msg, sizeof msg));
}
