/* chat.c -- the chat's Socket.IO handlers: rooms, messages, presence, recovery */
#include "chat.h"
#include "ack.h"
#include "chat_json.h"
#include "hub.h"
#include "contract.h"

#include "identity.h"
#include "moderation.h"
#include "post.h"
#include "presence.h"
#include "recovery.h"
#include "workspace_gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"

/* A chat message waiting for the group commit. */
typedef struct pending_msg {
    sio_ack *ack;  /* may be NULL: the client asked for none */
    post_msg post; /* its strings are owned here (pending_free); budget_user
                      is user when the user chose the name, else NULL */
    struct pending_msg *next;
} pending_msg;

struct chat {
    sio_server *srv;
    store *st;
    chat_config cfg;
    pending_msg *batch, *batch_tail;
    size_t batch_len;
    long long batch_since;      /* ms: when the oldest message of the batch came */
    ws_timer flush;             /* the group commit */
    ws_timer touch;             /* refreshes this process's live sessions (sessions_touch) */
    presence *presence;         /* coalesces user joined/left/connected/disconnected */
    moderation *mod;            /* edits, deletions, roles, mutes and bans */
    identity_config ids;        /* who each socket is (identify) */
    workspace_gate_config gate; /* workspaces: creation, privacy, token expiry */
    ws_timer writes;            /* commits the loop turn's presence/session writes */
    bool writes_open;
    long long writes_since; /* ms: when the open batch began */
    long long touched_at;   /* ms: when this process's live sessions were last refreshed */
    chat_metrics metrics;   /* cfg.metrics' series, all NULL without one */
};

int64_t chat_cursor(const chat *c) {
    return hub_cursor(c->cfg.hub);
}

static chat_user *user_of(const sio_socket *s) {
    return identity_user(s);
}

const char *chat_socket_user(const sio_socket *s) {
    chat_user *u = user_of(s);
    return u ? u->name : NULL;
}

bool chat_socket_admin(const sio_socket *s) {
    chat_user *u = user_of(s);
    return u && u->token && u->token->admin;
}

/* ---- JSON helpers ----------------------------------------------------- */

/* [obj, "<offset>"]: room broadcasts carry their log offset as the last
 * argument, which socket.io-client keeps for connection state recovery. */
static json_t *with_offset(json_t *obj, int64_t offset) {
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, offset);
    return json_pack("[os]", obj, buf);
}

/* The room named by an event's first argument: a string, or {room: name}. */
static const char *room_arg(const sio_event *ev) {
    json_t *a = json_array_get(ev->args, 0);
    if (json_is_object(a)) a = json_object_get(a, "room");
    return sio_str(a);
}

static const char *str_field(const sio_event *ev, const char *key) {
    return sio_str(json_object_get(json_array_get(ev->args, 0), key));
}

/* Emits obj to room of s's namespace on every process, all but s; with the
 * log offset as the last argument unless volatile. Steals obj. */
static void to_room_but(chat *c, sio_socket *s, const char *room, const char *event, json_t *obj,
                        bool is_volatile) {
    json_t *args = json_pack("[o]", obj);
    if (args)
        adapter_emit(c->cfg.adapter, sio_nsp_name(sio_socket_nsp(s)), room, sio_socket_id(s), event,
                     args, is_volatile, !is_volatile);
    json_decref(args);
}

/* Emits obj to the whole namespace of s on every process, but except_sid
 * (NULL: everyone). Steals obj. */
static void to_namespace(chat *c, sio_socket *s, const char *except_sid, const char *event,
                         json_t *obj) {
    json_t *args = json_pack("[o]", obj);
    if (args)
        adapter_emit(c->cfg.adapter, sio_nsp_name(sio_socket_nsp(s)), NULL, except_sid, event, args,
                     false, false);
    json_decref(args);
}

/* ---- presence --------------------------------------------------------- */

/* Broadcasts a coalesced presence update (presence.h) on every process:
 * `user joined` / `user left` {room, user} to the rest of the room, with the
 * log offset; `user connected` / `user disconnected` {user, sid} to the
 * namespace. The acting socket does not get its own. */
static void presence_emit(const presence_update *pu, void *ud) {
    chat *c = ud;
    const char *event = pu->room ? (pu->on ? "user joined" : "user left")
                                 : (pu->on ? "user connected" : "user disconnected");
    json_t *args = pu->room ? json_pack("[{s:s,s:s}]", "room", pu->room, "user", pu->user)
                            : json_pack("[{s:s,s:s}]", "user", pu->user, "sid", pu->sid);
    if (args)
        adapter_emit(c->cfg.adapter, pu->ns, pu->room, pu->room || pu->on ? pu->sid : NULL, event,
                     args, false, pu->room != NULL);
    json_decref(args);
}

/* s joined (on) or left room, or (room NULL) connected to or disconnected
 * from its namespace. */
static void presence_changed(chat *c, sio_socket *s, const char *room, bool on) {
    presence_update pu = {sio_nsp_name(sio_socket_nsp(s)), room, user_of(s)->name, sio_socket_id(s),
                          on};
    presence_note(c->presence, &pu);
}

