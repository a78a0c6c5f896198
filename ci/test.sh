#!/usr/bin/env bash
# ci/test.sh runs the whole Go test suite with the race detector, the same
# way locally and in CI. Anything the tests need beyond Go is set up first.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

# Setup: tests talk to real servers and clients. When a test starts to need
# one (redis-server, nginx, haproxy, Chromium, node for clients/js), add a
# function below that checks before it installs, and call it from setup.
# Each must be a no-op when the tool is already there, so that the script
# runs as fast on a developer's machine as on a prepared CI image.
#
#   need_apt redis-server redis-server   # command, then apt package
#   need_npm clients/js                  # a package.json directory

# need_apt CMD PKG installs the apt package PKG unless CMD is on PATH (or in
# an sbin directory, where Debian puts daemons such as nginx).
need_apt() {
	local cmd=$1 pkg=$2
	if command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]]; then
		return
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "ci/test.sh: $cmd is missing and this is not a Debian-like system: install $pkg, then run again" >&2
		exit 1
	fi
	echo "ci/test.sh: installing $pkg (for $cmd)" >&2
	local sudo=
	if [[ $(id -u) != 0 ]]; then sudo=sudo; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg"
}

# need_npm DIR runs npm ci in DIR unless its node_modules is up to date.
need_npm() {
	local dir=$1
	if [[ -d $dir/node_modules && $dir/node_modules -nt $dir/package-lock.json ]]; then
		return
	fi
	(cd "$dir" && npm ci --no-audit --no-fund)
}

setup() {
	need_apt nginx nginx # deploy/: Herald behind a real nginx
	need_apt redis-server redis-server # redis/: the Redis broker against a real Redis
	need_apt haproxy haproxy # deploy/: and behind a real HAProxy
	need_apt systemd-analyze systemd # deploy/: the systemd unit verifies
}

setup
go test -race -count=1 -timeout 10m ./...
