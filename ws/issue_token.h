/* issue_token.h -- chat-ws --issue-token: a token signed with the server
 * secret, printed for local use (make run prints an admin one) */
#ifndef ISSUE_TOKEN_H
#define ISSUE_TOKEN_H

#include <stdbool.h>
#include <stdio.h>

typedef struct issue_token_options {
    bool admin;            /* --admin: "admin": true, sub "admin" unless --sub */
    const char *workspace; /* --workspace /NS, or NULL */
    const char *sub;       /* --sub: the user the token is the credential of, or NULL */
    long ttl;              /* --ttl, seconds [CONTRACT_TOKEN_TTL]: issued tokens always expire */
    const char *secret;      /* CHAT_SECRET (the settings'), or NULL */
    const char *secret_file; /* CHAT_SECRET_FILE (the settings'), or NULL */
} issue_token_options;

/* Loads the secret (secret_file, else secret), checks the options and
 * prints the token and a newline to out; errors go to stderr. Returns the
 * exit status: 0, 1 (no secret, or signing failed) or 2 (a bad option). */
int issue_token_print(const issue_token_options *o, FILE *out);

#endif