/* ---- batched writes ---------------------------------------------------- */

/* The longest a batch of presence/session writes holds the database's write
 * lock: past it the next write commits it and opens another, so that other
 * processes' writers (chat-fcgi, the other chat-ws) wait at most about this
 * long even when one loop turn serves a storm of connects. */
#define CHAT_WRITES_MAX_MS 20

static void writes_commit(chat *c) {
    if (store_batch_end(c->st))
        log_event(LOG_LEVEL_WARN, "chat: presence and session writes failed", "error",
                  store_errmsg(c->st), NULL);
}

static void writes_due(void *ud) {
    chat *c = ud;
    c->writes_open = false;
    writes_commit(c);
}

/* The presence rows, sessions and cursors written by connects, joins, leaves
 * and disconnects of one loop turn go in one transaction (store_batch_begin),
 * committed when the turn ends: a connect storm pays one commit per turn, not
 * several per socket (and one per CHAT_WRITES_MAX_MS when a turn lasts
 * longer). An explicit transaction (the group commit, the bus) commits the
 * batch first; the next write here opens another. Without a loop (or when
 * the database is busy) each write commits alone, as before. */
static void writes_batch(chat *c) {
    long long now = ws_clock_now_ms(c->cfg.clock);
    if (c->writes_open) {
        if (now - c->writes_since >= CHAT_WRITES_MAX_MS) {
            writes_commit(c);
            c->writes_since = now;
        }
        /* nothing when the batch is open; else (committed above, or by an
         * explicit transaction) another, which the pending timer commits */
        store_batch_begin(c->st);
        return;
    }
    if (store_batch_begin(c->st)) return;   /* busy: each write commits alone */
    if (ws_timer_schedule(&c->writes, 0)) { /* the loop is going away */
        writes_commit(c);
        return;
    }
    c->writes_open = true;
    c->writes_since = now;
}

/* ---- sessions --------------------------------------------------------- */

/* Writes the socket's session (user, rooms, floor) for recovery: live (owned
 * by this process, kept young by sessions_touch) from the CONNECT on and after
 * each change of its rooms, so that a crash at any instant leaves it
 * recoverable; or, as it disconnects, released (the recovery window starts). */
static void session_save(chat *c, sio_socket *s, bool live) {
    if (!sio_socket_pid(s)[0]) return;
    store_session ss = {.owner = live ? c->cfg.process_id : 0, .by = c->cfg.process_id};
    snprintf(ss.pid, sizeof ss.pid, "%s", sio_socket_pid(s));
    snprintf(ss.sid, sizeof ss.sid, "%s", sio_socket_id(s));
    snprintf(ss.ns, sizeof ss.ns, "%s", sio_nsp_name(sio_socket_nsp(s)));
    snprintf(ss.user, sizeof ss.user, "%s", user_of(s)->name);
    json_t *rooms = json_array();
    for (size_t i = 0; i < sio_socket_room_count(s); i++)
        json_array_append_new(rooms, json_string(sio_socket_room_at(s, i)));
    ss.rooms = json_dumps(rooms, JSON_COMPACT);
    json_decref(rooms);
    json_t *data =
        json_pack("{s:b,s:I}", "named", user_of(s)->named, "floor", (json_int_t)user_of(s)->floor);
    ss.data = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    int rc = ss.rooms && ss.data ? store_session_save(c->st, &ss) : STORE_ERROR;
    if (rc)
        log_event(LOG_LEVEL_WARN, "chat: session save failed", "error", store_errmsg(c->st), NULL);
    free(ss.rooms);
    free((char *)ss.data);
}

/* ---- delivery --------------------------------------------------------- */

static bool not_yet_replayed(const sio_socket *s, void *ud) {
    const store_message *m = ud;
    return user_of(s)->replayed_upto < m->id;
}

/* The hub's delivery (hub_on_messages): m, the next message of the log, to
 * the sockets of its room here. */
static void deliver_one(const store_message *m, void *ud) {
    chat *c = ud;
    sio_nsp *nsp = sio_nsp_get(c->srv, m->ns);
    if (!nsp || sio_nsp_room_size(nsp, m->room) == 0) return;
    const char *event; /* a message, or an edit or deletion of one */
    json_t *args = with_offset(chat_json_event(m, &event), m->id);
    const char *rooms[1] = {m->room};
    sio_to to = {.rooms = rooms, .nrooms = 1, .filter = not_yet_replayed, .filter_ud = (void *)m};
    int n = args ? sio_emit(nsp, &to, event, args) : 0;
    if (n > 0) metrics_add(c->metrics.messages_delivered, n);
    json_decref(args);
}

void chat_deliver_new(chat *c) {
    hub_catch_up(c->cfg.hub, INT64_MAX);
}

/* Sends a recovered socket what it missed, gathered by recover(): in log
 * order, before any new message (live delivery skips what it sent). */
static void replay_missed(sio_socket *s) {
    chat_user *u = user_of(s);
    size_t i;
    json_t *args;
    json_t *item; /* [event, args] */
    json_array_foreach(u->replay, i, item) {
        if ((args = json_array_get(item, 1)))
            sio_emit_socket(s, json_string_value(json_array_get(item, 0)), args);
    }
    json_decref(u->replay);
    u->replay = NULL;
}

