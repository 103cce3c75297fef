/* admin_ui.c -- the server side of the official Socket.IO Admin UI's protocol */
#include "admin_ui.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "log.h"

struct admin_ui {
    sio_server *srv;
    const token_secret *secret;
    bus *bus;                  /* NULL: this process's sockets only */
    long long remote_until_ms; /* a UI on another process watches until then (clock) */
    ws_clock *clock;           /* NULL until attached */
    ws_timer stats;
    char hostname[128];
    char server_id[160];
    long long started_ms; /* clock: when attached */
};

/* A socket of our namespace whose `session` is due (a password login). */
#define ADMIN_UI_ISSUE_SESSION ((void *)1)

/* Now as the UI's dates: an ISO 8601 string, as JSON.stringify(new Date()). */
static json_t *now_date(void) {
    struct timespec ts;
    struct tm tm;
    char buf[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
    return json_string(buf);
}

/* Whether a UI socket is connected to this process. */
static bool watched_here(const admin_ui *ui) {
    sio_nsp *nsp = sio_nsp_get(ui->srv, ADMIN_UI_NAMESPACE);
    return nsp && sio_nsp_size(nsp) > 0;
}

/* Whether a UI socket is connected to another process, as its last "watch"
 * said (it repeats it every ADMIN_UI_STATS_MS). */
static bool watched_elsewhere(const admin_ui *ui) {
    return ui->bus && ui->clock && ws_clock_now_ms(ui->clock) < ui->remote_until_ms;
}

/* How the UI's messages on the bus start (the member comes first), so the
 * handler tells them from the adapter's emits without parsing those. */
#define ADMIN_UI_PREFIX "{\"admin_ui\":"

/* Publishes {"admin_ui": kind, ...fields} (fields stolen) to the other
 * processes; one over BUS_EPHEMERAL_MAX is dropped (a socket in very many
 * rooms). */
static void publish(admin_ui *ui, const char *kind, json_t *fields) {
    json_t *msg = json_pack("{s:s}", "admin_ui", kind); /* first: ADMIN_UI_PREFIX */
    if (msg && fields && !json_object_update(msg, fields)) {
        char *text = json_dumps(msg, JSON_COMPACT);
        if (text) bus_publish_ephemeral(ui->bus, text, strlen(text));
        free(text);
    }
    json_decref(msg);
    json_decref(fields);
}

/* Emits event with args (stolen) to every UI socket here, and to the UI
 * sockets of the other processes when one watches from there: the UI sees
 * every process's sockets, as a Socket.IO adapter makes it. */
static void to_ui(admin_ui *ui, const char *event, json_t *args) {
    sio_nsp *nsp = sio_nsp_get(ui->srv, ADMIN_UI_NAMESPACE);
    if (nsp && args) {
        sio_to all = {0};
        sio_emit(nsp, &all, event, args);
    }
    if (args && watched_elsewhere(ui))
        publish(ui, "event", json_pack("{s:s,s:O}", "event", event, "args", args));
    json_decref(args);
}

/* A socket as the UI lists it (SerializedSocket). */
static json_t *serialize(const sio_socket *s) {
    const char *user = chat_socket_user(s);
    json_t *rooms = json_array(), *data = json_object();
    for (size_t i = 0; i < sio_socket_room_count(s); i++)
        json_array_append_new(rooms, json_string(sio_socket_room_at(s, i)));
    if (user) json_object_set_new(data, "user", json_string(user));
    /* clientId: the UI shows 12 characters of the Engine.IO id */
    char client[13];
    snprintf(client, sizeof client, "%s", sio_socket_client_id(s));
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:{},s:{},s:I,s:b,s:o,s:s,s:b},s:o}", "id",
                     sio_socket_id(s), "clientId", client, "transport", sio_socket_transport(s),
                     "nsp", sio_nsp_name(sio_socket_nsp(s)), "data", data, "handshake", "address",
                     sio_socket_peer(s), "headers", "query", "issued",
                     (json_int_t)time(NULL) * 1000, "secure", 0, "time", now_date(), "url",
                     "/socket.io/", "xdomain", 0, "rooms", rooms);
}

/* ---- the observer: live changes --------------------------------------- */

/* Whether a UI socket is connected here or elsewhere: without one, the
 * observers build nothing (they run on every connect, join, leave and
 * disconnect). */
static bool watched(const admin_ui *ui) {
    return watched_here(ui) || watched_elsewhere(ui);
}

static void on_connected(sio_socket *s, void *ud) {
    if (watched(ud)) to_ui(ud, "socket_connected", json_pack("[o,o]", serialize(s), now_date()));
}

static void on_disconnected(sio_socket *s, const char *reason, void *ud) {
    if (!watched(ud)) return;
    to_ui(ud, "socket_disconnected",
          json_pack("[s,s,s,o]", sio_nsp_name(sio_socket_nsp(s)), sio_socket_id(s), reason,
                    now_date()));
}

static void on_joined(sio_socket *s, const char *room, void *ud) {
    if (!watched(ud)) return;
    to_ui(ud, "room_joined",
          json_pack("[s,s,s,o]", sio_nsp_name(sio_socket_nsp(s)), room, sio_socket_id(s),
                    now_date()));
}

