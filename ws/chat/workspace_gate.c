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

/* The longest a gated socket's timer waits before it looks at the wall
 * clock again: the token's exp is wall-clock time and the timer runs on the
 * monotonic clock, so a step of the wall clock delays an eviction by no
 * more than this. */
#define GATE_RECHECK_MAX_MS 60000

/* Arms the token timer of u for the moment its token expires (time(NULL) reaches
 * exp), or for the next look at the wall clock when that is further off. */
static void gate_arm(chat_user *u) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long wait_ms =
        (long long)u->token->exp * 1000 - ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (wait_ms < 0) wait_ms = 0;
    if (wait_ms > GATE_RECHECK_MAX_MS) wait_ms = GATE_RECHECK_MAX_MS;
    ws_timer_schedule(&u->token->expiry, wait_ms);
}

static void gate_expiry(void *ud) {
    sio_socket *s = ud;
    chat_user *u = identity_user(s);
    if (!sio_socket_connected(s)) return; /* gone already, its memory still held */
    if (identity_admits(u, sio_nsp_name(sio_socket_nsp(s)), (long)time(NULL)))
        gate_arm(u); /* the wall clock is not there yet */
    else
        identity_evict(s, "token expired");
}

/* u (s's, admitted by its token) is gated from now on: its token expiry
 * evicts it. Only workspaces' sockets are (the gate guards no other). */
static void gate(const workspace_gate_config *g, sio_socket *s, chat_user *u) {
    bool armed = u->gated;
    u->gated = true;
    if (armed || !u->token->exp || !contract_valid_workspace(sio_nsp_name(sio_socket_nsp(s))))
        return;
    ws_timer_init(&u->token->expiry, g->clock, gate_expiry, s);
    gate_arm(u);
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
        gate(g, s, u);
        return 0;
    }
    log_event(LOG_LEVEL_INFO, "chat: refused", "sid", sio_socket_id(s), "nsp", ns, "reason",
              u->token ? "token does not name it" : "no valid token", NULL);
    snprintf(err, errlen, "unauthorized");
    return -1;
}

static void evict_unqualified(sio_socket *s, void *ud) {
    const workspace_gate_config *g = ud;
    chat_user *u = identity_user(s);
    const char *ns = sio_nsp_name(sio_socket_nsp(s));
    if (!u) return;
    if (identity_admits(u, ns, (long)time(NULL)))
        gate(g, s, u);
    else
        identity_evict(s, "the workspace is private");
}

void workspace_gate_on_private(json_t *payload, void *ud) {
    const workspace_gate_config *g = ud;
    const char *ns = sio_str(json_object_get(payload, "namespace"));
    sio_nsp *nsp = ns ? sio_nsp_get(g->srv, ns) : NULL;
    if (nsp) sio_nsp_each_socket(nsp, evict_unqualified, (void *)g);
}