/* ---- group commit ----------------------------------------------------- */

static void pending_free(pending_msg *p) {
    free((char *)p->post.room);
    free((char *)p->post.ns);
    free((char *)p->post.user);
    free((char *)p->post.text);
    free((char *)p->post.client_id);
    free((char *)p->post.addr);
    free(p);
}

/* How long a batch may wait for a locked database before its messages are
 * answered {error}; retried meanwhile without blocking the event loop. */
#define COMMIT_DEADLINE_MS 2000
#define COMMIT_RETRY_MS 50

/* Commits every queued message in one transaction, then acks each: an ack
 * is sent only after its message is durable. */
static void flush(void *ud) {
    chat *c = ud;
    if (!c->batch) return;
    int brc = store_begin(c->st);
    if (brc == STORE_BUSY && ws_clock_now_ms(c->cfg.clock) - c->batch_since < COMMIT_DEADLINE_MS &&
        ws_timer_schedule(&c->flush, COMMIT_RETRY_MS) == 0) {
        /* Another process holds the lock: keep the batch (new messages join
         * it) and try again soon, serving everyone else meanwhile. */
        metrics_inc(c->metrics.db_busy_retries);
        return;
    }
    long long began_us = ws_clock_now_us(c->cfg.clock);
    pending_msg *batch = c->batch;
    c->batch = c->batch_tail = NULL;
    c->batch_len = 0;

    size_t n = 0;
    for (pending_msg *p = batch; p; p = p->next)
        n++;
    post_result *res = calloc(n, sizeof *res);
    int rc = brc;
    if (!res && rc == STORE_OK) {
        store_rollback(c->st);
        rc = STORE_ERROR;
    }
    size_t i = 0;
    for (pending_msg *p = batch; p; p = p->next, i++) {
        if (rc) {
            if (res) res[i].rc = rc;
            continue;
        }
        post_append(c->st, &c->cfg.budget, &p->post, &res[i]);
    }
    if (rc == STORE_OK) {
        rc = store_commit(c->st);
        metrics_observe(c->metrics.commit_seconds,
                        (double)(ws_clock_now_us(c->cfg.clock) - began_us) / 1e6);
        metrics_observe(c->metrics.commit_batch, (double)n);
        if (rc) {
            metrics_inc(c->metrics.db_errors);
            log_event(LOG_LEVEL_WARN, "chat: commit failed", "messages", LOG_I(n), "error",
                      store_errmsg(c->st), NULL);
            for (i = 0; i < n; i++)
                res[i].rc = rc;
        }
    } else {
        metrics_inc(c->metrics.db_errors);
        log_event(LOG_LEVEL_WARN, "chat: begin failed", "error", store_errmsg(c->st), NULL);
    }
    /* Local first. This commit's new ids are consecutive (its transaction
     * held the write lock). When the first does not follow our cursor,
     * another process committed in between: its rows are read from the log,
     * up to ours, so that every socket sees the log's order. Ours are then
     * delivered from memory -- never read back -- and published on the bus
     * for the other processes. Only if that read fails do ours wait for the
     * next catch-up, from the log. */
    int64_t first = 0;
    size_t fresh = 0; /* stored now, not duplicates */
    for (i = 0; rc == STORE_OK && res && i < n; i++)
        if (res[i].rc == STORE_OK && !res[i].dup && fresh++ == 0) first = res[i].id;
    bool from_memory = fresh > 0 && hub_commit_begin(c->cfg.hub, first);
    store_message *mine = fresh > 0 ? calloc(fresh, sizeof *mine) : NULL;
    size_t nmine = 0;
    i = 0;
    for (pending_msg *p = batch; p; p = p->next, i++) {
        if (!res || res[i].rc) {
            char why[STATUS_MESSAGE_MAX];
            if (res && res[i].rc == STORE_OVER_BUDGET)
                ack_error(p->ack, status_over_budget(res[i].over, why, sizeof why));
            else
                ack_store_error(p->ack, res ? res[i].rc : STORE_ERROR, "room");
            continue;
        }
        if (!res[i].dup) metrics_inc(c->metrics.messages_stored);
        ack_reply(p->ack,
                  json_pack("{s:I,s:I}", "id", (json_int_t)res[i].id, "ts", (json_int_t)res[i].ts));
        store_message m = post_row(&p->post, &res[i]);
        if (from_memory && !res[i].dup) hub_deliver_committed(c->cfg.hub, &m);
        if (mine && !res[i].dup) mine[nmine++] = m;
    }
    /* Every stored one is published, even when we could not deliver it here:
     * the other processes need not wait for our failure. */
    if (mine) {
        hub_commit_end(c->cfg.hub, mine, nmine);
    } else if (fresh > 0) {
        metrics_inc(c->metrics.db_errors); /* out of memory: the others' poll catches up */
        log_event(LOG_LEVEL_WARN, "chat: messages not published", "messages", LOG_I(fresh), NULL);
    }
    free(mine);
    for (pending_msg *p = batch, *next; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    free(res);
}

static void on_chat_message(sio_socket *s, sio_event *ev, void *ud) {
    chat *c = ud;
    const char *room = str_field(ev, "room"), *text = str_field(ev, "text");
    metrics_inc(c->metrics.messages_received);
    json_t *cid = json_object_get(json_array_get(ev->args, 0), "client_id");
    if (!room || !text) return ack_error(ev->ack, "expected {room, text}");
    const char *client_id = sio_str(cid);
    contract_id broken;
    if (!post_valid(text, client_id, &broken)) return ack_refuse(ev->ack, broken);
    if (cid && !json_is_null(cid) && !client_id) /* a client_id that is no string */
        return ack_refuse(ev->ack, CONTRACT_CLIENT_ID);
    if (!sio_in_room(s, room)) return ack_error(ev->ack, "join the room first");
    int64_t muted =
        moderation_muted_until(c->mod, sio_nsp_name(sio_socket_nsp(s)), user_of(s)->name);
    if (muted) {
        char why[128];
        moderation_muted_message(muted, why, sizeof why);
        return ack_error(ev->ack, why);
    }
    int64_t room_id;
    int rc = store_room_id(c->st, sio_nsp_name(sio_socket_nsp(s)), room, &room_id);
    if (rc) return ack_store_error(ev->ack, rc, "room");

    pending_msg *p = calloc(1, sizeof *p);
    if (!p || !(p->post.user = strdup(user_of(s)->name)) || !(p->post.text = strdup(text)) ||
        !(p->post.room = strdup(room)) || !(p->post.ns = strdup(sio_nsp_name(sio_socket_nsp(s)))) ||
        (client_id && !(p->post.client_id = strdup(client_id)))) {
        if (p) pending_free(p);
        return ack_error(ev->ack, "out of memory");
    }
    p->post.room_id = room_id;
    p->post.budget_user = user_of(s)->named ? p->post.user : NULL;
    if (!(p->post.addr = strdup(sio_socket_peer(s)))) {
        pending_free(p);
        return ack_error(ev->ack, "out of memory");
    }
    p->ack = ev->ack;
    ev->ack = NULL;
    if (!c->batch) c->batch_since = ws_clock_now_ms(c->cfg.clock);
    if (c->batch_tail)
        c->batch_tail->next = p;
    else
        c->batch = p;
    c->batch_tail = p;
    c->batch_len++;
    /* Commit on the next loop turn: whatever else arrives in this one joins
     * the same transaction. */
    if (!ws_timer_pending(&c->flush)) ws_timer_schedule(&c->flush, 0);
}

/* ---- rooms ------------------------------------------------------------ */

static int add_user(const char *user, void *ud) {
    json_array_append_new(ud, json_string(user));
    return 0;
}

typedef struct missed_ctx {
    json_t *list;
    int max;
    bool more;
} missed_ctx;

static int add_missed(const store_message *m, void *ud) {
    missed_ctx *mc = ud;
    if ((int)json_array_size(mc->list) >= mc->max) {
        mc->more = true;
        return 1;
    }
    json_array_append_new(mc->list, chat_json_message(m));
    return 0;
}

/* join's {room, after}: the log offset the client last had (a number, or the
 * decimal string socket.io-client keeps as its offset), so that `missed`
 * starts there (a client whose recovery was refused pages from it). Sets
 * *after (-1: not given); -1 when malformed. */
static int join_after(const sio_event *ev, int64_t *after) {
    json_t *v = json_object_get(json_array_get(ev->args, 0), "after");
    *after = -1;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *after = json_integer_value(v);
        return 0;
    }
    return sio_str(v) && recovery_from(sio_str(v), 0, after) == 0 ? 0 : -1;
}

