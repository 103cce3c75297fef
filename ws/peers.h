/* peers.h -- ephemeral datagrams between the ws processes of one database */
#ifndef PEERS_H
#define PEERS_H

#include <libwebsockets.h>
#include <stddef.h>

/* The ws processes that share one database on one machine reach each other
 * here for what must never touch the disk (typing). Each binds a unix
 * datagram socket named by its pid in the directory "<db>-peers" (created
 * 0700, owned by this user) and sends each payload, without blocking, to
 * every other socket there: a peer whose queue is full misses it (dropped,
 * never queued), and the socket of a process that died is unlinked by the
 * first sender to find it dead. A process alone sends nothing. */
typedef struct peers peers;

/* The largest payload sent or received; bigger ones are dropped. */
#define PEERS_MAX_PAYLOAD 8192

/* Receives one datagram of another process: data (len bytes, not
 * NUL-terminated, any content) is borrowed. Runs in the service thread. */
typedef void (*peers_fn)(const char *data, size_t len, void *ud);

/* Binds this process's socket for db_path and adopts it into vh's event
 * loop; the vhost must list the protocol PEERS_PROTOCOL (peers_lws_callback).
 * Returns NULL (and logs why) when the directory or the socket cannot be
 * made, or the path is too long for a unix socket. */
peers *peers_new(struct lws_vhost *vh, const char *db_path, peers_fn fn, void *ud);
/* Unlinks this process's socket and frees; the descriptor goes with its
 * lws connection. Call before the lws context is destroyed. Accepts NULL. */
void peers_free(peers *p);

/* Sends data (len bytes) to every other live process. Returns how many
 * received it; a payload over PEERS_MAX_PAYLOAD is sent to none. */
int peers_send(peers *p, const char *data, size_t len);

#define PEERS_PROTOCOL "chat-peers"
int peers_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

#endif
