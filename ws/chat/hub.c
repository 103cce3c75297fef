/* hub.c -- the one owner of following the log: the delivered cursors of the message log and of
 * the control log, catch-up, publishing after a commit, and the bus's handlers */
#include "hub.h"

#include <stdlib.h>

#include "bus_lws.h"
#include "log.h"

/* Pages of the message log read in one catch-up, at most (each page is 1000
 * messages): a bound on the work of one wake-up; the next one goes on. */
#define HUB_MESSAGE_PAGES 10000
/* The same for the control log (pages of 1000 events). */
#define HUB_CONTROL_PAGES 1000

struct hub {
    store *st;
    bus *bus;
    int64_t cursor;         /* last message delivered */
    int64_t control_cursor; /* last control event applied */
    hub_deliver_fn deliver;
    void *deliver_ud;
    hub_control_fn control;
    void *control_ud;
    hub_ephemeral_fn ephemeral;
    void *ephemeral_ud;
    hub_metrics metrics; /* all NULL when hub_new was given none */
};

hub_step hub_message_step(int64_t cursor, const store_message *m) {
    return m && m->id <= cursor ? HUB_SKIP : HUB_READ_LOG;
}

int hub_pages(const int64_t *cursor, int64_t upto, int max_pages, int (*page)(void *ud), void *ud) {
    for (int i = 0; i < max_pages; i++) {
        int64_t before = *cursor;
        if (page(ud)) return -1;
        if (*cursor == before || *cursor >= upto) return 0;
    }
    return -1;
}

/* ---- messages --------------------------------------------------------- */

static void deliver(hub *h, const store_message *m) {
    h->cursor = m->id;
    if (h->deliver) h->deliver(m, h->deliver_ud);
}

/* The bus's lag: from a message's commit (its ts) to its delivery here. */
static void observe_lag(hub *h, const store_message *m) {
    metrics_observe(h->metrics.bus_lag_seconds, (double)(store_now_ms() - m->ts) / 1000.0);
}

typedef struct catch_up_ctx {
    hub *h;
    int64_t upto; /* the last id to deliver */
} catch_up_ctx;

static int deliver_logged(const store_message *m, void *ud) {
    catch_up_ctx *cu = ud;
    if (m->id > cu->upto) return 1;
    observe_lag(cu->h, m);
    deliver(cu->h, m);
    return 0;
}

static int read_log_page(void *ud) {
    catch_up_ctx *cu = ud;
    if (store_log_tail(cu->h->st, cu->h->cursor, 1000, deliver_logged, cu) == STORE_OK) return 0;
    metrics_inc(cu->h->metrics.db_errors);
    log_event(LOG_LEVEL_WARN, "hub: tail read failed", "error", store_errmsg(cu->h->st), NULL);
    return -1;
}

int hub_catch_up(hub *h, int64_t upto) {
    catch_up_ctx cu = {h, upto};
    return hub_pages(&h->cursor, upto, HUB_MESSAGE_PAGES, read_log_page, &cu);
}

int64_t hub_cursor(const hub *h) {
    return h->cursor;
}

bool hub_commit_begin(hub *h, int64_t first) {
    /* When first does not follow the cursor, another process committed in
     * between: its rows are read from the log, up to ours, so that every
     * socket sees the log's order. */
    bool ok = first <= h->cursor + 1 || hub_catch_up(h, first - 1) == 0;
    if (ok && h->cursor < first - 1) h->cursor = first - 1; /* ids nobody holds now */
    return ok;
}

void hub_deliver_committed(hub *h, const store_message *m) {
    if (m->id > h->cursor) deliver(h, m);
}

void hub_commit_end(hub *h, const store_message *mine, size_t n) {
    bus_publish_messages(h->bus, mine, n);
}

/* A message notification from the bus: what it claims is never delivered,
 * only what the log holds (issue 21.11: a forged datagram). */
static void on_bus_messages(const store_message *m, void *ud) {
    hub *h = ud;
    if (hub_message_step(h->cursor, m) == HUB_READ_LOG) hub_catch_up(h, INT64_MAX);
}

/* ---- control events --------------------------------------------------- */

static int apply_logged(int64_t id, const char *kind, const char *payload, void *ud) {
    hub *h = ud;
    h->control_cursor = id;
    if (h->control) h->control(id, kind, payload, h->control_ud);
    return 0;
}

static int read_control_page(void *ud) {
    hub *h = ud;
    if (store_control_tail(h->st, h->control_cursor, apply_logged, h) == STORE_OK) return 0;
    log_event(LOG_LEVEL_WARN, "hub: control log read failed", "error", store_errmsg(h->st), NULL);
    return -1;
}

void hub_control_catch_up(hub *h) {
    hub_pages(&h->control_cursor, INT64_MAX, HUB_CONTROL_PAGES, read_control_page, h);
}

bool hub_control_committed(hub *h, int64_t id) {
    if (id == h->control_cursor + 1) {
        h->control_cursor = id;
        return true;
    }
    hub_control_catch_up(h);
    return false;
}

void hub_control_published(hub *h, int64_t id) {
    bus_publish_control(h->bus, id);
}

static void on_bus_control(void *ud) {
    hub_control_catch_up(ud);
}

static void on_bus_ephemeral(const char *data, size_t len, void *ud) {
    hub *h = ud;
    if (h->ephemeral) h->ephemeral(data, len, h->ephemeral_ud);
}

/* ---- lifecycle -------------------------------------------------------- */

int hub_listen(hub *h, struct lws_context *ctx, struct lws_vhost *vh, int fallback_ms) {
    static const bus_handlers handlers = {on_bus_messages, on_bus_control, on_bus_ephemeral};
    return bus_listen(h->bus, ctx, vh, &handlers, h, fallback_ms);
}

void hub_on_messages(hub *h, hub_deliver_fn fn, void *ud) {
    h->deliver = fn;
    h->deliver_ud = ud;
}

void hub_on_control(hub *h, hub_control_fn fn, void *ud) {
    h->control = fn;
    h->control_ud = ud;
}

void hub_on_ephemeral(hub *h, hub_ephemeral_fn fn, void *ud) {
    h->ephemeral = fn;
    h->ephemeral_ud = ud;
}

hub *hub_new(store *st, bus *b, const hub_metrics *m) {
    hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->st = st;
    h->bus = b;
    if (m) h->metrics = *m;
    if (store_log_head(st, &h->cursor)) h->cursor = 0;
    if (store_control_head(st, &h->control_cursor)) h->control_cursor = 0;
    return h;
}

void hub_free(hub *h) {
    free(h);
}
