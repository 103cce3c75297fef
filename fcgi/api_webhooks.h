/* api_webhooks.h -- REST for outgoing webhooks (README "Webhooks"); every
 * call needs an admin token (401 without a valid token, 403 another one) */
#ifndef API_WEBHOOKS_H
#define API_WEBHOOKS_H

#include "api.h"

/* POST /api/webhooks {"namespace"?: "/", "url", "events"?: ["chat message",
 *   "message edited", "message deleted"]} -> 201 the webhook with its
 *   "secret" (shown this once); it delivers what the log gets from now on.
 *   400 bad url (http:// or https://, at most 2048 bytes) or event; 429
 *   past WEBHOOKS_PER_NAMESPACE_MAX in the namespace.
 * GET /api/webhooks?namespace= (absent: all) -> {"webhooks": [...]}: each
 *   with cursor, state ("ok", "retrying", "parked"), attempts, last_status,
 *   last_error, parked, next_at, delivered.
 * GET /api/webhooks/{id} -> the webhook; DELETE -> 204.
 * POST /api/webhooks/{id}/unpark -> 200 the webhook, tried again at once. */
bool api_webhooks_route(const char *path);
const char *api_webhooks_allow(const char *path);
/* Answers false when no such call exists (the router's 405). */
bool api_webhooks_handle(const api_env *env, const http_request *req, const char *path,
                         const char *method, http_response *resp);

#endif
