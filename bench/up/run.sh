#!/usr/bin/env bash
# Times bringing up N instances of one service with three tools, for each N in COUNTS, to
# two points: when every instance is ready, and when every container has started.
#   clusterctl  Runs `clusterctl -f FILE -p NAME up`, which returns when every instance is
#               ready, which without a healthcheck means running for 1s, then `down`. Then
#               the same with `up --detach`, which returns once every container started.
#   floor       Runs bench/up/floor, then its -cleanup. It makes the same engine calls with
#               the same bound of 8 at once and the same 1s uptime gate, and nothing else.
#               With -min-uptime 0 it returns once every container started.
#   compose     Runs `docker compose` (v2) or `docker-compose` (v1) `up -d --scale app=N`,
#               then `down`. Up returns once the containers are started: that is its time
#               to "started". Its time to "ready" goes on after up returns, with
#               `floor -wait-label`, until every container has run for 1s.
# Before each timed run the script waits until the CPUs are nearly idle (see settle).
# It prints two rows per N, "ready" and "started", with the best time of ROUNDS runs per
# tool, the ratios, and whether clusterctl meets its target in that row: within 1.2x of the
# floor and faster than Compose.
#
# With DIAGNOSE=1 each round also runs the floor with -wait-in-slot, which keeps each of its
# 8 slots until the instance is ready, as clusterctl up does. The script then also prints how
# long clusterctl's instances spent between the created, started and ready events.
#
# Settings, from the environment: COUNTS ("20 100"), ROUNDS (2), PARALLEL (8, clusterctl's
# --parallel and the floor's -parallel), DIAGNOSE (1; 0 turns it off), KEEP_LOGS (a
# directory that receives the run logs; off when empty).
#
# The instances run the demo worker, built FROM scratch from deployments/demo/worker, in the
# local image clusterctl-bench/worker:bench-up-<random>. The tag is unique to the run because
# bench/rollout builds and removes clusterctl-bench/worker:v1 on the same daemon. Nothing is
# pulled: the compose file sets pull_policy: never, and because docker-compose 1.29.2 ignores
# that setting, the script checks that the image exists right before each compose run.
#
# Every project is named bench-up-<random>-.... After each run and on exit the script removes
# the containers and networks that carry that project's label, and on exit the run's image
# tag. The tool image that clusterctl builds for its project lock stays for the next run.
set -euo pipefail

COUNTS=${COUNTS:-"20 100"}
ROUNDS=${ROUNDS:-2}
PARALLEL=${PARALLEL:-8}
DIAGNOSE=${DIAGNOSE:-1}
KEEP_LOGS=${KEEP_LOGS:-}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
run_id=bench-up-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
IMAGE=clusterctl-bench/worker:$run_id
projects=()    # label filters, key=value, of everything this script created
stuck_nets=()  # networks that the engine failed to remove

# remove_labelled force-removes the containers, then the networks and volumes, that carry a
# label. The volumes are clusterctl's revision history, which down keeps without --volumes.
remove_labelled() {
	local filter=$1
	docker ps -aq --filter "label=$filter" | xargs -r docker rm -f >/dev/null 2>&1 || true
	docker network ls -q --filter "label=$filter" | xargs -r docker network rm >/dev/null 2>&1 || true
	docker volume ls -q --filter "label=$filter" | xargs -r docker volume rm >/dev/null 2>&1 || true
}

cleanup() {
	local filter
	for filter in "${projects[@]}"; do remove_labelled "$filter"; done
	# Without -f this removes only the tag when other tags share the image.
	docker image rm "$IMAGE" >/dev/null 2>&1 || true
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

# min prints the smaller of two decimal numbers. An empty first one counts as infinite.
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

# ratio prints a / b to two decimals, or "-" when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}

# cpu_busy prints how busy the machine's CPUs were over half a second, in percent.
cpu_busy() {
	local before after
	before=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
	sleep 0.5
	after=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
	awk -v a="$before" -v b="$after" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "%d", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0
	}'
}

