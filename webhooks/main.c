/* main.c -- chat-webhooks: delivers the message log to the registered
 * webhooks (README "Webhooks"). One process on the libwebsockets event loop:
 * a timer looks for webhooks due, takes each one's lease in the store, sends
 * its next batch as one signed POST (one request in flight per webhook) and
 * records the answer: the cursor moves on a 2xx, else the webhook backs off
 * and is parked after too many failures. Several processes may run; the
 * lease keeps a webhook with one of them at a time. */
#include <libwebsockets.h>
#include <sodium.h>

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "post.h"
#include "settings.h"
#include "store.h"
#include "webhook_store.h"

#define FLIGHTS_MAX 64

typedef struct options {
    const char *db;
    int64_t poll_ms, batch, lease_ms, timeout_ms;
    int64_t retry_base_ms, retry_cap_ms, max_attempts, park_after_ms;
    int flights;
} options;

/* One webhook being delivered by this process. */
typedef struct flight {
    bool busy;
    int64_t id, first, upto, n, attempts, lease_until;
    unsigned char *buf; /* LWS_PRE, then the body */
    char delivery[64], stamp[24], signature[80];
    char url[WEBHOOK_URL_MAX + 1];
    post_req req;
} flight;

typedef struct sender {
    options opt;
    store *st;
    struct lws_context *context;
    lws_sorted_usec_list_t tick;
    char owner[96];
    flight flights[FLIGHTS_MAX];
} sender;

static volatile sig_atomic_t stopping;
static sender *the_sender; /* the answers' callbacks reach it through here */

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

/* The wait before try attempts+1: base doubling per failure up to the cap,
 * then a random half of it taken off, so failing webhooks spread out. */
static int64_t backoff_ms(const options *o, int64_t attempts) {
    int64_t d = o->retry_base_ms;
    for (int64_t i = 0; i < attempts && d < o->retry_cap_ms; i++)
        d *= 2;
    if (d > o->retry_cap_ms) d = o->retry_cap_ms;
    return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
}

/* ---- a batch into a signed body --------------------------------------- */

typedef struct batch_build {
    json_t *events;
    int64_t first, last, n;
} batch_build;

static int batch_add(const webhook_event *e, void *ctx) {
    batch_build *b = ctx;
    json_t *ev = json_pack("{s:I,s:s,s:s,s:I,s:s,s:s,s:I}", "id", (json_int_t)e->id, "event",
                           webhook_event_name(e->kind), "room", e->room ? e->room : "", "room_id",
                           (json_int_t)e->room_id, "user", e->user ? e->user : "", "text",
                           e->text ? e->text : "", "ts", (json_int_t)e->ts);
    if (e->target) json_object_set_new(ev, "target", json_integer(e->target));
    json_array_append_new(b->events, ev);
    if (!b->first) b->first = e->id;
    b->last = e->id;
    b->n++;
    return 0;
}

/* Signs "<timestamp>.<body>" with the webhook's secret (32 bytes, given in hex). */
static bool sign(flight *f, const char *secret_hex, const unsigned char *body, size_t len) {
    unsigned char key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;

    if (sodium_hex2bin(key, sizeof key, secret_hex, strlen(secret_hex), NULL, NULL, NULL) != 0)
        return false;
    crypto_auth_hmacsha256_init(&state, key, sizeof key);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)f->stamp, strlen(f->stamp));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&state, body, len);
    crypto_auth_hmacsha256_final(&state, mac);
    memcpy(f->signature, "v1=", 3);
    sodium_bin2hex(f->signature + 3, sizeof f->signature - 3, mac, sizeof mac);
    sodium_memzero(key, sizeof key);
    return true;
}

/* ---- one delivery ----------------------------------------------------- */

static void flight_end(sender *s, flight *f) {
    webhook_release(s->st, f->id, s->owner);
    free(f->buf);
    f->buf = NULL;
    f->busy = false;
}

static void on_answer(post_req *req, int status, const char *error) {
    flight *f = req->user;
    sender *s = the_sender;
    int64_t now = store_now_ms();
    bool held = false;
    char why[200];
    int rc;

    if (status >= 200 && status < 300) {
        rc = webhook_delivered(s->st, f->id, s->owner, f->upto, f->n, status, &held);
        log_event(held ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                  held ? "webhook: delivered" : "webhook: delivered after losing the lease",
                  "webhook", LOG_I(f->id), "delivery", f->delivery, "events", LOG_I(f->n), NULL);
    } else {
        if (status)
            snprintf(why, sizeof why, "HTTP %d", status);
        else
            snprintf(why, sizeof why, "%s", error ? error : "no answer");
        rc = webhook_failed(s->st, f->id, s->owner, status, why, now,
                            now + backoff_ms(&s->opt, f->attempts), s->opt.max_attempts,
                            s->opt.park_after_ms);
        log_event(LOG_LEVEL_INFO, "webhook: attempt failed", "webhook", LOG_I(f->id), "delivery",
                  f->delivery, "error", why, "attempts", LOG_I(f->attempts + 1), NULL);
    }
    if (rc != STORE_OK)
        log_event(LOG_LEVEL_WARN, "webhook: store", "error", store_errmsg(s->st), NULL);
    flight_end(s, f);
}

