/* gateway.c -- CGI/FastCGI variables and streams in, http_request out; responses back */
#include "gateway.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_metrics.h"
#include "log.h"
#include "router.h"

#define GATEWAY_CHUNK 65536           /* bytes per stream read/write call */
#define GATEWAY_DRAIN_MAX (64L << 20) /* unread body bytes discarded at most */
#define GATEWAY_ACCEPT_ERRORS_MAX 100 /* failed accepts in a row before giving up */

static const char *gateway_param_or(const gateway_io *io, const char *name, const char *dflt) {
    const char *v = io->param(name, io->ctx);

    return v != NULL ? v : dflt;
}

/* Sets g->req.path and query from REQUEST_URI / PATH_INFO / SCRIPT_NAME. */
static int gateway_read_target(const gateway_io *io, gateway_request *g) {
    const char *uri = io->param("REQUEST_URI", io->ctx);
    const char *script = gateway_param_or(io, "SCRIPT_NAME", "");
    const char *info = gateway_param_or(io, "PATH_INFO", "");
    const char *query = io->param("QUERY_STRING", io->ctx);
    size_t plen, slen = strlen(script);

    if (uri != NULL && uri[0] != '\0') {
        plen = strcspn(uri, "?#");
        /* Mounted below SCRIPT_NAME (classic CGI): route what follows it. */
        if (info[0] != '\0' && slen > 0 && slen < plen && strncmp(uri, script, slen) == 0 &&
            uri[slen] == '/') {
            uri += slen;
            plen -= slen;
        }
        if ((g->path = strndup(uri, plen)) == NULL) return HTTP_ENOMEM;
        g->req.path = g->path;
        g->req.path_decoded = false;
        if (query == NULL && uri[plen] == '?') {
            /* Borrowed from the parameter; stops at '#' only in theory. */
            query = uri + plen + 1;
        }
    } else {
        g->req.path = info[0] != '\0' ? info : script[0] != '\0' ? script : "/";
        g->req.path_decoded = true;
    }
    g->req.query = query != NULL ? query : "";
    return HTTP_OK;
}

/* Reads the body announced by CONTENT_LENGTH, never more than CONTRACT_BODY_MAX. */
static int gateway_read_body(const gateway_io *io, gateway_request *g) {
    const char *cl = io->param("CONTENT_LENGTH", io->ctx);
    int64_t n;
    size_t got = 0;

    g->req.content_length = -1;
    g->req.body_state = HTTP_BODY_OK;
    if (cl == NULL || cl[0] == '\0') return HTTP_OK;
    if (http_parse_uint(cl, &n) != HTTP_OK) {
        g->req.body_state = HTTP_BODY_BAD_LENGTH;
        return HTTP_OK;
    }
    g->req.content_length = n;
    if (n > CONTRACT_BODY_MAX) {
        g->req.body_state = HTTP_BODY_TOO_LARGE;
        return HTTP_OK;
    }
    if (n == 0) return HTTP_OK;
    if ((g->body = malloc((size_t)n)) == NULL) return HTTP_ENOMEM;
    while (got < (size_t)n) {
        long r = io->read(g->body + got, (size_t)n - got, io->ctx);

        if (r <= 0) break;
        if ((size_t)r > (size_t)n - got) r = (long)((size_t)n - got); /* a broken reader */
        got += (size_t)r;
    }
    g->req.body = g->body;
    g->req.body_len = got;
    if (got < (size_t)n) g->req.body_state = HTTP_BODY_SHORT;
    return HTTP_OK;
}

int gateway_read_request(const gateway_io *io, gateway_request *g) {
    memset(g, 0, sizeof *g);
    g->req.method = gateway_param_or(io, "REQUEST_METHOD", "");
    g->req.content_type = io->param("CONTENT_TYPE", io->ctx);
    g->req.authorization = io->param("HTTP_AUTHORIZATION", io->ctx);
    const char *remote = io->param("REMOTE_ADDR", io->ctx);
    if (remote) {
        /* every per-address limit counts by this key (IPv6: the /64) */
        netaddr_key(remote, g->addr_key, sizeof g->addr_key);
        g->req.remote_addr = g->addr_key;
    }
    g->req.cookie = io->param("HTTP_COOKIE", io->ctx);
    g->req.origin = io->param("HTTP_ORIGIN", io->ctx);
    g->req.host = io->param("HTTP_HOST", io->ctx);
    g->req.user_agent = io->param("HTTP_USER_AGENT", io->ctx);
    const char *https = io->param("HTTPS", io->ctx);
    g->req.https = https && strcasecmp(https, "on") == 0;
    g->req.sso_user = io->param("CHAT_SSO_USER", io->ctx);
    if (gateway_read_target(io, g) != HTTP_OK || gateway_read_body(io, g) != HTTP_OK) {
        gateway_request_free(g);
        return HTTP_ENOMEM;
    }
    return HTTP_OK;
}