# settle waits, for at most 60 seconds, until the CPUs are at most 15% busy. Without the
# wait, the engine's remaining work for the previous run's teardown counted against the
# next tool.
settle() {
	local deadline=$((SECONDS + 60))
	while ((SECONDS < deadline)); do
		(($(cpu_busy) <= 15)) && return 0
	done
	echo "bench/up: the CPUs stayed over 15% busy for 60s; timing the next run anyway" >&2
}

# fail prints the tail of a log and exits.
fail() {
	echo "bench/up: $1 failed; last lines of $2:" >&2
	tail -n 20 "$2" >&2
	exit 1
}

# teardown_done warns when a removal command failed, removes what it left behind, and
# records a network that the engine still fails to remove.
teardown_done() {
	local status=$1 what=$2 log=$3 filter=$4 net
	if ((status != 0)); then
		echo "bench/up: $what exited $status; last line: $(tail -n 1 "$log")" >&2
	fi
	remove_labelled "$filter"
	while read -r net; do
		[[ -n $net ]] && stuck_nets+=("$net")
	done < <(docker network ls --filter "label=$filter" --format '{{.Name}}')
}

build() {
	echo "building clusterctl, the demo worker, the image $IMAGE and the floor" >&2
	make -C "$root" -s build >"$work/build.log" 2>&1 || fail "make build" "$work/build.log"
	"$root/deployments/demo/build.sh" >"$work/build.log" 2>&1 ||
		fail "deployments/demo/build.sh" "$work/build.log"
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

# time_clusterctl takes N, the round and the mode: ready runs up, started runs up --detach.
time_clusterctl() {
	local n=$1 round=$2 mode=$3 tag=cc flags=() name log file start status=0
	if [[ $mode == started ]]; then tag=ccd flags=(--detach); fi
	name=$run_id-$tag$n-r$round log=$work/clusterctl-$mode-$n-r$round.log
	projects+=("io.clusterctl.project=$name")
	file=$(write_file "$n")
	settle
	start=$(now)
	"$clusterctl" -f "$file" -p "$name" --progress plain up --parallel "$PARALLEL" "${flags[@]}" 2>"$log" ||
		fail "clusterctl up ${flags[*]} (N=$n, round $round)" "$log"
	up_s=$(seconds_since "$start")
	echo "$start $(now)" >"$log.times"
	start=$(now)
	"$clusterctl" -f "$file" -p "$name" --progress plain down 2>>"$log" || status=$?
	down_s=$(seconds_since "$start")
	teardown_done "$status" "clusterctl down (N=$n)" "$log" "io.clusterctl.project=$name"
}

# time_floor takes N, the round, a tool name for the project and log names (floor or
# slotwait), then extra floor flags.
time_floor() {
	local n=$1 round=$2 name=$run_id-$3$1-r$2 log=$work/$3-$1-r$2.log start status=0
	shift 3
	projects+=("io.clusterctl.bench=$name")
	settle
	start=$(now)
	"$work/floor" -n "$n" -image "$IMAGE" -prefix "$name" -parallel "$PARALLEL" "$@" >"$log" 2>&1 ||
		fail "floor $* (N=$n, round $round)" "$log"
	up_s=$(seconds_since "$start")
	start=$(now)
	"$work/floor" -prefix "$name" -cleanup >>"$log" 2>&1 || status=$?
	down_s=$(seconds_since "$start")
	teardown_done "$status" "floor -cleanup (N=$n)" "$log" "io.clusterctl.bench=$name"
}

# time_compose also sets ready_s: up_s plus the wait until every container has run for 1s.
time_compose() {
	local n=$1 round=$2 name=$run_id-co$1-r$2 log=$work/compose-$1-r$2.log file start status=0
	projects+=("com.docker.compose.project=$name")
	file=$(write_file "$n")
	# docker-compose 1.29.2 accepts pull_policy but never reads it, so it pulls a missing
	# image. The daemon is shared, so check the image before every run.
	if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
		echo "bench/up: image $IMAGE is missing (removed by another user of the daemon?)," \
			"so compose up would try to pull it; run bench/up/run.sh again" >&2
		exit 1
	fi
	settle
	start=$(now)
	"${compose[@]}" -p "$name" -f "$file" up -d --scale "app=$n" >"$log" 2>&1 ||
		fail "compose up (N=$n, round $round)" "$log"
	up_s=$(seconds_since "$start")
	"$work/floor" -n "$n" -wait-label "com.docker.compose.project=$name" >>"$log" 2>&1 ||
		fail "floor -wait-label after compose up (N=$n, round $round)" "$log"
	ready_s=$(seconds_since "$start")
	start=$(now)
	"${compose[@]}" -p "$name" -f "$file" down >>"$log" 2>&1 || status=$?
	down_s=$(seconds_since "$start")
	teardown_done "$status" "compose down (N=$n)" "$log" "com.docker.compose.project=$name"
}

# verdict prints whether clusterctl met its targets in one row: within 1.2x of the floor,
# and faster than Compose.
verdict() {
	local cc=$1 floor=$2 co=$3
	awk -v cc="$cc" -v fl="$floor" -v co="$co" 'BEGIN {
		a = (cc <= 1.2 * fl) ? "yes" : "no"
		b = (co == "") ? "n/a" : ((cc < co) ? "yes" : "no")
		printf "%s / %s", a, b
	}'
}

