/* moderation.c -- editing and deleting messages, roles, mutes and bans on the
 * chat's sockets (runs in the lws service thread, like every chat handler) */
#include "moderation.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ack.h"
#include "chat_json.h"
#include "contract.h"
#include "log.h"
#include "moderation_store.h"
#include "strmap.h"

/* Sanctions held in memory at most: past it a new one is enforced at the
 * next start (it is in the store) but not by this process now. */
#define MODERATION_CACHE_MAX 100000

/* One sanction in force, under its key (see sanction_key). */
typedef struct sanction {
    char *key;
    char *user;        /* the banned name an address ban follows, for unban */
    int64_t until;     /* ms since the epoch */
    bool with_address; /* a name's ban that follows it to its addresses */
} sanction;

struct moderation {
    moderation_config cfg;
    strmap sanctions; /* sanction_key -> sanction */
};

/* "<kind letter><ns>\x01<user or address>": m mute, b ban of a name, a ban of
 * an address. Neither a namespace nor a name holds the \x01. */
static void sanction_key(char *buf, size_t len, char kind, const char *ns, const char *who) {
    snprintf(buf, len, "%c%s\x01%s", kind, ns, who);
}

#define KEY_BUF (2 + CONTRACT_NAMESPACE_BUF + CONTRACT_USER_NAME_BUF + 64)

static int64_t now_ms(void) {
    return store_now_ms();
}

static void sanction_drop(moderation *m, const char *key) {
    sanction *s = strmap_del(&m->sanctions, key);
    if (!s) return;
    free(s->key);
    free(s->user);
    free(s);
}

/* Adds or updates a sanction in memory; until <= now lifts it. */
static void sanction_set(moderation *m, char kind, const char *ns, const char *who,
                         const char *user, int64_t until, bool with_address) {
    char key[KEY_BUF];
    sanction_key(key, sizeof key, kind, ns, who);
    if (until <= now_ms()) return sanction_drop(m, key);
    sanction *s = strmap_get(&m->sanctions, key);
    if (!s) {
        if (m->sanctions.count >= MODERATION_CACHE_MAX) {
            log_event(LOG_LEVEL_WARN, "moderation: too many sanctions held", NULL);
            return;
        }
        s = calloc(1, sizeof *s);
        if (!s || !(s->key = strdup(key)) || !(s->user = strdup(user)) ||
            strmap_put(&m->sanctions, s->key, s)) {
            if (s) free(s->key), free(s->user);
            free(s);
            return;
        }
    }
    s->until = until;
    s->with_address = with_address;
}

/* The sanction under key in force now, or NULL (an expired one goes). */
static sanction *sanction_find(moderation *m, char kind, const char *ns, const char *who) {
    char key[KEY_BUF];
    if (!who || !*who) return NULL;
    sanction_key(key, sizeof key, kind, ns, who);
    sanction *s = strmap_get(&m->sanctions, key);
    if (s && s->until <= now_ms()) {
        sanction_drop(m, key);
        s = NULL;
    }
    return s;
}

bool moderation_banned(moderation *m, const char *ns, const char *user, const char *addr) {
    return sanction_find(m, 'b', ns, user) || sanction_find(m, 'a', ns, addr);
}

int64_t moderation_muted_until(moderation *m, const char *ns, const char *user) {
    sanction *s = sanction_find(m, 'm', ns, user);
    return s ? s->until : 0;
}

void moderation_muted_message(int64_t until, char *buf, size_t len) {
    if (until == MODSTORE_FOREVER) {
        snprintf(buf, len, "you are muted here");
        return;
    }
    time_t t = (time_t)(until / 1000);
    struct tm tm;
    char when[32] = "";
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(buf, len, "you are muted here until %s", when);
}

/* ---- sanctions across processes ---------------------------------------- */

typedef struct evict_ctx {
    moderation *m;
    const char *user, *address;
    bool follow; /* a ban that follows the name to each address it is seen from */
    const char *ns;
    int64_t until;
} evict_ctx;

/* Bans address too, for as long as user's ban lasts: stored, then told to
 * every process. */
