# ci/need.sh is sourced by ci/test.sh and ci/generate.sh: helpers that
# install what the scripts need, each a no-op when it is already there, so
# that they run as fast on a developer's machine as on a prepared CI image.

# need_apt CMD PKG installs the apt package PKG unless CMD is on PATH (or in
# an sbin directory, where Debian puts daemons such as nginx).
need_apt() {
	local cmd=$1 pkg=$2
	if command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]]; then
		return
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "${0##*/}: $cmd is missing and this is not a Debian-like system: install $pkg, then run again" >&2
		exit 1
	fi
	echo "${0##*/}: installing $pkg (for $cmd)" >&2
	local sudo=
	if [[ $(id -u) != 0 ]]; then sudo=sudo; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg"
}

# need_npm DIR runs npm ci in DIR unless its node_modules is up to date
# (and installs node and npm first if they are missing).
need_npm() {
	local dir=$1
	need_apt node nodejs
	need_apt npm npm
	need_node_major 20
	if [[ -d $dir/node_modules && $dir/node_modules -nt $dir/package-lock.json ]]; then
		return
	fi
	(cd "$dir" && npm ci --no-audit --no-fund)
}

# need_node_major N fails, saying what to do, when node is older than N:
# clients/js needs Node 20+ (global WebSocket in tests, node --test
# features), and an older Debian's own nodejs package is 18.
need_node_major() {
	local want=$1 have
	have=$(node -p 'process.versions.node.split(".")[0]')
	if ((have < want)); then
		echo "${0##*/}: node $(node --version) is too old for clients/js: install Node.js $want or newer (e.g. from nodesource), then run again" >&2
		exit 1
	fi
}
