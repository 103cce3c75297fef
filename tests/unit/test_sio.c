/* test_sio.c -- the Socket.IO layer as a state machine: packets in, frames out
 *
 * The server runs on a fake transport (frames recorded per connection,
 * closes recorded) and a fake clock that the rows advance; no lws context,
 * no socket. Each row is a script of steps; frames are compared with a glob
 * where '*' stands for any run of characters but '"' (the random ids). */
#include "outbuf.h"
#include "sio.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_transport.h"
#include "log.h"

#define MAX_LOG 16

static char *log_lines[MAX_LOG]; /* what the test's handlers saw */
static size_t nlog;

static void logf_(const char *fmt, ...) {
    assert_true(nlog < MAX_LOG);
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&log_lines[nlog++], fmt, ap) >= 0);
    va_end(ap);
}

/* ---- the application on top: a few handlers the rows drive ---------------- */

static void on_echo(sio_socket *s, sio_event *ev, void *ud) {
    (void)ud;
    sio_emit_socket_bin(s, "echo", ev->args, ev->attachments, ev->nattachments);
    if (ev->ack) sio_ack_send_bin(ev->ack, ev->args, ev->attachments, ev->nattachments);
}

static void on_join(sio_socket *s, sio_event *ev, void *ud) {
    (void)ud;
    const char *room = sio_str(json_array_get(ev->args, 0));
    if (room) sio_join(s, room);
    sio_ack_drop(ev->ack);
}

/* ["bcast", room, text, except_sender] */
static void on_bcast(sio_socket *s, sio_event *ev, void *ud) {
    (void)ud;
    const char *room = sio_str(json_array_get(ev->args, 0));
    json_t *args = json_pack("[O]", json_array_get(ev->args, 1));
    sio_to to = {.rooms = &room, .nrooms = 1};
    if (json_is_true(json_array_get(ev->args, 2))) to.except = s;
    sio_emit(sio_socket_nsp(s), &to, "msg", args);
    json_decref(args);
    sio_ack_drop(ev->ack);
}

static void on_answer(sio_socket *s, json_t *args, void *ud) {
    (void)s, (void)ud;
    if (!args) {
        logf_("answer timeout");
        return;
    }
    char *j = json_dumps(args, JSON_COMPACT);
    logf_("answer %s", j);
    free(j);
}

static void on_ask(sio_socket *s, sio_event *ev, void *ud) {
    (void)ud;
    sio_emit_with_ack(s, "question", ev->args, 1000, on_answer, NULL);
    sio_ack_drop(ev->ack);
}

static void on_kick(sio_socket *s, sio_event *ev, void *ud) {
    (void)ud;
    sio_ack_drop(ev->ack);
    sio_disconnect(s, false);
}

static void on_disconnecting(sio_socket *s, const char *reason, void *ud) {
    (void)ud;
    char rooms[128] = "";
    size_t at = 0;
    for (size_t i = 0; i < sio_socket_room_count(s) && at < sizeof rooms; i++)
        at += (size_t)snprintf(rooms + at, sizeof rooms - at, "%s%s", i ? "," : "",
                               sio_socket_room_at(s, i));
    logf_("disconnecting %s: %s rooms=%s", sio_nsp_name(sio_socket_nsp(s)), reason, rooms);
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
    (void)ud;
    logf_("disconnect %s: %s", sio_nsp_name(sio_socket_nsp(s)), reason);
}

static void free_json(void *p) {
    json_decref(p);
}

/* /custom: refuses {"token":"bad"}, keeps the auth and shows it back. */
static int check_token(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud) {
    (void)ud;
    const char *token = sio_str(json_object_get(auth, "token"));
    if (token && strcmp(token, "bad") == 0) {
        snprintf(err, errlen, "Not authorized");
        return 1;
    }
    sio_socket_set_ctx(s, json_incref(auth), free_json);
    return 0;
}

