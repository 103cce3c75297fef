/* identity.c -- who a chat socket is: an owned name or a guest's, its token,
 * and the evictions of revoked credentials */
#include "identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "log.h"
#include "moderation_store.h"

chat_user *identity_user(const sio_socket *s) {
    return sio_socket_ctx(s);
}

static void user_free(void *p) {
    chat_user *u = p;
    if (u) {
        json_decref(u->replay);
        free(u->credential);
        free(u->name);
        if (u->token) ws_timer_cancel(&u->token->expiry);
        free(u->token);
    }
    free(u);
}

chat_user *identity_user_ensure(sio_socket *s) {
    chat_user *u = identity_user(s);
    if (u) return u;
    if (!(u = calloc(1, sizeof *u))) return NULL;
    sio_socket_set_ctx(s, u, user_free);
    return u;
}

void identity_token(const token_secret *secret, chat_user *u, json_t *auth) {
    const char *token = sio_str(json_object_get(auth, "token")), *why = NULL;
    token_claims cl;
    if (u->token || !token || token_verify(secret, token, &cl, &why)) return;
    size_t ws = strlen(cl.workspace) + 1;
    chat_token *t = calloc(1, sizeof *t + ws);
    if (!t) return;
    t->exp = cl.exp;
    t->admin = cl.admin;
    memcpy(t->sess, cl.sess, sizeof t->sess);
    memcpy(t->workspace, cl.workspace, ws);
    u->token = t;
}

int identity_set_name(chat_user *u, const char *name) {
    char *copy = strdup(name);
    if (!copy) return -1;
    free(u->name);
    u->name = copy;
    return 0;
}

/* The name part of identity_establish(): auth.name is an owned name when
 * auth.token is its credential (or an admin token), or when nobody claimed it
 * yet (the first claim: the session event then carries the new credential).
 * A claimed name without its credential is refused. Returns 0 or -1 with
 * err. */
