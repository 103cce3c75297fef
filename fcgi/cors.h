/* cors.h -- CORS for the REST API: which browser origins may call /api/ */
#ifndef CORS_H
#define CORS_H

#include <stdbool.h>

#include "http.h"

/* The origins setting (chat-fcgi --cors-origin, or CHAT_CORS_ORIGIN): NULL or
 * "" for none (the default: only the page's own origin calls the API), "*"
 * for any origin (answered "*": the API authenticates with bearer tokens,
 * which a browser only sends when the calling script adds them), or a
 * space-separated list of exact origins ("https://app.example.org
 * http://localhost:5173"), each reflected with Vary: Origin. */

/* Whether the request's Origin (NULL when absent) may read the answer under
 * origins. */
bool cors_allowed(const char *origins, const char *origin);

/* Adds the CORS headers of an /api/ answer to resp when req's Origin is
 * allowed: Access-Control-Allow-Origin, Vary: Origin, and the headers a
 * script may read (Location, Retry-After, WWW-Authenticate). For a preflight
 * (preflight true: OPTIONS with Access-Control-Request-Method) also the
 * methods of the route (allow, e.g. "GET, HEAD, POST, OPTIONS"), the request
 * headers the API reads (Authorization, Content-Type) and a max age. Adds
 * nothing for a request without Origin or from another origin: the browser
 * then refuses the answer to the script. */
void cors_apply(const char *origins, const http_request *req, bool preflight, const char *allow,
                http_response *resp);

#endif
