#!/usr/bin/env bash
# Builds what the demo project needs on the host: the static demo worker
# binary worker/bin/worker (CGO_ENABLED=0), which `clusterctl up` copies into
# the image clusterctl/demo-worker:dev from the compose build section, and the
# collector image clusterctl/otel-collector:dev. Works from any directory.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

(
	cd "$dir/worker"
	CGO_ENABLED=0 GOOS=linux go build -buildvcs=false -trimpath -ldflags='-s -w' \
		-o bin/worker .
)
"$dir/../collector/build.sh"