static void on_join(sio_socket *s, sio_event *ev, void *ud) {
    chat *c = ud;
    chat_user *u = user_of(s);
    const char *name = room_arg(ev);
    if (!name) return ack_error(ev->ack, "expected a room name");
    int64_t after; /* the offset the client last had, when it says */
    if (join_after(ev, &after))
        return ack_error(ev->ack, "after must be a non-negative integer or its decimal string");
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    store_room r;
    int rc = store_room_lookup(c->st, ns, name, &r);
    if (rc) return ack_store_error(ev->ack, rc, "room");
    int joined = sio_join(s, r.name);
    if (joined < 0) return ack_error(ev->ack, "too many rooms");
    writes_batch(c);
    if (store_presence_add(c->st, c->cfg.process_id, sio_socket_id(s), r.id, u->name))
        log_event(LOG_LEVEL_WARN, "chat: presence add failed", "error", store_errmsg(c->st), NULL);
    if (joined == 0) session_save(c, s, true);

    json_t *members = json_array(), *missed = json_array();
    store_presence_users(c->st, r.id, add_user, members);
    missed_ctx mc = {missed, c->cfg.missed_max, false};
    bool truncated = false; /* retention deleted some of what the user missed */
    if (after < 0 && u->named) {
        store_cursor_get(c->st, u->name, r.id, &after);
        if (after < 0) /* a first visit: nothing was missed; start the cursor here */
            store_cursor_set(c->st, u->name, r.id, r.last_message_id);
    }
    if (after >= 0) { /* 0: the first visit was to an empty room, or from the start */
        truncated = r.pruned_upto > after;
        store_messages_list(c->st, r.id, after, 0, c->cfg.missed_max + 1, add_missed, &mc);
    }
    ack_reply(ev->ack, json_pack("{s:b,s:s,s:I,s:o,s:o,s:b,s:b}", "ok", 1, "room", r.name,
                                 "room_id", (json_int_t)r.id, "members", members, "missed", missed,
                                 "more", mc.more, "truncated", truncated));
    if (joined == 0) presence_changed(c, s, r.name, true);
}