void gateway_request_free(gateway_request *g) {
    if (g == NULL) return;
    free(g->path);
    free(g->body);
    memset(g, 0, sizeof *g);
}

int gateway_write_response(const gateway_io *io, const http_request *req,
                           const http_response *resp) {
    char line[HTTP_HEADER_NAME_BUF + HTTP_HEADER_VALUE_BUF + 8];
    bool head = req != NULL && req->method != NULL && strcmp(req->method, "HEAD") == 0;
    bool nobody = resp->status == 204 || resp->status == 304;
    int n;

    n = snprintf(line, sizeof line, "Status: %d %s\r\n", resp->status, http_reason(resp->status));
    if (io->write(line, (size_t)n, io->ctx) != 0) return -1;
    for (size_t i = 0; i < resp->nheaders; i++) {
        n = snprintf(line, sizeof line, "%s: %s\r\n", resp->headers[i].name,
                     resp->headers[i].value);
        if (n < 0 || (size_t)n >= sizeof line) continue; /* cannot happen: sizes match */
        if (io->write(line, (size_t)n, io->ctx) != 0) return -1;
    }
    if (!nobody) {
        n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", resp->body_len);
        if (io->write(line, (size_t)n, io->ctx) != 0) return -1;
    }
    if (io->write("\r\n", 2, io->ctx) != 0) return -1;
    if (head || nobody || resp->body_len == 0) return 0;
    for (size_t off = 0; off < resp->body_len;) {
        size_t len = resp->body_len - off;

        if (len > GATEWAY_CHUNK) len = GATEWAY_CHUNK;
        if (io->write(resp->body + off, len, io->ctx) != 0) return -1;
        off += len;
    }
    return 0;
}

int gateway_handle(const gateway_io *io, store *st, bus *b, const token_secret *secret,
                   const chat_settings *cs, const fcgi_metrics *fm) {
    api_env env = {.st = st,
                   .secret = secret,
                   .bus = b,
                   .cors_origins = cs ? cs->cors_origin : NULL,
                   .metrics = fcgi_metrics_api(fm),
                   .settings = cs};
    gateway_request g;
    http_response resp;
    int rc;

    http_response_init(&resp);
    if (gateway_read_request(io, &g) != HTTP_OK) {
        http_reply_error(&resp, 500, "out of memory");
        rc = gateway_write_response(io, NULL, &resp);
        goto out;
    }
    double started = fcgi_metrics_now();
    if (!fcgi_metrics_serve(fm, &g.req, io->param("REMOTE_ADDR", io->ctx), secret, &resp))
        router_handle(&env, &g.req, &resp);
    fcgi_metrics_request(fm, resp.status, fcgi_metrics_now() - started);
    rc = gateway_write_response(io, &g.req, &resp);
out:
    http_response_free(&resp);
    gateway_request_free(&g);
    return rc;
}

store *gateway_db_get(gateway_db *db) {
    char err[256];

    if (db->st != NULL) return db->st;
    if (store_open(&db->st, db->path, &db->options, err, sizeof err) != STORE_OK) {
        if (!db->failing)
            log_event(LOG_LEVEL_ERROR, "cannot open database", "db", db->path, "error", err, NULL);
        db->failing = true;
        db->st = NULL;
        return NULL;
    }
    /* The bus only publishes here: without it, the ws processes see our
     * writes at their next poll. */
    if (!db->bus && !(db->bus = bus_open(db->path, NULL, err, sizeof err)))
        log_event(LOG_LEVEL_WARN, "no bus: writes reach the ws processes late", "error", err, NULL);
    if (db->failing) log_event(LOG_LEVEL_INFO, "database open again", "db", db->path, NULL);
    db->failing = false;
    return db->st;
}

void gateway_db_close(gateway_db *db) {
    store_close(db->st);
    db->st = NULL;
    bus_close(db->bus);
    db->bus = NULL;
}

void gateway_secret_load(token_secret *secret, const chat_settings *cs) {
    char err[256];

    if (token_secret_load(secret, cs->secret, cs->secret_file, err, sizeof err) != 0)
        log_event(LOG_LEVEL_WARN, "no secret: admin calls and private workspaces answer 401",
                  "error", err, NULL);
}