static void ban_address(moderation *m, const char *ns, const char *user, const char *address,
                        int64_t until) {
    if (!address || !*address || sanction_find(m, 'a', ns, address)) return;
    modstore_sanction s = {.ns = ns,
                           .kind = "ban",
                           .user = user,
                           .address = address,
                           .until = until,
                           .by = "ban of a name",
                           .reason = "",
                           .at = now_ms()};
    int64_t id;
    if (modstore_sanction_put(m->cfg.st, &s) == STORE_OK)
        adapter_publish_now(m->cfg.adapter, "sanction",
                            chat_json_sanction(ns, "ban", user, address, until, false), &id);
}

static void evict_banned(sio_socket *s, void *ud) {
    evict_ctx *e = ud;
    const char *user = e->m->cfg.user_of(s), *peer = sio_socket_peer(s);
    bool hit = e->address && *e->address ? strcmp(peer, e->address) == 0
                                         : user && strcmp(user, e->user) == 0;
    if (!hit) return;
    log_event(LOG_LEVEL_INFO, "moderation: evicting a banned user", "sid", sio_socket_id(s), "user",
              user ? user : "", "nsp", e->ns, NULL);
    json_t *args = json_pack("[{s:s}]", "reason", "banned");
    sio_emit_socket(s, "kicked", args);
    json_decref(args);
    /* its stored session goes at the disconnect; a recovery checks the ban */
    sio_disconnect(s, false);
    if (e->follow) ban_address(e->m, e->ns, e->user, peer, e->until);
}

static void apply_sanction(json_t *p, void *ud) {
    moderation *m = ud;
    const char *ns = sio_str(json_object_get(p, "namespace"));
    const char *kind = sio_str(json_object_get(p, "kind"));
    const char *user = sio_str(json_object_get(p, "user"));
    const char *address = sio_str(json_object_get(p, "address"));
    json_t *until_j = json_object_get(p, "until");
    bool follow = json_is_true(json_object_get(p, "with_address"));
    if (!ns || !kind || !user || !address || !json_is_integer(until_j)) return;
    int64_t until = json_integer_value(until_j);
    bool ban = strcmp(kind, "ban") == 0;
    if (!ban && strcmp(kind, "mute") != 0) return;
    if (until <= 0 && ban) { /* an unban lifts the addresses the name's ban followed */
        char prefix[KEY_BUF];
        sanction_key(prefix, sizeof prefix, 'a', ns, "");
        sanction *gone[256];
        size_t n;
        do {
            n = 0;
            for (size_t b = 0; b < m->sanctions.nbuckets; b++)
                for (strmap_entry *e = m->sanctions.buckets[b]; e && n < 256; e = e->next) {
                    sanction *s = e->value;
                    if (strncmp(s->key, prefix, strlen(prefix)) == 0 && strcmp(s->user, user) == 0)
                        gone[n++] = s;
                }
            for (size_t i = 0; i < n; i++)
                sanction_drop(m, gone[i]->key);
        } while (n == 256);
    }
    sanction_set(m, ban ? (*address ? 'a' : 'b') : 'm', ns, *address ? address : user, user, until,
                 follow);
    if (!ban || until <= now_ms()) return;
    sio_nsp *nsp = sio_nsp_get(m->cfg.srv, ns);
    evict_ctx e = {m, user, address, follow && !*address, ns, until};
    if (nsp) sio_nsp_each_socket(nsp, evict_banned, &e);
}

static int load_sanction(const modstore_sanction *s, void *ud) {
    moderation *m = ud;
    bool ban = strcmp(s->kind, "ban") == 0;
    sanction_set(m, ban ? (*s->address ? 'a' : 'b') : 'm', s->ns,
                 *s->address ? s->address : s->user, s->user, s->until, s->with_address);
    return 0;
}

int moderation_gate(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    moderation *m = ud;
    (void)auth;
    const char *ns = sio_nsp_name(sio_socket_nsp(s)), *user = m->cfg.user_of(s);
    const char *peer = sio_socket_peer(s);
    sanction *named = sanction_find(m, 'b', ns, user);
    if (!named && !sanction_find(m, 'a', ns, peer)) return 0;
    /* a name whose ban follows it: the address it came back from is banned too */
    if (named && named->with_address) ban_address(m, ns, user, peer, named->until);
    log_event(LOG_LEVEL_INFO, "moderation: refused a banned user", "user", user ? user : "", "nsp",
              ns, "peer", peer, NULL);
    snprintf(err, errlen, "banned");
    return -1;
}

/* ---- who may act -------------------------------------------------------- */

