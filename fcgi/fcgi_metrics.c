/* fcgi_metrics.c -- chat-fcgi's metrics, shared by its workers, and GET /metrics */
#include "fcgi_metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fcgi_metrics {
    metrics *reg;
    metrics_series *requests[5];     /* by status class: 1xx..5xx */
    metrics_series *request_seconds; /* handling time, request read to response built */
    api_metrics api;                 /* the handlers' */
    metrics_series *start_time;      /* the master's start, Unix seconds */
};

static const double request_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,   0.25,   0.5,   1,    2.5};

fcgi_metrics *fcgi_metrics_new(void) {
    static const char *const classes[5] = {"code=\"1xx\"", "code=\"2xx\"", "code=\"3xx\"",
                                           "code=\"4xx\"", "code=\"5xx\""};
    fcgi_metrics *fm = calloc(1, sizeof *fm);
    struct timespec ts;

    if (fm == NULL) return NULL;
    metrics *m = fm->reg = metrics_new(true);
    if (m == NULL) {
        free(fm);
        return NULL;
    }
    for (int i = 0; i < 5; i++)
        fm->requests[i] =
            metrics_register(m, METRICS_COUNTER, "chat_fcgi_requests_total",
                             "HTTP requests answered, by status class.", classes[i], NULL, 0);
    fm->request_seconds = metrics_register(
        m, METRICS_HISTOGRAM, "chat_fcgi_request_duration_seconds",
        "Time to handle a request, from its parameters read to its response built.", NULL,
        request_bounds, sizeof request_bounds / sizeof request_bounds[0]);
    fm->api.messages_stored =
        metrics_register(m, METRICS_COUNTER, "chat_messages_stored_total",
                         "Chat messages committed by REST POSTs.", NULL, NULL, 0);
    fm->api.db_errors =
        metrics_register(m, METRICS_COUNTER, "chat_db_errors_total",
                         "Requests answered 500/507 after a database error.", NULL, NULL, 0);
    fm->api.db_busy = metrics_register(m, METRICS_COUNTER, "chat_db_busy_total",
                                       "Requests answered 503 because the database stayed locked.",
                                       NULL, NULL, 0);
    fm->start_time =
        metrics_register(m, METRICS_GAUGE, "process_start_time_seconds",
                         "Start time of the process since the Unix epoch, seconds.", NULL, NULL, 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    metrics_set(fm->start_time, (double)ts.tv_sec);
    return fm;
}

void fcgi_metrics_free(fcgi_metrics *fm) {
    if (fm == NULL) return;
    metrics_free(fm->reg);
    free(fm);
}

const api_metrics *fcgi_metrics_api(const fcgi_metrics *fm) {
    return fm != NULL ? &fm->api : NULL;
}

double fcgi_metrics_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fcgi_metrics_request(const fcgi_metrics *fm, int status, double seconds) {
    if (fm == NULL) return;
    if (status >= 100 && status < 600) metrics_inc(fm->requests[status / 100 - 1]);
    metrics_observe(fm->request_seconds, seconds);
}

static bool fcgi_metrics_loopback(const char *a) {
    return a != NULL && (strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 ||
                         strncmp(a, "::ffff:127.", 11) == 0);
}

bool fcgi_metrics_serve(const fcgi_metrics *fm, const http_request *req, const char *remote_addr,
                        const token_secret *secret, http_response *resp) {
    const char *token;
    const char *why;
    token_claims claims;
    metrics_text out = {0};

    if (strcmp(req->path, "/metrics") != 0) return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_reply_error(resp, 405, "method not allowed");
        http_set_header(resp, "Allow", "GET, HEAD");
        return true;
    }
    if (!fcgi_metrics_loopback(remote_addr)) {
        token = token_bearer(req->authorization);
        if (token == NULL) {
            http_reply_error(resp, 401, "metrics are for local clients or an admin bearer token");
            http_set_header(resp, "WWW-Authenticate", "Bearer realm=\"chat\"");
            return true;
        }
        if (secret == NULL || token_verify(secret, token, &claims, &why) != 0 || !claims.admin) {
            http_reply_error(resp, 403, "an admin token is required");
            return true;
        }
    }
    if (fm != NULL) metrics_render(fm->reg, &out);
    if (out.oom) {
        metrics_text_free(&out);
        http_reply_error(resp, 503, "out of memory");
        return true;
    }
    resp->status = 200;
    http_set_header(resp, "Content-Type", "%s", METRICS_CONTENT_TYPE);
    http_set_header(resp, "Cache-Control", "no-store");
    if (out.s == NULL) out.s = calloc(1, 1);
    http_set_body(resp, out.s, out.len);
    return true;
}
