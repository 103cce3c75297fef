/* main.c -- chat-fcgi: the command line, then CGI, or FastCGI workers on a socket */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contract.h"
#include "fcgi_metrics.h"
#include "gateway.h"
#include "log.h"
#include "prefork.h"
#include "settings.h"
#include "store.h"

#define MAIN_BACKLOG 128

typedef struct main_worker {
    int fd;                        /* the listening socket */
    const char *db;                /* the database path */
    const fcgi_metrics *metrics;   /* the registry the workers share, or NULL */
    const chat_settings *settings; /* the environment's, with --cors-origin */
} main_worker;

static void main_usage(FILE *f) {
    fprintf(f, "usage: chat-fcgi [--db PATH] [--listen unix:/path/sock | --listen HOST:PORT]"
               " [--workers N] [--cors-origin ORIGINS]\n"
               "  --db PATH              SQLite database (default: $CHAT_DB, else chat.db)\n"
               "  --listen ADDR          open this FastCGI socket and pre-fork workers\n"
               "  --cors-origin ORIGINS  browser origins allowed to call /api/: \"*\" or a\n"
               "                         space-separated list (default: none)\n");
    contract_usage(f, CONTRACT_FCGI);
    fprintf(f, "Without --listen: a FastCGI socket on stdin (spawn-fcgi) or systemd's\n"
               "LISTEN_FDS is served by the workers; otherwise one CGI request is answered.\n"
               "environment: CHAT_DB for --db; CHAT_MAX_ROOMS, rooms per namespace;\n"
               "CHAT_SYNC normal|full; CHAT_SECRET or CHAT_SECRET_FILE, the token secret;\n"
               "CHAT_CORS_ORIGIN for --cors-origin\n");
}

static int main_worker_run(void *ctx) {
    const main_worker *w = ctx;

    return gateway_run_fcgi(w->fd, w->db, w->settings, w->metrics);
}

/* Opens the FastCGI socket of --listen: "unix:/path" or "HOST:PORT". Sets
 * *unix_path to the socket file (to remove at exit) or NULL. Returns the fd
 * or -1. */
static int main_listen(const char *addr, const char **unix_path) {
    const char *colon = strrchr(addr, ':');
    int fd;

    *unix_path = NULL;
    if (strncmp(addr, "unix:", 5) == 0) {
        if (addr[5] != '/') {
            fprintf(stderr, "chat-fcgi: --listen unix: needs an absolute path\n");
            return -1;
        }
        *unix_path = addr + 5;
    } else if (colon == NULL || colon[1] == '\0' ||
               strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        fprintf(stderr, "chat-fcgi: --listen wants unix:/path or HOST:PORT, not %s\n", addr);
        return -1;
    }
    fd = FCGX_OpenSocket(*unix_path != NULL ? *unix_path : addr, MAIN_BACKLOG);
    if (fd < 0) {
        log_event(LOG_LEVEL_ERROR, "cannot listen", "listen", addr, "error", strerror(errno), NULL);
        return -1;
    }
    /* The socket's mode follows the umask: 0600 under the local runner
     * (umask 077), srwxrwx--- for group chat under systemd (UMask=0007), so
     * only the web server may connect. */
    return fd;
}

/* The socket systemd passed (LISTEN_FDS=1 for this pid), else -1. */
static int main_systemd_fd(void) {
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");

    if (fds == NULL || pid == NULL || strcmp(fds, "1") != 0) return -1;
    if (strtol(pid, NULL, 10) != (long)getpid()) return -1;
    return 3;
}

/* Creates or migrates the database once, before workers open it. */
static int main_check_db(const char *path, const chat_settings *cs) {
    char err[256];
    store *st = NULL;
    store_options o = {0};

    settings_store_options(cs, &o);
    if (store_open(&st, path, &o, err, sizeof err) != STORE_OK) {
        log_event(LOG_LEVEL_ERROR, "cannot open database", "db", path, "error", err, NULL);
        return -1;
    }
    store_close(st);
    return 0;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {"cors-origin", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = getenv("CHAT_DB"), *listen_addr = NULL, *unix_path = NULL;
    chat_settings cs;
    main_worker w = {-1, NULL, NULL, &cs};
    long long workers = contract_default(CONTRACT_WORKERS);
    char err[128];
    int c, status;

    log_init("chat-fcgi");
    settings_read(&cs);
    settings_apply(&cs);
    if (db == NULL || db[0] == '\0') db = "chat.db";
    while ((c = getopt_long(argc, argv, "d:l:w:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cs.cors_origin = optarg; /* over CHAT_CORS_ORIGIN (cors.h) */
            break;
        case 'd':
            db = optarg;
            break;
        case 'l':
            listen_addr = optarg;
            break;
        case 'w':
            if (contract_parse(CONTRACT_WORKERS, optarg, &workers, err, sizeof err) != 0) {
                fprintf(stderr, "chat-fcgi: %s\n", err);
                return 2;
            }
            break;
        case 'h':
            main_usage(stdout);
            return 0;
        default:
            main_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        main_usage(stderr);
        return 2;
    }
    w.db = db;

    if (listen_addr != NULL) {
        if (main_check_db(db, &cs) != 0) return 1;
        if ((w.fd = main_listen(listen_addr, &unix_path)) < 0) return 1;
    } else if ((w.fd = main_systemd_fd()) >= 0) {
        if (main_check_db(db, &cs) != 0) return 1;
    } else if (FCGX_IsCGI()) {
        if (getenv("REQUEST_METHOD") == NULL) {
            main_usage(stderr);
            return 2;
        }
        return gateway_run_cgi(db, &cs);
    } else {
        if (main_check_db(db, &cs) != 0) return 1;
        w.fd = 0; /* spawn-fcgi or a web server passed the socket as stdin */
    }

    fcgi_metrics *fm = fcgi_metrics_new();
    if (fm == NULL) log_event(LOG_LEVEL_WARN, "no shared memory: no metrics", NULL);
    w.metrics = fm;
    status = prefork_run((int)workers, main_worker_run, &w);
    fcgi_metrics_free(fm);
    if (unix_path != NULL) unlink(unix_path);
    return status;
}
