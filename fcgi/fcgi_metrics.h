/* fcgi_metrics.h -- chat-fcgi's metrics, shared by its workers, and GET /metrics */
#ifndef FCGI_METRICS_H
#define FCGI_METRICS_H

#include <stdbool.h>

#include "http.h"
#include "metrics.h"
#include "token.h"

/* The program's instruments. The registry lives in memory shared by the
 * pre-forked workers (made before they fork), so any worker's /metrics
 * answers for all of them. Process-wide like the logger; a NULL series
 * (fcgi_metrics_init not called: unit tests, CGI) counts nothing. */
typedef struct fcgi_metrics {
    metrics *reg;
    metrics_series *requests[5];     /* by status class: 1xx..5xx */
    metrics_series *request_seconds; /* handling time, request read to response built */
    metrics_series *messages_stored; /* REST POSTs of a new message */
    metrics_series *db_errors;       /* answers 500/507 from a store error */
    metrics_series *db_busy;         /* answers 503 "database busy" */
    metrics_series *start_time;      /* the master's start, Unix seconds */
} fcgi_metrics;

extern fcgi_metrics fcgim;

/* Creates the shared registry; call once, before forking workers. Returns
 * 0, or -1 (the program runs without metrics). */
int fcgi_metrics_init(void);

/* When req is GET or HEAD /metrics: fills resp (200 with the exposition for
 * a local client -- remote_addr, nginx's REMOTE_ADDR, is loopback -- or one
 * with an admin bearer token; 401/403 JSON otherwise; 405 for another method)
 * and returns true. Returns false for every other path. secret may be NULL. */
bool fcgi_metrics_serve(const http_request *req, const char *remote_addr,
                        const token_secret *secret, http_response *resp);

/* Counts a finished request: its status and its handling time. */
void fcgi_metrics_request(int status, double seconds);

/* Seconds of a monotonic clock, for timing requests. */
double fcgi_metrics_now(void);

#endif