static void leave_room(chat *c, sio_socket *s, const char *name, bool announce) {
    int64_t room_id;
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    if (store_room_id(c->st, ns, name, &room_id) == STORE_OK)
        store_presence_remove(c->st, sio_socket_id(s), room_id);
    if (announce) presence_changed(c, s, name, false);
}

static void on_leave(sio_socket *s, sio_event *ev, void *ud) {
    chat *c = ud;
    const char *name = room_arg(ev);
    if (!name) return ack_error(ev->ack, "expected a room name");
    if (!sio_in_room(s, name)) return ack_error(ev->ack, "not in that room");
    writes_batch(c);
    leave_room(c, s, name, true);
    sio_leave(s, name);
    session_save(c, s, true);
    ack_reply(ev->ack, json_pack("{s:b,s:s}", "ok", 1, "room", name));
}

static void on_typing(sio_socket *s, sio_event *ev, void *ud) {
    const char *name = room_arg(ev);
    if (ev->ack) sio_ack_drop(ev->ack), ev->ack = NULL;
    if (!name || !sio_in_room(s, name)) return;
    to_room_but(ud, s, name, "typing",
                json_pack("{s:s,s:s}", "room", name, "user", user_of(s)->name), true);
}

static void on_read(sio_socket *s, sio_event *ev, void *ud) {
    chat *c = ud;
    const char *name = str_field(ev, "room");
    json_t *id = json_object_get(json_array_get(ev->args, 0), "id");
    if (!name || !json_is_integer(id) || json_integer_value(id) < 0)
        return ack_error(ev->ack, "expected {room, id}");
    int64_t room_id;
    int rc = store_room_id(c->st, sio_nsp_name(sio_socket_nsp(s)), name, &room_id);
    if (rc == STORE_OK && user_of(s)->named)
        rc = store_cursor_set(c->st, user_of(s)->name, room_id, json_integer_value(id));
    if (rc) return ack_store_error(ev->ack, rc, "room");
    ack_reply(ev->ack, json_pack("{s:b}", "ok", 1));
}

typedef struct rooms_ctx {
    chat *c;
    json_t *list;
    const chat_user *u; /* named: each room says its unread count */
} rooms_ctx;

static int count_one(const store_message *m, void *ud) {
    (void)m;
    ++*(int *)ud;
    return 0;
}

static int add_room(const store_room *r, void *ud) {
    rooms_ctx *rc = ud;
    json_t *room = chat_json_room(r);
    int64_t last = -1;
    /* unread: the messages past the user's read cursor (at most missed_max,
     * shown as "N+"), so that every device shows the server's count */
    if (room && rc->u && store_cursor_get(rc->c->st, rc->u->name, r->id, &last) == STORE_OK &&
        last >= 0) {
        int n = 0;
        if (store_messages_list(rc->c->st, r->id, last, 0, rc->c->cfg.missed_max, count_one, &n) ==
            STORE_OK)
            json_object_set_new(room, "unread", json_integer(n));
    }
    json_array_append_new(rc->list, room);
    return 0;
}

/* `rooms` ({after?, limit?}, ack): a page of the namespace's rooms, as REST's
 * GET /api/rooms: {rooms, more}. */
static void on_rooms(sio_socket *s, sio_event *ev, void *ud) {
    chat *c = ud;
    json_t *opt = json_array_get(ev->args, 0), *after = json_object_get(opt, "after"),
           *limit = json_object_get(opt, "limit");
    if ((after && !json_is_integer(after)) || json_integer_value(after) < 0)
        return ack_error(ev->ack, "after must be a non-negative integer");
    json_int_t n = limit ? json_integer_value(limit) : contract_default(CONTRACT_ROOMS_PAGE);
    if ((limit && !json_is_integer(limit)) || !contract_in_range(CONTRACT_ROOMS_PAGE, n))
        return ack_refuse(ev->ack, CONTRACT_ROOMS_PAGE);
    json_t *list = json_array();
    int rc = store_rooms_list(c->st, sio_nsp_name(sio_socket_nsp(s)), json_integer_value(after),
                              (int)n + 1, add_room,
                              &(rooms_ctx){c, list, user_of(s)->named ? user_of(s) : NULL});
    if (rc) {
        json_decref(list);
        return ack_store_error(ev->ack, rc, "room");
    }
    bool more = json_array_size(list) > (size_t)n;
    if (more) json_array_remove(list, (size_t)n);
    ack_reply(ev->ack, json_pack("{s:o,s:b}", "rooms", list, "more", more));
}

