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

# need_apt and need_npm live in ci/need.sh, shared with ci/generate.sh.
source ci/need.sh

setup() {
	need_apt nginx nginx # deploy/ and clients/js/e2e: Herald behind a real nginx
	need_apt node nodejs # clients/js: the TypeScript client's build and tests
	need_apt npm npm
	need_apt chromium chromium # clients/js/e2e: the demo in a real browser
	need_npm clients/js
	need_apt redis-server redis-server # redis/ and clients/js/e2e: the Redis broker against a real Redis
	need_apt haproxy haproxy # deploy/: and behind a real HAProxy
	need_apt systemd-analyze systemd # deploy/: the systemd unit verifies
}

setup
go test -race -count=1 -timeout 10m ./...
# clients/js: build, unit, scenario and integration tests (against a real
# herald binary the tests build), and the bundle size check.
(cd clients/js && npm test)
# The browser end-to-end tests build and start their own herald binary.
(cd clients/js && npm run test:e2e)
