#!/usr/bin/env bash
# gen.sh -- writes the chat's nginx config from the one site template,
# deploy/nginx/site.conf.in, to stdout:
#
#   deploy/nginx/gen.sh production [NAME=VALUE ...]  the production site (goes in
#                                                    nginx's http {}): deploy/nginx.conf,
#                                                    make install, the Debian package
#   deploy/nginx/gen.sh runner NAME=VALUE ...         a whole nginx.conf for
#                                                    deploy/run.sh: the site inside
#                                                    deploy/nginx.local.conf.in
#
# NAME=VALUE settings (production defaults):
#   LISTEN          addresses, space-separated              "80 [::]:80"
#   SERVER_NAME     server_name                             chat.example.org
#   FCGI_SOCKET     chat-fcgi's socket                      /run/chat/fcgi.sock
#   FASTCGI_SNIPPET the FastCGI parameters file             /etc/nginx/snippets/chat-fastcgi.conf
#   WWW_DIR         the page's assets                       /usr/share/chat/www
#   WS_PORTS        chat-ws ports on 127.0.0.1, space-sep.  "9101 9102"
#   WS_NODES        their --node characters, same order    "0-9a-z"[port % 36] each
#   NODES_FILE      chat-ws nodes on any hosts instead of WS_PORTS: a file of
#                   "ID HOST:PORT" lines (ID: the node's --node character,
#                   0-9 a-z, each once; HOST: a name, an IPv4 or [IPv6]
#                   address; # comments). Each node gets its own upstream,
#                   polling requests go to the node their sid names, and
#                   /metrics/node/ID is its metrics (README "Scaling out")
#   FCGI_SERVERS    chat-fcgi servers instead of FCGI_SOCKET, space-separated:
#                   unix:/path or HOST:PORT each; nginx balances over them
#   API_RATE        REST POSTs per second per address       20
#   API_BURST       POSTs over the rate let through at once 40
#   SIO_CONN        /socket.io/ connections per address    64
#   SIO_RATE        new Socket.IO sessions a second per address 5
#   SIO_BURST       new sessions over the rate let through  20
#   STATIC_CACHE    production: revalidate after an hour;   production
#                   development: on every use
#   TLS             on: https on TLS_LISTEN (HSTS), LISTEN  on (runner: off)
#                   only redirects to it; off: http on LISTEN
#   TLS_LISTEN      the https addresses                     "443 [::]:443"
#   TLS_CERT        certificate chain (a placeholder: Debian's ssl-cert
#                   snakeoil; README "Installing" says how to get a real one)
#                                                           /etc/ssl/certs/ssl-cert-snakeoil.pem
#   TLS_KEY         its key                                 /etc/ssl/private/ssl-cert-snakeoil.key
#   ERROR_LOG       production: the site's error log, from  /var/log/nginx/error.log
#                   warn up
#   SSO_AUTH_URL    sign-in through nginx (README "Sign-in   (off)
#                   through nginx"): the auth_request endpoint (oauth2-proxy's
#                   http://127.0.0.1:4180/oauth2/auth, Authelia's, ...) that
#                   POST /api/sessions/sso asks; chat-fcgi needs CHAT_AUTH_REQUEST=1
#   SSO_USER_HEADER the header of its answer naming the user X-Auth-Request-User
# runner only: RUN_DIR (pid, logs, temp files), NGINX_USER ("user ...;" line or
# empty), MIME_TYPES (an include or a types {} block).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=${1:-}
case "$mode" in
production | runner) shift ;;
*)
	echo "usage: gen.sh production|runner [NAME=VALUE ...]" >&2
	exit 2
	;;
esac

LISTEN="80 [::]:80"
SERVER_NAME=chat.example.org
FCGI_SOCKET=/run/chat/fcgi.sock
FASTCGI_SNIPPET=/etc/nginx/snippets/chat-fastcgi.conf
WWW_DIR=/usr/share/chat/www
WS_PORTS="9101 9102"
WS_NODES=
NODES_FILE=
FCGI_SERVERS=
API_RATE=20
API_BURST=40
SIO_CONN=64
SIO_RATE=5
SIO_BURST=20
STATIC_CACHE=production
TLS=
TLS_LISTEN="443 [::]:443"
TLS_CERT=/etc/ssl/certs/ssl-cert-snakeoil.pem
TLS_KEY=/etc/ssl/private/ssl-cert-snakeoil.key
ERROR_LOG=/var/log/nginx/error.log
SSO_AUTH_URL=
SSO_USER_HEADER=X-Auth-Request-User
RUN_DIR=
NGINX_USER=
MIME_TYPES='include /etc/nginx/mime.types;'
for kv in "$@"; do
	case "$kv" in
	LISTEN=* | SERVER_NAME=* | FCGI_SOCKET=* | FASTCGI_SNIPPET=* | WWW_DIR=* | WS_PORTS=* | \
		WS_NODES=* | NODES_FILE=* | FCGI_SERVERS=* | API_RATE=* | API_BURST=* | SIO_CONN=* | SIO_RATE=* | SIO_BURST=* | STATIC_CACHE=* | RUN_DIR=* | NGINX_USER=* | MIME_TYPES=* | \
		TLS=* | TLS_LISTEN=* | TLS_CERT=* | TLS_KEY=* | ERROR_LOG=* | SSO_AUTH_URL=* | SSO_USER_HEADER=*)
		printf -v "${kv%%=*}" '%s' "${kv#*=}"
		;;
	*)
		echo "gen.sh: unknown setting: $kv" >&2
		exit 2
		;;
	esac
