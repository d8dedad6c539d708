#!/usr/bin/env bash
# Installs what the interop tests drive, when it is missing: Debian's chromium
# and python3-websockets (for /usr/bin/python3), Node.js and npm, and the npm
# packages of interop/node (ws and playwright-core, pinned by
# package-lock.json; playwright-core drives /usr/bin/chromium and downloads no
# browser). Also Debian's redis-server (7.0 or later), which the Redis
# engine's tests (cluster/redis) start themselves on free loopback ports and
# stop: one server, and a Redis Cluster of three masters in cluster mode
# formed with CLUSTER MEET from Go (redis-cli is not needed). Needs
# root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
dpkg -s chromium >/dev/null 2>&1 && [ -x /usr/bin/chromium ] || missing+=(chromium)
/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || missing+=(python3-websockets)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if ((${#missing[@]})); then
	echo "installing with apt-get: ${missing[*]}"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update -q
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
fi

node_dir=interop/node
if [ ! -f "$node_dir/node_modules/.package-lock.json" ] ||
	[ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
	echo "installing interop/node packages with npm ci"
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "clients: $(/usr/bin/chromium --version 2>/dev/null | head -1);" \
	"python3-websockets $(/usr/bin/python3 -c 'import websockets; print(websockets.__version__)');" \
	"node $(node --version); $(redis-server --version | cut -d' ' -f1-3)"
