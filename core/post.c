/* post.c -- posting a chat message: validation, the write budget and the
 * append, shared by chat-ws and chat-fcgi */
#include "post.h"

#include <string.h>

bool post_valid(const char *text, const char *client_id, contract_id *broken) {
    if (!contract_valid_text(text)) {
        *broken = CONTRACT_TEXT;
        return false;
    }
    if (client_id && !contract_valid_client_id(client_id)) {
        *broken = CONTRACT_CLIENT_ID;
        return false;
    }
    return true;
}

int post_append(store *st, const store_write_budget *b, const post_msg *m, post_result *r) {
    memset(r, 0, sizeof *r);
    /* the budget first: a refused message is not counted and not stored */
    r->rc = store_budget_spend(st, b, m->budget_user, m->addr, &r->over);
    if (r->rc == STORE_OK)
        r->rc = store_message_append(st, m->room_id, m->user, m->text, m->client_id, &r->id, &r->ts,
                                     &r->dup);
    return r->rc;
}

int post_one(store *st, const store_write_budget *b, const post_msg *m, post_result *r) {
    int rc = store_begin(st);
    if (rc != STORE_OK) {
        memset(r, 0, sizeof *r);
        return r->rc = rc;
    }
    rc = post_append(st, b, m, r);
    if (rc == STORE_OK) rc = store_commit(st);
    if (rc != STORE_OK) store_rollback(st);
    return r->rc = rc;
}

store_message post_row(const post_msg *m, const post_result *r) {
    return (store_message){.id = r->id,
                           .room_id = m->room_id,
                           .room = m->room,
                           .ns = m->ns,
                           .user = m->user,
                           .text = m->text,
                           .client_id = m->client_id,
                           .ts = r->ts};
}
