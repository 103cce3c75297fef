/* post.h -- one HTTP(S) POST on the libwebsockets event loop, without
 * blocking it: connect, send headers and body, read the status, give up
 * after a timeout. The caller owns the request and its body. */
#ifndef WEBHOOK_POST_H
#define WEBHOOK_POST_H

#include <libwebsockets.h>

#include <stdbool.h>
#include <stddef.h>

#define POST_HEADERS_MAX 6
#define POST_URL_MAX 2048

typedef struct post_req post_req;
/* Called once per started request: status is the HTTP status (0 when no
 * answer came), error says why when status is 0. */
typedef void (*post_done_cb)(post_req *req, int status, const char *error);

struct post_req {
    /* set by the caller before post_start */
    const char *url;
    const unsigned char *body; /* LWS_PRE bytes of room before it */
    size_t body_len;
    const char *header_names[POST_HEADERS_MAX]; /* "x-chat-delivery:" ...; NULL ends */
    const char *header_values[POST_HEADERS_MAX];
    int timeout_ms;
    post_done_cb done;
    void *user;
    /* the module's */
    char url_copy[POST_URL_MAX + 1];
    char path[POST_URL_MAX + 2];
    struct lws *wsi;
    lws_sorted_usec_list_t timeout;
    int status;
    bool finished, timed_out, body_sent;
};

/* The protocol the context must list (its callback serves the requests). */
extern const struct lws_protocols post_protocol;

/* Starts req on context; req must live until its done callback. Returns 0,
 * or -1 when the URL is bad or the connection cannot start (done is then
 * called all the same, with the reason). */
int post_start(struct lws_context *context, post_req *req);

#endif
