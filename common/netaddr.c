/* netaddr.c -- client addresses as per-address keys, and the numeric address a
 * listener binds */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "contract.h"
#include "log.h"

void netaddr_key_prefix(const char *addr, int v6_prefix, char *out, size_t len) {
    struct in6_addr a6;
    if (!len) return;
    if (!contract_in_range(CONTRACT_IPV6_PREFIX, v6_prefix))
        v6_prefix = (int)contract_default(CONTRACT_IPV6_PREFIX);
    if (!addr || inet_pton(AF_INET6, addr, &a6) != 1) {
        snprintf(out, len, "%s", addr ? addr : "");
        return;
    }
    char text[INET6_ADDRSTRLEN];
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        /* ::ffff:a.b.c.d is the IPv4 client a.b.c.d */
        struct in_addr a4;
        memcpy(&a4, &a6.s6_addr[12], 4);
        inet_ntop(AF_INET, &a4, text, sizeof text);
        snprintf(out, len, "%s", text);
        return;
    }
    for (int bit = v6_prefix; bit < 128; bit++)
        a6.s6_addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    inet_ntop(AF_INET6, &a6, text, sizeof text);
    snprintf(out, len, "%s/%d", text, v6_prefix);
}

/* The deployment's prefix: process-wide, set once by main. 0: the default. */
static int netaddr_prefix;

void netaddr_set_ipv6_prefix(int v6_prefix) {
    netaddr_prefix = contract_in_range(CONTRACT_IPV6_PREFIX, v6_prefix) ? v6_prefix : 0;
}

void netaddr_key(const char *addr, char *out, size_t len) {
    int prefix = netaddr_prefix ? netaddr_prefix : (int)contract_default(CONTRACT_IPV6_PREFIX);
    netaddr_key_prefix(addr, prefix, out, len);
}

int netaddr_listen_host(const char *host, char *out, size_t len, bool *v6) {
    char bare[NETADDR_LEN];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(bare, sizeof bare, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(bare, sizeof bare, "%s", host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (!bare[0] || getaddrinfo(bare, NULL, &hints, &res) || !res) return -1;
    int rc = -1;
    if (res->ai_family == AF_INET) {
        *v6 = false;
        rc =
            inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)len)
                ? 0
                : -1;
    } else if (res->ai_family == AF_INET6) {
        *v6 = true;
        rc = inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, out,
                       (socklen_t)len)
                 ? 0
                 : -1;
    }
    freeaddrinfo(res);
    return rc;
}
