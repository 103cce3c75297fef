#!/usr/bin/env bash
# install-deps.sh -- installs what building, running and testing the chat needs.
#
# Idempotent and non-interactive: Debian packages that dpkg does not list as
# installed are installed (one `apt-get update` first, only when something is
# missing), then the npm test tools in tests/ (`npm ci` when tests/node_modules is
# missing or older than tests/package-lock.json), then the socket.io browser client
# is copied to www/vendor/ where nginx serves it as /static/vendor/socket.io.min.js.
# Uses sudo only when not run as root. Prints one line per step.
#
#   bash deploy/install-deps.sh --run      what make run needs: building and
#                                          running (compiler, libraries, nginx,
#                                          sqlite3, the emoji font), and the two
#                                          browser builds it serves (socket.io
#                                          client, Admin UI) without the test tools
#   bash deploy/install-deps.sh            all of that and what make test needs
#                                          (PostgreSQL, Chromium, cmocka, clang,
#                                          wrk, perf, Nchan, the npm test tools)
#   bash deploy/install-deps.sh --package  also Debian's packaging tools
#                                          (debhelper, fakeroot), for building
#                                          the .deb (tests/package/run.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
export CI=${CI:-true}

MODE=${1:-test}
# Building and running (make run).
PACKAGES=(
	build-essential pkg-config
	libwebsockets-dev libwebsockets-evlib-ev libev-dev libfcgi-dev libsqlite3-dev sqlite3 libjansson-dev libjwt-dev libicu-dev
	libsodium-dev
	libpq-dev
	nginx curl
	fonts-noto-color-emoji
)
# Testing (make test): PostgreSQL for the -pg suites, Chromium for the
# browser tests, the sanitizer and fuzzer toolchain, benchmarks' tools, and
# python-socketio for the README's Python example.
if [ "$MODE" != "--run" ]; then
	PACKAGES+=(
		postgresql
		libcmocka-dev
		chromium wrk
		clang libclang-rt-14-dev
		libnginx-mod-nchan linux-perf heaptrack
		python3-socketio python3-requests python3-websocket
	)
fi
if [ "$MODE" = "--package" ]; then
	# python3: the package test passes chat-fcgi its socket as systemd would
	PACKAGES+=(debhelper dpkg-dev fakeroot python3)
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	SUDO=(sudo -n)
fi

log() { printf 'deps: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$status" in
	ii*) ;;
	*) missing+=("$p") ;;
	esac
done