static void on_left(sio_socket *s, const char *room, void *ud) {
    if (!watched(ud)) return;
    to_ui(ud, "room_left",
          json_pack("[s,s,s,o]", sio_nsp_name(sio_socket_nsp(s)), room, sio_socket_id(s),
                    now_date()));
}

/* ---- the namespace ---------------------------------------------------- */

/* Whether token is a valid admin token. */
static bool admin_token(admin_ui *ui, const char *token) {
    token_claims claims;
    const char *why = "";
    return token && !token_verify(ui->secret, token, &claims, &why) && claims.admin;
}

/* Whether token is a valid session of the UI: a token of scope ADMIN_UI_SCOPE
 * (what `session` hands out), not a full admin token, so a session id that
 * leaks from the browser is good for this namespace only. */
static bool session_token(admin_ui *ui, const char *token) {
    token_claims claims;
    const char *why = "";
    return token && !token_verify(ui->secret, token, &claims, &why) &&
           strcmp(claims.scope, ADMIN_UI_SCOPE) == 0;
}

static int authenticate(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    admin_ui *ui = ud;
    const char *password = sio_str(json_object_get(auth, "password"));
    const char *session = sio_str(json_object_get(auth, "sessionId"));
    if (admin_token(ui, password)) {
        sio_socket_set_ctx(s, ADMIN_UI_ISSUE_SESSION, NULL);
        return 0;
    }
    if (session_token(ui, session)) return 0;
    /* the reason goes to the log; the credentials never do */
    log_event(LOG_LEVEL_INFO, "admin-ui: refused", "sid", sio_socket_id(s), "peer",
              sio_socket_peer(s), "reason",
              password || session ? "not a valid admin token" : "no credentials", NULL);
    snprintf(err, errlen, "invalid credentials");
    return -1;
}

typedef struct collect {
    json_t *array;
    const char *nsp;    /* _disconnect: the namespace */
    const char *filter; /* _disconnect: a socket id or room, NULL: all */
    bool close;
} collect;

static void collect_socket(sio_socket *s, void *ud) {
    json_array_append_new(((collect *)ud)->array, serialize(s));
}

static void collect_nsp(sio_nsp *nsp, void *ud) {
    sio_nsp_each_socket(nsp, collect_socket, ud);
}

static void on_connection(sio_socket *s, void *ud) {
    admin_ui *ui = ud;
    if (sio_socket_ctx(s) == ADMIN_UI_ISSUE_SESSION) {
        char *token = token_issue_scoped(ui->secret, ADMIN_UI_SCOPE, ADMIN_UI_SESSION_TTL_S);
        json_t *args = token ? json_pack("[s]", token) : NULL;
        if (args) sio_emit_socket(s, "session", args);
        json_decref(args);
        free(token);
        sio_socket_set_ctx(s, NULL, NULL);
    }
    json_t *config = json_pack("[{s:[s,s,s]}]", "supportedFeatures", "DISCONNECT",
                               "AGGREGATED_EVENTS", "ALL_EVENTS");
    if (config) sio_emit_socket(s, "config", config);
    json_decref(config);
    collect c = {json_array(), NULL, NULL, false};
    sio_each_nsp(ui->srv, collect_nsp, &c);
    json_t *args = json_pack("[o]", c.array);
    if (args) sio_emit_socket(s, "all_sockets", args);
    json_decref(args);
    /* The other processes' sockets: each sends them as socket_connected. */
    if (ui->bus) publish(ui, "watch", json_pack("{s:b}", "all", 1));
}

static void disconnect_one(sio_socket *s, void *ud) {
    collect *c = ud;
    if (!c->filter || strcmp(sio_socket_id(s), c->filter) == 0 || sio_in_room(s, c->filter))
        sio_disconnect(s, c->close);
}

/* _disconnect (nsp, close, filter?): io.of(nsp).in(filter).disconnectSockets(close). */
static void on_disconnect_sockets(sio_socket *s, sio_event *ev, void *ud) {
    admin_ui *ui = ud;
    const char *nsp_name = sio_str(json_array_get(ev->args, 0));
    json_t *close = json_array_get(ev->args, 1);
    json_t *f = json_array_get(ev->args, 2);
    const char *filter = sio_str(f);
    /* no filter (absent, null, "") is the whole namespace; any other non-string is refused */
    bool bad_filter = f && !json_is_null(f) && !filter;
    if (filter && !*filter) filter = NULL;
    sio_nsp *nsp = nsp_name && !bad_filter ? sio_nsp_get(ui->srv, nsp_name) : NULL;
    if (nsp) {
        collect c = {NULL, nsp_name, filter, json_is_true(close)};
        log_event(LOG_LEVEL_INFO, "admin-ui: disconnect", "by", sio_socket_id(s), "nsp", nsp_name,
                  "filter", filter ? filter : "*", NULL);
        sio_nsp_each_socket(nsp, disconnect_one, &c);
    }
    if (ev->ack) {
        sio_ack_send(ev->ack, NULL);
        ev->ack = NULL;
    }
}