static int own_name(const identity_config *ic, chat_user *u, json_t *auth, const char *peer,
                    char *err, size_t errlen) {
    const char *token = sio_str(json_object_get(auth, "token")), *why = "";
    token_name_status st = token_name_check(ic->st, ic->secret, u->name, token, &why);
    char claim[ACCOUNT_ID_BUF] = "";
    if (st == TOKEN_NAME_FREE) {
        /* a claim by a connection: rate-limited per address, used at once */
        int64_t retry = 0;
        int rc =
            account_claim(ic->st, u->name, peer, true, TOKEN_USER_TTL_S * 1000LL, claim, &retry);
        st = rc == STORE_OK       ? TOKEN_NAME_OWNER
             : rc == STORE_EXISTS ? TOKEN_NAME_TAKEN
                                  : TOKEN_NAME_STORE;
        why = st == TOKEN_NAME_TAKEN    ? "this name is taken: present its token"
              : rc == STORE_OVER_BUDGET ? "too many names claimed from this address: retry later"
                                        : "storage unavailable";
    }
    if (st < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (st == TOKEN_NAME_OWNER) {
        /* A fresh credential for the session event. It keeps the workspace
         * of the token presented (a private workspace's), and expires no
         * later than it, so it grants nothing the client did not have. */
        token_claims had = {0};
        long ttl = TOKEN_USER_TTL_S, now = (long)time(NULL);
        if (token && token_verify(ic->secret, token, &had, &why) == 0 && had.exp &&
            had.exp - now < ttl)
            ttl = had.exp - now;
        char *fresh = ttl > 0 ? token_issue_session(ic->secret, had.workspace, u->name,
                                                    claim[0] ? claim : had.sess, ttl)
                              : NULL;
        free(u->credential);
        u->credential = fresh; /* until the session event; NULL: none */
    }
    u->named = true;
    return 0;
}

/* The user a token in auth names (a session's access token: auth.name may
 * be left out), into name; false when auth has no verified user token. */
static bool token_user(const token_secret *secret, json_t *auth,
                       char name[CONTRACT_USER_NAME_BUF]) {
    token_claims cl;
    const char *token = sio_str(json_object_get(auth, "token")), *why = NULL;
    if (!token || token_verify(secret, token, &cl, &why) || cl.admin || !cl.sub[0]) return false;
    snprintf(name, CONTRACT_USER_NAME_BUF, "%s", cl.sub);
    return true;
}

int identity_establish(const identity_config *ic, sio_socket *s, json_t *auth, char *err,
                       size_t errlen) {
    chat_user *u = identity_user_ensure(s);
    if (!u) return snprintf(err, errlen, "out of memory"), -1;
    json_t *name = json_object_get(auth, "name");
    char of_token[CONTRACT_USER_NAME_BUF], clean[CONTRACT_USER_NAME_BUF];
    bool by_token = (!name || json_is_null(name)) && token_user(ic->secret, auth, of_token);
    if (by_token || (name && !json_is_null(name))) {
        const char *given = by_token ? of_token : sio_str(name);
        if (!given || strlen(given) >= sizeof clean) {
            contract_message(CONTRACT_USER_NAME, "name", err, errlen);
            return -1;
        }
        snprintf(clean, sizeof clean, "%s", given);
        if (contract_name_clean(clean, sizeof clean) || !contract_valid_user_name(clean)) {
            contract_message(CONTRACT_USER_NAME, "name", err, errlen);
            return -1;
        }
        if (identity_set_name(u, clean)) return snprintf(err, errlen, "out of memory"), -1;
        if (own_name(ic, u, auth, sio_socket_peer(s), err, errlen)) return -1;
        bool granted;
        if (u->created_ws &&
            modstore_owner_claim(ic->st, sio_nsp_name(sio_socket_nsp(s)), u->name, &granted))
            log_event(LOG_LEVEL_WARN, "chat: workspace owner not recorded", "error",
                      store_errmsg(ic->st), NULL);
    } else {
        char guest[16];
        snprintf(guest, sizeof guest, "%cguest-%.6s", CONTRACT_GUEST_MARK, sio_socket_id(s));
        if (identity_set_name(u, guest)) return snprintf(err, errlen, "out of memory"), -1;
    }
    identity_token(ic->secret, u, auth);
    return 0;
}

bool identity_admits(const chat_user *u, const char *ns, long now_s) {
    const chat_token *t = u->token;
    if (!t) return false;
    if (t->exp > 0 && now_s >= t->exp) return false;
    return t->admin || strcmp(t->workspace, ns) == 0;
}

void identity_evict(sio_socket *s, const char *reason) {
    log_event(LOG_LEVEL_INFO, "chat: evicting", "sid", sio_socket_id(s), "nsp",
              sio_nsp_name(sio_socket_nsp(s)), "reason", reason, NULL);
    json_t *args = json_pack("[{s:s}]", "reason", reason);
    sio_emit_socket(s, "kicked", args);
    json_decref(args);
    sio_disconnect(s, false);
}

static void evict_revoked(sio_socket *s, void *ud) {
    json_t *p = ud;
    chat_user *u = identity_user(s);
    const char *user = sio_str(json_object_get(p, "user"));
    if (!u || !u->named || !user || strcmp(u->name, user) != 0) return;
    bool hit = json_is_true(json_object_get(p, "all"));
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(p, "ids"), i, id) {
        if (!hit && u->token && u->token->sess[0] && sio_str(id) &&
            strcmp(sio_str(id), u->token->sess) == 0)
            hit = true;
    }
    if (hit) identity_evict(s, "signed out");
}

static void revoke_nsp(sio_nsp *nsp, void *ud) {
    sio_nsp_each_socket(nsp, evict_revoked, ud);
}

void identity_on_revoked(json_t *payload, void *ud) {
    const identity_config *ic = ud;
    sio_each_nsp(ic->srv, revoke_nsp, payload);
}
