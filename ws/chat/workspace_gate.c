/* workspace_gate.c -- workspace namespaces: which exist, their creation by a
 * CONNECT, the private ones' token check and the evictions that follow it */
#include "workspace_gate.h"

#include <stdio.h>
#include <time.h>

#include "contract.h"
#include "identity.h"
#include "log.h"

bool workspace_gate_exists(const char *name, void *ud) {
    const workspace_gate_config *g = ud;
    if (!contract_valid_workspace(name)) return false;
    bool exists = false;
    if (store_workspace_exists(g->st, name, &exists)) return false;
    return exists || g->open_workspaces;
}

int workspace_gate_admit(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    const workspace_gate_config *g = ud;
    (void)auth;
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    bool exists = false, created = false;
    if (store_workspace_exists(g->st, ns, &exists)) {
        snprintf(err, errlen, "storage unavailable");
        return -1;
    }
    if (exists) return 0;
    if (!g->open_workspaces) {
        snprintf(err, errlen, "Invalid namespace");
        return -1;
    }
    /* the creation rate is counted in the store, so it holds across every
     * process (issue 21.12); a workspace not made is not counted */
    int rc = store_begin(g->st);
    if (!rc) rc = store_workspace_rate_spend(g->st, sio_socket_peer(s), g->workspace_rate, NULL);
    if (!rc) rc = store_workspace_create(g->st, ns, g->max_workspaces, &created);
    if (!rc) rc = created ? store_commit(g->st) : store_rollback(g->st);
    if (rc) store_rollback(g->st);
    if (rc == STORE_OVER_BUDGET) {
        log_event(LOG_LEVEL_INFO, "chat: workspace creation refused", "peer", sio_socket_peer(s),
                  "nsp", ns, "reason", "creation rate", NULL);
        snprintf(err, errlen, "too many workspaces created from this address, try later");
        return -1;
    }
    if (rc) {
        snprintf(err, errlen, "storage unavailable");
        return -1;
    }
    if (!created && (store_workspace_exists(g->st, ns, &exists) || !exists)) {
        log_event(LOG_LEVEL_INFO, "chat: workspace creation refused", "peer", sio_socket_peer(s),
                  "nsp", ns, "reason", "max workspaces", "max", LOG_I(g->max_workspaces), NULL);
        snprintf(err, errlen, "workspace limit reached");
        return -1;
    }
    if (created) {
        log_event(LOG_LEVEL_INFO, "chat: workspace created", "nsp", ns, "peer", sio_socket_peer(s),
                  NULL);
        chat_user *u = identity_user_ensure(s);
        if (u) u->created_ws = true; /* identity makes its named user the owner */
    }
    return 0;
}

int workspace_gate_private(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    const workspace_gate_config *g = ud;
    chat_user *u = identity_user_ensure(s);
    if (!u) return snprintf(err, errlen, "out of memory"), -1;
    identity_token(g->secret, u, auth);
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    bool is_private = false;
    if (store_workspace_private(g->st, ns, &is_private)) {
        snprintf(err, errlen, "storage unavailable");
        return -1;
    }
    if (!is_private) return 0;
    if (identity_admits(u, ns, (long)time(NULL))) {
        u->gated = true;
        return 0;
    }
    log_event(LOG_LEVEL_INFO, "chat: refused", "sid", sio_socket_id(s), "nsp", ns, "reason",
              u->has_token ? "token does not name it" : "no valid token", NULL);
    snprintf(err, errlen, "unauthorized");
    return -1;
}

static void evict_unqualified(sio_socket *s, void *ud) {
    (void)ud;
    chat_user *u = identity_user(s);
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    if (!u) return;
    if (identity_admits(u, ns, (long)time(NULL)))
        u->gated = true;
    else
        identity_evict(s, "the workspace is private");
}

void workspace_gate_on_private(json_t *payload, void *ud) {
    const workspace_gate_config *g = ud;
    const char *ns = sio_str(json_object_get(payload, "namespace"));
    sio_nsp *nsp = ns ? sio_nsp_get(g->srv, ns) : NULL;
    if (nsp) sio_nsp_each_socket(nsp, evict_unqualified, NULL);
}

static void evict_expired(sio_socket *s, void *ud) {
    chat_user *u = identity_user(s);
    if (u && u->gated && !identity_admits(u, sio_nsp_name(sio_socket_nsp(s)), *(long *)ud))
        identity_evict(s, "token expired");
}

static void expire_nsp(sio_nsp *nsp, void *ud) {
    if (contract_valid_workspace(sio_nsp_name(nsp))) sio_nsp_each_socket(nsp, evict_expired, ud);
}

void workspace_gate_expire(const workspace_gate_config *g, long now_s) {
    sio_each_nsp(g->srv, expire_nsp, &now_s);
}
