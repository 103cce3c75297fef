/* eio_packet.h -- Engine.IO v4 packet codec: pure functions, no I/O */
#ifndef EIO_PACKET_H
#define EIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Packet types, as the digit that starts a text packet. */
typedef enum eio_type {
    EIO_OPEN = 0,
    EIO_CLOSE = 1,
    EIO_PING = 2,
    EIO_PONG = 3,
    EIO_MESSAGE = 4,
    EIO_UPGRADE = 5,
    EIO_NOOP = 6,
} eio_type;

/* One decoded packet. data points into the decoder's input (not copied), or
 * into scratch for base64-decoded binary of the polling payload. */
typedef struct eio_packet {
    eio_type type;
    const char *data; /* the payload after the type digit; may be empty */
    size_t len;       /* its length in bytes */
    bool binary;      /* a binary message (WebSocket binary frame or "b" base64) */
} eio_packet;

/* Decodes one WebSocket frame. A text frame is "<digit><payload>"; a binary
 * frame is a whole binary MESSAGE (Engine.IO v4 has no type byte in binary
 * frames). Returns 0, or -1 for an empty text frame or an unknown type digit. */
int eio_packet_decode(const char *buf, size_t len, bool binary_frame, eio_packet *out);

/* Writes the open packet's JSON (without the leading '0') into buf:
 * {"sid":"...","upgrades":[...],"pingInterval":N,"pingTimeout":N,"maxPayload":N}
 * upgrades is ["websocket"] when offer_websocket, else []. Returns the length
 * written (not counting the NUL), or -1 when cap is too small. */
int eio_open_json(char *buf, size_t cap, const char *sid, bool offer_websocket,
                  int ping_interval_ms, int ping_timeout_ms, long max_payload);

/* Fills sid (EIO_SID_LEN chars + NUL) with a random id of URL-safe characters
 * from /dev/urandom (getrandom). Used for Engine.IO sids, Socket.IO socket ids
 * and recovery pids. */
#define EIO_SID_LEN 20
void eio_random_id(char sid[EIO_SID_LEN + 1]);

/* HTTP long-polling payloads: packets joined by the record separator 0x1e.
 * Decodes up to max packets of buf into out, setting *n. A packet starting
 * with 'b' is base64 binary: it is decoded into scratch (at least len bytes),
 * and its eio_packet points there. Returns 0, or -1 on a malformed payload. */
int eio_payload_decode(const char *buf, size_t len, eio_packet *out, size_t max, size_t *n,
                       char *scratch);

/* Standard base64 (with padding). encode writes 4*ceil(len/3) chars and a NUL
 * and returns that length; decode returns the decoded length or -1. */
size_t eio_base64_encode(const unsigned char *in, size_t len, char *out);
long eio_base64_decode(const char *in, size_t len, unsigned char *out);

#endif
