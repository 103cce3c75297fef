/* main.c -- the live-socket process: options, the lws context, the service loop */
#include <assert.h>
#include <ev.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "adapter.h"
#include "address_share.h"
#include "admin.h"
#include "admin_ui.h"
#include "bus_lws.h"
#include "chat.h"
#include "clock_lws.h"
#include "conformance.h"
#include "contract.h"
#include "eio.h"
#include "hub.h"
#include "issue_token.h"
#include "log.h"
#include "netaddr.h"
#include "presence.h"
#include "process_heartbeat.h"
#include "pruner.h"
#include "retention.h"
#include "settings.h"
#include "sio.h"
#include "store.h"
#include "token.h"
#include "wsmetrics.h"

typedef struct options {
    const char *db;
    char host[128];
    int port;
    const char *unix_path;
    eio_config eio;
    sio_config sio;
    chat_config chat;
    store_options store;
    int heartbeat_ms;
    int drain_ms;     /* SIGTERM: how long sessions get to close before exit */
    int prune_ms;     /* period of the retention step */
    int bus_poll_ms;  /* the bus's fallback poll of the store */
    int prune_batch;  /* rows per table per step */
    bool conformance; /* the official test suites' server, not the chat */
    bool issue_token; /* print a token and exit */
    issue_token_options token;
    chat_settings env; /* the environment's settings (settings_read), under the options */
} options;

static struct lws_context *context;

/* SIGINT and SIGTERM: libev turns them into a callback on the loop, which
 * leaves the loop; main() then drains. */
static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)w, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* The options without a number; the numeric ones come from the contract's
 * table (common/contract.h), their defaults and ranges with them. */
static void usage(FILE *f) {
    fprintf(f, "usage: chat-ws --db PATH --listen HOST:PORT|unix:PATH [options]\n"
               "  --open-workspaces      a CONNECT may create a workspace (default: only the\n"
               "                         admin REST API creates them)\n"
               "  --allowed-origins LIST Origins that may connect, comma-separated, or *\n"
               "                         (default: the site's own; no Origin: allowed)\n"
               "  --node C               first character of every sid (0-9 a-z), so nginx can\n"
               "                         route a polling session to its process\n"
               "                         (default: \"0-9a-z\"[port %% 36])\n"
               "  --no-polling           WebSocket only\n"
               "  --cors-origin ORIGIN   Access-Control-Allow-Origin for polling requests\n"
               "  --conformance          serve what the official Engine.IO v4 / Socket.IO v5\n"
               "                         test suites expect instead of the chat (no --db needed)\n"
               "  --sync normal|full     SQLite synchronous: crash-safe or power-loss-safe\n"
               "                         (default: $CHAT_SYNC, else normal)\n"
               "  --print-limits         print the table of limits and defaults (Markdown)\n");
    contract_usage(f, CONTRACT_WS);
    fprintf(f, "chat-ws --issue-token [--admin] [--workspace /NS] [--sub NAME] [--ttl SECONDS]\n"
               "  prints an HS256 token signed with the server secret, then exits; --sub\n"
               "  makes it the credential of user NAME (admin tokens: sub \"admin\")\n"
               "environment: CHAT_DB for --db; CHAT_SYNC for --sync; CHAT_MAX_ROOMS, rooms per\n"
               "namespace; CHAT_SECRET or CHAT_SECRET_FILE, the token secret; CHAT_LOG_LEVEL\n"
               "debug|info|warn|error (info); CHAT_LOG_FORMAT kv|json (kv)\n");
}

static long port_arg(const char *v) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || n < 1 || n > 65535) {
        fprintf(stderr, "chat-ws: the --listen port must be a number in 1..65535\n");
        exit(2);
    }
    return n;
}

/* getopt_long's value of the table's option of row id. */
#define OPT_TABLE 1000

/* Sets the field of row id (an option of chat-ws) from its text, checked
 * against the table's range; exits with status 2 when it is out of it. */
