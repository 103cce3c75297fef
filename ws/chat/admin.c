/* admin.c -- the /admin namespace: JWT middleware, stats, announce, kick */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ack.h"
#include "chat.h"
#include "log.h"

struct admin {
    sio_server *srv;
    store *st;
    adapter *adapter;
    const token_secret *secret;
    ws_timer expiry; /* disconnects sockets whose token expired */
};

/* How often /admin sockets' tokens are re-checked for "exp". */
#define ADMIN_EXPIRY_CHECK_MS 1000

static int require_admin(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    admin *a = ud;
    token_claims claims;
    const char *why = "";
    const char *token = sio_str(json_object_get(auth, "token"));
    if (!token || token_verify(a->secret, token, &claims, &why) || !claims.admin) {
        /* the reason goes to the log; the token itself never does */
        log_event(LOG_LEVEL_INFO, "admin: refused", "sid", sio_socket_id(s), "peer",
                  sio_socket_peer(s), "reason",
                  token ? (why[0] ? why : "not an admin token") : "no token", NULL);
        snprintf(err, errlen, "unauthorized");
        return -1;
    }
    long *exp = malloc(sizeof *exp); /* the socket's ctx: when its token expires */
    if (!exp) return snprintf(err, errlen, "out of memory"), -1;
    *exp = claims.exp;
    sio_socket_set_ctx(s, exp, free);
    return 0;
}

static void expire_socket(sio_socket *s, void *ud) {
    const long *exp = sio_socket_ctx(s);
    if (!exp || *exp <= 0 || *(const long *)ud < *exp) return;
    log_event(LOG_LEVEL_INFO, "admin: token expired, disconnecting", "sid", sio_socket_id(s), NULL);
    sio_disconnect(s, false);
}

static void expiry_tick(void *ud) {
    admin *a = ud;
    sio_nsp *nsp = sio_nsp_get(a->srv, CONTRACT_ADMIN_NAMESPACE);
    long now_s = (long)time(NULL);
    if (nsp) sio_nsp_each_socket(nsp, expire_socket, &now_s);
    ws_timer_schedule(&a->expiry, ADMIN_EXPIRY_CHECK_MS);
}

void admin_attach(admin *a, ws_clock *clock) {
    ws_timer_cancel(&a->expiry);
    if (!clock) return;
    ws_timer_init(&a->expiry, clock, expiry_tick, a);
    ws_timer_schedule(&a->expiry, ADMIN_EXPIRY_CHECK_MS);
}

static void nsp_stats(sio_nsp *nsp, void *ud) {
    json_object_set_new(ud, sio_nsp_name(nsp),
                        json_pack("{s:I}", "sockets", (json_int_t)sio_nsp_size(nsp)));
}

static void on_stats(sio_socket *s, sio_event *ev, void *ud) {
    (void)s;
    admin *a = ud;
    if (!ev->ack) return;
    int64_t rooms = 0, messages = 0;
    size_t polling, websocket;
    if (store_counts(a->st, &rooms, &messages)) return ack_error(ev->ack, "database unavailable");
    sio_server_transports(a->srv, &polling, &websocket);
    json_t *per = json_object();
    sio_each_nsp(a->srv, nsp_stats, per);
    ack_reply(ev->ack, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "connections",
                                 (json_int_t)(polling + websocket), "sockets",
                                 (json_int_t)sio_server_sockets(a->srv), "namespaces",
                                 (json_int_t)sio_server_namespaces(a->srv), "live_rooms",
                                 (json_int_t)sio_server_rooms(a->srv), "rooms", (json_int_t)rooms,
                                 "messages", (json_int_t)messages, "per_namespace", per));
    ev->ack = NULL;
}

/* Publishes an event for every process and acks once it is committed. */
static void append_control(admin *a, sio_event *ev, const char *kind, json_t *payload) {
    int64_t id;
    if (adapter_publish_now(a->adapter, kind, payload, &id))
        return ack_error(ev->ack, "database unavailable, try again");
    ack_reply(ev->ack, json_pack("{s:b,s:I}", "ok", 1, "id", (json_int_t)id));
    ev->ack = NULL;
}

