/* router.h -- maps a parsed request to its handler: path, method, ids, common headers */
#ifndef ROUTER_H
#define ROUTER_H

#include "http.h"
#include "store.h"

/* Handles req and fills resp (initialised by the caller with
 * http_response_init, released with http_response_free). st may be NULL when
 * the database is unavailable. Unknown paths get 404, known paths with another
 * method 405 with Allow (OPTIONS gets 204 with Allow), a path or query that does
 * not decode 400, one that is too long 414. HEAD is answered as GET; the
 * caller leaves the body out. Never answers 500 for any input. */
void router_handle(store *st, const http_request *req, http_response *resp);

#endif