/* The role of s's user in its namespace; -1 for a guest (no role at all),
 * above OWNER for an admin token. */
static int role_of(moderation *m, sio_socket *s) {
    const char *user = m->cfg.user_of(s);
    if (m->cfg.is_admin && m->cfg.is_admin(s)) return MODSTORE_ROLE_OWNER + 1;
    if (!user || user[0] == CONTRACT_GUEST_MARK) return -1;
    int role = MODSTORE_ROLE_MEMBER;
    if (modstore_role_get(m->cfg.st, sio_nsp_name(sio_socket_nsp(s)), user, &role) != STORE_OK)
        return -1;
    return role;
}

/* ---- edits and deletions ------------------------------------------------ */

/* The message of the event's {id} in s's namespace, or an ack error. */
static bool load_message(moderation *m, sio_socket *s, sio_event *ev, modstore_found *f) {
    json_t *id = json_object_get(json_array_get(ev->args, 0), "id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0) {
        ack_error(ev->ack, "expected {id}");
        return false;
    }
    int rc = modstore_message_find(m->cfg.st, json_integer_value(id), f);
    if (rc == STORE_OK && strcmp(f->ns, sio_nsp_name(sio_socket_nsp(s))) != 0) rc = STORE_NOTFOUND;
    if (rc) {
        ack_store_error(ev->ack, rc, "message");
        return false;
    }
    return true;
}

/* An edit or deletion committed here: to this process's sockets from the
 * log, then to the others on the bus. */
static void publish_event(moderation *m, const modstore_found *f, int kind, const char *user,
                          const char *text, int64_t event_id, int64_t ts) {
    m->cfg.deliver(m->cfg.deliver_ud);
    store_message e = modstore_event_row(f, kind, user, text, event_id, ts);
    hub_commit_end(m->cfg.hub, &e, 1);
}

static void on_edit(sio_socket *s, sio_event *ev, void *ud) {
    moderation *m = ud;
    const char *user = m->cfg.user_of(s), *ns = sio_nsp_name(sio_socket_nsp(s));
    const char *text = sio_str(json_object_get(json_array_get(ev->args, 0), "text"));
    if (!text) return ack_error(ev->ack, "expected {id, text}");
    if (!contract_valid_text(text)) return ack_refuse(ev->ack, CONTRACT_TEXT);
    if (!user || user[0] == CONTRACT_GUEST_MARK)
        return ack_error(ev->ack, "guests cannot edit messages");
    int64_t muted = moderation_muted_until(m, ns, user);
    if (muted) {
        char why[128];
        moderation_muted_message(muted, why, sizeof why);
        return ack_error(ev->ack, why);
    }
    modstore_found f;
    if (!load_message(m, s, ev, &f)) return;
    if (strcmp(f.user, user) != 0) return ack_error(ev->ack, "only its author edits a message");
    if (now_ms() - f.m.ts > contract_default(CONTRACT_EDIT_WINDOW))
        return ack_error(ev->ack, "too late to edit: the edit window has passed");
    int64_t event_id = 0, ts = 0;
    const char *over = NULL;
    int rc = store_begin(m->cfg.st);
    if (rc == STORE_OK) {
        rc = store_budget_spend(m->cfg.st, &m->cfg.budget, user, sio_socket_peer(s), &over);
        if (rc == STORE_OK)
            rc = modstore_message_edit(m->cfg.st, f.m.id, user, text, &event_id, &ts);
        rc = rc == STORE_OK ? store_commit(m->cfg.st) : (store_rollback(m->cfg.st), rc);
    }
    if (rc == STORE_OVER_BUDGET) return ack_error(ev->ack, "over the write budget, try later");
    if (rc) return ack_store_error(ev->ack, rc, "message");
    ack_reply(ev->ack, json_pack("{s:b,s:I,s:I}", "ok", 1, "id", (json_int_t)f.m.id, "edited_at",
                                 (json_int_t)ts));
    publish_event(m, &f, STORE_EVENT_EDIT, user, text, event_id, ts);
}

static void audit(moderation *m, const char *ns, const char *actor, const char *action,
                  const char *target, json_t *detail) {
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    if (modstore_audit_add(m->cfg.st, ns, actor, action, target, text ? text : "{}"))
        log_event(LOG_LEVEL_WARN, "moderation: audit write failed", "error",
                  store_errmsg(m->cfg.st), NULL);
    free(text);
    json_decref(detail);
}

