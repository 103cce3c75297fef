/* metrics.h -- counters, gauges and histograms in Prometheus' text format */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* A registry holds a fixed number of series, each a name, a HELP text, a
 * type and one fixed label set. Every string given to it is borrowed and must
 * live as long as the registry (string literals). Series of one metric name
 * (several label sets) are registered one after another, so they render as
 * one family under one # HELP / # TYPE. Values are updated with atomic
 * operations: a registry made with shared = true lives in memory shared with
 * the processes forked after it (chat-fcgi's workers), and any of them may
 * update or render it. Labels that depend on the moment (sockets per
 * namespace) are rendered by the caller with metrics_text_family/sample. */

#define METRICS_SERIES_MAX 128 /* series per registry */
#define METRICS_BUCKETS_MAX 16 /* upper bounds per histogram, +Inf not counted */

typedef enum metrics_type {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} metrics_type;

typedef struct metrics metrics;
typedef struct metrics_series metrics_series;

/* Output being built: a growing, NUL-terminated string. */
typedef struct metrics_text {
    char *s;    /* malloc'ed, owned; NULL until something is written */
    size_t len; /* bytes written, the NUL excluded */
    size_t cap;
    bool oom; /* an allocation failed: the text is incomplete */
} metrics_text;

/* A registry, in shared memory when shared. Returns NULL when out of memory. */
metrics *metrics_new(bool shared);
/* Frees it (unmaps a shared one in this process). Accepts NULL. */
void metrics_free(metrics *m);

/* Registers a series. name is a Prometheus metric name (counters end in
 * _total by convention), labels the inside of {} already formatted
 * ('transport="websocket"') or NULL, bounds the histogram's ascending upper
 * bounds (n <= METRICS_BUCKETS_MAX; ignored for the other types). Returns
 * NULL when the registry is full or m is NULL: updates of a NULL series are
 * no-ops, so a program runs unchanged without metrics. */
metrics_series *metrics_register(metrics *m, metrics_type type, const char *name, const char *help,
                                 const char *labels, const double *bounds, size_t n);

/* Updates; every one accepts NULL. inc/add are for counters and gauges, set
 * for gauges, observe for histograms (counts v in the first bucket whose
 * bound is >= v, and adds it to the sum). */
void metrics_inc(metrics_series *s);
void metrics_add(metrics_series *s, double v);
void metrics_set(metrics_series *s, double v);
void metrics_observe(metrics_series *s, double v);
/* The current value of a counter or gauge, or a histogram's count; 0 for NULL. */
double metrics_value(const metrics_series *s);

/* Appends every series of m to out, in registration order. */
void metrics_render(const metrics *m, metrics_text *out);
/* Appends "# HELP name help" and "# TYPE name type". */
void metrics_text_family(metrics_text *out, const char *name, const char *help, metrics_type type);
/* Appends one sample line; labels as in metrics_register, or NULL. */
void metrics_text_sample(metrics_text *out, const char *name, const char *labels, double v);
/* Appends key="value" to a label set being built in buf (size bytes, NUL
 * terminated, starting empty), escaping \, " and newline in value. Returns
 * -1 when it does not fit (buf is left unchanged). */
int metrics_label(char *buf, size_t size, const char *key, const char *value);
/* Frees out's string and empties it. */
void metrics_text_free(metrics_text *out);

/* The content type of the format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