static void show_auth(sio_socket *s, void *ud) {
    (void)ud;
    json_t *args = json_pack("[O]", (json_t *)sio_socket_ctx(s));
    sio_emit_socket(s, "auth", args);
    json_decref(args);
}

static ws_clock *test_clock; /* on fake_clock_ms: the rows move it, its timers run */

/* test_many's clients: the peer is "p<index>"; on /many each one gets a
 * server emit with an ack of its own timeout, whose answer is checked to
 * come once, and at its deadline when it is a timeout. */
#define MANY 3000
static long long many_due[MANY]; /* ms: when the ack's timeout is due */
static int many_answers[MANY];   /* calls of the ack's callback */

static void many_answer(sio_socket *s, json_t *args, void *ud) {
    (void)ud;
    int i = atoi(sio_socket_peer(s) + 1);
    if (!args && fake_clock_ms != many_due[i])
        fail_msg("client %d: ack timed out at %lld, due %lld", i, fake_clock_ms, many_due[i]);
    many_answers[i]++;
}

static void many_ask(sio_socket *s, void *ud) {
    (void)ud;
    int i = atoi(sio_socket_peer(s) + 1), timeout = 1000 + i % 500;
    many_due[i] = fake_clock_ms + timeout;
    assert_int_equal(sio_emit_with_ack(s, "q", NULL, timeout, many_answer, NULL), 0);
}

/* A dynamic namespace family: "/dyn-" and anything. */
static bool match_dyn(const char *name, void *ud) {
    (void)ud;
    return strncmp(name, "/dyn-", 5) == 0;
}

/* connect_rate: a namespace CONNECT budget per client address (a burst of
 * one); 0: none. */
static sio_server *server_new(int connect_rate) {
    sio_config cfg = {.clock = test_clock,
                      .connect_timeout_ms = 5000,
                      .attachment_timeout_ms = 2000,
                      .connect_rate = connect_rate,
                      .connect_burst = 1};
    sio_server *srv = sio_server_new(&cfg);
    assert_non_null(srv);
    sio_server_set_transport(srv, &fake_transport);
    sio_nsp_def *root = sio_of(srv, "/");
    sio_on(root, "echo", on_echo, NULL);
    sio_on(root, "join", on_join, NULL);
    sio_on(root, "bcast", on_bcast, NULL);
    sio_on(root, "ask", on_ask, NULL);
    sio_on(root, "kick", on_kick, NULL);
    sio_on_disconnecting(root, on_disconnecting, NULL);
    sio_on_disconnect(root, on_disconnect, NULL);
    sio_nsp_def *custom = sio_of(srv, "/custom");
    sio_use(custom, check_token, NULL);
    sio_on_connection(custom, show_auth, NULL);
    sio_on(custom, "echo", on_echo, NULL);
    sio_on_disconnect(custom, on_disconnect, NULL);
    sio_nsp_def *dyn = sio_of_match(srv, match_dyn, NULL);
    sio_on(dyn, "ask", on_ask, NULL);
    sio_on_connection(sio_of(srv, "/many"), many_ask, NULL);
    return srv;
}

/* ---- the rows ------------------------------------------------------------- */

typedef enum op {
    END = 0,
    OPEN,   /* a transport opens on connection c (peer s) */
    IN,     /* c receives the Socket.IO packet s (the payload after Engine.IO's '4') */
    BIN,    /* c receives a binary attachment s */
    BAD,    /* c receives s, which must be refused as malformed */
    OUT,    /* c's next frame matches s */
    NONE,   /* c has no frame left */
    TICK,   /* the clock moves n ms, running the timers due on the way */
    CLOSED, /* c was closed with status n */
    GONE,   /* the transport of c ends with reason s */
    LOG,    /* the handlers' next log line matches s */
    NOLOG,  /* the handlers logged nothing more */
    IDLE,   /* no timer is pending on the clock */
    NSP,    /* namespace s is live (n 1) or not (n 0) */
} op;