static void on_create_room(sio_socket *s, sio_event *ev, void *ud) {
    chat *c = ud;
    const char *given = str_field(ev, "name");
    if (!given) given = sio_str(json_array_get(ev->args, 0));
    if (!given) return ack_error(ev->ack, "expected {name}");
    char name[CONTRACT_ROOM_NAME_BUF];
    if (strlen(given) >= sizeof name) return ack_refuse(ev->ack, CONTRACT_ROOM_NAME);
    snprintf(name, sizeof name, "%s", given);
    if (contract_name_clean(name, sizeof name) || !contract_valid_room_name(name))
        return ack_refuse(ev->ack, CONTRACT_ROOM_NAME);
    store_room r;
    chat_user *u = user_of(s);
    int64_t retry_s = 0;
    /* the room and its place in the creator's hourly rates (its address,
     * and its name when owned; an admin token is not counted): one commit,
     * so a refused creation is not counted */
    int rc = store_begin(c->st);
    if (!rc && !(u->token && u->token->admin))
        rc = store_room_rate_spend(c->st, u->named ? u->name : NULL, sio_socket_peer(s), &retry_s);
    if (!rc) rc = store_room_create(c->st, sio_nsp_name(sio_socket_nsp(s)), name, &r);
    if (!rc) rc = store_commit(c->st);
    if (rc) store_rollback(c->st);
    if (rc == STORE_OVER_BUDGET) {
        log_event(LOG_LEVEL_INFO, "chat: room creation refused", "peer", sio_socket_peer(s),
                  "reason", "room rate", NULL);
        return ack_reply(ev->ack,
                         json_pack("{s:s,s:I}", "error", "too many rooms created, try later",
                                   "retry_after", (json_int_t)retry_s));
    }
    if (rc) return ack_store_error(ev->ack, rc, "room");
    ack_reply(ev->ack, json_pack("{s:b,s:o}", "ok", 1, "room", chat_json_room(&r)));
    to_namespace(c, s, NULL, "room created", chat_json_room(&r));
}

/* ---- connection lifecycle --------------------------------------------- */

/* Middleware, after the workspace gate: who the socket is (identity.h);
 * makes sure the namespace has its general room. */
static int identify(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    chat *c = ud;
    if (identity_establish(&c->ids, s, auth, err, errlen)) return -1;
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    writes_batch(c);
    if (store_namespace_ensure(c->st, ns)) {
        snprintf(err, errlen, "storage unavailable");
        return -1;
    }
    return 0;
}

/* How stale a live session may grow before sessions_touch refreshes it: a
 * tenth of the recovery window (1 s to 1 min), so that after a crash it
 * stays recoverable for about the whole window, while one socket's row is
 * rewritten at most once a minute. */
static long long session_touch_ms(const chat *c) {
    long long ms = c->cfg.recovery_window_ms / 10;
    return ms < 1000 ? 1000 : ms > 60000 ? 60000 : ms;
}

static void sessions_touch(chat *c, long long now) {
    long long every = session_touch_ms(c);
    if (!c->cfg.process_id || now - c->touched_at < every) return;
    c->touched_at = now;
    writes_batch(c);
    if (store_sessions_touch(c->st, c->cfg.process_id, every))
        log_event(LOG_LEVEL_WARN, "chat: sessions refresh failed", "error", store_errmsg(c->st),
                  NULL);
}

/* Every session_touch_ms. (A token's expiry is a timer of its socket's,
 * workspace_gate.c: nothing here walks the sockets.) */
static void touch_tick(void *ud) {
    chat *c = ud;
    sessions_touch(c, ws_clock_now_ms(c->cfg.clock));
    ws_timer_schedule(&c->touch, session_touch_ms(c));
}

/* A missed row of the log as recovery replays it: [event, the emit's
 * arguments]. */
static json_t *replay_args(const store_message *m) {
    const char *event;
    json_t *args = with_offset(chat_json_event(m, &event), m->id);
    return args ? json_pack("[so]", event, args) : NULL;
}

/* Connection state recovery. A session is stored while its socket lives
 * (owner: the process serving it) and after it disconnects. One that a
 * socket of this process holds now is no recovery (a second CONNECT with the
 * same pid). One owned by another process is taken over: that process
 * crashed, or its socket is half-open and will not write it back
 * (session_save's release leaves a row another process owns). A client offset
 * below the session's floor (what it was first served from) is raised to it,
 * and past max_replay missed messages the recovery is refused (recovered
 * false: the client rejoins and pages from the offset it had, see on_join);
 * on success the socket keeps its id and pid, and on_connection stores the
 * session again at once. */
