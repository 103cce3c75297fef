/* http.h -- the plain request/response types of the FastCGI program, and URL helpers */
#ifndef HTTP_H
#define HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contract.h"

/* Limits of what the program reads from a client (the request body, query
 * and path limits are the contract's: CONTRACT_BODY_MAX, ...). */
#define HTTP_HEADERS_MAX 16 /* response headers, Content-Length excluded */
#define HTTP_HEADER_NAME_BUF 40
#define HTTP_HEADER_VALUE_BUF 512

/* Status of the helpers below: 0 is success, every failure is negative. */
#define HTTP_OK 0
#define HTTP_ENOTFOUND -1 /* the query has no such parameter */
#define HTTP_EINVAL -2    /* bad percent escape, %00, or not a number */
#define HTTP_ETOOLONG -3  /* the result does not fit the caller's buffer */
#define HTTP_ENOMEM -4

/* What the gateway knows about the request body. */
typedef enum http_body_state {
    HTTP_BODY_OK = 0,     /* body/body_len hold the whole body (maybe empty) */
    HTTP_BODY_TOO_LARGE,  /* CONTENT_LENGTH is over CONTRACT_BODY_MAX: nothing was read */
    HTTP_BODY_BAD_LENGTH, /* CONTENT_LENGTH is not a decimal number */
    HTTP_BODY_SHORT,      /* the stream ended before CONTENT_LENGTH bytes */
} http_body_state;

/* A request as the gateway saw it. Every string is borrowed from the caller
 * (the FastCGI parameters, the environment, or a test's literals) and must
 * outlive the handling of the request. */
typedef struct http_request {
    const char *method;         /* "GET", "POST", ...; never NULL */
    const char *path;           /* the path, percent-encoded; never NULL */
    bool path_decoded;          /* path came from PATH_INFO: already decoded */
    const char *query;          /* the raw query string without '?'; never NULL */
    const char *content_type;   /* the Content-Type header, NULL when absent */
    int64_t content_length;     /* CONTENT_LENGTH, -1 when absent or invalid */
    const char *body;           /* the body bytes (not NUL terminated), or NULL */
    size_t body_len;            /* bytes at body */
    http_body_state body_state; /* whether body is the whole body */
    const char *authorization;  /* the Authorization header, NULL when absent */
    const char *remote_addr;    /* REMOTE_ADDR (nginx's peer) as a per-address key
                                   (netaddr_key: IPv6 by prefix), NULL when absent */
    /* for accounts (api_accounts.h); each NULL when absent */
    const char *cookie;     /* the Cookie header */
    const char *origin;     /* the Origin header (accounts, CORS) */
    const char *host;       /* the Host header */
    const char *user_agent; /* the User-Agent header */
    bool https;             /* the client came over TLS (nginx's HTTPS=on) */
    const char *sso_user;   /* CHAT_SSO_USER: the user nginx's auth_request vouched
                               for; a parameter only nginx sets, never a header */
} http_request;

typedef struct http_header {
    char name[HTTP_HEADER_NAME_BUF];
    char value[HTTP_HEADER_VALUE_BUF];
} http_header;

/* A response being built. Initialise with http_response_init(), release with
 * http_response_free(). */
typedef struct http_response {
    int status;                            /* HTTP status code */
    http_header headers[HTTP_HEADERS_MAX]; /* in the order they were set */
    size_t nheaders;                       /* used entries of headers */
    char *body;                            /* owned, malloc'ed; NULL for none */
    size_t body_len;                       /* bytes at body */
} http_response;

/* Makes resp an empty 200 response with no header and no body. */
void http_response_init(http_response *resp);

/* Frees the body and resets resp to an empty response. Accepts NULL. */
void http_response_free(http_response *resp);

/* Sets header name (replacing one of the same name, case-insensitively) to the
 * printf-formatted value. Returns HTTP_ETOOLONG when the name or value does not
 * fit or the table is full, HTTP_EINVAL when the value has CR or LF. */
int http_set_header(http_response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The value of header name in resp, or NULL. */
const char *http_get_header(const http_response *resp, const char *name);

/* Replaces resp's body with body (malloc'ed, len bytes), taking ownership. */
void http_set_body(http_response *resp, char *body, size_t len);

/* Makes resp a JSON response: status, Content-Type application/json with
 * charset, and the compact serialisation of obj. Steals the reference to obj
 * (NULL is allowed and gives a 500 error response). Returns 0, or HTTP_ENOMEM
 * after turning resp into a plain 500 error. */
int http_reply_json(http_response *resp, int status, json_t *obj);

/* Makes resp the JSON error {"error": message} with status. Returns 0 or
 * HTTP_ENOMEM. */
int http_reply_error(http_response *resp, int status, const char *message);

/* The reason phrase of status ("Not Found"), "Unknown" for codes it lacks. */
const char *http_reason(int status);

/* Percent-decodes len bytes of src into dst (dstlen bytes, NUL terminated).
 * With plus_is_space, '+' becomes ' ' (query strings). Returns HTTP_EINVAL for
 * a malformed escape or one that decodes to NUL, HTTP_ETOOLONG when dst is too
 * small. */
int http_url_decode(char *dst, size_t dstlen, const char *src, size_t len, bool plus_is_space);

/* Finds parameter name in query (a raw a=b&c=d string) and decodes its first
 * value into out (outlen bytes). A parameter with no '=' has the value "".
 * Returns 0, HTTP_ENOTFOUND, HTTP_EINVAL (bad escape, in the name or value of
 * any parameter scanned) or HTTP_ETOOLONG. */
int http_query_get(const char *query, const char *name, char *out, size_t outlen);

/* Checks that every parameter of query decodes. Returns 0 or HTTP_EINVAL. */
int http_query_validate(const char *query);

/* Parses a non-negative decimal integer that must fill all of s (no sign, no
 * spaces), at most INT64_MAX, into *out. Returns 0 or HTTP_EINVAL. */
int http_parse_uint(const char *s, int64_t *out);

/* Whether the media type of a Content-Type value is application/json
 * (case-insensitive, parameters such as "; charset=utf-8" allowed). */
bool http_is_json_type(const char *content_type);

#endif
