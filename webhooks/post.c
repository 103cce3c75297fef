/* post.c -- one HTTP(S) POST on the libwebsockets event loop (post.h). The
 * request is the connection's opaque user data until it finishes; then the
 * pointer is cleared, so the closing callbacks that follow ignore it. */
#include "post.h"

#include <stdio.h>
#include <string.h>

/* Ends req once: the timer stops, the connection forgets it, done runs. */
static void post_finish(post_req *req, int status, const char *error) {
    if (req->finished) return;
    req->finished = true;
    lws_sul_cancel(&req->timeout);
    if (req->wsi) lws_set_opaque_user_data(req->wsi, NULL);
    req->wsi = NULL;
    req->done(req, status, error);
}

static void post_timeout(lws_sorted_usec_list_t *sul) {
    post_req *req = lws_container_of(sul, post_req, timeout);
    struct lws *wsi = req->wsi;

    req->timed_out = true;
    post_finish(req, 0, "timeout");
    if (wsi) lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int post_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len) {
    post_req *req = lws_get_opaque_user_data(wsi);
    unsigned char **p, *end;
    char buf[LWS_PRE + 1024], *px;
    int n;

    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (!req) return -1;
        p = (unsigned char **)in;
        end = *p + len;
        for (int i = 0; i < POST_HEADERS_MAX && req->header_names[i]; i++)
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)req->header_names[i],
                                            (const unsigned char *)req->header_values[i],
                                            (int)strlen(req->header_values[i]), p, end))
                return -1;
        if (lws_add_http_header_content_length(wsi, req->body_len, p, end)) return -1;
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        if (!req || req->body_sent) return 0;
        req->body_sent = true;
        lws_client_http_body_pending(wsi, 0);
        if (lws_write(wsi, (unsigned char *)req->body, req->body_len, LWS_WRITE_HTTP_FINAL) !=
            (int)req->body_len)
            return -1;
        return 0;
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        if (req) req->status = (int)lws_http_client_http_response(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
        px = buf + LWS_PRE;
        n = sizeof buf - LWS_PRE;
        return lws_http_client_read(wsi, &px, &n) < 0 ? -1 : 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        return 0; /* the receiver's body is not ours to keep */
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        if (req) post_finish(req, req->status, NULL);
        return -1; /* one request per connection */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (req) {
            char why[160];
            snprintf(why, sizeof why, "%s", in ? (const char *)in : "connection failed");
            post_finish(req, 0, why);
        }
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        if (req) post_finish(req, req->status, req->status ? NULL : "connection closed");
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols post_protocol = {"webhook-post", post_callback, 0, 0, 0, NULL, 0};

int post_start(struct lws_context *context, post_req *req) {
    struct lws_client_connect_info info;
    const char *scheme, *host, *path;
    int port;

    req->wsi = NULL;
    req->status = 0;
    req->finished = req->timed_out = req->body_sent = false;
    memset(&req->timeout, 0, sizeof req->timeout);
    snprintf(req->url_copy, sizeof req->url_copy, "%s", req->url);
    if (lws_parse_uri(req->url_copy, &scheme, &host, &port, &path) ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        post_finish(req, 0, "bad url");
        return -1;
    }
    snprintf(req->path, sizeof req->path, "/%s", path);
    memset(&info, 0, sizeof info);
    info.context = context;
    info.address = host;
    info.port = port;
    info.path = req->path;
    info.host = host;
    info.origin = host;
    info.method = "POST";
    info.protocol = post_protocol.name;
    info.local_protocol_name = post_protocol.name;
    info.ssl_connection = strcmp(scheme, "https") == 0 ? LCCSCF_USE_SSL : 0;
    info.opaque_user_data = req;
    info.pwsi = &req->wsi;
    lws_sul_schedule(context, 0, &req->timeout, post_timeout,
                     (lws_usec_t)req->timeout_ms * LWS_US_PER_MS);
    if (!lws_client_connect_via_info(&info)) {
        post_finish(req, 0, "cannot connect");
        return -1;
    }
    return 0;
}
