/* http.c -- response building, JSON replies, percent-decoding and query parsing */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_response_init(http_response *resp) {
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
}

void http_response_free(http_response *resp) {
    if (resp == NULL) return;
    free(resp->body);
    http_response_init(resp);
}

int http_set_header(http_response *resp, const char *name, const char *fmt, ...) {
    http_header *h = NULL;
    char value[HTTP_HEADER_VALUE_BUF];
    va_list ap;
    int n;

    if (strlen(name) >= HTTP_HEADER_NAME_BUF) return HTTP_ETOOLONG;
    va_start(ap, fmt);
    n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof value) return HTTP_ETOOLONG;
    if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL) return HTTP_EINVAL;

    for (size_t i = 0; i < resp->nheaders; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            h = &resp->headers[i];
            break;
        }
    }
    if (h == NULL) {
        if (resp->nheaders >= HTTP_HEADERS_MAX) return HTTP_ETOOLONG;
        h = &resp->headers[resp->nheaders++];
        strcpy(h->name, name); /* length checked above */
    }
    memcpy(h->value, value, (size_t)n + 1);
    return HTTP_OK;
}

const char *http_get_header(const http_response *resp, const char *name) {
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0) return resp->headers[i].value;
    return NULL;
}

void http_set_body(http_response *resp, char *body, size_t len) {
    free(resp->body);
    resp->body = body;
    resp->body_len = body != NULL ? len : 0;
}

/* The last resort when even building an error fails: a static body. */
static void http_reply_oom(http_response *resp) {
    static const char msg[] = "{\"error\":\"out of memory\"}";
    char *copy = strdup(msg);

    resp->status = 500;
    http_set_body(resp, copy, copy != NULL ? sizeof msg - 1 : 0);
    http_set_header(resp, "Content-Type", "application/json; charset=utf-8");
}

int http_reply_json(http_response *resp, int status, json_t *obj) {
    char *text;

    if (obj == NULL) {
        http_reply_oom(resp);
        return HTTP_ENOMEM;
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(obj);
    if (text == NULL) {
        http_reply_oom(resp);
        return HTTP_ENOMEM;
    }
    resp->status = status;
    http_set_body(resp, text, strlen(text));
    http_set_header(resp, "Content-Type", "application/json; charset=utf-8");
    return HTTP_OK;
}

int http_reply_error(http_response *resp, int status, const char *message) {
    return http_reply_json(resp, status, json_pack("{s:s}", "error", message));
}

const char *http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

static int http_hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_url_decode(char *dst, size_t dstlen, const char *src, size_t len, bool plus_is_space) {
    size_t o = 0;

    if (dstlen == 0) return HTTP_ETOOLONG;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];

        if (c == '%') {
            int hi, lo;

            if (len - i < 3) return HTTP_EINVAL;
            hi = http_hexval(src[i + 1]);
            lo = http_hexval(src[i + 2]);
            if (hi < 0 || lo < 0) return HTTP_EINVAL;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return HTTP_EINVAL;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '\0') {
            return HTTP_EINVAL;
        }
        if (o + 1 >= dstlen) return HTTP_ETOOLONG;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return HTTP_OK;
}

/* Calls back for each parameter of query with the raw name and value spans.
 * Stops when cb returns non-zero and returns that value; else 0. */
static int http_query_each(const char *query,
                           int (*cb)(const char *name, size_t nlen, const char *val, size_t vlen,
                                     void *ctx),
                           void *ctx) {
    const char *p = query;

    while (*p != '\0') {
        size_t len = strcspn(p, "&;");
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq != NULL ? (size_t)(eq - p) : len;
        const char *val = eq != NULL ? eq + 1 : p + len;
        size_t vlen = eq != NULL ? len - nlen - 1 : 0;
        int rc;

        if (len > 0 && (rc = cb(p, nlen, val, vlen, ctx)) != 0) return rc;
        p += len;
        if (*p != '\0') p++;
    }
    return 0;
}

typedef struct http_query_find {
    const char *name;
    char *out;
    size_t outlen;
    int status;
} http_query_find;

static int http_query_find_cb(const char *name, size_t nlen, const char *val, size_t vlen,
                              void *ctx) {
    http_query_find *f = ctx;
    char key[64];
    int rc = http_url_decode(key, sizeof key, name, nlen, true);

    if (rc == HTTP_ETOOLONG) return 0; /* longer than any name we look for */
    if (rc != HTTP_OK) {
        f->status = rc;
        return 1;
    }
    if (strcmp(key, f->name) != 0) return 0;
    f->status = http_url_decode(f->out, f->outlen, val, vlen, true);
    return 1;
}

int http_query_get(const char *query, const char *name, char *out, size_t outlen) {
    http_query_find f = {name, out, outlen, HTTP_ENOTFOUND};

    http_query_each(query, http_query_find_cb, &f);
    return f.status;
}

static int http_query_check_span(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') continue;
        if (len - i < 3 || http_hexval(s[i + 1]) < 0 || http_hexval(s[i + 2]) < 0 ||
            (s[i + 1] == '0' && s[i + 2] == '0'))
            return HTTP_EINVAL;
        i += 2;
    }
    return HTTP_OK;
}

static int http_query_validate_cb(const char *name, size_t nlen, const char *val, size_t vlen,
                                  void *ctx) {
    (void)ctx;
    if (http_query_check_span(name, nlen) != HTTP_OK) return HTTP_EINVAL;
    if (http_query_check_span(val, vlen) != HTTP_OK) return HTTP_EINVAL;
    return 0;
}

int http_query_validate(const char *query) {
    return http_query_each(query, http_query_validate_cb, NULL) != 0 ? HTTP_EINVAL : HTTP_OK;
}

int http_parse_uint(const char *s, int64_t *out) {
    int64_t v = 0;

    if (*s == '\0') return HTTP_EINVAL;
    for (; *s != '\0'; s++) {
        int d;

        if (*s < '0' || *s > '9') return HTTP_EINVAL;
        d = *s - '0';
        if (v > (INT64_MAX - d) / 10) return HTTP_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return HTTP_OK;
}

bool http_is_json_type(const char *content_type) {
    static const char want[] = "application/json";
    const char *p = content_type;

    if (p == NULL) return false;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, want, sizeof want - 1) != 0) return false;
    p += sizeof want - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == ';';
}