static int read_webhook(const webhook *w, void *ctx) {
    flight *f = ctx;
    f->attempts = w->attempts;
    snprintf(f->url, sizeof f->url, "%s", w->url);
    return 1;
}

/* Sends the next batch of webhook id, already leased, in slot f. Returns
 * false (the lease given back) when there is nothing to send. */
static bool flight_start(sender *s, flight *f, int64_t id) {
    char secret[WEBHOOK_SECRET_HEX + 1] = "";
    batch_build b = {json_array(), 0, 0, 0};
    json_t *body;
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(f, 0, sizeof *f);
    f->id = id;
    f->busy = true;
    f->lease_until = store_now_ms() + s->opt.lease_ms;
    rc = webhook_get(s->st, id, read_webhook, f);
    if (rc == STORE_OK) rc = webhook_batch(s->st, id, (int)s->opt.batch, secret, batch_add, &b);
    if (rc == STORE_OK && b.n > 0) rc = webhook_batch_fix(s->st, id, s->owner, b.last);
    if (rc != STORE_OK && rc != STORE_NOTFOUND)
        log_event(LOG_LEVEL_WARN, "webhook: store", "error", store_errmsg(s->st), NULL);
    if (rc == STORE_OK && b.n > 0) {
        f->first = b.first;
        f->upto = b.last;
        f->n = b.n;
        snprintf(f->delivery, sizeof f->delivery, "%" PRId64 "-%" PRId64 "-%" PRId64, id, b.first,
                 b.last);
        body = json_pack("{s:I,s:s,s:O}", "webhook", (json_int_t)id, "delivery", f->delivery,
                         "events", b.events);
        text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
    }
    json_decref(b.events);
    if (text) {
        len = strlen(text);
        f->buf = malloc(LWS_PRE + len);
        if (f->buf) memcpy(f->buf + LWS_PRE, text, len);
        free(text);
    }
    snprintf(f->stamp, sizeof f->stamp, "%" PRId64, store_now_ms() / 1000);
    if (!f->buf || !sign(f, secret, f->buf + LWS_PRE, len)) {
        sodium_memzero(secret, sizeof secret);
        flight_end(s, f);
        return false;
    }
    sodium_memzero(secret, sizeof secret);
    f->req = (post_req){
        .url = f->url,
        .body = f->buf + LWS_PRE,
        .body_len = len,
        .header_names = {"content-type:", "x-chat-delivery:", "x-chat-timestamp:",
                         "x-chat-signature:", "user-agent:"},
        .header_values = {"application/json", f->delivery, f->stamp, f->signature, "chat-webhooks"},
        .timeout_ms = (int)s->opt.timeout_ms,
        .done = on_answer,
        .user = f,
    };
    log_event(LOG_LEVEL_DEBUG, "webhook: sending", "webhook", LOG_I(id), "delivery", f->delivery,
              NULL);
    post_start(s->context, &f->req); /* a failure to start answers at once */
    return true;
}

/* ---- the timer -------------------------------------------------------- */

static flight *flight_of(sender *s, int64_t id) {
    for (int i = 0; i < s->opt.flights; i++)
        if (s->flights[i].busy && s->flights[i].id == id) return &s->flights[i];
    return NULL;
}

static flight *flight_free(sender *s) {
    for (int i = 0; i < s->opt.flights; i++)
        if (!s->flights[i].busy) return &s->flights[i];
    return NULL;
}

/* Renews the leases of the requests in flight well before they expire, so a
 * slow receiver keeps its webhook with this process. */
static void renew_leases(sender *s, int64_t now) {
    for (int i = 0; i < s->opt.flights; i++) {
        flight *f = &s->flights[i];
        bool got = false;
        if (!f->busy || f->lease_until - now > s->opt.lease_ms / 2) continue;
        if (webhook_lease(s->st, f->id, s->owner, now, now + s->opt.lease_ms, &got) == STORE_OK &&
            got)
            f->lease_until = now + s->opt.lease_ms;
        else
            log_event(LOG_LEVEL_WARN, "webhook: lease not renewed", "webhook", LOG_I(f->id), NULL);
    }
}