if [ ${#missing[@]} -eq 0 ]; then
	log "debian packages: all ${#PACKAGES[@]} present"
else
	log "debian packages: installing ${missing[*]}"
	aptlog=$(mktemp)
	if ! { "${SUDO[@]}" apt-get update -q &&
		"${SUDO[@]}" apt-get install -y -q --no-install-recommends \
			-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
			"${missing[@]}"; } </dev/null >"$aptlog" 2>&1; then
		tail -n 30 "$aptlog" >&2
		rm -f "$aptlog"
		log "apt-get failed" >&2
		exit 1
	fi
	rm -f "$aptlog"
	# Installing nginx starts the system one on :80 (through systemd or the
	# init script). The project never uses it (deploy/run.sh runs its own nginx
	# with its own config), so stop it.
	if [[ " ${missing[*]} " == *" nginx "* ]]; then
		if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
			"${SUDO[@]}" systemctl stop nginx >/dev/null 2>&1 || true
			log "stopped the system nginx that the package started"
		elif [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
			"${SUDO[@]}" nginx -s quit >/dev/null 2>&1 || true
			log "stopped the system nginx that the package started"
		fi
	fi
fi

# --- npm test tools --------------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
	log "npm not found: install Node.js 20 and npm" >&2
	exit 1
fi
lock="$ROOT/tests/package-lock.json"
mods="$ROOT/tests/node_modules"
if [ "$MODE" = "--run" ] && [ -f "$mods/socket.io-client/dist/socket.io.min.js" ] &&
	[ -f "$mods/@socket.io/admin-ui/ui/dist/index.html" ] && [ -f "$mods/@mdi/font/css/materialdesignicons.min.css" ]; then
	log "npm: the browser builds from tests/node_modules"
elif [ "$MODE" = "--run" ]; then
	# Only the browser builds the page and /admin-ui serve, at the
	# versions tests/package-lock.json pins, in a directory of their own.
	mods="$ROOT/build/www-deps/node_modules"
	want=$(cd "$ROOT/tests" && node -e '
		const l = require("./package-lock.json").packages;
		const v = (n) => l["node_modules/" + n].version;
		console.log(`socket.io-client@${v("socket.io-client")} @socket.io/admin-ui@${v("@socket.io/admin-ui")} @mdi/font@${v("@mdi/font")}`);')
	if [ ! -f "$mods/socket.io-client/dist/socket.io.min.js" ] || [ ! -f "$mods/@socket.io/admin-ui/ui/dist/index.html" ] ||
		[ ! -f "$mods/@mdi/font/css/materialdesignicons.min.css" ]; then
		log "npm: the browser builds only ($want)"
		mkdir -p "$ROOT/build/www-deps"
		npmlog=$(mktemp)
		# shellcheck disable=SC2086 # two package specs
		if ! (cd "$ROOT/build/www-deps" && npm install --no-save --no-package-lock --no-audit --no-fund \
			--loglevel=error $want) </dev/null >"$npmlog" 2>&1; then
			tail -n 30 "$npmlog" >&2
			rm -f "$npmlog"
			log "npm install failed" >&2
			exit 1
		fi
		rm -f "$npmlog"
	fi
elif [ ! -d "$mods" ] || [ "$lock" -nt "$mods" ] || [ ! -e "$mods/.package-lock.json" ]; then
	log "npm ci in tests/"
	npmlog=$(mktemp)
	if ! (cd "$ROOT/tests" && npm ci --no-audit --no-fund --loglevel=error) </dev/null >"$npmlog" 2>&1; then
		tail -n 30 "$npmlog" >&2
		rm -f "$npmlog"
		log "npm ci failed" >&2
		exit 1
	fi
	rm -f "$npmlog"
	touch "$mods"
else
	log "npm test tools: up to date"
fi

# --- the socket.io browser client ------------------------------------------
src="$mods/socket.io-client/dist"
dst="$ROOT/www/vendor"
mkdir -p "$dst"
copied=0
for f in socket.io.min.js socket.io.min.js.map; do
	if [ -f "$src/$f" ] && ! cmp -s "$src/$f" "$dst/$f"; then
		cp "$src/$f" "$dst/$f"
		copied=1
	fi
done
if [ ! -f "$dst/socket.io.min.js" ]; then
	log "socket.io client missing from $src" >&2
	exit 1
fi
if [ $copied -eq 1 ]; then
	log "socket.io client: copied to www/vendor/"
else
	log "socket.io client: www/vendor/ up to date"
fi

# --- the official Socket.IO Admin UI ----------------------------------------
# Its built page ships in @socket.io/admin-ui's ui/dist; nginx serves it at
# /static/vendor/admin-ui/ (/admin-ui redirects there). Source maps stay out.
# Its index.html is rewritten: the icon font from @mdi/font's build in
# www/vendor/mdi/ instead of a CDN, no web font (Roboto when installed,
# else the system's sans-serif), and www/admin-ui-defaults.js first, which
# fills in this server's address and admin namespace for the login form.
src="$mods/@socket.io/admin-ui/ui/dist"
dst="$ROOT/www/vendor/admin-ui"
if [ ! -f "$src/index.html" ]; then
	log "Socket.IO Admin UI missing from $src" >&2
	exit 1
fi
if diff -rq -x '*.map' -x index.html "$src" "$dst" >/dev/null 2>&1; then
	log "admin UI: www/vendor/admin-ui/ up to date"
else
	rm -rf "$dst"
	mkdir -p "$dst"
	(cd "$src" && find . -type f ! -name '*.map' ! -name index.html -exec cp --parents {} "$dst/" \;)
	log "admin UI: copied to www/vendor/admin-ui/"
fi
sed -e 's|<link rel="stylesheet" href="https://fonts.googleapis.com/[^"]*">||' \
	-e 's|https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css|/static/vendor/mdi/css/materialdesignicons.min.css|' \
	-e 's|<link rel="icon"|<script src="/static/admin-ui-defaults.js"></script><link rel="icon"|' \
	"$src/index.html" >"$dst/index.html.new"
if grep -q 'https://' "$dst/index.html.new"; then
	log "admin UI: index.html still names a CDN (a new Admin UI build?)" >&2
	rm -f "$dst/index.html.new"
	exit 1
fi
mv "$dst/index.html.new" "$dst/index.html"

src="$mods/@mdi/font"
dst="$ROOT/www/vendor/mdi"
if [ ! -f "$src/css/materialdesignicons.min.css" ]; then
	log "the icon font missing from $src" >&2
	exit 1
fi
if ! diff -q "$src/css/materialdesignicons.min.css" "$dst/css/materialdesignicons.min.css" >/dev/null 2>&1; then
	rm -rf "$dst"
	mkdir -p "$dst/css" "$dst/fonts"
	cp "$src/css/materialdesignicons.min.css" "$dst/css/"
	cp "$src"/fonts/materialdesignicons-webfont.{woff2,woff,ttf} "$dst/fonts/"
	cp "$src/LICENSE" "$dst/"
	log "icon font: copied to www/vendor/mdi/"
else
	log "icon font: www/vendor/mdi/ up to date"
fi
