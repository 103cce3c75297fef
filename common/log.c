/* log.c -- one line per event, with a level, as key=value pairs or JSON */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "chat";
static log_level log_threshold = LOG_LEVEL_INFO;
static log_format log_form = LOG_FORMAT_KV;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

/* A line under construction; len never passes LOG_LINE_MAX - 5, so there
 * is always room for "...\n". */
typedef struct log_buf {
    char s[LOG_LINE_MAX];
    size_t len;
    bool cut;
} log_buf;

static void log_putc(log_buf *b, char c) {
    if (b->len >= sizeof b->s - 5) {
        b->cut = true;
        return;
    }
    b->s[b->len++] = c;
}

static void log_puts(log_buf *b, const char *s) {
    while (*s)
        log_putc(b, *s++);
}

static bool log_needs_quotes(const char *v) {
    if (!*v) return true;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f) return true;
    return false;
}

/* Writes v quoted, with \" \\ \n \r \t and \u00XX for other control bytes:
 * valid in both forms (a JSON string; a logfmt quoted value). */
static void log_quoted(log_buf *b, const char *v) {
    static const char hex[] = "0123456789abcdef";
    log_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            log_putc(b, '\\');
            log_putc(b, (char)c);
        } else if (c == '\n') {
            log_puts(b, "\\n");
        } else if (c == '\r') {
            log_puts(b, "\\r");
        } else if (c == '\t') {
            log_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            log_puts(b, "\\u00");
            log_putc(b, hex[c >> 4]);
            log_putc(b, hex[c & 15]);
        } else {
            log_putc(b, (char)c);
        }
    }
    log_putc(b, '"');
}

static void log_pair(log_buf *b, const char *key, const char *value, bool first) {
    if (!value) value = "";
    if (log_form == LOG_FORMAT_JSON) {
        if (!first) log_putc(b, ',');
        log_quoted(b, key);
        log_putc(b, ':');
        log_quoted(b, value);
    } else {
        if (!first) log_putc(b, ' ');
        log_puts(b, key);
        log_putc(b, '=');
        if (log_needs_quotes(value))
            log_quoted(b, value);
        else
            log_puts(b, value);
    }
}

bool log_enabled(log_level level) {
    return level >= log_threshold;
}

static void log_write(log_level level, const char *msg, va_list ap) {
    log_buf b;
    char ts[40];
    struct timeval tv;
    struct tm tm;

    b.len = 0;
    b.cut = false;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    if (log_form == LOG_FORMAT_JSON) log_putc(&b, '{');
    log_pair(&b, "ts", ts, true);
    log_pair(&b, "level", log_names[level], false);
    log_pair(&b, "prog", log_prog, false);
    log_pair(&b, "pid", LOG_I(getpid()), false);
    log_pair(&b, "msg", msg, false);
    for (const char *key; (key = va_arg(ap, const char *));) {
        const char *value = va_arg(ap, const char *);
        log_pair(&b, key, value, false);
    }
    if (b.cut) {
        memcpy(b.s + b.len, "...", 3);
        b.len += 3;
    } else if (log_form == LOG_FORMAT_JSON) {
        log_putc(&b, '}');
    }
    b.s[b.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, b.s, b.len);
    (void)w; /* nowhere to report a failing log */
}

void log_event(log_level level, const char *msg, ...) {
    va_list ap;
    if (level < log_threshold) return;
    va_start(ap, msg);
    log_write(level, msg, ap);
    va_end(ap);
}

void log_set(log_level threshold, log_format format) {
    log_threshold = threshold;
    log_form = format;
}

void log_init(const char *prog) {
    if (prog) log_prog = prog;
}

int log_level_parse(const char *name, log_level *out) {
    for (int i = 0; name && i < 4; i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_format_parse(const char *name, log_format *out) {
    if (name && strcmp(name, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else if (name && strcmp(name, "kv") == 0)
        *out = LOG_FORMAT_KV;
    else
        return -1;
    return 0;
}

const char *log_itoa(char buf[24], long long n) {
    snprintf(buf, 24, "%lld", n);
    return buf;
}