static void table_option(options *o, contract_id id, const char *text) {
    char err[128];
    long long v = 0;
    if (id == CONTRACT_BUDGET_USER_MINUTE) { /* --write-budget: four counts */
        if (store_write_budget_parse(&o->chat.budget, text)) {
            fprintf(stderr, "chat-ws: --write-budget wants four counts, UM/UD/AM/AD\n");
            exit(2);
        }
        return;
    }
    if (contract_parse(id, text, &v, err, sizeof err)) {
        fprintf(stderr, "chat-ws: %s\n", err);
        exit(2);
    }
    switch (id) {
    case CONTRACT_PING_INTERVAL:
        o->eio.ping_interval_ms = (int)v;
        break;
    case CONTRACT_PING_TIMEOUT:
        o->eio.ping_timeout_ms = (int)v;
        break;
    case CONTRACT_MAX_PAYLOAD:
        o->eio.max_payload = v;
        break;
    case CONTRACT_MAX_CONNECTIONS:
        o->eio.max_connections = (int)v;
        break;
    case CONTRACT_MAX_PER_ADDRESS:
        o->eio.max_per_address = (int)v;
        break;
    case CONTRACT_BODY_TIMEOUT:
        o->eio.body_timeout_ms = (int)v;
        break;
    case CONTRACT_MAX_POSTS_PER_ADDRESS:
        o->eio.max_posts_per_address = (int)v;
        break;
    case CONTRACT_MAX_QUEUE_BYTES:
        o->eio.max_queue_bytes = (size_t)v;
        break;
    case CONTRACT_CONNECT_TIMEOUT:
        o->sio.connect_timeout_ms = (int)v;
        break;
    case CONTRACT_MAX_ROOMS:
        o->sio.max_rooms = (size_t)v;
        break;
    case CONTRACT_RATE:
        o->sio.rate = (int)v;
        break;
    case CONTRACT_BURST:
        o->sio.burst = (int)v;
        break;
    case CONTRACT_CONNECT_RATE:
        o->sio.connect_rate = (int)v;
        break;
    case CONTRACT_CONNECT_BURST:
        o->sio.connect_burst = (int)v;
        break;
    case CONTRACT_MAX_EVENT_NAME:
        o->sio.limits.max_event_name = (size_t)v;
        break;
    case CONTRACT_MAX_ARGS:
        o->sio.limits.max_args = (size_t)v;
        break;
    case CONTRACT_MAX_DEPTH:
        o->sio.limits.max_depth = (int)v;
        break;
    case CONTRACT_MAX_JSON_VALUES:
        o->sio.limits.max_values = (size_t)v;
        break;
    case CONTRACT_MAX_ATTACHMENTS:
        o->sio.limits.max_attachments = (size_t)v;
        break;
    case CONTRACT_MAX_PENDING_BYTES:
        o->sio.max_pending_bytes = (size_t)v;
        break;
    case CONTRACT_MAX_PENDING_TOTAL:
        o->sio.max_pending_total = (size_t)v;
        break;
    case CONTRACT_ATTACHMENT_TIMEOUT:
        o->sio.attachment_timeout_ms = (int)v;
        break;
    case CONTRACT_RECOVERY_WINDOW:
        o->chat.recovery_window_ms = v;
        break;
    case CONTRACT_MAX_WORKSPACES:
        o->chat.max_workspaces = (int)v;
        break;
    case CONTRACT_WORKSPACE_RATE:
        o->chat.workspace_rate = (int)v;
        break;
    case CONTRACT_MAX_REPLAY:
        o->chat.max_replay = (int)v;
        break;
    case CONTRACT_PRESENCE_INTERVAL:
        o->chat.presence_interval_ms = (int)v;
        break;
    case CONTRACT_DRAIN_TIMEOUT:
        o->drain_ms = (int)v;
        break;
    case CONTRACT_PRUNE_INTERVAL:
        o->prune_ms = (int)v;
        break;
    case CONTRACT_PRUNE_BATCH:
        o->prune_batch = (int)v;
        break;
    case CONTRACT_BUS_POLL:
        o->bus_poll_ms = (int)v;
        break;
    case CONTRACT_TOKEN_TTL:
        o->token.ttl = (long)v;
        break;
    default:
        assert(!"an option of the table without a field");
        break;
    }
}