typedef struct step {
    op op;
    int c;
    const char *s;
    long long n;
} step;

typedef struct scase {
    const char *name;
    step steps[40];
    int connect_rate; /* server_new's */
} scase;

#define PH(n) "{\"_placeholder\":true,\"num\":" #n "}"
#define CONNECT(c)                                                                                 \
    {OPEN, c, "10.0.0.1", 0}, {IN, c, "0", 0}, {                                                   \
        OUT, c, "40{\"sid\":\"*\"}", 0                                                             \
    }

static const scase cases[] = {
    {"connect to / and to a custom namespace with auth",
     {{OPEN, 0, "10.0.0.1", 0},
      {IN, 0, "0", 0},
      {OUT, 0, "40{\"sid\":\"*\"}", 0},
      {NONE, 0, NULL, 0},
      {IN, 0, "0/custom,{\"token\":\"ok\"}", 0},
      {OUT, 0, "40/custom,{\"sid\":\"*\"}", 0},
      {OUT, 0, "42/custom,[\"auth\",{\"token\":\"ok\"}]", 0},
      {IN, 0, "0/custom,", 0},
      {OUT, 0, "44/custom,{\"message\":\"already connected to this namespace\"}", 0},
      {NONE, 0, NULL, 0}}},
    {"an unknown namespace",
     {{OPEN, 0, "10.0.0.1", 0},
      {IN, 0, "0/x,", 0},
      {OUT, 0, "44/x,{\"message\":\"Invalid namespace\"}", 0},
      {IN, 0, "2/x,[\"echo\"]", 0},
      {NONE, 0, NULL, 0}}},
    {"a middleware refusal",
     {{OPEN, 0, "10.0.0.1", 0},
      {IN, 0, "0/custom,{\"token\":\"bad\"}", 0},
      {OUT, 0, "44/custom,{\"message\":\"Not authorized\"}", 0},
      {IN, 0, "2/custom,[\"echo\",1]", 0}, /* not connected there: ignored */
      {NONE, 0, NULL, 0},
      {CLOSED, 0, NULL, 0}}},
    {"events with and without acks",
     {CONNECT(0),
      {IN, 0, "2[\"echo\",1,\"a\"]", 0},
      {OUT, 0, "42[\"echo\",1,\"a\"]", 0},
      {NONE, 0, NULL, 0},
      {IN, 0, "25[\"echo\",{\"b\":2}]", 0},
      {OUT, 0, "42[\"echo\",{\"b\":2}]", 0},
      {OUT, 0, "435[{\"b\":2}]", 0},
      {IN, 0, "27[\"nope\"]", 0},
      {OUT, 0, "437[{\"error\":\"unknown event\"}]", 0},
      {IN, 0, "2[\"nope\"]", 0},
      {NONE, 0, NULL, 0},
      {BAD, 0, "2[\"echo\"", 0},
      {BAD, 0, "4{\"message\":\"x\"}", 0}}},
    {"a server emit with ack: answered, then timed out by the clock",
     {CONNECT(0),
      {IN, 0, "2[\"ask\",\"q\"]", 0},
      {OUT, 0, "420[\"question\",\"q\"]", 0},
      {IN, 0, "30[\"yes\"]", 0},
      {LOG, 0, "answer [\"yes\"]", 0},
      {IN, 0, "2[\"ask\",\"q2\"]", 0},
      {OUT, 0, "421[\"question\",\"q2\"]", 0},
      {TICK, 0, NULL, 999},
      {NOLOG, 0, NULL, 0},
      {TICK, 0, NULL, 1},
      {LOG, 0, "answer timeout", 0},
      {IN, 0, "31[\"late\"]", 0}, /* already failed: nothing runs */
      {IN, 0, "39[\"unasked\"]", 0},
      {NOLOG, 0, NULL, 0},
      {NONE, 0, NULL, 0},
      {CLOSED, 0, NULL, 0}}},
    {"a transport that joins no namespace in time is closed",
     {{OPEN, 0, "10.0.0.1", 0},
      {TICK, 0, NULL, 5000},
      {CLOSED, 0, NULL, 0},
      {TICK, 0, NULL, 1},
      {CLOSED, 0, NULL, 1008},
      {OPEN, 1, "10.0.0.2", 0},
      {IN, 1, "0", 0},
      {OUT, 1, "40{\"sid\":\"*\"}", 0},
      {TICK, 0, NULL, 10000},
      {CLOSED, 1, NULL, 0}}},
    {"rooms: a broadcast reaches the members, but the sender when asked",
     {CONNECT(0),
      CONNECT(1),
      CONNECT(2),
      {IN, 0, "2[\"join\",\"r\"]", 0},
      {IN, 1, "2[\"join\",\"r\"]", 0},
      {IN, 1, "2[\"join\",\"r\"]", 0}, /* twice: still one member */
      {IN, 2, "2[\"bcast\",\"r\",\"hi\",false]", 0},
      {OUT, 0, "42[\"msg\",\"hi\"]", 0},
      {OUT, 1, "42[\"msg\",\"hi\"]", 0},
      {NONE, 0, NULL, 0},
      {NONE, 1, NULL, 0},
      {NONE, 2, NULL, 0},
      {IN, 0, "2[\"bcast\",\"r\",\"hey\",true]", 0},
      {OUT, 1, "42[\"msg\",\"hey\"]", 0},
      {NONE, 0, NULL, 0},
      {NONE, 1, NULL, 0},
      {NONE, 2, NULL, 0},
      {IN, 2, "2[\"bcast\",\"empty\",\"x\",false]", 0},
      {NONE, 0, NULL, 0},
      {NONE, 1, NULL, 0},
      {NONE, 2, NULL, 0}}},
    {"binary attachments reassembled, in an event and in its ack",
     {CONNECT(0),
      {IN, 0, "51-[\"echo\"," PH(0) "]", 0},
      {NONE, 0, NULL, 0},
      {BIN, 0, "\x01xy", 0},
      {OUT, 0, "451-[\"echo\"," PH(0) "]", 0},
      {OUT, 0, "bin:\x01xy", 0},
      {IN, 0, "52-3[\"echo\"," PH(1) "," PH(0) "]", 0},
      {BIN, 0, "first", 0},
      {NONE, 0, NULL, 0},
      {BIN, 0, "second", 0},
      {OUT, 0, "452-[\"echo\"," PH(1) "," PH(0) "]", 0},
      {OUT, 0, "bin:first", 0},
      {OUT, 0, "bin:second", 0},
      {OUT, 0, "462-3[" PH(1) "," PH(0) "]", 0},
      {OUT, 0, "bin:first", 0},
      {OUT, 0, "bin:second", 0},
      {NONE, 0, NULL, 0},
      {BAD, 0, "51-[\"echo\"," PH(1) "]", 0}, /* placeholder past the count */
      {IN, 0, "51-[\"echo\"," PH(0) "]", 0},
      {BAD, 0, "2[\"echo\"]", 0}, /* text while an attachment is due */
      {CLOSED, 0, NULL, 0}}},
    {"attachments not sent in time close the transport",
     {CONNECT(0),
      {IN, 0, "51-[\"echo\"," PH(0) "]", 0},
      {TICK, 0, NULL, 2000},
      {CLOSED, 0, NULL, 0},
      {TICK, 0, NULL, 1},
      {CLOSED, 0, NULL, 1008},
      {NONE, 0, NULL, 0}}},
    {"DISCONNECT: disconnecting sees the rooms, then the socket is gone",
     {CONNECT(0),
      {IN, 0, "2[\"join\",\"a\"]", 0},
      {IN, 0, "2[\"join\",\"b\"]", 0},
      {IN, 0, "1", 0},
      {LOG, 0, "disconnecting /: client namespace disconnect rooms=a,b", 0},
      {LOG, 0, "disconnect /: client namespace disconnect", 0},
      {IN, 0, "2[\"echo\",1]", 0},
      {NONE, 0, NULL, 0},
      {IN, 0, "0", 0},
      {OUT, 0, "40{\"sid\":\"*\"}", 0},
      {IN, 0, "2[\"kick\"]", 0},
      {OUT, 0, "41", 0},
      {LOG, 0, "disconnecting /: server namespace disconnect rooms=", 0},
      {LOG, 0, "disconnect /: server namespace disconnect", 0},
      {CLOSED, 0, NULL, 0}}},
    {"the transport ends: every socket of it disconnects, pending acks fail",
     {CONNECT(0),
      {IN, 0, "0/custom,", 0},
      {OUT, 0, "40/custom,{\"sid\":\"*\"}", 0},
      {OUT, 0, "42/custom,[\"auth\",{}]", 0},
      {IN, 0, "2[\"join\",\"r\"]", 0},
      {IN, 0, "2[\"ask\",\"q\"]", 0},
      {OUT, 0, "420[\"question\",\"q\"]", 0},
      {GONE, 0, "transport close", 0},
      {LOG, 0, "disconnect /custom: transport close", 0},
      {LOG, 0, "disconnecting /: transport close rooms=r", 0},
      {LOG, 0, "answer timeout", 0},
      {LOG, 0, "disconnect /: transport close", 0},
      {NOLOG, 0, NULL, 0}}},
    {"connect timeouts are each client's own, exact, and end with the client",
     {{OPEN, 0, "10.0.0.1", 0},
      {TICK, 0, NULL, 2000},
      {OPEN, 1, "10.0.0.2", 0},
      {OPEN, 2, "10.0.0.3", 0},
      {TICK, 0, NULL, 3000},
      {CLOSED, 0, NULL, 0},
      {TICK, 0, NULL, 1},
      {CLOSED, 0, NULL, 1008},
      {CLOSED, 1, NULL, 0},
      {GONE, 0, "transport close", 0},
      {IN, 2, "0", 0},
      {OUT, 2, "40{\"sid\":\"*\"}", 0},
      {GONE, 1, "transport close", 0}, /* gone before its deadline: no timer left */
      {TICK, 0, NULL, 0},              /* the addresses are forgotten */
      {IDLE, 0, NULL, 0},
      {TICK, 0, NULL, 10000},
      {CLOSED, 1, NULL, 0},
      {CLOSED, 2, NULL, 0}}},
    {"acks time out each at its own deadline, answered ones never",
     {CONNECT(0),
      {IN, 0, "2[\"ask\",\"a\"]", 0},
      {OUT, 0, "420[\"question\",\"a\"]", 0},
      {TICK, 0, NULL, 400},
      {IN, 0, "2[\"ask\",\"b\"]", 0},
      {OUT, 0, "421[\"question\",\"b\"]", 0},
      {TICK, 0, NULL, 300},
      {IN, 0, "2[\"ask\",\"c\"]", 0},
      {OUT, 0, "422[\"question\",\"c\"]", 0},
      {IN, 0, "31[\"b\"]", 0},
      {LOG, 0, "answer [\"b\"]", 0},
      {TICK, 0, NULL, 299},
      {NOLOG, 0, NULL, 0},
      {TICK, 0, NULL, 1},
      {LOG, 0, "answer timeout", 0}, /* a, at 1000 */
      {NOLOG, 0, NULL, 0},
      {TICK, 0, NULL, 699},
      {NOLOG, 0, NULL, 0},
      {TICK, 0, NULL, 1},
      {LOG, 0, "answer timeout", 0}, /* c, at 1000 after it */
      {IDLE, 0, NULL, 0},
      {NONE, 0, NULL, 0}}},
    {"acks pending when the socket goes fail once, their timers gone",
     {CONNECT(0),
      {IN, 0, "2[\"ask\",\"a\"]", 0},
      {IN, 0, "2[\"ask\",\"b\"]", 0},
      {IN, 0, "1", 0},
      {LOG, 0, "disconnecting /: client namespace disconnect rooms=", 0},
      {LOG, 0, "answer timeout", 0},
      {LOG, 0, "answer timeout", 0},
      {LOG, 0, "disconnect /: client namespace disconnect", 0},
      {IDLE, 0, NULL, 0},
      {TICK, 0, NULL, 5000},
      {NOLOG, 0, NULL, 0},
      {CLOSED, 0, NULL, 0}}},
    {"attachments that come in time cancel their deadline",
     {CONNECT(0),
      {IN, 0, "51-[\"echo\"," PH(0) "]", 0},
      {TICK, 0, NULL, 1999},
      {BIN, 0, "late but in time", 0},
      {OUT, 0, "451-[\"echo\"," PH(0) "]", 0},
      {OUT, 0, "bin:late but in time", 0},
      {IDLE, 0, NULL, 0},
      {TICK, 0, NULL, 10000},
      {CLOSED, 0, NULL, 0}}},
    {"attachments due before the connect timeout close first",
     {{OPEN, 0, "10.0.0.1", 0},
      {IN, 0, "51-[\"echo\"," PH(0) "]", 0},
      {TICK, 0, NULL, 2000},
      {CLOSED, 0, NULL, 0},
      {TICK, 0, NULL, 1},
      {CLOSED, 0, NULL, 1008},
      {TICK, 0, NULL, 10000}, /* closed once: no deadline left, no spin */
      {IDLE, 0, NULL, 0}}},
    {"an address's CONNECT budget outlives its transports until full again",
     {CONNECT(0),
      {GONE, 0, "transport close", 0},
      {OPEN, 1, "10.0.0.1", 0},
      {IN, 1, "0", 0},
      {OUT, 1, "44{\"message\":\"too many connections from this address, slow down\"}", 0},
      {GONE, 1, "transport close", 0},
      {TICK, 0, NULL, 999},
      {OPEN, 2, "10.0.0.1", 0},
      {IN, 2, "0", 0},
      {OUT, 2, "44{\"message\":\"too many connections from this address, slow down\"}", 0},
      {GONE, 2, "transport close", 0},
      {TICK, 0, NULL, 1001}, /* full again: forgotten */
      {IDLE, 0, NULL, 0},
      {OPEN, 3, "10.0.0.1", 0},
      {IN, 3, "0", 0},
      {OUT, 3, "40{\"sid\":\"*\"}", 0}},
     1},
    {"an emptied dynamic namespace lingers, then is forgotten",
     {{OPEN, 0, "10.0.0.1", 0},
      {IN, 0, "0/dyn-a,", 0},
      {OUT, 0, "40/dyn-a,{\"sid\":\"*\"}", 0},
      {IN, 0, "2/dyn-a,[\"ask\",\"q\"]", 0},
      {OUT, 0, "42/dyn-a,0[\"question\",\"q\"]", 0},
      {IN, 0, "1/dyn-a,", 0},
      {LOG, 0, "answer timeout", 0},
      {NSP, 0, "/dyn-a", 1},
      {TICK, 0, NULL, 500},
      {IN, 0, "0/dyn-a,", 0}, /* back in time: the same namespace */
      {OUT, 0, "40/dyn-a,{\"sid\":\"*\"}", 0},
      {TICK, 0, NULL, 1000},
      {NSP, 0, "/dyn-a", 1},
      {IN, 0, "1/dyn-a,", 0},
      {TICK, 0, NULL, 999},
      {NSP, 0, "/dyn-a", 1},
      {TICK, 0, NULL, 1},
      {NSP, 0, "/dyn-a", 0},
      {IN, 0, "0/dyn-b,", 0},
      {OUT, 0, "40/dyn-b,{\"sid\":\"*\"}", 0},
      {GONE, 0, "transport close", 0},
      {TICK, 0, NULL, 1000},
      {NSP, 0, "/dyn-b", 0},
      {IDLE, 0, NULL, 0}}},
};

