/* api_moderation.c -- REST for editing and deleting messages, roles, mutes,
 * bans and the audit log (the same operations as the chat sockets' events,
 * ws/chat/moderation.c, on the same store functions) */
#include "api_moderation.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_json.h"
#include "contract.h"
#include "log.h"
#include "moderation_store.h"

/* Who makes the request: an admin, or a user with a role in a namespace. */
typedef struct api_actor {
    bool admin;
    char name[CONTRACT_USER_NAME_BUF]; /* the token's "sub", or "admin" */
} api_actor;

/* The request's actor, or false after a 401/403. */
static bool api_actor_of(const api_env *env, const http_request *req, api_actor *a,
                         http_response *resp) {
    token_claims claims;

    if (!api_token(env, req, &claims, resp)) return false;
    a->admin = claims.admin;
    snprintf(a->name, sizeof a->name, "%s", claims.admin ? "admin" : claims.sub);
    if (a->admin || contract_valid_user_name(a->name)) return true;
    http_reply_error(resp, 403, "this token names no user");
    return false;
}

/* The actor's role in ns: OWNER for an admin. -1 after a store error. */
static int api_actor_role(const api_env *env, const api_actor *a, const char *ns,
                          http_response *resp) {
    int role = MODSTORE_ROLE_MEMBER, rc;

    if (a->admin) return MODSTORE_ROLE_OWNER + 1;
    rc = modstore_role_get(env->st, ns, a->name, &role);
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return -1;
    }
    return role;
}

/* ---- edits and deletions ---------------------------------------------- */

/* Message mid of room room_id that the request may read, or false after
 * 404/401/403/503. */
static bool api_find_message(const api_env *env, const http_request *req, int64_t room_id,
                             int64_t mid, modstore_found *f, http_response *resp) {
    store_room room;
    int rc;

    if (!api_load_room(env, req, room_id, &room, resp)) return false;
    rc = modstore_message_find(env->st, mid, f);
    if (rc == STORE_OK && f->m.room_id != room_id) rc = STORE_NOTFOUND;
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 404, "message not found");
        return false;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return false;
    }
    return true;
}

/* Tells the ws processes of an edit or deletion just committed. */
static void api_publish_event(const api_env *env, const modstore_found *f, int kind,
                              const char *user, const char *text, int64_t event_id, int64_t ts) {
    store_message e = modstore_event_row(f, kind, user, text, event_id, ts);
    bus_publish_messages(env->bus, &e, 1);
}

/* 403 and false when user is muted (or banned) in ns. */
static bool api_not_muted(const api_env *env, const char *ns, const char *user,
                          http_response *resp) {
    int64_t until = 0, banned = 0, now = store_now_ms();
    int rc = modstore_sanction_until(env->st, ns, "mute", user, NULL, now, &until);

    if (rc == STORE_OK) rc = modstore_sanction_until(env->st, ns, "ban", user, NULL, now, &banned);
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return false;
    }
    if (banned) {
        http_reply_error(resp, 403, "you are banned here");
        return false;
    }
    if (until) {
        http_reply_error(resp, 403, "you are muted here");
        return false;
    }
    return true;
}

bool api_moderation_may_post(const api_env *env, const char *ns, const char *user,
                             http_response *resp) {
    return api_not_muted(env, ns, user, resp);
}

void api_message_edit(const api_env *env, const http_request *req, int64_t room_id, int64_t mid,
                      http_response *resp) {
    api_actor a;
    modstore_found f;
    json_t *body = NULL;
    const char *text;
    int64_t event_id = 0, ts = 0;
    int rc;

    if (!api_actor_of(env, req, &a, resp) || !api_find_message(env, req, room_id, mid, &f, resp))
        return;
    if ((body = api_body_object(req, resp)) == NULL) return;
    if (!api_string_member(body, "text", &text, resp)) goto out;
    if (text == NULL) {
        http_reply_error(resp, 400, "\"text\" is required");
        goto out;
    }
    if (!contract_valid_text(text)) {
        api_refuse(resp, CONTRACT_TEXT, NULL);
        goto out;
    }
    if (strcmp(a.name, f.user) != 0) {
        http_reply_error(resp, 403, "only its author edits a message");
        goto out;
    }
    if (store_now_ms() - f.m.ts > contract_default(CONTRACT_EDIT_WINDOW)) {
        http_reply_error(resp, 403, "too late to edit: the edit window has passed");
        goto out;
    }
    if (!api_not_muted(env, f.ns, a.name, resp)) goto out;
    rc = modstore_message_edit(env->st, mid, a.name, text, &event_id, &ts);
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 404, "message not found");
        goto out;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto out;
    }
    api_publish_event(env, &f, STORE_EVENT_EDIT, a.name, text, event_id, ts);
    f.m.text = text;
    f.m.edited_at = ts;
    http_reply_json(resp, 200, chat_json_message(&f.m));