static bool recover(sio_socket *s, const char *pid, const char *offset, void *ud) {
    chat *c = ud;
    store_session ss;
    if (store_session_load(c->st, pid, c->cfg.recovery_window_ms, &ss)) return false;
    if (ss.owner && ss.owner == c->cfg.process_id) { /* live here */
        store_session_free(&ss);
        return false;
    }
    writes_batch(c);
    bool ok = strcmp(ss.ns, sio_nsp_name(sio_socket_nsp(s))) == 0 &&
              !moderation_banned(c->mod, ss.ns, ss.user, sio_socket_peer(s));
    json_t *rooms = ok ? json_loads(ss.rooms, 0, NULL) : NULL;
    json_t *data = ok ? json_loads(ss.data, 0, NULL) : NULL;
    json_t *floor = json_object_get(data, "floor");
    int64_t from = 0;
    if (recovery_from(offset, json_is_integer(floor) ? json_integer_value(floor) : 0, &from))
        ok = false;
    json_t *missed = NULL;
    if (ok && json_is_array(rooms)) {
        chat_deliver_new(c); /* the cursor is current; s is in no room yet */
        missed = recovery_gather(c->st, ss.ns, rooms, from, hub_cursor(c->cfg.hub),
                                 (size_t)c->cfg.max_replay, replay_args);
        if (!missed)
            log_event(LOG_LEVEL_INFO, "chat: recovery refused: too many missed messages", "sid",
                      ss.sid, "max_replay", LOG_I(c->cfg.max_replay), NULL);
    }
    if (!missed && store_session_delete(c->st, pid)) /* refused: the client starts afresh */
        log_event(LOG_LEVEL_WARN, "chat: session delete failed", "error", store_errmsg(c->st),
                  NULL);
    if (missed) {
        chat_user *u = user_of(s);
        if (identity_set_name(u, ss.user)) /* out of memory: it keeps the name it came with */
            log_event(LOG_LEVEL_WARN, "chat: recovered name not kept", "sid", ss.sid, NULL);
        u->named = json_is_true(json_object_get(data, "named"));
        u->floor = from;
        u->replay = missed;
        u->replayed_upto = hub_cursor(c->cfg.hub);
        sio_socket_restore(s, ss.sid, ss.pid);
        size_t i;
        json_t *v;
        json_array_foreach(rooms, i, v) {
            store_room r;
            const char *room = sio_str(v);
            if (!room || store_room_lookup(c->st, ss.ns, room, &r) != STORE_OK)
                continue; /* the room was deleted meanwhile */
            if (r.pruned_upto > from) u->truncated = true;
            if (sio_join(s, room) == 0) {
                store_presence_add(c->st, c->cfg.process_id, ss.sid, r.id, u->name);
                /* the others see the user back in the room, as after a join */
                presence_changed(c, s, room, true);
            }
        }
    }
    json_decref(rooms);
    json_decref(data);
    store_session_free(&ss);
    return missed != NULL;
}

static void on_connection(sio_socket *s, void *ud) {
    chat *c = ud;
    chat_user *u = user_of(s);
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    /* The proof of life the seed asks for, one line per connection. */
    log_event(LOG_LEVEL_INFO, "a user connected", "sid", sio_socket_id(s), "user", u->name, "nsp",
              ns, "peer", sio_socket_peer(s), "recovered",
              sio_socket_recovered(s) ? "true" : "false", NULL);
    if (sio_socket_recovered(s))
        replay_missed(s); /* u->floor: where the replay began */
    else
        u->floor = hub_cursor(c->cfg.hub); /* what the greeting below tells the client */
    /* Recoverable from now on, and again after this recovery: a crash at
     * any instant leaves a session (in the loop turn's batch). */
    writes_batch(c);
    session_save(c, s, true);
    /* A greeting that carries the current offset, so that a client that
     * disconnects before any room message still recovers what it missed. */
    json_t *hello = json_pack("{s:s,s:s,s:s,s:b}", "sid", sio_socket_id(s), "user", u->name,
                              "namespace", ns, "recovered", sio_socket_recovered(s));
    /* recovered, but retention deleted some of what it missed */
    if (hello && u->truncated) json_object_set_new(hello, "truncated", json_true());
    if (hello && u->credential) { /* the user's credential: to this socket only, never logged */
        json_object_set_new(hello, "token", json_string(u->credential));
    }
    free(u->credential);
    u->credential = NULL;
    json_t *args = with_offset(hello, hub_cursor(c->cfg.hub));
    sio_emit_socket(s, "session", args);
    json_decref(args);
    presence_changed(c, s, NULL, true);
}

static void on_disconnecting(sio_socket *s, const char *reason, void *ud) {
    chat *c = ud;
    (void)reason;
    writes_batch(c);
    for (size_t i = 0; i < sio_socket_room_count(s); i++)
        leave_room(c, s, sio_socket_room_at(s, i), true);
    session_save(c, s, false); /* the recovery window starts now */
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
    chat *c = ud;
    writes_batch(c);
    store_presence_remove_sid(c->st, sio_socket_id(s));
    log_event(LOG_LEVEL_INFO, "user disconnected", "sid", sio_socket_id(s), "user",
              user_of(s)->name, "reason", reason, NULL);
    presence_changed(c, s, NULL, false);
}

static void leave_deleted(sio_socket *s, void *ud) {
    sio_leave(s, ud);
}

/* A room was deleted (REST, admin): its sockets leave it, and every socket
 * of the namespace here learns it through `room deleted` {id, name}. The
 * presence rows went with the room (ON DELETE CASCADE). */
