/* address_share.c -- sessions per client address across ws processes, in the
 * store (runs in the lws service thread, as eio's hooks do) */
#include "address_share.h"

#include "log.h"

static int address_elsewhere(const char *addr, void *ud) {
    address_share *share = ud;
    int64_t n = 0;
    if (store_address_sessions_elsewhere(share->st, share->process_id, addr, &n)) {
        log_event(LOG_LEVEL_WARN, "address sessions: read failed", "error", store_errmsg(share->st),
                  NULL);
        return -1;
    }
    return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

static void address_changed(const char *addr, int n, void *ud) {
    address_share *share = ud;
    if (store_address_sessions_set(share->st, share->process_id, addr, n))
        log_event(LOG_LEVEL_WARN, "address sessions: write failed", "error",
                  store_errmsg(share->st), NULL);
}

void address_share_attach(address_share *share, eio_config *cfg) {
    cfg->address_elsewhere = address_elsewhere;
    cfg->address_changed = address_changed;
    cfg->address_ud = share;
}
