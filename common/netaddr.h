/* netaddr.h -- client addresses as per-address keys, and the numeric address a
 * listener binds */
#ifndef NETADDR_H
#define NETADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Room for any key or address text netaddr writes (an IPv6 address and "/128"). */
#define NETADDR_LEN 64

/* The per-address key of addr (the text of an IPv4 or IPv6 address, as a peer
 * or a proxy reports it): an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * the IPv4 address, so a client counts the same reached over IPv4 or IPv6; an
 * IPv6 address is its first v6_prefix bits (1..128) written as "prefix/len"
 * ("2001:db8:1:2::/64"), so every address of one network shares one key (a
 * /64 is what one line or site usually gets: keyed per /128, one client
 * would have 2^64 quotas). Anything else (not an address) is copied as it
 * is. Writes a NUL-terminated key of at most len - 1 bytes into out. */
void netaddr_key_prefix(const char *addr, int v6_prefix, char *out, size_t len);

/* Sets the deployment's prefix for netaddr_key (process-wide: each program's
 * main sets it once from its settings, CHAT_IPV6_PREFIX, edge/settings.h); a
 * value outside the contract's range (CONTRACT_IPV6_PREFIX) restores the
 * default. */
void netaddr_set_ipv6_prefix(int v6_prefix);

/* netaddr_key_prefix with the deployment's prefix: netaddr_set_ipv6_prefix's,
 * else the contract's default (CONTRACT_IPV6_PREFIX). */
void netaddr_key(const char *addr, char *out, size_t len);

/* The numeric address to bind for host (an IPv4 or IPv6 literal, brackets
 * allowed, or a name resolved here: the first address it has). Writes it
 * into out (NETADDR_LEN bytes) and whether it is IPv6 into *v6. Returns 0, or
 * -1 when host is no address and does not resolve. */
int netaddr_listen_host(const char *host, char *out, size_t len, bool *v6);

#endif