static char *pop_log(void) {
    if (nlog == 0) return NULL;
    char *s = log_lines[0];
    memmove(log_lines, log_lines + 1, --nlog * sizeof *log_lines);
    return s;
}

static void run_case(const scase *k) {
    sio_server *srv = server_new(k->connect_rate);
    memset(fake_conns, 0, sizeof fake_conns);
    fake_clock_ms = 1000000;
    for (const step *st = k->steps; st->op != END; st++) {
        fake_conn *f = &fake_conns[st->c];
        char *got;
        switch (st->op) {
        case OPEN:
            fake_open(srv, st->c, st->s);
            break;
        case IN:
            assert_int_equal(sio_client_message(f->client, st->s, strlen(st->s), false), 0);
            break;
        case BIN:
            assert_int_equal(sio_client_message(f->client, st->s, strlen(st->s), true), 0);
            break;
        case BAD:
            assert_int_not_equal(sio_client_message(f->client, st->s, strlen(st->s), false), 0);
            break;
        case OUT:
            got = fake_pop_frame(f);
            if (!got || !fake_glob(st->s, got))
                fail_msg("%s: step %td: frame %s, expected %s", k->name, st - k->steps,
                         got ? got : "(none)", st->s);
            free(got);
            break;
        case NONE:
            if (f->nframes)
                fail_msg("%s: step %td: unexpected frame %s", k->name, st - k->steps, f->frames[0]);
            break;
        case TICK:
            fake_clock_advance(test_clock, st->n);
            break;
        case CLOSED:
            if (f->close_status != st->n)
                fail_msg("%s: step %td: close status %d, expected %lld", k->name, st - k->steps,
                         f->close_status, st->n);
            break;
        case GONE:
            fake_gone(f, st->s);
            break;
        case LOG:
            got = pop_log();
            if (!got || !fake_glob(st->s, got))
                fail_msg("%s: step %td: log %s, expected %s", k->name, st - k->steps,
                         got ? got : "(none)", st->s);
            free(got);
            break;
        case NOLOG:
            if (nlog)
                fail_msg("%s: step %td: unexpected log %s", k->name, st - k->steps, log_lines[0]);
            break;
        case IDLE:
            if (ws_clock_next(test_clock, NULL))
                fail_msg("%s: step %td: a timer is still pending", k->name, st - k->steps);
            break;
        case NSP:
            if ((sio_nsp_get(srv, st->s) != NULL) != (st->n != 0))
                fail_msg("%s: step %td: namespace %s %s", k->name, st - k->steps, st->s,
                         st->n ? "gone" : "still live");
            break;
        case END:
            break;
        }
    }
    fake_conns_reset();
    while (nlog)
        free(pop_log());
    assert_int_equal(sio_server_sockets(srv), 0);
    assert_int_equal(sio_server_pending_bytes(srv), 0);
    sio_server_free(srv);
    assert_false(ws_clock_next(test_clock, NULL)); /* every timer cancelled with its owner */
}

