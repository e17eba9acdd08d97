#!/usr/bin/env bash
# Builds the collector binary on the host (static, CGO_ENABLED=0) into the
# Docker build context, then the image clusterctl/otel-collector:dev.
# Works from any directory. COLLECTOR_IMAGE overrides the image tag.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${COLLECTOR_IMAGE:-clusterctl/otel-collector:dev}"

mkdir -p "$dir/bin/data"
(
	cd "$dir"
	CGO_ENABLED=0 GOOS=linux go build -buildvcs=false -trimpath -ldflags='-s -w' \
		-o bin/otelcol .
)
docker build --quiet --tag "$image" "$dir"
