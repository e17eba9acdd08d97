#!/usr/bin/env bash
# Times bringing up N instances of one service three ways, for each N in COUNTS:
#   clusterctl  `clusterctl -f FILE -p NAME up`, which returns when every instance is ready
#               (no healthcheck, so ready means running for 1s), then `down`;
#   floor       bench/up/floor, the same engine calls with the same bound of 8 at once and
#               the same 1s uptime gate, and nothing else, then its -cleanup;
#   compose     `docker compose` (v2) or `docker-compose` (v1) `up -d --scale app=N`, which
#               returns once the containers are started, then `down`.
# It prints one row per N with the best up time of ROUNDS runs, the ratios, and whether
# clusterctl meets its target: within 1.2x of the floor and faster than Compose.
#
# Settings, from the environment: COUNTS ("20 100"), ROUNDS (2), PARALLEL (8, clusterctl's
# --parallel and the floor's -parallel), KEEP_LOGS (a directory that receives the run logs;
# off when empty).
#
# The instances run the demo worker in the local image clusterctl-bench/worker:v1, built
# FROM scratch from deployments/demo/worker; nothing is pulled, and the compose file sets
# pull_policy: never. Every project is named bench-up-<random>-..., and on exit the script
# removes the containers and networks that carry those project names in their labels. The
# image stays, so that a second run reuses it.
set -euo pipefail

COUNTS=${COUNTS:-"20 100"}
ROUNDS=${ROUNDS:-2}
PARALLEL=${PARALLEL:-8}
KEEP_LOGS=${KEEP_LOGS:-}
IMAGE="clusterctl-bench/worker:v1"

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
run_id=bench-up-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
projects=() # label filters, key=value, of everything this script created

# remove_labelled force-removes the containers, then the networks, that carry a label.
remove_labelled() {
	local filter=$1
	docker ps -aq --filter "label=$filter" | xargs -r docker rm -f >/dev/null 2>&1 || true
	docker network ls -q --filter "label=$filter" | xargs -r docker network rm >/dev/null 2>&1 || true
}

