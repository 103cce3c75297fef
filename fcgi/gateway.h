/* gateway.h -- CGI/FastCGI variables and streams in, http_request out; responses back */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "bus.h"
#include "fcgi_metrics.h"
#include "http.h"
#include "netaddr.h"
#include "settings.h"
#include "store.h"
#include "token.h"

/* Where a request comes from and its response goes: the FastCGI parameters
 * and streams, the CGI environment and stdio, or a test's fakes. */
typedef struct gateway_io {
    /* The value of CGI variable name ("REQUEST_METHOD"), NULL when unset. */
    const char *(*param)(const char *name, void *ctx);
    /* Reads up to len body bytes into buf; returns the count (0 at the end)
     * or -1 on error. */
    long (*read)(char *buf, size_t len, void *ctx);
    /* Writes len bytes of the response; returns 0 or -1. */
    int (*write)(const char *buf, size_t len, void *ctx);
    void *ctx;
} gateway_io;

/* A request read from a gateway_io, with the buffers it owns. */
typedef struct gateway_request {
    http_request req;           /* strings borrowed from io's parameters or from below */
    char *path;                 /* owned copy of the path of REQUEST_URI, or NULL */
    char *body;                 /* owned body bytes, or NULL */
    char addr_key[NETADDR_LEN]; /* req.remote_addr: REMOTE_ADDR as a per-address key */
} gateway_request;

/* The worker's database connection, opened on first use and re-opened after
 * a failure, so a worker keeps answering (503) while the file is unusable. */
typedef struct gateway_db {
    const char *path;      /* the database file; borrowed */
    store *st;             /* the connection, NULL until opened */
    store_options options; /* passed to store_open */
    bus *bus;              /* the bus of path, opened with the store, NULL until then */
    bool failing;          /* the last open failed (logged once) */
} gateway_db;

/* Fills g from io. The path is the path of REQUEST_URI (percent-encoded, with
 * SCRIPT_NAME stripped when PATH_INFO says the program is mounted below it);
 * without REQUEST_URI it is PATH_INFO, else SCRIPT_NAME, else "/", already
 * decoded. The query is QUERY_STRING (else REQUEST_URI's). CONTENT_LENGTH is
 * checked before anything is read: when it is over CONTRACT_BODY_MAX or invalid
 * nothing is read and req.body_state says so; else exactly that many bytes are
 * read. Returns 0, or HTTP_ENOMEM with g emptied. Free g with
 * gateway_request_free. */
int gateway_read_request(const gateway_io *io, gateway_request *g);

/* Frees what g owns. Accepts NULL. */
void gateway_request_free(gateway_request *g);

/* Writes resp as a CGI response: "Status:", the headers, Content-Length, a
 * blank line, and the body unless the method is HEAD or the status 204.
 * Returns 0 or -1 on a write error. */
int gateway_write_response(const gateway_io *io, const http_request *req,
                           const http_response *resp);

/* Reads one request from io, routes it with st (may be NULL: no database),
 * b (may be NULL: writes are not published), secret (may be NULL: no token
 * is valid) and the settings cs (may be NULL: the defaults; its CORS origins
 * and write budget), counts it in fm (may be NULL: not counted, /metrics is
 * empty) and writes the response. Returns 0, or -1 when the response could
 * not be written. */
int gateway_handle(const gateway_io *io, store *st, bus *b, const token_secret *secret,
                   const chat_settings *cs, const fcgi_metrics *fm);

/* Loads the token secret of cs (CHAT_SECRET / CHAT_SECRET_FILE) into secret
 * (token_secret_load); a failure is logged and leaves it empty. */
void gateway_secret_load(token_secret *secret, const chat_settings *cs);

/* The connection of db, opening it when needed; NULL when that fails (the
 * failure is logged once until an open succeeds again). */
store *gateway_db_get(gateway_db *db);

/* Closes db's connection and its bus. */
void gateway_db_close(gateway_db *db);

/* Answers one CGI request from the environment and stdin on stdout, with the
 * database at db_path and the settings cs (the secret among them). Returns the process exit status
 * (0 once a response was written, even an error response). */
int gateway_run_cgi(const char *db_path, const chat_settings *cs);

/* The FastCGI accept loop of one worker process, on listening socket fd,
 * with the settings cs, counting into fm (the master's shared registry; may
 * be NULL). Opens its own database connection and loads the secret once.
 * Runs until SIGTERM or SIGINT: when a signal comes between requests the
 * process exits at once, during a request it finishes that request first.
 * Returns the exit status. */
int gateway_run_fcgi(int fd, const char *db_path, const chat_settings *cs, const fcgi_metrics *fm);

#endif
