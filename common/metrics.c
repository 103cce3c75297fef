/* metrics.c -- counters, gauges and histograms in Prometheus' text format */
#include "metrics.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Values are doubles kept as their bits in 64-bit words, updated with
 * compare-and-swap so that several processes may share them. */
struct metrics_series {
    metrics_type type;
    const char *name, *help, *labels; /* borrowed */
    double bounds[METRICS_BUCKETS_MAX];
    size_t nbounds;
    uint64_t value;                            /* counter or gauge; histogram: the sum */
    uint64_t buckets[METRICS_BUCKETS_MAX + 1]; /* histogram: counts, not cumulative; last +Inf */
};

struct metrics {
    bool shared;
    int nseries; /* only grows, before the processes that share it fork */
    metrics_series series[METRICS_SERIES_MAX];
};

static double bits_double(uint64_t b) {
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_bits(double d) {
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_add_double(uint64_t *p, double v) {
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), new;
    do {
        new = double_bits(bits_double(old) + v);
    } while (!__atomic_compare_exchange_n(p, &old, new, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

metrics *metrics_new(bool shared) {
    metrics *m;
    if (shared) {
        m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        memset(m, 0, sizeof *m);
    } else {
        m = calloc(1, sizeof *m);
        if (!m) return NULL;
    }
    m->shared = shared;
    return m;
}

void metrics_free(metrics *m) {
    if (!m) return;
    if (m->shared)
        munmap(m, sizeof *m);
    else
        free(m);
}

metrics_series *metrics_register(metrics *m, metrics_type type, const char *name, const char *help,
                                 const char *labels, const double *bounds, size_t n) {
    if (!m || m->nseries >= METRICS_SERIES_MAX) return NULL;
    if (type == METRICS_HISTOGRAM && n > METRICS_BUCKETS_MAX) return NULL;
    metrics_series *s = &m->series[m->nseries++];
    memset(s, 0, sizeof *s);
    s->type = type;
    s->name = name;
    s->help = help;
    s->labels = labels;
    if (type == METRICS_HISTOGRAM) {
        for (size_t i = 0; i < n; i++) {
            assert(i == 0 || bounds[i] > bounds[i - 1]);
            s->bounds[i] = bounds[i];
        }
        s->nbounds = n;
    }
    return s;
}

void metrics_inc(metrics_series *s) {
    metrics_add(s, 1);
}

void metrics_add(metrics_series *s, double v) {
    if (s) atomic_add_double(&s->value, v);
}

void metrics_set(metrics_series *s, double v) {
    if (s) __atomic_store_n(&s->value, double_bits(v), __ATOMIC_RELAXED);
}

void metrics_observe(metrics_series *s, double v) {
    if (!s || s->type != METRICS_HISTOGRAM || v != v) return; /* NaN */
    size_t i = 0;
    while (i < s->nbounds && v > s->bounds[i])
        i++;
    __atomic_add_fetch(&s->buckets[i], 1, __ATOMIC_RELAXED);
    atomic_add_double(&s->value, v);
}

double metrics_value(const metrics_series *s) {
    if (!s) return 0;
    if (s->type != METRICS_HISTOGRAM)
        return bits_double(__atomic_load_n(&s->value, __ATOMIC_RELAXED));
    uint64_t count = 0;
    for (size_t i = 0; i <= s->nbounds; i++)
        count += __atomic_load_n(&s->buckets[i], __ATOMIC_RELAXED);
    return (double)count;
}

/* ---- text ------------------------------------------------------------- */

static void text_printf(metrics_text *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(metrics_text *out, const char *fmt, ...) {
    va_list ap;
    if (out->oom) return;
    for (;;) {
        size_t room = out->cap - out->len;
        va_start(ap, fmt);
        int n = out->s ? vsnprintf(out->s + out->len, room, fmt, ap) : -2;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            out->len += (size_t)n;
            return;
        }
        if (n == -1) {
            out->oom = true;
            return;
        }
        size_t cap = out->cap ? out->cap * 2 : 4096;
        while (n > 0 && cap - out->len <= (size_t)n)
            cap *= 2;
        char *s = realloc(out->s, cap);
        if (!s) {
            out->oom = true;
            return;
        }
        out->s = s;
        out->cap = cap;
    }
}

/* A value as Prometheus writes it: integers without a fraction. (No libm:
 * chat-admin links this file without it.) */
static void text_value(metrics_text *out, double v) {
    if (v != v)
        text_printf(out, "NaN\n");
    else if (v > 1e308 || v < -1e308)
        text_printf(out, "%s\n", v > 0 ? "+Inf" : "-Inf");
    else if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
        text_printf(out, "%.0f\n", v);
    else
        text_printf(out, "%.15g\n", v);
}

static const char *type_name(metrics_type t) {
    return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

void metrics_text_family(metrics_text *out, const char *name, const char *help, metrics_type type) {
    text_printf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) { /* HELP escapes \ and newline */
        if (*p == '\\')
            text_printf(out, "\\\\");
        else if (*p == '\n')
            text_printf(out, "\\n");
        else
            text_printf(out, "%c", *p);
    }
    text_printf(out, "\n# TYPE %s %s\n", name, type_name(type));
}

void metrics_text_sample(metrics_text *out, const char *name, const char *labels, double v) {
    if (labels && *labels)
        text_printf(out, "%s{%s} ", name, labels);
    else
        text_printf(out, "%s ", name);
    text_value(out, v);
}

static void render_histogram(metrics_text *out, const metrics_series *s) {
    const char *l = s->labels && *s->labels ? s->labels : NULL;
    uint64_t cum = 0;
    for (size_t i = 0; i <= s->nbounds; i++) {
        cum += __atomic_load_n(&s->buckets[i], __ATOMIC_RELAXED);
        text_printf(out, "%s_bucket{%s%s", s->name, l ? l : "", l ? "," : "");
        if (i < s->nbounds)
            text_printf(out, "le=\"%.15g\"} %llu\n", s->bounds[i], (unsigned long long)cum);
        else
            text_printf(out, "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    text_printf(out, "%s_sum%s%s%s ", s->name, l ? "{" : "", l ? l : "", l ? "}" : "");
    text_value(out, bits_double(__atomic_load_n(&s->value, __ATOMIC_RELAXED)));
    text_printf(out, "%s_count%s%s%s %llu\n", s->name, l ? "{" : "", l ? l : "", l ? "}" : "",
                (unsigned long long)cum);
}

void metrics_render(const metrics *m, metrics_text *out) {
    if (!m) return;
    for (int i = 0; i < m->nseries; i++) {
        const metrics_series *s = &m->series[i];
        if (i == 0 || strcmp(m->series[i - 1].name, s->name) != 0)
            metrics_text_family(out, s->name, s->help, s->type);
        if (s->type == METRICS_HISTOGRAM)
            render_histogram(out, s);
        else
            metrics_text_sample(out, s->name, s->labels,
                                bits_double(__atomic_load_n(&s->value, __ATOMIC_RELAXED)));
    }
}

int metrics_label(char *buf, size_t size, const char *key, const char *value) {
    size_t len = strlen(buf), n = len;
    if (n && n < size) buf[n++] = ',';
    for (const char *p = key; *p && n < size; p++)
        buf[n++] = *p;
    if (n + 2 >= size) goto full;
    buf[n++] = '=';
    buf[n++] = '"';
    for (const char *p = value; *p; p++) {
        bool esc = *p == '\\' || *p == '"' || *p == '\n';
        if (n + 2 + (esc ? 1 : 0) >= size) goto full;
        if (esc) buf[n++] = '\\';
        buf[n++] = *p == '\n' ? 'n' : *p;
    }
    if (n + 2 > size) goto full;
    buf[n++] = '"';
    buf[n] = '\0';
    return 0;
full:
    buf[len] = '\0';
    return -1;
}

void metrics_text_free(metrics_text *out) {
    free(out->s);
    memset(out, 0, sizeof *out);
}
