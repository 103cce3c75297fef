/* fuzz_ws_http.c -- libFuzzer: chat-ws's HTTP request path as a client reaches
 * it, bytes in on a connection: libwebsockets' parser, the upgrade check
 * (h2c, malformed WebSocket handshakes), Engine.IO polling requests and POST
 * bodies, WebSocket handshakes and frames.
 * Input: the bytes a client sends, on one connection (a socketpair adopted
 * by the lws context chat-ws runs, with the eio protocol). The test replies
 * are read and dropped; the connection ends when the server closes it or the
 * input is used up. */
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "eio.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lws_context *ctx;
static struct lws_vhost *vhost;
static eio_server *eio;

/* The heartbeat's and reaper's clock: time stands still and nothing fires
 * (the harness feeds requests, not time). */
static long long still_now_us(void *ud) {
    (void)ud;
    return 0;
}

/* The layer above Engine.IO: takes every message, as the chat would. */
static void on_open(eio_conn *c, void *ud) {
    (void)c, (void)ud;
}
static int on_message(eio_conn *c, const char *data, size_t len, bool binary, void *ud) {
    (void)c, (void)data, (void)len, (void)binary, (void)ud;
    return 0;
}
static void on_close(eio_conn *c, const char *reason, void *ud) {
    (void)c, (void)reason, (void)ud;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    static const eio_handlers handlers = {on_open, on_message, on_close};
    /* small limits, so that inputs reach them */
    eio_config cfg = {.max_payload = 4096, .max_per_address = 4, .max_posts_per_address = 2};
    eio = eio_server_new(&cfg, &handlers, NULL);
    if (!eio) abort();
    static struct lws_protocols protocols[] = {
        {"eio", eio_lws_callback, 0, 512, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    protocols[0].per_session_data_size = eio_pss_size();
    lws_set_log_level(0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.protocols = protocols;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* connections come adopted */
    info.user = eio;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.vhost_name = "chat";
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.timeout_secs = 20;
    info.fd_limit_per_thread = 64;
    ctx = lws_create_context(&info);
    if (!ctx) abort();
    vhost = lws_get_vhost_by_name(ctx, "chat");
    if (!vhost) abort();
    ws_clock_backend be = {still_now_us, NULL, NULL};
    ws_clock *clock = ws_clock_new(&be);
    if (!clock) abort();
    eio_server_start(eio, clock);
    return 0;
}

/* Reads and drops what the server wrote; false once it closed. */
static bool drain(int fd) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) continue;
        if (n == 0) return false;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return 0;
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct lws *wsi = lws_adopt_socket_vhost(vhost, sv[0]);
    if (!wsi) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    size_t sent = 0;
    bool open = true;
    /* bounded: the input in pieces as the socket takes them, then a few
     * turns for the answers; a held polling GET stays until we hang up */
    for (int turn = 0; turn < 64 && open; turn++) {
        if (sent < size) {
            ssize_t n = write(sv[1], data + sent, size - sent);
            if (n > 0) sent += (size_t)n;
            if (sent == size) shutdown(sv[1], SHUT_WR);
        } else if (turn > 8 + (int)(size / 4096)) {
            break;
        }
        lws_service(ctx, -1);
        open = drain(sv[1]);
    }
    if (!size) shutdown(sv[1], SHUT_WR);
    close(sv[1]);
    /* lws sees the hang-up and frees the connection (and ends what it held) */
    for (int turn = 0; turn < 4; turn++)
        lws_service(ctx, -1);
    return 0;
}
