/* sio_eio.c -- Engine.IO as the Socket.IO layer's transport: the glue both ways */
#include "eio.h"
#include "sio.h"

static int tr_send(void *tp, outbuf *o) {
    return eio_send(tp, o);
}
static void tr_close(void *tp, int ws_status, const char *reason) {
    eio_close(tp, ws_status, reason);
}
static bool tr_can_send_volatile(const void *tp) {
    return eio_can_send_volatile(tp);
}
static const char *tr_peer(const void *tp) {
    return eio_peer(tp);
}
static const char *tr_sid(const void *tp) {
    return eio_sid(tp);
}
static const char *tr_name(const void *tp) {
    return eio_transport_name(tp);
}

const sio_transport sio_eio_transport = {tr_send, tr_close, tr_can_send_volatile,
                                         tr_peer, tr_sid,   tr_name};

/* The eio handlers: ud is the sio_server given to eio_server_new(). */
static void on_open(eio_conn *conn, void *ud) {
    sio_client *c = sio_client_open(ud, conn);
    if (c) eio_set_upper(conn, c);
}

static int on_message(eio_conn *conn, const char *data, size_t len, bool binary, void *ud) {
    (void)ud;
    return sio_client_message(eio_upper(conn), data, len, binary);
}

static void on_close(eio_conn *conn, const char *reason, void *ud) {
    (void)ud;
    sio_client_closed(eio_upper(conn), reason);
}

const eio_handlers *sio_eio_handlers(void) {
    static const eio_handlers h = {on_open, on_message, on_close};
    return &h;
}