# phases reads the timestamps of one clusterctl --progress plain log and the process start
# and exit stamps in LOG.times. It prints four figures in seconds. The first is from the
# process start to the first progress line, which covers loading the file, the project lock
# and the plan. The second is from the last ready instance to the exit. The last two are
# the mean time that instances spent from the created to the started event (ContainerStart)
# and from started to ready (the uptime gate). The log's UTC times of day are compared with
# the stamps, so a run across midnight prints wrong figures.
phases() {
	local log=$1 start end
	read -r start end <"$log.times"
	awk -v start="$start" -v end="$end" '
		function secs(stamp) {
			return substr(stamp, 12, 2) * 3600 + substr(stamp, 15, 2) * 60 + substr(stamp, 18, 6)
		}
		NR == 1 { first = secs($1) }
		$3 == "created" && $2 ~ /\.[0-9]+$/ { created[$2] = secs($1) }
		$3 == "started" { started[$2] = secs($1) }
		$3 == "ready" { ready[$2] = secs($1); if (ready[$2] > last) last = ready[$2] }
		END {
			for (k in ready) { n++; start_s += started[k] - created[k]; wait_s += ready[k] - started[k] }
			if (!n) exit
			printf "start->first line %.2fs, last ready->exit %.2fs, ", first - start % 86400, end % 86400 - last
			printf "created->started %.2fs, started->ready %.2fs", start_s / n, wait_s / n
		}' "$log"
}

# row appends one results row: N, the mode, then the clusterctl, floor and compose times.
row() {
	printf "%5s %-8s %13s %8s %10s %17s %19s   %s\n" "$1" "$2" "$3" "$4" "${5:--}" \
		"$(ratio "$3" "$4")" "$(ratio "$3" "$5")" "$(verdict "$3" "$4" "$5")" >>"$work/rows"
}

