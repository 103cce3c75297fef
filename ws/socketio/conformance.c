/* conformance.c -- the server behaviour the official Engine.IO v4 and Socket.IO v5 test suites expect */
#include "conformance.h"

static void free_auth(void *p) {
    json_decref(p);
}

/* Keeps the CONNECT payload to echo once connected. */
static int keep_auth(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    (void)err, (void)errlen, (void)ud;
    sio_socket_set_ctx(s, json_incref(auth), free_auth);
    return 0;
}

static void echo_auth(sio_socket *s, void *ud) {
    (void)ud;
    json_t *args = json_pack("[O]", (json_t *)sio_socket_ctx(s));
    sio_emit_socket(s, "auth", args);
    json_decref(args);
}

static void message(sio_socket *s, sio_event *ev, void *ud) {
    (void)ud;
    sio_emit_socket_bin(s, "message-back", ev->args, ev->attachments, ev->nattachments);
    sio_ack_drop(ev->ack);
}

static void message_with_ack(sio_socket *s, sio_event *ev, void *ud) {
    (void)s, (void)ud;
    sio_ack_send_bin(ev->ack, ev->args, ev->attachments, ev->nattachments);
}

/* Beyond the suites, for our own tests of server-to-client acks: "ask-me"
 * makes the server emit "ask" with the same arguments and an ack; the
 * client's answer comes back as "ack-received", a missing one (500 ms) as
 * "ack-timeout". */
static void ack_reply(sio_socket *s, json_t *args, void *ud) {
    (void)ud;
    if (!sio_socket_connected(s)) return; /* failed by the disconnect */
    if (args) {
        sio_emit_socket(s, "ack-received", args);
    } else {
        json_t *why = json_pack("[s]", "timeout");
        sio_emit_socket(s, "ack-timeout", why);
        json_decref(why);
    }
}

static void ask_me(sio_socket *s, sio_event *ev, void *ud) {
    (void)ud;
    sio_emit_with_ack(s, "ask", ev->args, 500, ack_reply, NULL);
    sio_ack_drop(ev->ack);
}

void conformance_register(sio_server *srv) {
    const char *names[] = {"/", "/custom"};
    for (int i = 0; i < 2; i++) {
        sio_nsp_def *def = sio_of(srv, names[i]);
        sio_use(def, keep_auth, NULL);
        sio_on_connection(def, echo_auth, NULL);
        sio_on(def, "message", message, NULL);
        sio_on(def, "message-with-ack", message_with_ack, NULL);
        sio_on(def, "ask-me", ask_me, NULL);
    }
}