static void on_tick(lws_sorted_usec_list_t *sul) {
    sender *s = lws_container_of(sul, sender, tick);
    int64_t now = store_now_ms(), ids[FLIGHTS_MAX];
    int n = 0;

    renew_leases(s, now);
    if (!stopping && flight_free(s) && webhook_due(s->st, now, ids, FLIGHTS_MAX, &n) == STORE_OK) {
        for (int i = 0; i < n; i++) {
            flight *f = flight_free(s);
            bool got = false;
            if (!f) break;
            if (flight_of(s, ids[i])) continue;
            if (webhook_lease(s->st, ids[i], s->owner, now, now + s->opt.lease_ms, &got) !=
                    STORE_OK ||
                !got)
                continue;
            flight_start(s, f, ids[i]);
        }
    }
    lws_sul_schedule(s->context, 0, &s->tick, on_tick, s->opt.poll_ms * LWS_US_PER_MS);
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *to) {
    fputs("usage: chat-webhooks --db PATH|URL [--poll-ms N] [--batch N] [--lease-ms N]\n"
          "         [--timeout-ms N] [--retry-base-ms N] [--retry-cap-ms N]\n"
          "         [--max-attempts N] [--park-after-s N] [--parallel N]\n"
          "Delivers the message log to the webhooks registered with POST /api/webhooks.\n",
          to);
}

static bool parse_options(int argc, char **argv, options *o) {
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"poll-ms", required_argument, NULL, 'p'},
        {"batch", required_argument, NULL, 'b'},
        {"lease-ms", required_argument, NULL, 'l'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"retry-base-ms", required_argument, NULL, 'r'},
        {"retry-cap-ms", required_argument, NULL, 'c'},
        {"max-attempts", required_argument, NULL, 'm'},
        {"park-after-s", required_argument, NULL, 'a'},
        {"parallel", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct {
        int key;
        int64_t *to, min, max;
    } nums[] = {
        {'p', &o->poll_ms, 10, 60000},         {'b', &o->batch, 1, 500},
        {'l', &o->lease_ms, 1000, 3600000},    {'t', &o->timeout_ms, 100, 600000},
        {'r', &o->retry_base_ms, 10, 3600000}, {'c', &o->retry_cap_ms, 10, 86400000},
        {'m', &o->max_attempts, 1, 1000000},   {'a', &o->park_after_ms, 1, 365LL * 86400},
    };
    int64_t parallel = o->flights;
    int c;

    while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        if (c == 'd') {
            o->db = optarg;
            continue;
        }
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        int64_t *to = c == 'n' ? &parallel : NULL, min = 1, max = FLIGHTS_MAX;
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
            if (nums[i].key == c) to = nums[i].to, min = nums[i].min, max = nums[i].max;
        char *end;
        long long v = to ? strtoll(optarg, &end, 10) : 0;
        if (!to || *end || end == optarg || v < min || v > max) {
            usage(stderr);
            return false;
        }
        *to = c == 'a' ? v * 1000 : v;
    }
    o->flights = (int)parallel;
    if (!o->db || optind != argc) {
        usage(stderr);
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    static sender s = {
        .opt = {NULL, 200, 100, 30000, 10000, 1000, 300000, 1000, 86400000, 16},
    };
    struct lws_protocols list[2] = {post_protocol, {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    char err[256], host[64] = "";
    unsigned char nonce[6];
    char nonce_hex[sizeof nonce * 2 + 1];

    chat_settings cs;
    store_options so = {0};
    log_init("chat-webhooks");
    settings_read(&cs);
    settings_apply(&cs);
    settings_store_options(&cs, &so);
    the_sender = &s;
    if (!parse_options(argc, argv, &s.opt)) return 2;
    if (s.opt.retry_cap_ms < s.opt.retry_base_ms) s.opt.retry_cap_ms = s.opt.retry_base_ms;
    if (sodium_init() < 0) {
        log_event(LOG_LEVEL_ERROR, "chat-webhooks: libsodium", NULL);
        return 1;
    }
    if (store_open(&s.st, s.opt.db, &so, err, sizeof err) != STORE_OK) {
        log_event(LOG_LEVEL_ERROR, "chat-webhooks: cannot open the store", "error", err, NULL);
        return 1;
    }
    gethostname(host, sizeof host - 1);
    randombytes_buf(nonce, sizeof nonce);
    sodium_bin2hex(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
    snprintf(s.owner, sizeof s.owner, "%s:%ld:%s", host, (long)getpid(), nonce_hex);

    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = list;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = &s;
    s.context = lws_create_context(&info);
    if (!s.context) {
        log_event(LOG_LEVEL_ERROR, "chat-webhooks: lws context failed", NULL);
        store_close(s.st);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    log_event(LOG_LEVEL_INFO, "chat-webhooks: started", "owner", s.owner, NULL);
    lws_sul_schedule(s.context, 0, &s.tick, on_tick, 1);
    while (!stopping)
        if (lws_service(s.context, 0) < 0) break;
    /* Requests in flight are dropped: their leases go back, and another
     * process (or this one, restarted) sends those batches again. */
    for (int i = 0; i < s.opt.flights; i++)
        if (s.flights[i].busy) webhook_release(s.st, s.flights[i].id, s.owner);
    lws_context_destroy(s.context);
    store_close(s.st);
    log_event(LOG_LEVEL_INFO, "chat-webhooks: stopped", NULL);
    return 0;
}