# bench_n runs ROUNDS rounds for one N, alternating the tools, and appends its table rows to
# the files rows, downs and diagnosis.
bench_n() {
	local n=$1 round cc="" ccs="" fl="" fls="" co="" cor="" fs="" ccd="" fld="" cod=""
	for round in $(seq "$ROUNDS"); do
		time_clusterctl "$n" "$round" ready
		cc=$(min "$cc" "$up_s") ccd=$(min "$ccd" "$down_s")
		time_floor "$n" "$round" floor
		fl=$(min "$fl" "$up_s") fld=$(min "$fld" "$down_s")
		if ((${#compose[@]})); then
			time_compose "$n" "$round"
			co=$(min "$co" "$up_s") cor=$(min "$cor" "$ready_s") cod=$(min "$cod" "$down_s")
		fi
		time_clusterctl "$n" "$round" started
		ccs=$(min "$ccs" "$up_s") ccd=$(min "$ccd" "$down_s")
		time_floor "$n" "$round" floorstarted -min-uptime 0
		fls=$(min "$fls" "$up_s") fld=$(min "$fld" "$down_s")
		if ((DIAGNOSE)); then
			time_floor "$n" "$round" slotwait -wait-in-slot
			fs=$(min "$fs" "$up_s")
		fi
		echo "N=$n round $round, best so far: ready: clusterctl ${cc}s, floor ${fl}s," \
			"compose ${cor:--}s; started: clusterctl ${ccs}s, floor ${fls}s, compose ${co:--}s;" \
			"floor -wait-in-slot ${fs:--}s" >&2
	done
	row "$n" ready "$cc" "$fl" "$cor"
	row "$n" started "$ccs" "$fls" "$co"
	printf "%5s %13s %8s %10s\n" "$n" "$ccd" "$fld" "${cod:--}" >>"$work/downs"
	if ((DIAGNOSE)); then
		printf "%5s %27s %18s   %s\n" "$n" "$fs" "$(ratio "$cc" "$fs")" \
			"$(phases "$work/clusterctl-ready-$n-r$ROUNDS.log")" >>"$work/diagnosis"
	fi
}

# report prints the machine, the results table, the teardown table, the diagnosis and the
# caveats.
report() {
	local engine api storage
	engine=$(docker version --format '{{.Server.Version}}')
	api=$(docker version --format '{{.Server.APIVersion}}')
	storage=$(docker info --format '{{.Driver}}')

	echo
	echo "bench/up, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "Docker Engine $engine (API $api, storage $storage), compose $compose_version"
	echo "image $IMAGE, no healthcheck, no ports; best of $ROUNDS runs;" \
		"up to $PARALLEL instances created at once"

	echo
	printf "%5s %-8s %13s %8s %10s %17s %19s   %s\n" N "until" "clusterctl s" "floor s" "compose s" \
		"clusterctl/floor" "clusterctl/compose" "target: <=1.2x floor / < compose"
	cat "$work/rows"

	echo
	echo "teardown, best of $ROUNDS (clusterctl down stops gracefully; floor -cleanup force-removes):"
	printf "%5s %13s %8s %10s\n" N "clusterctl s" "floor s" "compose s"
	cat "$work/downs"

	if ((DIAGNOSE)); then
		echo
		echo "diagnosis: the floor holding each slot until its instance is ready, as clusterctl up does,"
		echo "and the mean phases of clusterctl's instances in its last round:"
		printf "%5s %27s %18s   %s\n" N "floor -wait-in-slot s" "clusterctl/that" "clusterctl phases"
		cat "$work/diagnosis"
	fi

	echo
	echo "ready: every instance has run for 1s, clusterctl's default readiness gate for a service"
	echo "without a healthcheck: clusterctl up, the floor, and compose up -d followed by that wait."
	echo "started: every container has started: clusterctl up --detach, the floor with"
	echo "-min-uptime 0, and compose up -d alone."

	if ((${#stuck_nets[@]})); then
		echo
		echo "the engine failed to remove these empty networks of this run (\"has active endpoints\"):"
		printf "  %s\n" "${stuck_nets[@]}"
	fi
}

# warm_up runs clusterctl once with one instance, untimed, because its first run with a new
# binary builds the tool image of its project lock.
warm_up() {
	local name=$run_id-warmup log=$work/warmup.log file
	projects+=("io.clusterctl.project=$name")
	file=$(write_file 1)
	"$clusterctl" -f "$file" -p "$name" --progress plain up 2>"$log" ||
		fail "clusterctl up (warm-up)" "$log"
	"$clusterctl" -f "$file" -p "$name" --progress plain down 2>>"$log" || true
	teardown_done 0 "clusterctl down (warm-up)" "$log" "io.clusterctl.project=$name"
}

main() {
	build
	warm_up
	find_compose
	: >"$work/rows"
	: >"$work/downs"
	: >"$work/diagnosis"
	for n in $COUNTS; do bench_n "$n"; done
	report
}

main
