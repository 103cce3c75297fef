/* cors.c -- CORS for the REST API: which browser origins may call /api/ */
#include "cors.h"

#include <string.h>

#define CORS_MAX_AGE_S 600 /* how long a browser may keep a preflight's answer */

bool cors_allowed(const char *origins, const char *origin) {
    size_t len;

    if (origins == NULL || origins[0] == '\0' || origin == NULL || origin[0] == '\0') return false;
    if (strcmp(origins, "*") == 0) return true;
    len = strlen(origin);
    for (const char *p = origins; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n == len && strncmp(p, origin, n) == 0) return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

void cors_apply(const char *origins, const http_request *req, bool preflight, const char *allow,
                http_response *resp) {
    bool any = origins != NULL && strcmp(origins, "*") == 0;

    if (!cors_allowed(origins, req->origin)) return;
    /* A listed origin is reflected, so caches must keep answers per Origin. */
    http_set_header(resp, "Access-Control-Allow-Origin", "%s", any ? "*" : req->origin);
    if (!any) http_set_header(resp, "Vary", "Origin");
    if (!preflight) {
        http_set_header(resp, "Access-Control-Expose-Headers",
                        "Location, Retry-After, WWW-Authenticate");
        return;
    }
    http_set_header(resp, "Access-Control-Allow-Methods", "%s", allow);
    http_set_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
    http_set_header(resp, "Access-Control-Max-Age", "%d", CORS_MAX_AGE_S);
}