static void test_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(&cases[i]);
}

/* A volatile emit skips a receiver that cannot take it now. */
static void test_volatile(void **state) {
    (void)state;
    sio_server *srv = server_new(0);
    memset(fake_conns, 0, sizeof fake_conns);
    for (int i = 0; i < 2; i++) {
        snprintf(fake_conns[i].peer, sizeof fake_conns[i].peer, "10.0.0.%d", i);
        fake_conns[i].client = sio_client_open(srv, &fake_conns[i]);
        assert_int_equal(sio_client_message(fake_conns[i].client, "0", 1, false), 0);
    }
    free(fake_pop_frame(&fake_conns[0])); /* fake_conns[1] keeps its CONNECT answer queued: busy */
    sio_to to = {.is_volatile = true};
    assert_int_equal(sio_emit(sio_nsp_get(srv, "/"), &to, "typing", NULL), 1);
    char *got = fake_pop_frame(&fake_conns[0]);
    assert_string_equal(got, "42[\"typing\"]");
    free(got);
    assert_int_equal(fake_conns[1].nframes, 1);
    for (int i = 0; i < 2; i++) {
        sio_client_closed(fake_conns[i].client, "test over");
        while (fake_conns[i].nframes)
            free(fake_pop_frame(&fake_conns[i]));
    }
    while (nlog)
        free(pop_log());
    sio_server_free(srv);
}

