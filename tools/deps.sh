#!/bin/sh
# deps.sh PKG... - makes sure Debian packages are installed.
# As root it installs what is missing with apt-get; otherwise it stops
# with the exact command to run. Arch-qualified names (check:arm64) add
# the foreign architecture first.
set -e
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
archs=$(printf '%s\n' $missing | sed -n 's/.*:\(.*\)/\1/p' | sort -u)
if [ "$(id -u)" != 0 ]; then
	echo "gor: missing Debian packages:$missing" >&2
	for a in $archs; do echo "  run: sudo dpkg --add-architecture $a" >&2; done
	echo "  run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
for a in $archs; do dpkg --add-architecture "$a"; done
echo "gor: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq $missing >/dev/null
