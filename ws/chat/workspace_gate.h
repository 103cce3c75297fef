/* workspace_gate.h -- which workspace namespaces exist, their creation by a
 * CONNECT (open workspaces, within a rate and a cap), the private ones'
 * token check, and the evictions when a workspace turns private or a token
 * expires */
#ifndef WORKSPACE_GATE_H
#define WORKSPACE_GATE_H

#include <jansson.h>
#include <stdbool.h>

#include "clock.h"
#include "sio.h"
#include "store.h"
#include "token.h"

/* What the gate reads: borrowed, outliving every socket; the counts already
 * defaulted (chat_new). The gate's functions take it as their ud. */
typedef struct workspace_gate_config {
    sio_server *srv;            /* whose sockets the evictions walk */
    store *st;                  /* workspaces, their privacy and the creation rate */
    const token_secret *secret; /* verifies the tokens private workspaces ask for */
    bool open_workspaces;       /* a CONNECT may create a workspace */
    int max_workspaces;         /* workspaces in all */
    int workspace_rate;         /* workspaces one address may create an hour */
    ws_clock *clock;            /* runs each gated socket's token expiry */
} workspace_gate_config;

/* sio_of_match's predicate: name is a workspace namespace
 * (contract_valid_workspace) that exists (created by admin REST), or, with
 * open_workspaces, may be created by its first CONNECT. */
bool workspace_gate_exists(const char *name, void *ud);

/* Middleware of workspaces, first: a workspace that does not exist yet
 * (open_workspaces) is created by this CONNECT, within its address's creation
 * rate (counted in the store, across every process) and max_workspaces; the
 * socket's user then owns it (chat_user.created_ws). Returns 0, or -1 with
 * the refusal in err ("Invalid namespace" when workspaces are not open). */
int workspace_gate_admit(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud);

/* Middleware of workspaces, before identity: a private one admits only a
 * token naming it, or an admin token. The socket is then gated: a timer of
 * its own (chat_token.expiry) evicts it ("token expired") when its token no
 * longer admits it. Returns 0, or -1 with "unauthorized" (or "storage
 * unavailable") in err. */
int workspace_gate_private(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud);

/* The adapter's handler (adapter_fn) of "workspace_private" {namespace}
 * (REST, any process): the workspace's sockets without a token that admits
 * them are evicted; the others are gated. */
void workspace_gate_on_private(json_t *payload, void *ud);

#endif