static void parse(int argc, char **argv, options *o) {
    enum {
        OPEN_WS = 256,
        SYNC,
        ORIGINS,
        CONFORMANCE,
        NODE,
        NO_POLLING,
        CORS,
        ISSUE,
        ADMIN,
        WORKSPACE,
        SUB,
        PRINT_LIMITS,
    };
    static const struct option fixed[] = {
        {"db", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'},
        {"open-workspaces", no_argument, 0, OPEN_WS},
        {"sync", required_argument, 0, SYNC},
        {"allowed-origins", required_argument, 0, ORIGINS},
        {"conformance", no_argument, 0, CONFORMANCE},
        {"node", required_argument, 0, NODE},
        {"no-polling", no_argument, 0, NO_POLLING},
        {"cors-origin", required_argument, 0, CORS},
        {"issue-token", no_argument, 0, ISSUE},
        {"admin", no_argument, 0, ADMIN},
        {"workspace", required_argument, 0, WORKSPACE},
        {"sub", required_argument, 0, SUB},
        {"print-limits", no_argument, 0, PRINT_LIMITS},
        {"help", no_argument, 0, 'h'},
    };
    /* the fixed options, then one per option of the table */
    struct option longopts[sizeof fixed / sizeof *fixed + CONTRACT_COUNT + 1];
    size_t n = 0;
    for (; n < sizeof fixed / sizeof *fixed; n++)
        longopts[n] = fixed[n];
    for (int i = 0; i < CONTRACT_COUNT; i++) {
        const contract_limit *l = contract_get((contract_id)i);
        if (l->option && (l->programs & CONTRACT_WS) && contract_find_option(l->option) == l)
            longopts[n++] = (struct option){l->option + 2, required_argument, 0, OPT_TABLE + i};
    }
    longopts[n] = (struct option){0, 0, 0, 0};
    o->db = getenv("CHAT_DB");
    settings_read(&o->env);
    settings_store_options(&o->env, &o->store);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = 9101;
    o->heartbeat_ms = 5000;
    o->drain_ms = (int)contract_default(CONTRACT_DRAIN_TIMEOUT);
    o->prune_ms = (int)contract_default(CONTRACT_PRUNE_INTERVAL);
    o->prune_batch = (int)contract_default(CONTRACT_PRUNE_BATCH);
    o->bus_poll_ms = (int)contract_default(CONTRACT_BUS_POLL);
    /* Short: the event loop serves everyone and must not sit in a lock wait.
     * Housekeeping writes simply retry at the next beat; the group commit
     * retries from a timer until its own deadline (chat.c). */
    o->store.busy_timeout_ms = 100;
    o->sio.rate = (int)contract_default(CONTRACT_RATE);
    o->sio.connect_rate = (int)contract_default(CONTRACT_CONNECT_RATE);
    o->chat.presence_interval_ms = (int)contract_default(CONTRACT_PRESENCE_INTERVAL);
    o->chat.budget = o->env.write_budget;
    o->token.ttl = (long)contract_default(CONTRACT_TOKEN_TTL); /* issued tokens always expire */
    int c;
    while ((c = getopt_long(argc, argv, "d:l:h", longopts, NULL)) != -1) {
        if (c >= OPT_TABLE && c < OPT_TABLE + CONTRACT_COUNT) {
            table_option(o, (contract_id)(c - OPT_TABLE), optarg);
            continue;
        }
        switch (c) {
        case 'd':
            o->db = optarg;
            break;
        case 'l': {
            if (strncmp(optarg, "unix:", 5) == 0) {
                o->unix_path = optarg + 5;
                break;
            }
            const char *colon = strrchr(optarg, ':');
            if (!colon || (size_t)(colon - optarg) >= sizeof o->host) {
                fprintf(stderr, "chat-ws: --listen wants HOST:PORT or unix:PATH\n");
                exit(2);
            }
            snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - optarg), optarg);
            o->port = (int)port_arg(colon + 1);
            break;
        }
        case OPEN_WS:
            o->chat.open_workspaces = true;
            break;
        case SYNC:
            if (strcmp(optarg, "normal") == 0)
                o->store.sync = STORE_SYNC_NORMAL;
            else if (strcmp(optarg, "full") == 0)
                o->store.sync = STORE_SYNC_FULL;
            else {
                fprintf(stderr, "chat-ws: --sync is normal or full\n");
                exit(2);
            }
            break;
        case ORIGINS:
            o->eio.allowed_origins = optarg;
            break;
        case CONFORMANCE:
            /* the settings the suites were written for (their PING_INTERVAL,
             * PING_TIMEOUT) */
            o->conformance = true;
            o->eio.ping_interval_ms = 300;
            o->eio.ping_timeout_ms = 200;
            /* longer than any of the suites' cases: the polling ping/pong
             * case takes three heartbeats (~1 s) without a CONNECT */
            o->sio.connect_timeout_ms = 5000;
            o->eio.echo_path = "/engine.io/";
            break;
        case NODE:
            /* one character of [0-9a-z]: the first of every sid, for nginx's routing */
            if (strlen(optarg) != 1 || !((optarg[0] >= '0' && optarg[0] <= '9') ||
                                         (optarg[0] >= 'a' && optarg[0] <= 'z'))) {
                fprintf(stderr, "chat-ws: --node is one character of 0-9 a-z\n");
                exit(2);
            }
            o->eio.node = optarg[0];
            break;
        case NO_POLLING:
            o->eio.no_polling = true;
            break;
        case CORS:
            o->eio.cors_origin = optarg;
            break;
        case ISSUE:
            o->issue_token = true;
            break;
        case ADMIN:
            o->token.admin = true;
            break;
        case WORKSPACE:
            o->token.workspace = optarg;
            break;
        case SUB:
            o->token.sub = optarg;
            break;
        case PRINT_LIMITS:
            exit(contract_markdown(stdout) ? 1 : 0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (!o->eio.node && !o->unix_path)
        o->eio.node = "0123456789abcdefghijklmnopqrstuvwxyz"[o->port % 36];
    if (!o->db && !o->issue_token && !o->conformance) {
        usage(stderr);
        exit(2);
    }
}

/* Keeps every connection cap below the descriptor limit: a process that ran
 * out of descriptors would fail its database and its listener, not just the
 * extra client. Says so when it lowers a cap. */
static void clamp_to_fd_limit(eio_config *e) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY) return;
    int max = e->max_connections > 0 ? e->max_connections
                                     : (int)contract_default(CONTRACT_MAX_CONNECTIONS);
    long room = (long)rl.rlim_cur - EIO_RESERVED_FDS;
    if (room < 1) room = 1;
    if (max > room) {
        log_event(LOG_LEVEL_WARN, "chat-ws: --max-connections lowered below RLIMIT_NOFILE", "asked",
                  LOG_I(max), "now", LOG_I(room), "rlimit_nofile", LOG_I(rl.rlim_cur), NULL);
        max = (int)room;
    }
    e->max_connections = max;
    int per = e->max_per_address > 0 ? e->max_per_address
                                     : (int)contract_default(CONTRACT_MAX_PER_ADDRESS);
    if (per > max) {
        log_event(LOG_LEVEL_WARN, "chat-ws: --max-per-address lowered to --max-connections",
                  "asked", LOG_I(per), "now", LOG_I(max), NULL);
        per = max;
    }
    e->max_per_address = per;
}

