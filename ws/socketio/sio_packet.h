/* sio_packet.h -- Socket.IO v5 packet codec: pure functions, no I/O */
#ifndef SIO_PACKET_H
#define SIO_PACKET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sio_type {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
} sio_type;

#define SIO_NSP_MAX 128               /* longest namespace accepted, in bytes */
#define SIO_ID_MAX 9007199254740991LL /* 2^53 - 1: ack ids stay exact in JS */

/* Bounds the decoder enforces; a zero field means the default in brackets. */
typedef struct sio_limits {
    size_t max_attachments; /* binary attachments per packet [CONTRACT_MAX_ATTACHMENTS] */
    size_t max_event_name;  /* bytes of an event name [CONTRACT_MAX_EVENT_NAME] */
    size_t max_args;        /* array elements of an EVENT/ACK payload [CONTRACT_MAX_ARGS] */
    int max_depth;          /* JSON nesting depth [CONTRACT_MAX_DEPTH] */
    size_t max_values;      /* JSON values of a payload [CONTRACT_MAX_JSON_VALUES] */
} sio_limits;

typedef struct sio_packet {
    sio_type type;
    char nsp[SIO_NSP_MAX + 1]; /* "/" when the packet names none */
    int64_t id;                /* ack id, -1 when absent */
    int attachments;           /* binary attachments that follow (BINARY_*) */
    json_t *data;              /* owned reference, NULL when absent */
} sio_packet;

/* Decodes the Socket.IO packet in buf (the Engine.IO MESSAGE payload):
 * <type>[<attachments>-][<nsp>,][<id>][<json>]. Checks, per the v5 spec and
 * lim: CONNECT data absent or an object; DISCONNECT no data; EVENT and
 * BINARY_EVENT a non-empty array whose first element is a string event name;
 * ACK and BINARY_ACK an array and an id; CONNECT_ERROR an object (servers do
 * not receive it, but the codec is symmetric); attachments only on BINARY_*,
 * 0..max_attachments; id 0..SIO_ID_MAX; namespace starting with "/", at most
 * SIO_NSP_MAX bytes of printable ASCII; JSON depth, value and argument counts
 * within lim, checked on the text before any JSON is built (so a payload
 * that would take many times its size in memory costs one pass over its
 * bytes); no bytes after the JSON. Returns 0 and fills out (free with
 * sio_packet_clear), or -1 with *why set to a static reason string. */
int sio_packet_decode(const char *buf, size_t len, const sio_limits *lim, sio_packet *out,
                      const char **why);

/* Encodes p into a new malloc'd buffer whose first headroom bytes are left
 * for the caller (LWS_PRE plus the Engine.IO type digit); the packet text
 * starts at buf + headroom and is NUL terminated. *len is the packet text's
 * length, headroom excluded. Returns NULL on allocation failure. */
char *sio_packet_encode(const sio_packet *p, size_t headroom, size_t *len);

/* The C string of a JSON string value, or NULL when v is not a string or
 * holds an embedded NUL (which a C string would silently cut short). Every
 * string a handler takes from a packet goes through this. */
const char *sio_str(const json_t *v);

/* An estimate of the memory jansson holds for j, in bytes: a fixed cost per
 * value (the node, and an array slot or an object entry) plus the bytes of
 * every string and key. A packet's parsed JSON can take many times its wire
 * size ("[[],[],...]"); limits on held packets count this, not the wire
 * bytes. Stops adding once the sum passes cap (returns a value > cap), so
 * the walk is bounded by cap / SIO_JSON_NODE_COST nodes. */
#define SIO_JSON_NODE_COST 64
size_t sio_json_cost(const json_t *j, size_t cap);

/* Drops p->data and resets p for reuse. Accepts a zeroed packet. */
void sio_packet_clear(sio_packet *p);

/* Counts {"_placeholder":true,"num":N} objects in data and checks that their
 * nums are exactly 0..attachments-1 each once. Returns 0 when they match. */
int sio_placeholders_check(const json_t *data, int attachments);

#endif