static void apply_room_deleted(json_t *p, void *ud) {
    chat *c = ud;
    const char *ns = sio_str(json_object_get(p, "namespace"));
    const char *name = sio_str(json_object_get(p, "name"));
    json_t *id = json_object_get(p, "id");
    sio_nsp *nsp = ns ? sio_nsp_get(c->srv, ns) : NULL;
    if (!nsp || !name || !json_is_integer(id)) return;
    sio_nsp_each_socket(nsp, leave_deleted, (void *)name);
    json_t *args = json_pack("[{s:O,s:s}]", "id", id, "name", name);
    sio_emit(nsp, NULL, "room deleted", args);
    json_decref(args);
}

static void define(chat *c, sio_nsp_def *def, bool workspace) {
    if (workspace) sio_use(def, workspace_gate_admit, &c->gate);
    if (workspace) sio_use(def, workspace_gate_private, &c->gate); /* before a name's token */
    sio_use(def, identify, c);
    sio_use(def, moderation_gate, c->mod); /* a banned name or address */
    sio_on_recover(def, recover, c);
    sio_on_connection(def, on_connection, c);
    sio_on_disconnecting(def, on_disconnecting, c);
    sio_on_disconnect(def, on_disconnect, c);
    sio_on(def, "join", on_join, c);
    sio_on(def, "leave", on_leave, c);
    sio_on(def, "chat message", on_chat_message, c);
    sio_on(def, "typing", on_typing, c);
    sio_on(def, "read", on_read, c);
    sio_on(def, "rooms", on_rooms, c);
    sio_on(def, "create room", on_create_room, c);
    moderation_define(c->mod, def);
}

static void deliver_new(void *ud) {
    chat_deliver_new(ud);
}

chat *chat_new(sio_server *srv, store *st, const chat_config *cfg) {
    chat *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = srv;
    c->st = st;
    c->cfg = *cfg;
    if (cfg->metrics) c->metrics = *cfg->metrics;
    if (c->cfg.recovery_window_ms <= 0)
        c->cfg.recovery_window_ms = contract_default(CONTRACT_RECOVERY_WINDOW);
    if (c->cfg.missed_max <= 0) c->cfg.missed_max = (int)contract_default(CONTRACT_MISSED_MAX);
    if (c->cfg.max_replay <= 0) c->cfg.max_replay = (int)contract_default(CONTRACT_MAX_REPLAY);
    if (c->cfg.max_workspaces <= 0)
        c->cfg.max_workspaces = (int)contract_default(CONTRACT_MAX_WORKSPACES);
    if (c->cfg.workspace_rate <= 0)
        c->cfg.workspace_rate = (int)contract_default(CONTRACT_WORKSPACE_RATE);
    c->ids = (identity_config){.srv = srv, .st = st, .secret = cfg->secret};
    c->gate = (workspace_gate_config){.srv = srv,
                                      .st = st,
                                      .secret = cfg->secret,
                                      .open_workspaces = c->cfg.open_workspaces,
                                      .max_workspaces = c->cfg.max_workspaces,
                                      .workspace_rate = c->cfg.workspace_rate,
                                      .clock = cfg->clock};
    c->touched_at = ws_clock_now_ms(cfg->clock);
    ws_timer_init(&c->flush, cfg->clock, flush, c);
    ws_timer_init(&c->touch, cfg->clock, touch_tick, c);
    ws_timer_init(&c->writes, cfg->clock, writes_due, c);
    presence_config pc = {.interval_ms = cfg->presence_interval_ms,
                          .emit = presence_emit,
                          .ud = c,
                          .clock = cfg->clock};
    if (!(c->presence = presence_new(&pc))) {
        free(c);
        return NULL;
    }
    hub_on_messages(c->cfg.hub, deliver_one, c);
    adapter_on(c->cfg.adapter, "room_deleted", apply_room_deleted, c);
    adapter_on(c->cfg.adapter, "workspace_private", workspace_gate_on_private, &c->gate);
    adapter_on(c->cfg.adapter, "credentials_revoked", identity_on_revoked, &c->ids);
    moderation_config mc = {.srv = srv,
                            .st = st,
                            .adapter = cfg->adapter,
                            .hub = cfg->hub,
                            .budget = cfg->budget,
                            .deliver = deliver_new,
                            .deliver_ud = c,
                            .user_of = chat_socket_user,
                            .is_admin = chat_socket_admin};
    if (!(c->mod = moderation_new(&mc))) {
        presence_free(c->presence);
        free(c);
        return NULL;
    }
    define(c, sio_of(srv, "/"), false);
    define(c, sio_of_match(srv, workspace_gate_exists, &c->gate), true);
    ws_timer_schedule(&c->touch, session_touch_ms(c));
    return c;
}

void chat_free(chat *c) {
    if (!c) return;
    ws_timer_cancel(&c->flush); /* what waits is dropped */
    ws_timer_cancel(&c->touch);
    if (c->writes_open) { /* committed now, not by its timer */
        ws_timer_cancel(&c->writes);
        writes_due(c);
    }
    presence_free(c->presence);
    moderation_free(c->mod);
    while (c->batch) {
        pending_msg *p = c->batch;
        c->batch = p->next;
        sio_ack_drop(p->ack);
        pending_free(p);
    }
    free(c);
}
