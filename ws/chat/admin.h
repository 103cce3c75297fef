/* admin.h -- the /admin namespace: JWT middleware, stats, announce, kick */
#ifndef ADMIN_H
#define ADMIN_H

#include "adapter.h"
#include "clock.h"
#include "sio.h"
#include "store.h"
#include "token.h"

typedef struct admin admin;

/* Registers namespace /admin on srv: its middleware admits a CONNECT whose
 * auth.token is an HS256 JWT with "admin": true signed with secret, else
 * connect_error "unauthorized". Handlers: stats (ack), announce ({text}) and
 * kick ({sid} or {user}, reason?). announce and kick are published on the
 * bus, so every ws process applies them; the ack follows their commit.
 * Everything passed is borrowed. Returns NULL when out of memory. */
admin *admin_new(sio_server *srv, store *st, adapter *b, const token_secret *secret);
void admin_free(admin *a);
/* Starts the admin's timer on clock (borrowed), which disconnects /admin
 * sockets whose token's "exp" has passed (checked every second); NULL
 * cancels it. */
void admin_attach(admin *a, ws_clock *clock);

#endif