out:
    json_decref(body);
}

void api_message_delete(const api_env *env, const http_request *req, int64_t room_id, int64_t mid,
                        http_response *resp) {
    api_actor a;
    modstore_found f;
    int64_t event_id = 0, ts = 0;
    char target[32];
    bool own;
    int role, rc;

    if (!api_actor_of(env, req, &a, resp) || !api_find_message(env, req, room_id, mid, &f, resp))
        return;
    own = !a.admin && strcmp(a.name, f.user) == 0;
    role = own ? MODSTORE_ROLE_MEMBER : api_actor_role(env, &a, f.ns, resp);
    if (role < 0) return;
    if (!own && role < MODSTORE_ROLE_MODERATOR) {
        http_reply_error(resp, 403, "only its author or a moderator deletes a message");
        return;
    }
    rc = store_begin(env->st);
    if (rc == STORE_OK) {
        rc = modstore_message_delete(env->st, mid, a.name, &event_id, &ts);
        if (rc == STORE_OK && !own) {
            json_t *d = json_pack("{s:s,s:s}", "room", f.room, "author", f.user);
            char *detail = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
            json_decref(d);
            snprintf(target, sizeof target, "%" PRId64, mid);
            rc = modstore_audit_add(env->st, f.ns, a.name, "delete message", target,
                                    detail != NULL ? detail : "{}");
            free(detail);
        }
        rc = rc == STORE_OK ? store_commit(env->st) : (store_rollback(env->st), rc);
    }
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 404, "message not found");
        return;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return;
    }
    api_publish_event(env, &f, STORE_EVENT_DELETE, a.name, "", event_id, ts);
    resp->status = 204;
}

/* ---- mutes and bans --------------------------------------------------- */

/* The body's "namespace" (default "/") into ns, or false after a 400. */
static bool api_body_namespace(json_t *body, char *ns, size_t len, http_response *resp) {
    const char *given;

    if (!api_string_member(body, "namespace", &given, resp)) return false;
    snprintf(ns, len, "%s", given != NULL ? given : "/");
    if (given != NULL && (strlen(given) >= len || !contract_valid_chat_namespace(ns))) {
        api_refuse(resp, CONTRACT_WORKSPACE_NAME, NULL);
        return false;
    }
    return true;
}

static void api_sanction(const api_env *env, const http_request *req, const char *kind, bool lift,
                         http_response *resp) {
    api_actor a;
    json_t *body = NULL, *address, *event;
    const char *user, *reason;
    char ns[CONTRACT_NAMESPACE_BUF], *payload = NULL;
    int64_t until = 0, event_id = 0, duration = -1;
    int role, target_role = MODSTORE_ROLE_MEMBER, rc;

    if (!api_actor_of(env, req, &a, resp) || !api_have_store(env->st, resp)) return;
    if ((body = api_body_object(req, resp)) == NULL) return;
    if (!api_body_namespace(body, ns, sizeof ns, resp) ||
        !api_string_member(body, "user", &user, resp) ||
        !api_string_member(body, "reason", &reason, resp))
        goto out;
    if (user == NULL || !contract_valid_user_name(user)) {
        api_refuse(resp, CONTRACT_USER_NAME, "user");
        goto out;
    }
    if (reason != NULL && !contract_in_range(CONTRACT_KICK_REASON, (long long)strlen(reason))) {
        api_refuse(resp, CONTRACT_KICK_REASON, NULL);
        goto out;
    }
    if (chat_json_sanction_duration(body, &duration) != 0) {
        api_refuse(resp, CONTRACT_SANCTION_MINUTES, NULL);
        goto out;
    }
    address = json_object_get(body, "address");
    if (address != NULL && !json_is_boolean(address)) {
        http_reply_error(resp, 400, "\"address\" must be a boolean");
        goto out;
    }
    if ((role = api_actor_role(env, &a, ns, resp)) < 0) goto out;
    if (role < MODSTORE_ROLE_MODERATOR) {
        http_reply_error(resp, 403, "only moderators, owners and admins do that");
        goto out;
    }
    rc = lift ? STORE_OK : modstore_role_get(env->st, ns, user, &target_role);
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto out;
    }
    if (!lift && target_role >= role) {
        http_reply_error(resp, 403, "a moderator cannot sanction an equal or higher role");
        goto out;
    }
    if (!lift) until = modstore_sanction_end(kind, duration, store_now_ms());
    modstore_sanction s = {.ns = ns,
                           .kind = kind,
                           .user = user,
                           .address = "",
                           .until = until,
                           .by = a.name,
                           .reason = reason != NULL ? reason : "",
                           .at = store_now_ms(),
                           .with_address = strcmp(kind, "ban") == 0 && json_is_true(address)};
    event = chat_json_sanction(ns, kind, user, "", until, s.with_address);
    payload = event != NULL ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);
    if (payload == NULL) {
        http_reply_error(resp, 500, "out of memory");
        goto out;
    }
    /* the sanction, its audit entry and the event that tells the ws
     * processes, in one commit */
    rc = store_begin(env->st);
    if (rc == STORE_OK) {
        rc = modstore_sanction_give(env->st, &s, lift);
        if (rc == STORE_OK) rc = store_control_append(env->st, "sanction", payload, &event_id);
        rc = rc == STORE_OK ? store_commit(env->st) : (store_rollback(env->st), rc);
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto out;
    }
    bus_publish_control(env->bus, event_id);
    http_reply_json(
        resp, 200,
        lift ? json_pack("{s:b,s:s}", "ok", 1, "user", user)
             : json_pack("{s:b,s:s,s:I}", "ok", 1, "user", user, "until", (json_int_t)until));
