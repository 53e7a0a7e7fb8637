#!/usr/bin/env bash
# The real servers internal/storage's tests run against (issue 25), each on
# loopback, started by the tests: OpenSSH's sshd (sftp://), versitygw
# (s3://), fake-gcs-server (gs://) and Azurite (azblob://). Idempotent: what
# is installed is skipped. Run before the tests; with BULKSYNC_CI=1 a
# missing server fails its test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."

gobin="$(go env GOPATH)/bin"
pids=()

# The downloads (Debian, npm) go on while the Go servers compile.
if ! command -v sshd >/dev/null && [ ! -x /usr/sbin/sshd ]; then
	(
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
	) &
	pids+=($!)
fi
if [ ! -x test/azurite/node_modules/.bin/azurite-blob ]; then
	(cd test/azurite && npm ci --no-audit --no-fund --loglevel=error) &
	pids+=($!)
fi

[ -x "$gobin/versitygw" ] || go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
[ -x "$gobin/fake-gcs-server" ] || go install github.com/fsouza/fake-gcs-server@v1.56.1

for pid in "${pids[@]}"; do
	wait "$pid"
done

# sshd started by root wants its privilege-separation folder (the test
# makes it too); Debian's service would have.
if [ "$(id -u)" = 0 ]; then
	mkdir -p /run/sshd
fi
