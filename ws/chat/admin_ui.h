/* admin_ui.h -- the server side of the official Socket.IO Admin UI's protocol */
#ifndef ADMIN_UI_H
#define ADMIN_UI_H

#include "bus.h"
#include "clock.h"
#include "sio.h"
#include "token.h"

/* The namespace the UI connects to (its "Admin namespace" setting): ours,
 * since /admin is the chat's own admin namespace. */
#define ADMIN_UI_NAMESPACE "/socket.io-admin"
/* How often server_stats goes to the UI's sockets, ms (the UI expects 2 s). */
#define ADMIN_UI_STATS_MS 2000
/* How long the session id the UI keeps is valid: a token of scope
 * ADMIN_UI_SCOPE, which admits this namespace and nothing else (REST and
 * /admin refuse it: it is no admin token). */
#define ADMIN_UI_SESSION_TTL_S 3600
#define ADMIN_UI_SCOPE "admin-ui"

typedef struct admin_ui admin_ui;

/* Registers ADMIN_UI_NAMESPACE on srv, the protocol of @socket.io/admin-ui
 * (v0.5): its middleware admits auth {username, password} whose password is
 * an admin token (HS256 JWT with "admin": true; the username is not checked),
 * or {sessionId} holding a session token of scope ADMIN_UI_SCOPE; else
 * connect_error "invalid credentials". On connection it emits `session` (a
 * fresh session token valid ADMIN_UI_SESSION_TTL_S, after a password login), `config`
 * {supportedFeatures}, `all_sockets`, and from then on `socket_connected`,
 * `socket_disconnected`, `room_joined`, `room_left` as they happen and
 * `server_stats` every ADMIN_UI_STATS_MS. It answers `_disconnect` (nsp,
 * close, filter: a socket id or a room: this process's sockets). With a
 * bus b (NULL: this process alone), the UI sees every process's sockets and
 * servers, as a Socket.IO adapter shows them: a process with a UI socket
 * publishes {"admin_ui":"watch"} every ADMIN_UI_STATS_MS (with "all": true
 * when a UI socket connects, which every other process answers with a
 * socket_connected per socket), and a process watched from elsewhere
 * publishes its live events and server_stats as {"admin_ui":"event",
 * "event","args"}, which the watching process emits to its UI sockets.
 * Message contents (event_received/event_sent) are never sent.
 * Everything passed is borrowed. Returns NULL when out of memory. It becomes
 * srv's observer (sio_observe). */
admin_ui *admin_ui_new(sio_server *srv, const token_secret *secret, bus *b);
/* The bus's ephemeral handler for the UI's messages (above): returns false,
 * having done nothing, when data is not one of them (the adapter's then);
 * data is hostile: only the listed live events reach UI sockets. */
bool admin_ui_ephemeral(admin_ui *ui, const char *data, size_t len);
/* Starts the stats timer on clock (borrowed), the UI's time (uptime, the
 * other processes' watches); NULL cancels it. */
void admin_ui_attach(admin_ui *ui, ws_clock *clock);
void admin_ui_free(admin_ui *ui);

#endif