cleanup() {
	local filter
	for filter in "${projects[@]}"; do remove_labelled "$filter"; done
	if [[ -n $KEEP_LOGS ]]; then
		mkdir -p "$KEEP_LOGS"
		cp "$work"/*.log "$KEEP_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# now prints the wall clock in seconds with nanoseconds.
now() { date +%s.%N; }

# seconds_since prints the seconds elapsed since a stamp from now, to milliseconds.
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# min prints the smaller of two decimal numbers; an empty first one counts as infinite.
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

# ratio prints a / b to two decimals, or "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }

# fail prints the tail of a log and exits.
fail() {
	echo "bench/up: $1 failed; last lines of $2:" >&2
	tail -n 20 "$2" >&2
	exit 1
}

build() {
	echo "building clusterctl, the demo worker, the image $IMAGE and the floor" >&2
	make -C "$root" -s build >"$work/build.log" 2>&1 || fail "make build" "$work/build.log"
	"$root/deployments/demo/build.sh" >"$work/build.log" 2>&1 || fail "deployments/demo/build.sh" "$work/build.log"
	docker build -q -t "$IMAGE" "$root/deployments/demo/worker" >"$work/build.log" 2>&1 ||
		fail "docker build $IMAGE" "$work/build.log"
	(cd "$root" && CGO_ENABLED=0 go build -o "$work/floor" ./bench/up/floor)
	clusterctl=$root/bin/clusterctl
}

# find_compose sets compose to the Compose command line, v2 first, or leaves it empty.
find_compose() {
	compose=()
	compose_version=none
	if docker compose version >/dev/null 2>&1; then
		compose=(docker compose)
		compose_version=$(docker compose version --short 2>/dev/null || echo v2)
	elif command -v docker-compose >/dev/null; then
		compose=(docker-compose)
		compose_version=$(docker-compose version --short 2>/dev/null || echo v1)
	fi
}

# write_file writes the compose file for N instances and prints its path.
write_file() {
	local n=$1 file=$work/compose-$1.yaml
	cat >"$file" <<YAML
services:
  app:
    image: $IMAGE
    pull_policy: never
    environment:
      OTEL_SDK_DISABLED: "true"
    x-clusterctl:
      instances: $n
YAML
	echo "$file"
}

# Each time_TOOL function brings up N instances, then removes them, and sets up_s and
# down_s to the seconds each step took. It registers its project for the exit cleanup first.

time_clusterctl() {
	local n=$1 round=$2 name=$run_id-cc$1-r$2 log=$work/clusterctl-$1-r$2.log file start
	projects+=("io.clusterctl.project=$name")
	file=$(write_file "$n")
	start=$(now)
	"$clusterctl" -f "$file" -p "$name" --progress plain up --parallel "$PARALLEL" 2>"$log" ||
		fail "clusterctl up (N=$n, round $round)" "$log"
	up_s=$(seconds_since "$start")
	start=$(now)
	"$clusterctl" -f "$file" -p "$name" --progress plain down 2>>"$log" || fail "clusterctl down (N=$n)" "$log"
	down_s=$(seconds_since "$start")
}

time_floor() {
	local n=$1 round=$2 name=$run_id-fl$1-r$2 log=$work/floor-$1-r$2.log start
	projects+=("io.clusterctl.bench=$name")
	start=$(now)
	"$work/floor" -n "$n" -image "$IMAGE" -prefix "$name" -parallel "$PARALLEL" >"$log" 2>&1 ||
		fail "floor (N=$n, round $round)" "$log"
	up_s=$(seconds_since "$start")
	start=$(now)
	"$work/floor" -prefix "$name" -cleanup >>"$log" 2>&1 || fail "floor -cleanup (N=$n)" "$log"
	down_s=$(seconds_since "$start")
}

time_compose() {
	local n=$1 round=$2 name=$run_id-co$1-r$2 log=$work/compose-$1-r$2.log file start
	projects+=("com.docker.compose.project=$name")
	file=$(write_file "$n")
	start=$(now)
	"${compose[@]}" -p "$name" -f "$file" up -d --scale "app=$n" >"$log" 2>&1 ||
		fail "compose up (N=$n, round $round)" "$log"
	up_s=$(seconds_since "$start")
	start=$(now)
	"${compose[@]}" -p "$name" -f "$file" down >>"$log" 2>&1 || fail "compose down (N=$n)" "$log"
	down_s=$(seconds_since "$start")
}

# verdict prints whether clusterctl met both targets for one N.
verdict() {
	local cc=$1 floor=$2 co=$3
	awk -v cc="$cc" -v fl="$floor" -v co="$co" 'BEGIN {
		a = (cc <= 1.2 * fl) ? "yes" : "no"
		b = (co == "") ? "n/a" : ((cc < co) ? "yes" : "no")
		printf "%s / %s", a, b
	}'
}

# bench_n runs ROUNDS rounds for one N, alternating the tools, and prints its two table rows
# into the files rows and downs.
bench_n() {
	local n=$1 round cc="" fl="" co="" ccd="" fld="" cod=""
	for round in $(seq "$ROUNDS"); do
		time_clusterctl "$n" "$round"
		cc=$(min "$cc" "$up_s") ccd=$(min "$ccd" "$down_s")
		time_floor "$n" "$round"
		fl=$(min "$fl" "$up_s") fld=$(min "$fld" "$down_s")
		if ((${#compose[@]})); then
			time_compose "$n" "$round"
			co=$(min "$co" "$up_s") cod=$(min "$cod" "$down_s")
		fi
		echo "N=$n round $round: clusterctl ${cc}s, floor ${fl}s, compose ${co:--}s (best so far)" >&2
	done
	printf "%5s %13s %8s %10s %17s %19s   %s\n" "$n" "$cc" "$fl" "${co:--}" \
		"$(ratio "$cc" "$fl")" "$(ratio "$cc" "$co")" "$(verdict "$cc" "$fl" "$co")" >>"$work/rows"
	printf "%5s %13s %8s %10s\n" "$n" "$ccd" "$fld" "${cod:--}" >>"$work/downs"
}

main() {
	build
	find_compose
	: >"$work/rows"
	: >"$work/downs"
	for n in $COUNTS; do bench_n "$n"; done

	echo
	echo "bench/up, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores, Docker Engine $(docker version --format '{{.Server.Version}}') (API $(docker version --format '{{.Server.APIVersion}}'), storage $(docker info --format '{{.Driver}}')), compose $compose_version"
	echo "image $IMAGE, no healthcheck, no ports; best of $ROUNDS runs; up to $PARALLEL instances created at once"
	echo
	printf "%5s %13s %8s %10s %17s %19s   %s\n" N "clusterctl s" "floor s" "compose s" \
		"clusterctl/floor" "clusterctl/compose" "target: <=1.2x floor / < compose"
	cat "$work/rows"
	echo
	echo "teardown, best of $ROUNDS (clusterctl down stops gracefully; floor -cleanup and compose down differ):"
	printf "%5s %13s %8s %10s\n" N "clusterctl s" "floor s" "compose s"
	cat "$work/downs"
	echo
	echo "clusterctl and the floor return when every instance has run for 1s, clusterctl's default readiness"
	echo "gate for a service without a healthcheck, so the floor waits the same 1s. compose up -d returns"
	echo "when the containers are started, not ready: it skips that wait and is timed to an earlier point."
}

main