/* Ephemeral bus events: the Admin UI's own first, the rest to the adapter
 * (the hub hands them here). */
typedef struct ephemeral_route {
    adapter *adapter;
    admin_ui *ui;
} ephemeral_route;

static void on_bus_ephemeral(const char *data, size_t len, void *ud) {
    ephemeral_route *r = ud;
    if (!admin_ui_ephemeral(r->ui, data, len)) adapter_ephemeral(data, len, r->adapter);
}

static void on_drain_beat(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

/* The graceful part of a SIGTERM: stop accepting (new sessions get 503, so
 * a proxy sends new clients to the other processes), let the group commit
 * of what arrived run and its acks go out, then close every Engine.IO
 * session -- a transport close, so clients reconnect and recover elsewhere
 * or after the restart -- and serve until they are gone or drain_ms has
 * passed. */
static void drain(struct ev_loop *loop, ws_clock *clock, eio_server *eio, int drain_ms) {
    size_t open = eio_server_connections(eio);
    log_event(LOG_LEVEL_INFO, "draining", "sessions", LOG_I(open), "timeout_ms", LOG_I(drain_ms),
              NULL);
    /* not lws_context_deprecate(): lws 4.1 uses the listener after freeing it */
    eio_server_drain(eio);
    long long deadline = ws_clock_now_ms(clock) + drain_ms;
    /* one turn: the group commit's timer (due at once) runs before closes */
    ev_run(loop, EVRUN_NOWAIT);
    eio_close_all(eio, 1012, "server restarting");
    /* a turn returns at least this often, to see the deadline */
    ev_timer beat;
    ev_timer_init(&beat, on_drain_beat, 0.05, 0.05);
    ev_timer_start(loop, &beat);
    while (eio_server_connections(eio) > 0 && ws_clock_now_ms(clock) < deadline)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &beat);
    log_event(LOG_LEVEL_INFO, "drained", "sessions_left", LOG_I(eio_server_connections(eio)), NULL);
}

