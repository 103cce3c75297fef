#!/usr/bin/env bash
# build.sh -- builds the Debian package with Debian's tools (dpkg-buildpackage,
# debhelper) from a copy of the tree, into build/deb/, and prints the .deb's
# path. A package built from the same sources is reused: the copy's files are
# hashed and the hash kept next to the .deb. Needs debhelper (bash
# deploy/install-deps.sh --package).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/build/deb
cd "$ROOT"

# The package's sources: what git tracks or would track, plus the socket.io
# client and the Admin UI (www/vendor/, copied by install-deps.sh, ignored by
# git).
# The C folders are the Makefile's layers (make source-folders).
c_folders=$(make -s --no-print-directory -C "$ROOT" source-folders) || exit 1
files() {
	# shellcheck disable=SC2086
	git ls-files -co --exclude-standard -- Makefile $c_folders www deploy debian
	find www/vendor -type f 2>/dev/null
}
hash=$(files | LC_ALL=C sort -u | while read -r f; do [ -f "$f" ] && printf '%s\n' "$f" && cat "$f"; done | sha256sum | cut -c1-16)
deb=$(ls "$OUT"/chat_*.deb 2>/dev/null | head -n 1 || true)
if [ -n "$deb" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$hash" ]; then
	echo "$deb"
	exit 0
fi

command -v dh >/dev/null || { echo "build.sh: debhelper missing: bash deploy/install-deps.sh --package" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/src"
files | LC_ALL=C sort -u | while read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done |
	tar -cf - -T - | tar -xf - -C "$OUT/src"
log=$OUT/build.log
if ! (cd "$OUT/src" && dpkg-buildpackage -us -uc -b -j2) >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "build.sh: dpkg-buildpackage failed (log: $log)" >&2
	exit 1
fi
rm -rf "$OUT/src"
echo "$hash" >"$OUT/stamp"
ls "$OUT"/chat_*.deb
