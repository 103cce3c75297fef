/* issue_token.c -- chat-ws --issue-token */
#include "issue_token.h"

#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "token.h"

int issue_token_print(const issue_token_options *o, FILE *out) {
    token_secret secret;
    char err[256];
    if (token_secret_load(&secret, o->secret, o->secret_file, err, sizeof err) || !secret.len) {
        fprintf(stderr, "chat-ws: %s\n", secret.len ? err : "set CHAT_SECRET_FILE or CHAT_SECRET");
        return 1;
    }
    if (o->workspace && !contract_valid_namespace(o->workspace)) {
        fprintf(stderr, "chat-ws: --workspace must be /name (a-z 0-9 -)\n");
        return 2;
    }
    char sub[CONTRACT_USER_NAME_BUF] = "";
    if (o->sub) {
        snprintf(sub, sizeof sub, "%s", o->sub);
        if (strlen(o->sub) >= sizeof sub || contract_name_clean(sub, sizeof sub) ||
            !contract_valid_user_name(sub)) {
            fprintf(stderr, "chat-ws: --sub must be a valid user name\n");
            return 2;
        }
    } else if (o->admin) {
        snprintf(sub, sizeof sub, "admin");
    }
    char *token = token_issue(&secret, o->admin, o->workspace, sub, o->ttl);
    if (!token) return 1;
    fprintf(out, "%s\n", token);
    free(token);
    return 0;
}