int main(int argc, char **argv) {
    options o = {0};
    parse(argc, argv, &o);
    if (o.issue_token) {
        o.token.secret = o.env.secret;
        o.token.secret_file = o.env.secret_file;
        return issue_token_print(&o.token, stdout);
    }
    int status = 1;
    store *st = NULL;
    sio_server *sio = NULL;
    eio_server *eio = NULL;
    chat *ch = NULL;
    admin *adm = NULL;
    admin_ui *ui = NULL;
    adapter *bs = NULL;
    hub *hb_log = NULL; /* follows the message and control logs */
    bus *bu = NULL;
    clock_lws *clk = NULL;
    wsmetrics *wm = NULL;
    ws_clock *clock = NULL; /* clk's */
    token_secret secret;
    process_heartbeat hb = {0};
    pruner pr = {0};
    retention *ret = NULL;
    char err[256], listen[160], bind_addr[NETADDR_LEN];

    log_init("chat-ws");
    settings_apply(&o.env);
    wsmetrics_log_lws();
    if (!(wm = wsmetrics_new())) log_event(LOG_LEVEL_WARN, "out of memory: no metrics", NULL);
    o.eio.metrics = wsmetrics_eio(wm);
    o.sio.metrics = wsmetrics_sio(wm);
    o.chat.metrics = wsmetrics_chat(wm);
    clamp_to_fd_limit(&o.eio);
    signal(SIGPIPE, SIG_IGN);
    /* The event loop: libev on epoll, which lws serves through its libev
     * plugin. A wake-up costs what is ready, where lws's own poll() loop
     * scanned every descriptor each time. */
    struct ev_loop *loop = ev_default_loop(EVBACKEND_EPOLL);
    if (!loop) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "error", "no epoll event loop", NULL);
        return 1;
    }
    ev_signal sigint, sigterm;
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sigterm);

    if (token_secret_load(&secret, o.env.secret, o.env.secret_file, err, sizeof err)) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "error", err, NULL);
        goto out;
    }
    if (!secret.len)
        log_event(LOG_LEVEL_WARN, "no CHAT_SECRET_FILE: /admin and private workspaces refuse all",
                  NULL);
    o.chat.secret = &secret;
    if (o.unix_path)
        snprintf(listen, sizeof listen, "unix:%s", o.unix_path);
    else
        snprintf(listen, sizeof listen, "%s:%d", o.host, o.port);
    /* The conformance server keeps nothing: no database unless one is named. */
    if ((o.db || !o.conformance) && store_open(&st, o.db, &o.store, err, sizeof err)) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "error", err, NULL);
        goto out;
    }
    /* which node (its sids' first character) on which host: /api/health
     * lists every node of a deployment spread over several hosts */
    char node[2] = {o.eio.node, '\0'}, host[256] = "";
    if (gethostname(host, sizeof host - 1)) host[0] = '\0';
    if (st && store_process_register(st, getpid(), listen, node, host, &o.chat.process_id)) {
        log_event(LOG_LEVEL_ERROR, "register failed", "error", store_errmsg(st), NULL);
        goto out;
    }
    address_share shared = {st, o.chat.process_id};
    if (st && o.chat.process_id) address_share_attach(&shared, &o.eio);
    /* one clock for every timer and deadline of the process */
    clk = clock_lws_new();
    clock = clk ? clock_lws_clock(clk) : NULL;
    o.sio.clock = clock;
    sio = clk ? sio_server_new(&o.sio) : NULL;
    eio = sio ? eio_server_new(&o.eio, sio_eio_handlers(), sio) : NULL;
    if (eio && o.conformance) {
        conformance_register(sio);
    } else if (eio && !(bu = bus_open(o.db, NULL, err, sizeof err))) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "error", err, NULL);
        goto out;
    } else if (eio && (hb_log = hub_new(st, bu, wsmetrics_hub(wm))) &&
               (bs = adapter_new(sio, st, bu, hb_log))) {
        o.chat.adapter = bs;
        o.chat.hub = hb_log;
        o.chat.clock = clock;
        ch = chat_new(sio, st, &o.chat);
        adm = ch ? admin_new(sio, st, bs, &secret) : NULL;
        ui = adm ? admin_ui_new(sio, &secret, bu) : NULL;
    }
    if (!eio || (!o.conformance && !ui)) {
        log_event(LOG_LEVEL_ERROR, "out of memory", NULL);
        goto out;
    }

    wsmetrics_attach(wm, eio, sio, &secret);
    struct lws_protocols protocols[] = {
        /* rx_buffer_size 512: lws allocates it per connection (4 KB by
         * default); bigger messages arrive in pieces, which eio gathers.
         * It is also the most one read takes: a client that pipelines its
         * messages is read 512 bytes a turn. Measured (issue 22): 256 saves
         * ~330 bytes per idle socket (heaptrack, lws's bytes 1,795 at 512,
         * 1,464 at 256) but cut durable acked msg/s of one client with 256
         * in flight from 23,820 to 16,230 (sync=FULL 10,940 to 6,372): more
         * reads, smaller group commits. Throughput of committed messages
         * wins. */
        {"eio", eio_lws_callback, eio_pss_size(), 512, 0, NULL, 0},
        {BUS_PROTOCOL, bus_lws_callback, 0, 0, 0, NULL, 0},
        {WSMETRICS_PROTOCOL, wsmetrics_lws_callback, 0, 0, 0, wm, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.protocols = protocols;
    /* GET /metrics goes to its own protocol; every other request to eio */
    static const struct lws_http_mount metrics_mount = {
        .mountpoint = WSMETRICS_PATH,
        .mountpoint_len = sizeof WSMETRICS_PATH - 1,
        .origin = WSMETRICS_PROTOCOL,
        .origin_protocol = LWSMPRO_CALLBACK,
    };
    info.mounts = &metrics_mount;
    info.user = eio;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.vhost_name = "chat";
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8; /* text frames must be UTF-8: close 1007 */
    if (o.unix_path) {
        info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
        info.iface = o.unix_path;
        unlink(o.unix_path);
    } else {
        /* Exactly the address asked for: lws 4.1 binds an IPv6 socket to
         * every interface when given an IPv4 address (":: port" in ss), so an
         * IPv4 listener gets an IPv4-only socket and a name is resolved here. */
        bool v6 = false;
        if (netaddr_listen_host(o.host, bind_addr, sizeof bind_addr, &v6)) {
            log_event(LOG_LEVEL_ERROR, "cannot start", "error", "--listen host does not resolve",
                      "host", o.host, NULL);
            goto out;
        }
        if (!v6) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
        info.port = o.port;
        info.iface = bind_addr;
    }
    info.timeout_secs = 20;
    /* No lws validity timer per connection: Engine.IO's heartbeat already
     * watches liveness, and lws 4.1 re-inserts that timer into one sorted list
     * on traffic, linear in the number of connections. */
    static const lws_retry_bo_t no_idle_policy = {0};
    info.retry_and_idle_policy = &no_idle_policy;
    info.fd_limit_per_thread = 0;
    info.options |= LWS_SERVER_OPTION_LIBEV;
    void *foreign_loops[] = {loop};
    info.foreign_loops = foreign_loops;
    context = lws_create_context(&info);
    if (!context) {
        /* lws says which: the address, or its libev plugin (the Debian
         * package libwebsockets-evlib-ev) */
        log_event(LOG_LEVEL_ERROR, "could not listen or load lws's libev plugin", "listen", listen,
                  NULL);
        goto out;
    }
    eio_server_start(eio, clock);
    clock_lws_start(clk, loop, context);
    ephemeral_route eph = {bs, ui};
    if (ch) hub_on_ephemeral(hb_log, on_bus_ephemeral, &eph);
    if (ch) {
        admin_ui_attach(ui, clock);
        admin_attach(adm, clock);
        /* other processes' messages, control events and typing come from
         * here; failing, the bus polls the store (typing stays here) */
        hub_listen(hb_log, context, lws_get_vhost_by_name(context, "chat"), o.bus_poll_ms);
    }
    if (st) process_heartbeat_start(&hb, clock, st, eio, o.chat.process_id, o.heartbeat_ms);
    if (ch) {
        retention_config rcfg = {.batch = o.prune_batch,
                                 .session_max_age_ms = o.chat.recovery_window_ms};
        if (!(ret = retention_new(st, &rcfg))) {
            log_event(LOG_LEVEL_ERROR, "retention failed", "error", store_errmsg(st), NULL);
            goto out;
        }
        pruner_start(&pr, clock, ret, o.prune_ms);
    }

    log_event(LOG_LEVEL_INFO, "listening", "listen", listen, "db", o.db ? o.db : "(none)", NULL);
    ev_run(loop, 0); /* until SIGINT or SIGTERM */
    if (o.drain_ms > 0) drain(loop, clock, eio, o.drain_ms);
    clock_lws_turns turns = clock_lws_turn_stats(clk);
    log_event(LOG_LEVEL_INFO, "stopping", "loop_turns", LOG_I(turns.count), "over_5ms",
              LOG_I(turns.over_5ms), "over_50ms", LOG_I(turns.over_50ms), "longest_ms",
              LOG_I(turns.longest_us / 1000), NULL);
    status = 0;
out:
    if (context) {
        /* Our timers first: they live in the context's lists. Sessions that
         * close while the context goes (WebSocket) and after it (polling, in
         * eio_server_free) still reach the chat, the bus and the store. */
        process_heartbeat_stop(&hb);
        pruner_stop(&pr);
        bus_unlisten(bu);
        eio_server_stop(eio);
        sio_server_stop(sio);
        clock_lws_stop(clk); /* the chat's, the bus's and presence's timers */
        if (ch) {
            admin_ui_attach(ui, NULL);
            admin_attach(adm, NULL);
        }
        lws_context_destroy(context);
        context = NULL;
    }
    eio_server_free(eio);
    chat_free(ch);
    admin_free(adm);
    adapter_free(bs);
    hub_free(hb_log);
    bus_close(bu); /* after: what closed with the context could still publish */
    sio_server_free(sio);
    admin_ui_free(ui);   /* after: sockets closing above reach its observer */
    clock_lws_free(clk); /* after what has timers on it */
    ev_signal_stop(loop, &sigint);
    ev_signal_stop(loop, &sigterm);
    ev_loop_destroy(loop);
    wsmetrics_free(wm);
    if (st && o.chat.process_id) store_process_unregister(st, o.chat.process_id);
    retention_free(ret);
    store_close(st);
    return status;
}