static void on_announce(sio_socket *s, sio_event *ev, void *ud) {
    (void)s;
    const char *text = sio_str(json_object_get(json_array_get(ev->args, 0), "text"));
    if (!text || !contract_valid_text(text)) return ack_refuse(ev->ack, CONTRACT_TEXT);
    append_control(ud, ev, "announce",
                   json_pack("{s:s,s:I}", "text", text, "ts", (json_int_t)store_now_ms()));
}

static void on_kick(sio_socket *s, sio_event *ev, void *ud) {
    (void)s;
    json_t *arg = json_array_get(ev->args, 0);
    const char *sid = sio_str(json_object_get(arg, "sid"));
    const char *user = sio_str(json_object_get(arg, "user"));
    json_t *reason_v = json_object_get(arg, "reason");
    const char *reason = sio_str(reason_v);
    if (!sid && !user) return ack_error(ev->ack, "expected {sid} or {user}");
    if (reason_v &&
        (!reason || !contract_in_range(CONTRACT_KICK_REASON, (long long)strlen(reason))))
        return ack_refuse(ev->ack, CONTRACT_KICK_REASON);
    json_t *payload = json_pack("{s:s}", "reason", reason ? reason : "kicked by an administrator");
    if (sid) json_object_set_new(payload, "sid", json_string(sid));
    if (user) json_object_set_new(payload, "user", json_string(user));
    append_control(ud, ev, "kick", payload);
}

/* ---- applying control events ------------------------------------------ */

typedef struct apply_ctx {
    json_t *payload;
    int hits;
} apply_ctx;

/* Whether nsp holds chat sockets ("/" and workspaces; not /admin, nor the
 * Admin UI's). */
static bool chat_nsp(const sio_nsp *nsp) {
    return contract_valid_chat_namespace(sio_nsp_name(nsp));
}

static void announce_nsp(sio_nsp *nsp, void *ud) {
    apply_ctx *c = ud;
    if (!chat_nsp(nsp)) return;
    json_t *args = json_pack("[O]", c->payload);
    c->hits += sio_emit(nsp, NULL, "announcement", args);
    json_decref(args);
}

/* Applies a published announcement on this process. */
static void apply_announce(json_t *payload, void *ud) {
    (void)ud;
    apply_ctx c = {payload, 0};
    sio_each_nsp(((admin *)ud)->srv, announce_nsp, &c);
    if (c.hits) log_event(LOG_LEVEL_INFO, "admin: announcement", "sockets", LOG_I(c.hits), NULL);
}

static void kick_socket(sio_socket *s, void *ud) {
    apply_ctx *c = ud;
    const char *sid = sio_str(json_object_get(c->payload, "sid"));
    const char *user = sio_str(json_object_get(c->payload, "user"));
    const char *name = chat_socket_user(s);
    if (!(sid && strcmp(sid, sio_socket_id(s)) == 0) && !(user && name && strcmp(user, name) == 0))
        return;
    /* The client sees the reason in `kicked`, then "io server disconnect". */
    json_t *args = json_pack("[{s:O}]", "reason", json_object_get(c->payload, "reason"));
    sio_emit_socket(s, "kicked", args);
    json_decref(args);
    sio_disconnect(s, false);
    c->hits++;
}

static void kick_nsp(sio_nsp *nsp, void *ud) {
    if (chat_nsp(nsp)) sio_nsp_each_socket(nsp, kick_socket, ud);
}

/* Applies a published kick on this process. */
static void apply_kick(json_t *payload, void *ud) {
    apply_ctx c = {payload, 0};
    sio_each_nsp(((admin *)ud)->srv, kick_nsp, &c);
    if (c.hits) log_event(LOG_LEVEL_INFO, "admin: kick", "sockets", LOG_I(c.hits), NULL);
}

admin *admin_new(sio_server *srv, store *st, adapter *b, const token_secret *secret) {
    admin *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->srv = srv;
    a->st = st;
    a->adapter = b;
    a->secret = secret;
    adapter_on(b, "announce", apply_announce, a);
    adapter_on(b, "kick", apply_kick, a);
    sio_nsp_def *def = sio_of(srv, CONTRACT_ADMIN_NAMESPACE);
    sio_use(def, require_admin, a);
    sio_on(def, "stats", on_stats, a);
    sio_on(def, "announce", on_announce, a);
    sio_on(def, "kick", on_kick, a);
    return a;
}

void admin_free(admin *a) {
    free(a);
}