out:
    free(payload);
    json_decref(body);
}

static int api_sanction_cb(const modstore_sanction *s, void *ctx) {
    json_array_append_new(
        ctx, json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:b}", "kind", s->kind, "user", s->user,
                       "address", s->address, "until", (json_int_t)s->until, "by", s->by, "reason",
                       s->reason, "at", (json_int_t)s->at, "follows_address", s->with_address));
    return 0;
}

static void api_sanctions_list(const api_env *env, const http_request *req, http_response *resp) {
    api_actor a;
    char ns[CONTRACT_NAMESPACE_BUF];
    json_t *list;
    int role, rc;

    if (!api_actor_of(env, req, &a, resp) || !api_have_store(env->st, resp) ||
        !api_query_namespace(req, ns, sizeof ns, resp))
        return;
    if ((role = api_actor_role(env, &a, ns, resp)) < 0) return;
    if (role < MODSTORE_ROLE_MODERATOR) {
        http_reply_error(resp, 403, "only moderators, owners and admins do that");
        return;
    }
    list = json_array();
    rc = modstore_sanctions_active(env->st, ns, store_now_ms(), api_sanction_cb, list);
    if (rc != STORE_OK) {
        json_decref(list);
        api_store_error(env, rc, resp);
        return;
    }
    http_reply_json(resp, 200, json_pack("{s:o}", "sanctions", list));
}

/* ---- roles ------------------------------------------------------------ */

static int api_role_cb(const char *user, int role, const char *by, int64_t at, void *ctx) {
    json_array_append_new(ctx, json_pack("{s:s,s:s?,s:s,s:I}", "user", user, "role",
                                         modstore_role_name(role), "by", by != NULL ? by : "", "at",
                                         (json_int_t)at));
    return 0;
}

static void api_roles_list(const api_env *env, const http_request *req, http_response *resp) {
    char ns[CONTRACT_NAMESPACE_BUF];
    json_t *list;
    int rc;

    if (!api_have_store(env->st, resp) || !api_query_namespace(req, ns, sizeof ns, resp) ||
        !api_namespace_access(env, req, ns, resp))
        return;
    list = json_array();
    rc = modstore_roles_list(env->st, ns, api_role_cb, list);
    if (rc != STORE_OK) {
        json_decref(list);
        api_store_error(env, rc, resp);
        return;
    }
    http_reply_json(resp, 200, json_pack("{s:s,s:o}", "namespace", ns, "roles", list));
}