done

NODES=0123456789abcdefghijklmnopqrstuvwxyz
read -r -a ports <<<"$WS_PORTS"
read -r -a nodes <<<"$WS_NODES"
ws_servers='' ws_nodes='' ws_routes='' ws_metrics=''
for i in "${!ports[@]}"; do
	p=${ports[$i]}
	[[ "$p" =~ ^[0-9]+$ ]] || { echo "gen.sh: bad port $p" >&2; exit 2; }
	n=${nodes[$i]:-${NODES:$((p % 36)):1}}
	ws_servers+="    server 127.0.0.1:$p max_fails=0;"$'\n'
	ws_nodes+="upstream chat_ws_$p { server 127.0.0.1:$p max_fails=0; keepalive 16; }"$'\n'
	ws_routes+="    ~^$n chat_ws_$p;"$'\n'
	ws_metrics+="    location = /metrics/ws/$p {"$'\n'"        proxy_pass http://chat_ws_$p/metrics;"$'\n'
	ws_metrics+="        proxy_set_header X-Real-IP \$remote_addr;"$'\n'
	ws_metrics+="        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"$'\n'"    }"$'\n'
done
# Nodes on several hosts (NODES_FILE): the same routing by the sid's first
# character, to each node's own upstream wherever it runs.
host_port_re='^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$'
if [ -n "$NODES_FILE" ]; then
	[ -r "$NODES_FILE" ] || { echo "gen.sh: cannot read NODES_FILE $NODES_FILE" >&2; exit 2; }
	ws_servers='' ws_nodes='' ws_routes='' ws_metrics='' seen=''
	lineno=0
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line=${line%%#*}
		read -r id addr extra <<<"$line" || true
		[ -n "${id:-}" ] || continue
		where="gen.sh: $NODES_FILE line $lineno"
		[[ "$id" =~ ^[0-9a-z]$ ]] || { echo "$where: node id '$id' is not one of 0-9 a-z" >&2; exit 2; }
		[[ "${addr:-}" =~ $host_port_re ]] || { echo "$where: '${addr:-}' is not HOST:PORT" >&2; exit 2; }
		[ -z "${extra:-}" ] || { echo "$where: one node per line: ID HOST:PORT" >&2; exit 2; }
		port=${addr##*:}
		[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || { echo "$where: bad port $port" >&2; exit 2; }
		case "$seen" in *"$id"*) echo "$where: node id $id twice" >&2; exit 2 ;; esac
		seen+=$id
		ws_servers+="    server $addr max_fails=0;"$'\n'
		ws_nodes+="upstream chat_ws_node_$id { server $addr max_fails=0; keepalive 16; }"$'\n'
		ws_routes+="    ~^$id chat_ws_node_$id;"$'\n'
		ws_metrics+="    location = /metrics/node/$id {"$'\n'"        proxy_pass http://chat_ws_node_$id/metrics;"$'\n'
		ws_metrics+="        proxy_set_header X-Real-IP \$remote_addr;"$'\n'
		ws_metrics+="        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"$'\n'"    }"$'\n'
	done <"$NODES_FILE"
	[ -n "$seen" ] || { echo "gen.sh: no node in $NODES_FILE" >&2; exit 2; }
fi

# chat-fcgi: one socket, or an upstream of several servers (FCGI_SERVERS).
fcgi_pass="unix:$FCGI_SOCKET" fcgi_upstream=''
if [ -n "$FCGI_SERVERS" ]; then
	fcgi_upstream='upstream chat_fcgi {'$'\n'
	for a in $FCGI_SERVERS; do
		case "$a" in
		unix:/*) [[ "$a" =~ ^unix:/[A-Za-z0-9._/-]+$ ]] || { echo "gen.sh: bad FCGI server $a" >&2; exit 2; } ;;
		*) [[ "$a" =~ $host_port_re ]] || { echo "gen.sh: FCGI server '$a' is not unix:/PATH or HOST:PORT" >&2; exit 2; } ;;
		esac
		fcgi_upstream+="    server $a max_fails=0;"$'\n'
	done
	fcgi_upstream+='}'
	fcgi_pass=chat_fcgi
fi

# An upstream needs a server: with no ws process, one marked down (502).
[ -n "$ws_servers" ] || ws_servers='    server 127.0.0.1:9 down;'$'\n'

listen='' redirect='' hsts=''
[ -n "$TLS" ] || { [ "$mode" = production ] && TLS=on || TLS=off; }
case "$TLS" in
on)
	# https only: the site on TLS_LISTEN; LISTEN answers a permanent redirect
	# (and the ACME http-01 challenge, for certbot --webroot).
	for a in $TLS_LISTEN; do listen+="    listen $a ssl http2;"$'\n'; done
	listen+="
    ssl_certificate     $TLS_CERT;
    ssl_certificate_key $TLS_KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:chat_tls:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
    # Browsers keep to https for a year once they saw this. Repeated in each
    # location with an add_header of its own (nginx does not inherit it there).
    add_header Strict-Transport-Security \"max-age=31536000; includeSubDomains\" always;"$'\n'
	hsts='        add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;'
	redirect="# Plain http: the ACME challenge, and a permanent redirect to https.
server {"$'\n'
	for a in $LISTEN; do redirect+="    listen $a;"$'\n'; done
	redirect+="    server_name $SERVER_NAME;
    server_tokens off;

    location /.well-known/acme-challenge/ {
        root /var/www/letsencrypt;
    }
    location / {
        return 301 https://\$host\$request_uri;
    }
}

"
	;;
off)
	for a in $LISTEN; do listen+="    listen $a;"$'\n'; done
	;;
*)
	echo "gen.sh: TLS is on or off" >&2
	exit 2
	;;
esac

case "$STATIC_CACHE" in
production)
	# Asset names carry no version: caches revalidate after an hour (ETag and
	# Last-Modified make that a 304).
	cache='        expires 1h;'$'\n''        add_header Cache-Control "public" always;'
	;;
development)
	# Revalidated on every use, so that an edit shows on reload.
	cache='        add_header Cache-Control "no-cache" always;'
	;;
*)
	echo "gen.sh: STATIC_CACHE is production or development" >&2
	exit 2
	;;
esac

# Sign-in through nginx: one location asks SSO_AUTH_URL (auth_request) and
# hands the user its answer names to chat-fcgi as the FastCGI parameter
# CHAT_SSO_USER, which no client header can set (headers arrive as HTTP_*).
sso=''
if [ -n "$SSO_AUTH_URL" ]; then
	[[ "$SSO_AUTH_URL" =~ ^https?://[A-Za-z0-9.:/_-]+$ ]] || { echo "gen.sh: bad SSO_AUTH_URL" >&2; exit 2; }
	[[ "$SSO_USER_HEADER" =~ ^[A-Za-z0-9-]+$ ]] || { echo "gen.sh: bad SSO_USER_HEADER" >&2; exit 2; }
	sso_var=$(tr 'A-Z-' 'a-z_' <<<"$SSO_USER_HEADER")
	sso="    # Sign-in through nginx (README \"Sign-in through nginx\"): the user the
    # auth_request endpoint vouches for in $SSO_USER_HEADER gets a session.
    location = /api/sessions/sso {
        limit_req zone=chat_api_write burst=$API_BURST nodelay;
        auth_request /.chat-sso-auth;
        auth_request_set \$chat_sso_user \$upstream_http_$sso_var;
        fastcgi_pass $fcgi_pass;
        include $FASTCGI_SNIPPET;
        fastcgi_param CHAT_SSO_USER \$chat_sso_user;
    }
    location = /.chat-sso-auth {
        internal;
        proxy_pass $SSO_AUTH_URL;
        proxy_pass_request_body off;
        proxy_set_header Content-Length \"\";
        proxy_set_header X-Original-URI \$request_uri;
        proxy_set_header X-Original-Method \$request_method;
    }
    # The endpoint's refusal is nginx's own 401: JSON like the API's errors
    # (chat-fcgi's 401s pass through untouched: no fastcgi_intercept_errors).
    error_page 401 @sso_refused;
    location @sso_refused {
        default_type application/json;
${hsts:+$hsts
}        return 401 '{\"error\":\"not signed in: the sign-in service refused\"}\\n';
    }
"
fi

# The template less its own header comment (up to the first empty line).
site=$(sed '1,/^$/d' "$HERE/site.conf.in")
# Quoted replacements: no & or \ expansion (bash 5.2 patsub_replacement).
site=${site//@WS_SERVERS@/"${ws_servers%$'\n'}"}
site=${site//@WS_NODES@/"${ws_nodes%$'\n'}"}
site=${site//@FCGI_UPSTREAM@$'\n'/"${fcgi_upstream:+$fcgi_upstream$'\n'}"}
site=${site//@FCGI_PASS@/"$fcgi_pass"}
site=${site//@WS_ROUTES@/"${ws_routes%$'\n'}"}
site=${site//@WS_METRICS@/"${ws_metrics%$'\n'}"}
site=${site//@LISTEN@/"${listen%$'\n'}"}
site=${site//@REDIRECT@$'\n'/"$redirect"}
site=${site//@HSTS@$'\n'/"${hsts:+$hsts$'\n'}"}
# Production: nginx's warnings reach the error log (Debian's nginx.conf logs
# from "error" up), among them "worker_connections are not enough" when the
# site runs out of connections. The runner's nginx.conf logs from warn up.
error_log=''
[ "$mode" = production ] && error_log="    error_log $ERROR_LOG warn;"
site=${site//@ERROR_LOG@$'\n'/"${error_log:+$error_log$'\n'}"}
site=${site//@SERVER_NAME@/"$SERVER_NAME"}
site=${site//@FCGI_SOCKET@/"$FCGI_SOCKET"}
site=${site//@FASTCGI_SNIPPET@/"$FASTCGI_SNIPPET"}
site=${site//@WWW_DIR@/"$WWW_DIR"}
site=${site//@STATIC_CACHE@/"$cache"}
site=${site//@API_RATE@/"$API_RATE"}
site=${site//@API_BURST@/"$API_BURST"}
site=${site//@SIO_CONN@/"$SIO_CONN"}
site=${site//@SIO_RATE@/"$SIO_RATE"}
site=${site//@SIO_BURST@/"$SIO_BURST"}
site=${site//@SSO@$'\n'/"$sso"}

if [ "$mode" = production ]; then
	if [ -n "$NODES_FILE" ]; then
		where_programs="#   chat-fcgi at $FCGI_SERVERS (chat-fcgi-node.service)
#   the chat-ws nodes of $(basename "$NODES_FILE") (chat-ws-node.service), by node id"
	else
		where_programs="#   $FCGI_SOCKET   chat-fcgi's socket (chat-fcgi.socket): nginx's
#                         user (www-data) may connect, nothing more
#   127.0.0.1:${ports[*]}   one chat-ws per port (chat-ws@<port>.service)"
	fi
	cat <<-HEAD
		# nginx.conf -- the production site of the chat (the routes of DESIGN.md).
		# GENERATED by deploy/nginx/gen.sh from deploy/nginx/site.conf.in, the one
		# source of this file and of the local runner's config: edit those, then
		# \`make deploy/nginx.conf\` (a test fails while this file is out of date).
		#
		# Installed by \`make install\` and the Debian package as
		# /etc/nginx/sites-available/chat (enabled by a link in sites-enabled/),
		# inside the http {} block of Debian's /etc/nginx/nginx.conf, which
		# already includes mime.types and sets the logs. It expects:
		#   $WWW_DIR/   the page's assets (www/)
		$where_programs
		#   $FASTCGI_SNIPPET
		# Set server_name; more chat-ws processes: an entry each in chat_ws, an
		# upstream and a route (or regenerate with WS_PORTS="...").
		# TLS: https only (HSTS); port 80 redirects. Replace the certificate
		# paths (placeholders: Debian's ssl-cert snakeoil pair) with the real
		# ones, e.g. certbot's /etc/letsencrypt/live/<name>/ (README "Installing").

	HEAD
	printf '%s\n' "$site"
	exit 0
fi

[ -n "$RUN_DIR" ] || { echo "gen.sh: runner needs RUN_DIR" >&2; exit 2; }
tpl=$(<"$HERE/../nginx.local.conf.in")
tpl=${tpl//@SITE@/"$(printf '%s\n' "$site" | sed 's/^\(.\)/    \1/')"}
tpl=${tpl//@USER@/"$NGINX_USER"}
tpl=${tpl//@MIME_TYPES@/"$MIME_TYPES"}
tpl=${tpl//@RUN_DIR@/"$RUN_DIR"}
printf '%s\n' "$tpl"