static void on_delete(sio_socket *s, sio_event *ev, void *ud) {
    moderation *m = ud;
    const char *user = m->cfg.user_of(s), *ns = sio_nsp_name(sio_socket_nsp(s));
    modstore_found f;
    if (!load_message(m, s, ev, &f)) return;
    bool own = user && user[0] != CONTRACT_GUEST_MARK && strcmp(f.user, user) == 0;
    if (!own && role_of(m, s) < MODSTORE_ROLE_MODERATOR)
        return ack_error(ev->ack, "only its author or a moderator deletes a message");
    int64_t event_id = 0, ts = 0;
    int rc = store_begin(m->cfg.st);
    if (rc == STORE_OK) {
        rc = modstore_message_delete(m->cfg.st, f.m.id, user, &event_id, &ts);
        if (rc == STORE_OK && !own) {
            char target[32];
            snprintf(target, sizeof target, "%" PRId64, f.m.id);
            audit(m, ns, user, "delete message", target,
                  json_pack("{s:s,s:s}", "room", f.room, "author", f.user));
        }
        rc = rc == STORE_OK ? store_commit(m->cfg.st) : (store_rollback(m->cfg.st), rc);
    }
    if (rc) return ack_store_error(ev->ack, rc, "message");
    ack_reply(ev->ack, json_pack("{s:b,s:I}", "ok", 1, "id", (json_int_t)f.m.id));
    publish_event(m, &f, STORE_EVENT_DELETE, user, "", event_id, ts);
}

/* ---- mutes and bans ----------------------------------------------------- */

static void sanction_cmd(sio_socket *s, sio_event *ev, moderation *m, const char *kind, bool lift) {
    const char *actor = m->cfg.user_of(s), *ns = sio_nsp_name(sio_socket_nsp(s));
    json_t *arg = json_array_get(ev->args, 0);
    const char *user = sio_str(json_object_get(arg, "user"));
    const char *reason = sio_str(json_object_get(arg, "reason"));
    int64_t duration = -1;
    if (role_of(m, s) < MODSTORE_ROLE_MODERATOR)
        return ack_error(ev->ack, "only moderators and owners do that");
    if (!user || !contract_valid_user_name(user)) return ack_refuse(ev->ack, CONTRACT_USER_NAME);
    if (reason && !contract_in_range(CONTRACT_KICK_REASON, (long long)strlen(reason)))
        return ack_refuse(ev->ack, CONTRACT_KICK_REASON);
    if (chat_json_sanction_duration(arg, &duration))
        return ack_refuse(ev->ack, CONTRACT_SANCTION_MINUTES);
    int target_role = MODSTORE_ROLE_MEMBER;
    if (!lift && modstore_role_get(m->cfg.st, ns, user, &target_role) == STORE_OK &&
        target_role >= role_of(m, s))
        return ack_error(ev->ack, "a moderator cannot sanction an equal or higher role");
    bool is_ban = strcmp(kind, "ban") == 0;
    int64_t until = lift ? 0 : modstore_sanction_end(kind, duration, now_ms());
    bool follow = is_ban && json_is_true(json_object_get(arg, "address"));
    modstore_sanction sa = {.ns = ns,
                            .kind = kind,
                            .user = user,
                            .address = "",
                            .until = until,
                            .by = actor,
                            .reason = reason ? reason : "",
                            .at = now_ms(),
                            .with_address = follow};
    int rc = modstore_sanction_give(m->cfg.st, &sa, lift);
    if (rc) return ack_store_error(ev->ack, rc, NULL);
    int64_t id;
    adapter_publish_now(m->cfg.adapter, "sanction",
                        chat_json_sanction(ns, kind, user, "", until, follow), &id);
    ack_reply(ev->ack,
              lift ? json_pack("{s:b,s:s}", "ok", 1, "user", user)
                   : json_pack("{s:b,s:s,s:I}", "ok", 1, "user", user, "until", (json_int_t)until));
}

