/* router.h -- maps a parsed request to its handler: path, method, ids, common headers */
#ifndef ROUTER_H
#define ROUTER_H

#include "api.h"
#include "http.h"

/* Handles req and fills resp (initialised by the caller with
 * http_response_init, released with http_response_free). env->st may be NULL
 * when the database is unavailable, env->secret NULL when no secret is
 * configured. Unknown paths get 404 (JSON; an HTML page for /w/<invalid>),
 * known paths with another method 405 with Allow (OPTIONS gets 204 with
 * Allow), a path or query that does not decode 400, one that is too long 414.
 * HEAD is answered as GET; the caller leaves the body out. Never answers 500
 * for any input.
 *
 * Routes: / and /w/<workspace> (the page), /api/health, /api/rooms,
 * /api/rooms/{id} (GET, DELETE), /api/rooms/{id}/messages,
 * /api/rooms/{id}/messages/{mid} (GET, PATCH, DELETE), /api/workspaces/{name}
 * (GET, PUT), /api/moderation/{mute,unmute,ban,unban,sanctions,roles,audit}. */
void router_handle(const api_env *env, const http_request *req, http_response *resp);

#endif