/* CGI: the environment, stdin and stdout. */
static const char *gateway_cgi_param(const char *name, void *ctx) {
    (void)ctx;
    return getenv(name);
}

static long gateway_cgi_read(char *buf, size_t len, void *ctx) {
    size_t n;

    (void)ctx;
    n = fread(buf, 1, len, stdin);
    return n == 0 && ferror(stdin) ? -1 : (long)n;
}

static int gateway_cgi_write(const char *buf, size_t len, void *ctx) {
    (void)ctx;
    return fwrite(buf, 1, len, stdout) == len ? 0 : -1;
}

int gateway_run_cgi(const char *db_path, const chat_settings *cs) {
    gateway_io io = {gateway_cgi_param, gateway_cgi_read, gateway_cgi_write, NULL};
    gateway_db db = {.path = db_path};
    token_secret secret;
    int rc;

    settings_store_options(cs, &db.options);
    gateway_secret_load(&secret, cs);
    store *st = gateway_db_get(&db);
    rc = gateway_handle(&io, st, db.bus, &secret, cs, NULL); /* one request: nothing to count */
    memset(&secret, 0, sizeof secret);
    if (fflush(stdout) != 0) rc = -1;
    gateway_db_close(&db);
    return rc == 0 ? 0 : 1;
}

/* FastCGI: one FCGX_Request's parameters and streams. */
static const char *gateway_fcgx_param(const char *name, void *ctx) {
    FCGX_Request *r = ctx;

    return FCGX_GetParam(name, r->envp);
}

static long gateway_fcgx_read(char *buf, size_t len, void *ctx) {
    FCGX_Request *r = ctx;
    int n;

    if (len > GATEWAY_CHUNK) len = GATEWAY_CHUNK;
    n = FCGX_GetStr(buf, (int)len, r->in);
    return n < 0 ? -1 : (long)n;
}

static int gateway_fcgx_write(const char *buf, size_t len, void *ctx) {
    FCGX_Request *r = ctx;

    while (len > 0) {
        int n = len > GATEWAY_CHUNK ? GATEWAY_CHUNK : (int)len;

        if (FCGX_PutStr(buf, n, r->out) != n) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Discards the body bytes the handler did not read, so the web server is not
 * cut off while it is still sending them. */
static void gateway_fcgx_drain(FCGX_Request *r) {
    char buf[4096];
    long total = 0;
    int n;

    while (total < GATEWAY_DRAIN_MAX && (n = FCGX_GetStr(buf, sizeof buf, r->in)) > 0)
        total += n;
}

/* This worker's shutdown state, touched by the signal handler. */
static volatile sig_atomic_t gateway_stop;
static volatile sig_atomic_t gateway_busy;

/* Runs in the worker on SIGTERM/SIGINT: between requests exit now, during one
 * let the loop finish it and stop. */
static void gateway_on_signal(int sig) {
    (void)sig;
    gateway_stop = 1;
    if (!gateway_busy) _exit(0);
}

int gateway_run_fcgi(int fd, const char *db_path, const chat_settings *cs, const fcgi_metrics *fm) {
    FCGX_Request req;
    gateway_io io = {gateway_fcgx_param, gateway_fcgx_read, gateway_fcgx_write, &req};
    gateway_db db = {.path = db_path};
    token_secret secret;
    struct sigaction sa;
    int errors = 0, status = 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = gateway_on_signal;
    sa.sa_flags = SA_RESTART; /* a request in progress is not cut by EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, fd, 0) != 0) {
        log_event(LOG_LEVEL_ERROR, "FCGX_Init failed", NULL);
        return 1;
    }
    settings_store_options(cs, &db.options);
    gateway_secret_load(&secret, cs);
    gateway_db_get(&db);
    while (!gateway_stop) {
        gateway_busy = 0;
        if (gateway_stop) break;
        if (FCGX_Accept_r(&req) < 0) {
            if (gateway_stop) break;
            if (++errors >= GATEWAY_ACCEPT_ERRORS_MAX) {
                log_event(LOG_LEVEL_ERROR, "accept keeps failing", "error", strerror(errno), NULL);
                status = 1;
                break;
            }
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
            continue;
        }
        gateway_busy = 1;
        errors = 0;
        store *st = gateway_db_get(&db);
        gateway_handle(&io, st, db.bus, &secret, cs, fm);
        gateway_fcgx_drain(&req);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    gateway_db_close(&db);
    memset(&secret, 0, sizeof secret);
    return status;
}
