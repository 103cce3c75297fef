/* fcgi_metrics.h -- chat-fcgi's metrics, shared by its workers, and GET /metrics */
#ifndef FCGI_METRICS_H
#define FCGI_METRICS_H

#include <stdbool.h>

#include "api.h"
#include "http.h"
#include "metrics.h"
#include "token.h"

/* The program's instruments: a registry in memory shared by the pre-forked
 * workers (made before they fork), so any worker's /metrics answers for all
 * of them; the gateway counts requests into it, the handlers what their
 * api_metrics say. Without one (NULL: CGI, unit tests) nothing is counted. */
typedef struct fcgi_metrics fcgi_metrics;

/* Creates the shared registry; call once, before forking workers. Returns
 * NULL when that fails (the program runs without metrics). */
fcgi_metrics *fcgi_metrics_new(void);
/* Unmaps the registry in this process and frees fm. Accepts NULL. */
void fcgi_metrics_free(fcgi_metrics *fm);

/* The handlers' series, for api_env (borrowed, valid until
 * fcgi_metrics_free); NULL when fm is NULL. */
const api_metrics *fcgi_metrics_api(const fcgi_metrics *fm);

/* When req is GET or HEAD /metrics: fills resp (200 with fm's exposition,
 * empty without fm, for a local client -- remote_addr, nginx's REMOTE_ADDR,
 * is loopback -- or one with an admin bearer token; 401/403 JSON otherwise;
 * 405 for another method) and returns true. Returns false for every other
 * path. secret may be NULL. */
bool fcgi_metrics_serve(const fcgi_metrics *fm, const http_request *req, const char *remote_addr,
                        const token_secret *secret, http_response *resp);

/* Counts a finished request in fm: its status and its handling time.
 * Accepts a NULL fm (counts nothing). */
void fcgi_metrics_request(const fcgi_metrics *fm, int status, double seconds);

/* Seconds of a monotonic clock, for timing requests. */
double fcgi_metrics_now(void);

#endif