/* ---- server_stats ----------------------------------------------------- */

static void nsp_count(sio_nsp *nsp, void *ud) {
    json_array_append_new(ud, json_pack("{s:s,s:I}", "name", sio_nsp_name(nsp), "socketsCount",
                                        (json_int_t)sio_nsp_size(nsp)));
}

static void stats(void *ud) {
    admin_ui *ui = ud;
    if (ui->bus && watched_here(ui)) publish(ui, "watch", json_object());
    if (watched(ui)) {
        size_t polling = 0, websocket = 0;
        sio_server_transports(ui->srv, &polling, &websocket);
        json_t *namespaces = json_array();
        sio_each_nsp(ui->srv, nsp_count, namespaces);
        to_ui(ui, "server_stats",
              json_pack("[{s:s,s:s,s:i,s:f,s:I,s:I,s:[],s:o}]", "serverId", ui->server_id,
                        "hostname", ui->hostname, "pid", (int)getpid(), "uptime",
                        (double)(ws_clock_now_ms(ui->clock) - ui->started_ms) / 1000.0,
                        "clientsCount", (json_int_t)(polling + websocket), "pollingClientsCount",
                        (json_int_t)polling, "aggregatedEvents", "namespaces", namespaces));
    }
    ws_timer_schedule(&ui->stats, ADMIN_UI_STATS_MS);
}

/* ---- the other processes ---------------------------------------------- */

/* The events one process passes on to the UI sockets of another. */
static bool forwarded(const char *event) {
    static const char *const events[] = {"socket_connected", "socket_disconnected", "room_joined",
                                         "room_left", "server_stats"};
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (strcmp(event, events[i]) == 0) return true;
    return false;
}

/* Publishes socket_connected for one socket of this process (a reply to a
 * new UI elsewhere asking for every socket). */
static void announce_socket(sio_socket *s, void *ud) {
    admin_ui *ui = ud;
    publish(
        ui, "event",
        json_pack("{s:s,s:[o,o]}", "event", "socket_connected", "args", serialize(s), now_date()));
}

static void announce_nsp(sio_nsp *nsp, void *ud) {
    sio_nsp_each_socket(nsp, announce_socket, ud);
}

bool admin_ui_ephemeral(admin_ui *ui, const char *data, size_t len) {
    if (len < sizeof ADMIN_UI_PREFIX - 1 ||
        memcmp(data, ADMIN_UI_PREFIX, sizeof ADMIN_UI_PREFIX - 1))
        return false;
    if (!ui || !ui->bus) return true;
    json_t *p = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    const char *kind = sio_str(json_object_get(p, "admin_ui"));
    if (!kind) {
        json_decref(p);
        return true;
    }
    if (strcmp(kind, "watch") == 0) {
        if (ui->clock) ui->remote_until_ms = ws_clock_now_ms(ui->clock) + 3 * ADMIN_UI_STATS_MS;
        if (json_is_true(json_object_get(p, "all"))) sio_each_nsp(ui->srv, announce_nsp, ui);
    } else if (strcmp(kind, "event") == 0) {
        const char *event = sio_str(json_object_get(p, "event"));
        json_t *args = json_object_get(p, "args");
        sio_nsp *nsp = sio_nsp_get(ui->srv, ADMIN_UI_NAMESPACE);
        if (event && forwarded(event) && json_is_array(args) && nsp && sio_nsp_size(nsp) > 0) {
            sio_to all = {0};
            sio_emit(nsp, &all, event, args); /* here only: never passed on again */
        }
    }
    json_decref(p);
    return true;
}

admin_ui *admin_ui_new(sio_server *srv, const token_secret *secret, bus *b) {
    admin_ui *ui = calloc(1, sizeof *ui);
    if (!ui) return NULL;
    ui->srv = srv;
    ui->secret = secret;
    ui->bus = b;
    if (gethostname(ui->hostname, sizeof ui->hostname)) snprintf(ui->hostname, 10, "localhost");
    ui->hostname[sizeof ui->hostname - 1] = '\0';
    snprintf(ui->server_id, sizeof ui->server_id, "%s#%d", ui->hostname, (int)getpid());
    sio_nsp_def *def = sio_of(srv, ADMIN_UI_NAMESPACE);
    sio_use(def, authenticate, ui);
    sio_on_connection(def, on_connection, ui);
    sio_on(def, "_disconnect", on_disconnect_sockets, ui);
    sio_observer obs = {on_connected, on_disconnected, on_joined, on_left};
    sio_observe(srv, &obs, ui);
    return ui;
}

void admin_ui_attach(admin_ui *ui, ws_clock *clock) {
    if (!ui) return;
    ws_timer_cancel(&ui->stats);
    ui->clock = clock;
    if (!clock) return;
    ui->started_ms = ws_clock_now_ms(clock);
    ws_timer_init(&ui->stats, clock, stats, ui);
    ws_timer_schedule(&ui->stats, 0);
}

void admin_ui_free(admin_ui *ui) {
    free(ui);
}
