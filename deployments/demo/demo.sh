#!/usr/bin/env bash
# The demo behind `make demo`: runs clusterctl up on the demo project, prints
# clusterctl ps, sends requests through the front door on 127.0.0.1:8080 and
# shows each instance's telemetry arriving at the collector. Expects the
# binaries and images that `make demo` builds first.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$dir/../.." && pwd)"
clusterctl="${CLUSTERCTL:-$root/bin/clusterctl}"
compose=(-f "$dir/compose.yaml")

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "clusterctl up"
"$clusterctl" "${compose[@]}" up

step "clusterctl ps"
"$clusterctl" "${compose[@]}" ps

step "20 requests through the front door at http://127.0.0.1:8080/"
for _ in $(seq 20); do
	curl -fsS --max-time 5 http://127.0.0.1:8080/
done | sort | uniq -c | sed 's/^ *\([0-9]*\) /\1 x /'

step "telemetry received by the collector, per service.instance.id"
collector=$("$clusterctl" "${compose[@]}" ps --json otel-collector | sed -n 's/.*"name": "\([^"]*\)".*/\1/p' | head -n 1)
(cd "$root" && go build -o bin/demo-telemetry ./deployments/demo/telemetry) || exit 1
for _ in $(seq 30); do
	if summary=$(docker cp "$collector:/data/telemetry.jsonl" - 2>/dev/null | tar -xO 2>/dev/null |
		"$root/bin/demo-telemetry" -require 3 -service web); then
		break
	fi
	sleep 1
done
printf '%s\n' "$summary"

step "done"
echo "The demo keeps running. Try: $clusterctl ${compose[*]} logs --tail 5"
echo "Remove it with: make demo-down"
