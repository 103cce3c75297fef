/* admin.h -- the /admin namespace: JWT middleware, stats, announce, kick */
#ifndef ADMIN_H
#define ADMIN_H

#include "auth.h"
#include "eio.h"
#include "sio.h"
#include "store.h"

typedef struct admin admin;

/* Registers namespace /admin on srv: its middleware admits a CONNECT whose
 * auth.token is an HS256 JWT with "admin": true signed with secret, else
 * connect_error "unauthorized". Handlers: stats (ack), announce ({text}) and
 * kick ({sid} or {user}, reason?). announce and kick go through the store's
 * control log, so every ws process applies them. st, eio and secret are
 * borrowed. Returns NULL when out of memory. */
admin *admin_new(sio_server *srv, eio_server *eio, store *st, const auth_secret *secret);
void admin_free(admin *a);

/* Applies control events appended since the last call (by any process). */
void admin_deliver_new(admin *a);

#endif
