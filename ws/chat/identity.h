/* identity.h -- who a chat socket is: an owned name (with its credential) or
 * a guest's, and the token it presented; the socket's chat state that holds
 * them; and the evictions of sockets whose credentials were revoked */
#ifndef IDENTITY_H
#define IDENTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "contract.h"
#include "sio.h"
#include "store.h"
#include "token.h"

/* What a socket keeps of the auth.token it presented, made only when the
 * token verified: most sockets present none, and an idle socket's bytes are
 * the budget (issue 22). */
typedef struct chat_token {
    /* gated: fires at exp, when the socket leaves its private workspace
     * (workspace_gate.c); cancelled with the socket */
    ws_timer expiry;
    long exp;                  /* "exp", seconds since the epoch */
    bool admin;                /* "admin": true */
    char sess[TOKEN_SESS_BUF]; /* "sess": its credential (revocable), or "" */
    char workspace[];          /* "workspace": "/acme", or "", sized to it */
} chat_token;

/* A chat socket's state: its sio ctx (sio_socket_set_ctx), made by the first
 * CONNECT middleware that needs it (identity_user_ensure) and freed with the
 * socket. The first fields are identity's and the workspace gate's, the
 * last the chat's recovery. */
typedef struct chat_user {
    /* an owned name, or a guest's "~guest-<sid>"; owned, sized to it; NULL
     * until identity_establish names the socket */
    char *name;
    char *credential;      /* a fresh user token for the session event, or NULL; owned */
    chat_token *token;     /* auth.token, when it verified; else NULL; owned */
    int64_t replayed_upto; /* live delivery skips ids <= this: recovery sent them */
    int64_t floor;         /* the log offset this session was first served from: a
                              recovery never replays from before it */
    json_t *replay;        /* recovered: the messages to send once connected, or NULL; owned */
    /* an owned name (auth.name with its credential): cursors and the
     * per-user write budget apply */
    bool named;
    bool gated;      /* admitted to a private workspace: token->expiry is armed */
    bool created_ws; /* this CONNECT created its workspace: its user owns it */
    bool truncated;  /* retention deleted part of what recovery owes it */
} chat_user;

/* What identity reads: all borrowed, outliving every socket. */
typedef struct identity_config {
    sio_server *srv;            /* whose sockets identity_on_revoked evicts */
    store *st;                  /* name claims and workspace owners */
    const token_secret *secret; /* verifies and issues tokens */
} identity_config;

/* The socket's chat state, or NULL before a middleware made it. */
chat_user *identity_user(const sio_socket *s);

/* The socket's chat state, made now when it has none. NULL when out of
 * memory. */
chat_user *identity_user_ensure(sio_socket *s);

/* Verifies auth.token (when there is one) with secret into u->token, left
 * NULL when it does not verify (or out of memory). Once u has a token it is
 * kept: a CONNECT's auth is verified once, by the first middleware that
 * asks. */
void identity_token(const token_secret *secret, chat_user *u, json_t *auth);

/* Sets u's name to a copy of name. Returns 0, or -1 when out of memory (the
 * name is then unchanged). */
int identity_set_name(chat_user *u, const char *name);

/* Who s is, at its CONNECT (after the workspace gate): auth.name, or the
 * name of a user token in auth.token when auth.name is left out, is an
 * owned name when auth.token is its credential (or an admin token), or when
 * nobody claimed it yet (the claim is made now, rate-limited per address,
 * and the session event carries the new credential); a claimed name without
 * its credential is refused. No name: a guest, "~guest-<sid>". The owned name
 * of a CONNECT that created its workspace becomes its owner. Then auth.token
 * is verified (identity_token). Returns 0, or -1 with the refusal in err. */
int identity_establish(const identity_config *ic, sio_socket *s, json_t *auth, char *err,
                       size_t errlen);

/* Whether u's token admits it to ns at now_s (seconds since the epoch): an
 * admin token or one naming ns, not expired. */
bool identity_admits(const chat_user *u, const char *ns, long now_s);

/* Tells s why ({reason} in a `kicked` event) and disconnects it. */
void identity_evict(sio_socket *s, const char *reason);

/* The adapter's handler (adapter_fn, ud: the identity_config) of
 * "credentials_revoked" {user, ids, all} (REST, any process or node): the
 * sockets that connected with one of the credentials ids, or, all true
 * (signed out everywhere, an admin's revocation), every socket of the
 * user, are evicted. */
void identity_on_revoked(json_t *payload, void *ud);

#endif