/* Many clients opened over time (ten a millisecond): odd ones join /many
 * and get an ack timeout each (every fourth answers it in time), even ones
 * join nothing (every sixth goes before its deadline). Each deadline fires
 * at its own time and only for its own client; what went has none left. */
static void test_many(void **state) {
    (void)state;
    log_set(LOG_LEVEL_WARN, LOG_FORMAT_KV); /* a line per closed client otherwise */
    sio_server *srv = server_new(0);
    fake_conn *conns = calloc(MANY, sizeof *conns);
    long long opened[MANY];
    assert_non_null(conns);
    memset(many_answers, 0, sizeof many_answers);
    fake_clock_ms = 1000000;
    long long start = fake_clock_ms;
    for (int i = 0; i < MANY; i++) {
        if (i % 10 == 0 && i) fake_clock_advance(test_clock, 1);
        fake_conn *f = &conns[i];
        snprintf(f->peer, sizeof f->peer, "p%d", i);
        f->client = sio_client_open(srv, f);
        assert_non_null(f->client);
        f->open = true;
        opened[i] = fake_clock_ms;
        if (i % 2) assert_int_equal(sio_client_message(f->client, "0/many,", 7, false), 0);
    }
    assert_int_equal(sio_server_sockets(srv), MANY / 2);
    /* to the end of the last deadline, a millisecond at a time */
    for (long long now = fake_clock_ms; now <= start + MANY / 10 + 5001; now++) {
        fake_clock_advance(test_clock, now - fake_clock_ms);
        for (int i = 0; i < MANY; i++) {
            fake_conn *f = &conns[i];
            if (i % 2 == 0 && i % 6 == 0 && f->open && now >= opened[i] + 1000) {
                f->open = false; /* before its deadline: cancelled */
                sio_client_closed(f->client, "transport close");
            }
            if (i % 4 == 1 && !many_answers[i] && now >= opened[i] + 500) {
                assert_int_equal(sio_client_message(f->client, "3/many,0[\"ok\"]", 14, false), 0);
                assert_int_equal(many_answers[i], 1);
            }
            bool due = i % 2 == 0 && i % 6 != 0 && now > opened[i] + 5000;
            if ((f->close_status == 1008) != due)
                fail_msg("client %d opened at %lld: close status %d at %lld", i, opened[i],
                         f->close_status, now);
        }
    }
    for (int i = 0; i < MANY; i++) {
        fake_conn *f = &conns[i];
        if (i % 2) assert_int_equal(many_answers[i], 1);
        if (f->open) sio_client_closed(f->client, "test over");
        while (f->nframes)
            free(fake_pop_frame(f));
    }
    fake_clock_advance(test_clock, 0); /* the addresses are forgotten */
    assert_false(ws_clock_next(test_clock, NULL));
    assert_int_equal(sio_server_sockets(srv), 0);
    sio_server_free(srv);
    free(conns);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_volatile),
        cmocka_unit_test(test_many),
    };
    test_clock = fake_clock_new();
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    ws_clock_free(test_clock);
    return failed;
}