static void on_mute(sio_socket *s, sio_event *ev, void *ud) {
    sanction_cmd(s, ev, ud, "mute", false);
}
static void on_unmute(sio_socket *s, sio_event *ev, void *ud) {
    sanction_cmd(s, ev, ud, "mute", true);
}
static void on_ban(sio_socket *s, sio_event *ev, void *ud) {
    sanction_cmd(s, ev, ud, "ban", false);
}
static void on_unban(sio_socket *s, sio_event *ev, void *ud) {
    sanction_cmd(s, ev, ud, "ban", true);
}

/* ---- roles -------------------------------------------------------------- */

static void on_role(sio_socket *s, sio_event *ev, void *ud) {
    moderation *m = ud;
    const char *ns = sio_nsp_name(sio_socket_nsp(s)), *actor = m->cfg.user_of(s);
    json_t *arg = json_array_get(ev->args, 0);
    const char *user = sio_str(json_object_get(arg, "user"));
    const char *role_name = sio_str(json_object_get(arg, "role"));
    if (!role_name) { /* a question: the role of user, or the caller's */
        if (!user) user = actor;
        int role = -1;
        if (user && user[0] != CONTRACT_GUEST_MARK &&
            modstore_role_get(m->cfg.st, ns, user, &role) != STORE_OK)
            return ack_store_error(ev->ack, STORE_ERROR, NULL);
        return ack_reply(ev->ack, json_pack("{s:s,s:s?}", "user", user ? user : "", "role",
                                            role < 0 ? NULL : modstore_role_name(role)));
    }
    int role = modstore_role_parse(role_name);
    if (role < 0) return ack_error(ev->ack, "role must be member, moderator or owner");
    if (!user || !contract_valid_user_name(user)) return ack_refuse(ev->ack, CONTRACT_USER_NAME);
    if (role_of(m, s) < MODSTORE_ROLE_OWNER) return ack_error(ev->ack, "only owners grant roles");
    int rc = store_begin(m->cfg.st);
    if (rc == STORE_OK) {
        rc = modstore_role_set(m->cfg.st, ns, user, role, actor);
        if (rc == STORE_OK)
            audit(m, ns, actor, "role", user, json_pack("{s:s}", "role", role_name));
        rc = rc == STORE_OK ? store_commit(m->cfg.st) : (store_rollback(m->cfg.st), rc);
    }
    if (rc) return ack_store_error(ev->ack, rc, NULL);
    ack_reply(ev->ack, json_pack("{s:b,s:s,s:s}", "ok", 1, "user", user, "role", role_name));
}

static int add_role(const char *user, int role, const char *by, int64_t at, void *ud) {
    json_array_append_new(ud, json_pack("{s:s,s:s?,s:s,s:I}", "user", user, "role",
                                        modstore_role_name(role), "by", by ? by : "", "at",
                                        (json_int_t)at));
    return 0;
}

static void on_roles(sio_socket *s, sio_event *ev, void *ud) {
    moderation *m = ud;
    json_t *list = json_array();
    int rc = modstore_roles_list(m->cfg.st, sio_nsp_name(sio_socket_nsp(s)), add_role, list);
    if (rc) {
        json_decref(list);
        return ack_store_error(ev->ack, rc, NULL);
    }
    ack_reply(ev->ack, json_pack("{s:o}", "roles", list));
}

/* ---- lifecycle ---------------------------------------------------------- */

void moderation_define(moderation *m, sio_nsp_def *def) {
    sio_on(def, "edit message", on_edit, m);
    sio_on(def, "delete message", on_delete, m);
    sio_on(def, "mute", on_mute, m);
    sio_on(def, "unmute", on_unmute, m);
    sio_on(def, "ban", on_ban, m);
    sio_on(def, "unban", on_unban, m);
    sio_on(def, "role", on_role, m);
    sio_on(def, "roles", on_roles, m);
}

moderation *moderation_new(const moderation_config *cfg) {
    moderation *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *cfg;
    if (modstore_sanctions_active(cfg->st, NULL, now_ms(), load_sanction, m))
        log_event(LOG_LEVEL_WARN, "moderation: sanctions not loaded", "error",
                  store_errmsg(cfg->st), NULL);
    adapter_on(cfg->adapter, "sanction", apply_sanction, m);
    return m;
}

static void free_sanction(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    sanction *s = value;
    free(s->key);
    free(s->user);
    free(s);
}

void moderation_free(moderation *m) {
    if (!m) return;
    strmap_each(&m->sanctions, free_sanction, NULL);
    strmap_clear(&m->sanctions);
    free(m);
}
