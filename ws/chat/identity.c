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
    if (token && token_verify(secret, token, &u->claims, &why) == 0) u->has_token = true;
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
    char of_token[CONTRACT_USER_NAME_BUF];
    bool by_token = (!name || json_is_null(name)) && token_user(ic->secret, auth, of_token);
    if (by_token || (name && !json_is_null(name))) {
        const char *given = by_token ? of_token : sio_str(name);
        if (!given || strlen(given) >= sizeof u->name) {
            contract_message(CONTRACT_USER_NAME, "name", err, errlen);
            return -1;
        }
        snprintf(u->name, sizeof u->name, "%s", given);
        if (contract_name_clean(u->name, sizeof u->name) || !contract_valid_user_name(u->name)) {
            contract_message(CONTRACT_USER_NAME, "name", err, errlen);
            return -1;
        }
        if (own_name(ic, u, auth, sio_socket_peer(s), err, errlen)) return -1;
        bool granted;
        if (u->created_ws &&
            modstore_owner_claim(ic->st, sio_nsp_name(sio_socket_nsp(s)), u->name, &granted))
            log_event(LOG_LEVEL_WARN, "chat: workspace owner not recorded", "error",
                      store_errmsg(ic->st), NULL);
    } else {
        snprintf(u->name, sizeof u->name, "%cguest-%.6s", CONTRACT_GUEST_MARK, sio_socket_id(s));
    }
    identity_token(ic->secret, u, auth);
    return 0;
}

bool identity_admits(const chat_user *u, const char *ns, long now_s) {
    if (!u->has_token) return false;
    if (u->claims.exp > 0 && now_s >= u->claims.exp) return false;
    return u->claims.admin || strcmp(u->claims.workspace, ns) == 0;
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
        if (!hit && u->has_token && u->claims.sess[0] && sio_str(id) &&
            strcmp(sio_str(id), u->claims.sess) == 0)
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