static void api_role_put(const api_env *env, const http_request *req, http_response *resp) {
    api_actor a;
    json_t *body = NULL, *d;
    const char *user, *role_name;
    char ns[CONTRACT_NAMESPACE_BUF], *detail = NULL;
    int role, mine, rc;

    if (!api_actor_of(env, req, &a, resp) || !api_have_store(env->st, resp)) return;
    if ((body = api_body_object(req, resp)) == NULL) return;
    if (!api_body_namespace(body, ns, sizeof ns, resp) ||
        !api_string_member(body, "user", &user, resp) ||
        !api_string_member(body, "role", &role_name, resp))
        goto out;
    if (user == NULL || !contract_valid_user_name(user)) {
        api_refuse(resp, CONTRACT_USER_NAME, "user");
        goto out;
    }
    if ((role = modstore_role_parse(role_name)) < 0) {
        http_reply_error(resp, 400, "\"role\" must be member, moderator or owner");
        goto out;
    }
    if ((mine = api_actor_role(env, &a, ns, resp)) < 0) goto out;
    if (mine < MODSTORE_ROLE_OWNER) {
        http_reply_error(resp, 403, "only owners and admins grant roles");
        goto out;
    }
    d = json_pack("{s:s}", "role", role_name);
    detail = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    rc = store_begin(env->st);
    if (rc == STORE_OK) {
        rc = modstore_role_set(env->st, ns, user, role, a.name);
        if (rc == STORE_OK)
            rc = modstore_audit_add(env->st, ns, a.name, "role", user,
                                    detail != NULL ? detail : "{}");
        rc = rc == STORE_OK ? store_commit(env->st) : (store_rollback(env->st), rc);
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto out;
    }
    http_reply_json(resp, 200,
                    json_pack("{s:s,s:s,s:s}", "namespace", ns, "user", user, "role", role_name));
out:
    free(detail);
    json_decref(body);
}

/* ---- the audit log ---------------------------------------------------- */

typedef struct api_audit_ctx {
    json_t *list;
    int64_t limit;
    bool more;
} api_audit_ctx;

static int api_audit_cb(const modstore_audit *e, void *ctx) {
    api_audit_ctx *c = ctx;
    json_t *detail;

    if ((int64_t)json_array_size(c->list) >= c->limit) {
        c->more = true;
        return 1;
    }
    detail = json_loads(e->detail != NULL ? e->detail : "{}", 0, NULL);
    json_array_append_new(c->list, json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:I}", "id",
                                             (json_int_t)e->id, "namespace", e->ns, "actor",
                                             e->actor, "action", e->action, "target", e->target,
                                             "detail", detail != NULL ? detail : json_object(),
                                             "ts", (json_int_t)e->ts));
    return 0;
}

static void api_audit_list(const api_env *env, const http_request *req, http_response *resp) {
    api_actor a;
    char ns[CONTRACT_NAMESPACE_BUF];
    int64_t after = 0, limit = 100;
    api_audit_ctx c;
    bool all;
    int rc;

    if (!api_actor_of(env, req, &a, resp) || !api_have_store(env->st, resp)) return;
    if (!a.admin) {
        http_reply_error(resp, 403, "an admin token is required");
        return;
    }
    all = http_query_get(req->query, "namespace", ns, sizeof ns) == HTTP_ENOTFOUND;
    if ((!all && !api_query_namespace(req, ns, sizeof ns, resp)) ||
        !api_query_number(req, "after", &after, resp) ||
        !api_query_number(req, "limit", &limit, resp))
        return;
    if (limit < 1 || limit > CONTRACT_MESSAGES_PAGE_MAX) {
        api_refuse(resp, CONTRACT_MESSAGES_PAGE, "limit");
        return;
    }
    c.list = json_array();
    c.limit = limit;
    c.more = false;
    rc = modstore_audit_list(env->st, all ? NULL : ns, after, (int)limit + 1, api_audit_cb, &c);
    if (rc != STORE_OK) {
        json_decref(c.list);
        api_store_error(env, rc, resp);
        return;
    }
    http_reply_json(resp, 200, json_pack("{s:o,s:b}", "entries", c.list, "more", c.more));
}

bool api_moderation(const api_env *env, const http_request *req, const char *method,
                    const char *what, http_response *resp) {
    static const char *const kinds[][2] = {
        {"mute", "mute"}, {"unmute", "mute"}, {"ban", "ban"}, {"unban", "ban"}};
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(what, kinds[i][0]) != 0) continue;
        if (strcmp(method, "POST") != 0) return false;
        api_sanction(env, req, kinds[i][1], strncmp(what, "un", 2) == 0, resp);
        return true;
    }
    if (strcmp(what, "sanctions") == 0 && get) {
        api_sanctions_list(env, req, resp);
        return true;
    }
    if (strcmp(what, "roles") == 0 && get) {
        api_roles_list(env, req, resp);
        return true;
    }
    if (strcmp(what, "roles") == 0 && strcmp(method, "PUT") == 0) {
        api_role_put(env, req, resp);
        return true;
    }
    if (strcmp(what, "audit") == 0 && get) {
        api_audit_list(env, req, resp);
        return true;
    }
    return false;
}
