/* fuzz_rest.c -- libFuzzer: the REST router and JSON bodies, against a real SQLite file.
 * Input: method \n path \n query \n content-type \n authorization \n body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"
#include "store.h"
#include "token.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store *st;
static token_secret secret = {.key = "fuzzing-secret-0123456789", .len = 25};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char dir[] = "/tmp/fuzz_rest.XXXXXX", path[64], err[256];
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof path, "%s/chat.db", dir);
    /* the database is rebuilt at every start; NORMAL sync keeps runs quick */
    if (store_open(&st, path, NULL, err, sizeof err)) abort();
    return 0;
}

/* Takes the next line of [*p, end) as a NUL-terminated string copy. */
static char *field(const char **p, const char *end) {
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    size_t n = (size_t)(stop - *p);
    char *s = malloc(n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size;
    char *method = field(&p, end), *path = field(&p, end), *query = field(&p, end);
    char *ctype = field(&p, end), *authz = field(&p, end);
    size_t body_len = (size_t)(end - p);
    char *body = malloc(body_len ? body_len : 1);
    memcpy(body, p, body_len);
    http_request req = {
        .method = method[0] ? method : "GET",
        .path = path,
        .query = query,
        .content_type = ctype[0] ? ctype : NULL,
        .content_length = (int64_t)body_len,
        .body = body,
        .body_len = body_len,
        .body_state = body_len > CONTRACT_BODY_MAX ? HTTP_BODY_TOO_LARGE : HTTP_BODY_OK,
        .authorization = authz[0] ? authz : NULL,
    };
    api_env env = {st, &secret};
    http_response resp;
    http_response_init(&resp);
    router_handle(&env, &req, &resp);
    /* the contract: no input makes a 500, and the status is a real one */
    if (resp.status == 500 || resp.status < 100 || resp.status > 599) abort();
    http_response_free(&resp);
    free(method), free(path), free(query), free(ctype), free(authz), free(body);
    return 0;
}
