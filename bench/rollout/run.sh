#!/usr/bin/env bash
# Rolls one HTTP service from image v1 to image v2 under the same load with three tools, and
# prints side by side the failed requests, the total requests and the rollout time:
#   clusterctl  4 instances behind clusterctl's front door on 127.0.0.1:PORT,
#               deploy.update_config parallelism 1, start-first; the rollout is `clusterctl up`
#               after the image change. For clusterctl the script also prints the sum of the
#               batches' readiness times (per batch, from its "batch" event, right before the
#               create calls of its instances, to its last "ready" event) and the ratio rollout
#               time / that sum. The target is zero failed requests and a ratio of at most 1.3.
#               The breakdown also gives the sum and ratio from each batch's first "created"
#               event, which leave the create calls out of the readiness times.
#   compose     Docker Compose with ONE instance published on 127.0.0.1:PORT, because Compose
#               can publish a host port from one container only; the rollout is `up -d` after
#               the image change, which stops the old container and then starts the new one.
#   swarm       a Docker Swarm service of 4 replicas, endpoint mode dnsrr, start-first,
#               parallelism 1, on an attachable overlay network; the rollout is
#               `docker service update --detach=false`. The load runs in a container on that
#               network and finds the replicas by DNS round robin, because the routing mesh
#               and VIPs need IPVS in the kernel, which the machine the script was written on
#               lacks.
# The load is bench/rollout/load: CLIENTS keep-alive clients, each with one GET / in flight.
# The rollout starts once the load got its first response, and the load goes on until SETTLE
# seconds after the rollout command returned.
# A failed request is a transport error or a status outside 200-299.
#
# Every service runs the demo worker (deployments/demo/worker) from two local images built
# FROM scratch, clusterctl-bench/worker:v1 and :v2, the same binary with a different label
# and an exec-form HEALTHCHECK (/worker -healthcheck every 500ms). Nothing is pulled: the
# compose files set pull_policy: never, Swarm gets image IDs and --no-resolve-image, and
# docker run gets --pull never. The swarm is created with `docker swarm init` on 127.0.0.1
# only when this engine is in none, and left again at exit.
#
# Settings, from the environment: TOOLS ("clusterctl compose swarm"), CLIENTS (16), SETTLE
# (1, seconds), SWARM_MONITOR (0s: Swarm's --update-monitor, set to clusterctl's default of
# no monitor period; Swarm's own default of 5s adds that wait to its rollout time),
# KEEP_LOGS (a directory that receives the run logs; off when empty).
#
# Everything the script creates is named bench-rollout-<random>-..., and an EXIT trap removes
# it: containers, networks, volumes, the Swarm service, the images it tagged clusterctl-bench/*,
# and the swarm with the docker_gwbridge network when the script created them. A tag that named
# another image before the run, such as clusterctl-bench/worker:v1 of bench/up, names that
# image again.
set -euo pipefail

TOOLS=${TOOLS:-"clusterctl compose swarm"}
CLIENTS=${CLIENTS:-16}
SETTLE=${SETTLE:-1}
SWARM_MONITOR=${SWARM_MONITOR:-0s}
KEEP_LOGS=${KEEP_LOGS:-}

INSTANCES=4
PARALLELISM=1
WORKER=clusterctl-bench/worker

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
run_id=bench-rollout-$suffix
load_image=clusterctl-bench/load:$suffix
clusterctl=$root/bin/clusterctl

# What the EXIT trap removes. Each step registers a resource before it creates it.
images=()        # image tags
declare -A prior_images=() # by tag in images: the image ID it named before this run
filters=()       # label filters, key=value, of containers, networks and volumes
load_pid=""      # the host load generator while it runs
swarm_service="" # the Swarm service
swarm_net=""     # the overlay network
swarm_created=0  # 1 when this script ran docker swarm init
gwbridge_existed=1

# remove_labelled force-removes the containers, then the networks and volumes, that carry a
# label. The volumes are clusterctl's revision history, which clusterctl down keeps.
remove_labelled() {
	local filter=$1
	docker ps -aq --filter "label=$filter" | xargs -r docker rm -f >/dev/null 2>&1 || true
	docker network ls -q --filter "label=$filter" | xargs -r docker network rm >/dev/null 2>&1 || true
	docker volume ls -q --filter "label=$filter" | xargs -r docker volume rm >/dev/null 2>&1 || true
}

# wait_for polls a command every 100ms until it succeeds, for at most $1 seconds.
wait_for() {
	local limit=$1 deadline
	shift
	deadline=$(($(date +%s) + limit))
	until "$@"; do
		(($(date +%s) < deadline)) || return 1
		sleep 0.1
	done
}

no_swarm_tasks() { [[ -z $(docker ps -aq --filter "label=com.docker.swarm.service.name=$swarm_service") ]]; }

cleanup_swarm() {
	if [[ -n $swarm_service ]]; then
		docker service rm "$swarm_service" >/dev/null 2>&1 || true
		wait_for 60 no_swarm_tasks || echo "bench/rollout: tasks of $swarm_service still exist" >&2
	fi
	if [[ -n $swarm_net ]]; then
		wait_for 30 docker network rm "$swarm_net" >/dev/null 2>&1 ||
			echo "bench/rollout: could not remove the network $swarm_net" >&2
	fi
	if ((swarm_created)); then
		docker swarm leave --force >/dev/null 2>&1 || echo "bench/rollout: docker swarm leave --force failed" >&2
		if ((!gwbridge_existed)); then
			docker network rm docker_gwbridge >/dev/null 2>&1 || echo "bench/rollout: could not remove docker_gwbridge" >&2
		fi
	fi
}

# restore_tags points the tags that named another image before this run back at that image,
# so that a run does not take away a tag that another script built.
restore_tags() {
	local tag
	for tag in "${!prior_images[@]}"; do
		docker tag "${prior_images[$tag]}" "$tag" 2>/dev/null || true
	done
}

cleanup() {
	local filter
	if [[ -n $load_pid ]]; then kill "$load_pid" 2>/dev/null || true; fi
	for filter in "${filters[@]}"; do remove_labelled "$filter"; done
	cleanup_swarm
	if ((${#images[@]})); then
		docker rmi "${images[@]}" >/dev/null 2>&1 || echo "bench/rollout: could not remove some of ${images[*]}" >&2
	fi
	restore_tags
	if [[ -n $KEEP_LOGS ]]; then
		mkdir -p "$KEEP_LOGS"
		cp "$work"/*.log "$work"/*.json* "$work"/*.yaml "$KEEP_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# now prints the wall clock in seconds with nanoseconds.
now() { date +%s.%N; }

# seconds_since prints the seconds elapsed since a stamp from now, to milliseconds.
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# fail prints the tail of a log and exits.
fail() {
	echo "bench/rollout: $1 failed; last lines of $2:" >&2
	tail -n 20 "$2" >&2
	exit 1
}

# free_port prints a TCP port below the ephemeral range that nothing on 127.0.0.1 listens on.
free_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 12000))
		if [[ -z $(ss -Htln "sport = :$port") ]]; then
			echo "$port"
			return
		fi
	done
	echo "bench/rollout: no free port found" >&2
	exit 1
}

# build_binaries builds clusterctl and, into the work directory, the static worker, load and
# batches binaries.
build_binaries() {
	local log=$work/build.log
	make -C "$root" -s build >"$log" 2>&1 || fail "make build" "$log"
	mkdir -p "$work/worker" "$work/load"
	(
		cd "$root"
		CGO_ENABLED=0 go build -trimpath -o "$work/worker/worker" ./deployments/demo/worker
		CGO_ENABLED=0 go build -trimpath -o "$work/load/load" ./bench/rollout/load
		CGO_ENABLED=0 go build -trimpath -o "$work/batches" ./bench/rollout/batches
	) >"$log" 2>&1 || fail "go build" "$log"
}

# write_dockerfiles writes the build contexts' Dockerfiles. The worker image carries its
# healthcheck because docker service create --health-cmd takes only a shell command
# (CMD-SHELL), and an image FROM scratch has no shell.
write_dockerfiles() {
	cat >"$work/worker/Dockerfile" <<-'EOF'
		FROM scratch
		COPY worker /worker
		USER 10001:10001
		EXPOSE 8080
		HEALTHCHECK --interval=500ms --timeout=1s --retries=30 CMD ["/worker", "-healthcheck"]
		ENTRYPOINT ["/worker"]
	EOF
	cat >"$work/load/Dockerfile" <<-'EOF'
		FROM scratch
		COPY load /load
		USER 65534:65534
		ENTRYPOINT ["/load"]
	EOF
}

# build_images builds the binaries and the images v1, v2 and the load image. It sets v1_id
# and v2_id to the worker images' IDs.
build_images() {
	local log=$work/build.log version id
	echo "building clusterctl, the worker and load binaries, and the images" >&2
	build_binaries
	write_dockerfiles

	for version in v1 v2; do
		if id=$(docker image inspect -f '{{.Id}}' "$WORKER:$version" 2>/dev/null); then
			prior_images[$WORKER:$version]=$id
		fi
		images+=("$WORKER:$version")
		docker build -q --label "org.opencontainers.image.version=$version" -t "$WORKER:$version" "$work/worker" \
			>"$log" 2>&1 || fail "docker build $WORKER:$version" "$log"
	done
	images+=("$load_image")
	docker build -q -t "$load_image" "$work/load" >"$log" 2>&1 || fail "docker build $load_image" "$log"

	v1_id=$(docker image inspect -f '{{.Id}}' "$WORKER:v1")
	v2_id=$(docker image inspect -f '{{.Id}}' "$WORKER:v2")
	if [[ $v1_id == "$v2_id" ]]; then
		echo "bench/rollout: $WORKER:v1 and :v2 have the same ID $v1_id" >&2
		exit 1
	fi
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

# write_file writes a compose file of the service web on a published loopback port. The
# clusterctl file adds its instance count and update_config. The Compose file leaves both
# out, because Compose runs one container per published host port and v1 ignores update_config.
write_file() {
	local file=$1 port=$2 tool=$3
	cat >"$file" <<-YAML
		services:
		  web:
		    image: $WORKER:v1
		    pull_policy: never
		    ports: ["127.0.0.1:$port:8080"]
		    environment:
		      OTEL_SDK_DISABLED: "true"
		    healthcheck:
		      test: ["CMD", "/worker", "-healthcheck"]
		      interval: 500ms
		      timeout: 1s
		      retries: 30
		      start_period: 0s
	YAML
	[[ $tool == clusterctl ]] || return 0
	cat >>"$file" <<-YAML
		    deploy:
		      update_config:
		        parallelism: $PARALLELISM
		        order: start-first
		    x-clusterctl:
		      instances: $INSTANCES
	YAML
}

# switch_to_v2 changes the image of a compose file from v1 to v2.
switch_to_v2() { sed -i "s|image: $WORKER:v1|image: $WORKER:v2|" "$1"; }

# start_host_load starts the load generator on the host against a loopback port and waits
# for its first successful response.
start_host_load() {
	local tool=$1 port=$2
	rm -f "$work/stop"
	"$work/load/load" -url "http://127.0.0.1:$port/" -clients "$CLIENTS" -stop-file "$work/stop" \
		>"$work/load-$tool.json" 2>"$work/load-$tool.log" &
	load_pid=$!
	wait_for 30 grep -q "first response" "$work/load-$tool.log" || fail "load on 127.0.0.1:$port" "$work/load-$tool.log"
}

# stop_host_load lets the load run SETTLE more seconds, stops it and waits for its result.
stop_host_load() {
	local tool=$1
	sleep "$SETTLE"
	touch "$work/stop"
	wait "$load_pid" || fail "load generator" "$work/load-$tool.log"
	load_pid=""
	cp "$work/load-$tool.json" "$work/result-$tool.json"
}

# count_running prints how many running containers that carry a label run an image ID.
count_running() {
	local filter=$1 image_id=$2
	docker ps -q --filter "label=$filter" | xargs -r docker inspect -f '{{.Image}}' | grep -c "^$image_id\$" || true
}

# record writes one tool's row: instances, rollout seconds, the v2 instances at the end, and
# the rollout command's exit status.
record() {
	local tool=$1 instances=$2 rollout=$3 on_v2=$4 status=$5
	printf '%s %s %s %s\n' "$instances" "$rollout" "$on_v2" "$status" >"$work/row-$tool"
	echo "$tool: rollout ${rollout}s (exit $status), $(jq -c '{requests, errors, non2xx}' "$work/result-$tool.json")" >&2
}

# time_noop_up prints the shortest of 3 runs of `clusterctl up` with nothing to change.
time_noop_up() {
	local file=$1 name=$2 start best=""
	for _ in 1 2 3; do
		start=$(now)
		"$clusterctl" -f "$file" -p "$name" up 2>>"$work/clusterctl.log" || fail "clusterctl up with nothing changed" "$work/clusterctl.log"
		best=$(awk -v a="$best" -v b="$(seconds_since "$start")" 'BEGIN { print (a == "" || b < a) ? b : a }')
	done
	echo "$best"
}

# analyze_clusterctl writes what a clusterctl rollout left: its last events when it failed,
# or else the batch summary in batches.json and the time of an up with nothing to change.
analyze_clusterctl() {
	local status=$1 file=$2 name=$3
	if ((status != 0)); then
		{
			echo "clusterctl up exited $status; its last events:"
			tail -n 5 "$work/events.jsonl"
		} >"$work/errors-clusterctl"
		return 0
	fi
	if ! "$work/batches" -service web -parallelism "$PARALLELISM" <"$work/events.jsonl" >"$work/batches.json" \
		2>"$work/errors-clusterctl"; then
		rm -f "$work/batches.json"
		return 0
	fi
	time_noop_up "$file" "$name" >"$work/noop-seconds"
}

run_clusterctl() {
	local name=$run_id-cc file=$work/clusterctl.yaml log=$work/clusterctl.log port start rollout status=0
	port=$(free_port)
	filters+=("io.clusterctl.project=$name")
	write_file "$file" "$port" clusterctl
	echo "clusterctl: up v1 on 127.0.0.1:$port" >&2
	"$clusterctl" -f "$file" -p "$name" --progress json up 2>"$log" || fail "clusterctl up v1" "$log"
	start_host_load clusterctl "$port"

	switch_to_v2 "$file"
	start=$(now)
	"$clusterctl" -f "$file" -p "$name" --progress json up 2>"$work/events.jsonl" || status=$?
	rollout=$(seconds_since "$start")
	echo "$start $(now)" >"$work/clusterctl-stamps"

	stop_host_load clusterctl
	record clusterctl "$INSTANCES" "$rollout" "$(count_running "io.clusterctl.project=$name" "$v2_id")" "$status"
	analyze_clusterctl "$status" "$file" "$name"
	"$clusterctl" -f "$file" -p "$name" down >>"$log" 2>&1 || echo "bench/rollout: clusterctl down failed" >&2
}

compose_healthy() {
	[[ $(docker inspect -f '{{.State.Health.Status}}' "$("${compose[@]}" -p "$1" -f "$2" ps -q web)" 2>/dev/null) == healthy ]]
}

run_compose() {
	local name=$run_id-co file=$work/compose.yaml log=$work/compose.log port start rollout status=0
	if ((${#compose[@]} == 0)); then
		echo "compose: skipped, neither docker compose nor docker-compose is installed" >&2
		return
	fi
	port=$(free_port)
	filters+=("com.docker.compose.project=$name")
	write_file "$file" "$port" compose
	echo "compose: up -d v1 on 127.0.0.1:$port" >&2
	"${compose[@]}" -p "$name" -f "$file" up -d >"$log" 2>&1 || fail "compose up v1" "$log"
	wait_for 60 compose_healthy "$name" "$file" || fail "compose v1 health" "$log"
	start_host_load compose "$port"

	switch_to_v2 "$file"
	start=$(now)
	"${compose[@]}" -p "$name" -f "$file" up -d >>"$log" 2>&1 || status=$?
	rollout=$(seconds_since "$start")

	stop_host_load compose
	record compose 1 "$rollout" "$(count_running "com.docker.compose.project=$name" "$v2_id")" "$status"
	if ((status != 0)); then
		{
			echo "compose up -d exited $status; its last output:"
			tail -n 5 "$log"
		} >"$work/errors-compose"
	fi
	"${compose[@]}" -p "$name" -f "$file" down >>"$log" 2>&1 || echo "bench/rollout: compose down failed" >&2
}

# join_swarm makes this engine a swarm manager when it is in no swarm, and returns 1 when it
# is in a swarm that it does not manage or in an unusable state.
join_swarm() {
	local log=$work/swarm.log state
	state=$(docker info --format '{{.Swarm.LocalNodeState}}')
	case $state in
	inactive)
		docker network inspect docker_gwbridge >/dev/null 2>&1 || gwbridge_existed=0
		swarm_created=1
		# The output, which shows the join token, is discarded.
		docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null 2>"$log" ||
			fail "docker swarm init" "$log"
		;;
	active)
		[[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] && return 0
		echo "swarm: skipped, this engine is a swarm worker, not a manager" >&2
		return 1
		;;
	*)
		echo "swarm: skipped, the engine's swarm state is $state" >&2
		return 1
		;;
	esac
}

# swarm_update_status writes Swarm's own record of the update, its state and the seconds from
# its StartedAt to its CompletedAt, to the file swarm-update.
swarm_update_status() {
	local status started completed
	status=$(docker service inspect -f '{{json .UpdateStatus}}' "$swarm_service")
	started=$(jq -r .StartedAt <<<"$status")
	completed=$(jq -r '.CompletedAt // empty' <<<"$status")
	[[ -n $completed ]] || completed=$started
	awk -v a="$(date -d "$started" +%s.%N)" -v b="$(date -d "$completed" +%s.%N)" -v state="$(jq -r .State <<<"$status")" \
		'BEGIN { printf "swarm update status: %s, %.3fs from StartedAt to CompletedAt\n", state, b - a }' >"$work/swarm-update"
}

load_container_started() { docker logs "$run_id-load" 2>&1 | grep -q "first response"; }

# swarm_task_errors prints the service's tasks that report an error, with the error.
swarm_task_errors() {
	docker service ps --no-trunc --format '{{if .Error}}{{.Name}} {{.CurrentState}}: {{.Error}}{{end}}' "$swarm_service" |
		grep -v '^$' || true
}

# create_swarm_service creates the overlay network and the service of v1, and waits until
# every replica is running and healthy.
create_swarm_service() {
	local log=$work/swarm.log
	swarm_net=$run_id-net
	filters+=("io.clusterctl.bench=$run_id")
	docker network create -d overlay --attachable --label "io.clusterctl.bench=$run_id" "$swarm_net" >>"$log" 2>&1 ||
		fail "docker network create $swarm_net" "$log"
	swarm_service=$run_id-web
	echo "swarm: service create $swarm_service ($INSTANCES replicas of v1)" >&2
	docker service create --detach=false --quiet --name "$swarm_service" --replicas "$INSTANCES" \
		--endpoint-mode dnsrr --network "$swarm_net" --env OTEL_SDK_DISABLED=true \
		--update-order start-first --update-parallelism "$PARALLELISM" --update-monitor "$SWARM_MONITOR" \
		--no-resolve-image "$v1_id" >>"$log" 2>&1 || fail "docker service create" "$log"
}

# start_container_load starts the load generator in a container on the overlay network,
# aimed at the service name, and waits for its first successful response.
start_container_load() {
	local log=$work/swarm.log
	docker run -d --pull never --name "$run_id-load" --label "io.clusterctl.bench=$run_id" --network "$swarm_net" \
		"$load_image" -url "http://$swarm_service:8080/" -allow-host "$swarm_service" -clients "$CLIENTS" \
		>>"$log" 2>&1 || fail "docker run $run_id-load" "$log"
	wait_for 30 load_container_started || fail "load container" <(docker logs "$run_id-load" 2>&1)
}

run_swarm() {
	local log=$work/swarm.log start rollout status=0
	join_swarm || return 0
	create_swarm_service
	start_container_load

	start=$(now)
	docker service update --detach=false --quiet --image "$v2_id" --no-resolve-image "$swarm_service" >>"$log" 2>&1 ||
		status=$?
	rollout=$(seconds_since "$start")

	sleep "$SETTLE"
	swarm_update_status
	docker stop -t 30 "$run_id-load" >/dev/null
	docker logs "$run_id-load" >"$work/result-swarm.json" 2>"$work/load-swarm.log"
	record swarm "$INSTANCES" "$rollout" "$(count_running "com.docker.swarm.service.name=$swarm_service" "$v2_id")" "$status"
	if ((status != 0)); then
		{
			echo "docker service update exited $status: $(tail -n 1 "$log")"
			swarm_task_errors
		} >"$work/errors-swarm"
	fi
}

# row prints one tool's line of the table.
row() {
	local tool=$1 instances rollout on_v2 status result=$work/result-$1.json sum="-" ratio="-"
	[[ -f $work/row-$tool ]] || return 0
	read -r instances rollout on_v2 status <"$work/row-$tool"
	if [[ $tool == clusterctl && -f $work/batches.json ]]; then
		sum=$(jq -r '.ready_sum * 1000 | round / 1000' "$work/batches.json")
		ratio=$(awk -v a="$rollout" -v b="$sum" 'BEGIN { printf "%.2f", a / b }')
	fi
	((status == 0)) || rollout="$rollout (failed, exit $status)"
	printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$tool" "$instances" "$on_v2" \
		"$(jq -r '"\(.errors + .non2xx) (\(.errors)+\(.non2xx))"' "$result")" \
		"$(jq -r '.failure_window * 1000 | round / 1000' "$result")" "$(jq -r .requests "$result")" \
		"$(jq -r '.duration * 10 | round / 10' "$result")" "$rollout" "$sum" "$ratio"
}

# verdict prints whether clusterctl met its target.
verdict() {
	local failed rollout sum status
	[[ -f $work/row-clusterctl ]] || return 0
	read -r _ rollout _ status <"$work/row-clusterctl"
	if [[ $status != 0 || ! -f $work/batches.json ]]; then
		echo "clusterctl target: not met, the rollout exited $status or its events have no complete batch"
		return 0
	fi
	failed=$(jq '.errors + .non2xx' "$work/result-clusterctl.json")
	sum=$(jq .ready_sum "$work/batches.json")
	awk -v f="$failed" -v r="$rollout" -v s="$sum" 'BEGIN {
		printf "clusterctl target: zero failed requests: %s; rollout / batch ready sum <= 1.3: %s (%.2f)\n",
			(f == 0) ? "yes" : "no", (r / s <= 1.3) ? "yes" : "no", r / s
	}'
}

# event_edges prints the seconds from the start of clusterctl up to its first event and from
# its last event to its exit.
event_edges() {
	local start end times first last
	read -r start end <"$work/clusterctl-stamps"
	times=$(jq -rR 'fromjson? | .time // empty' "$work/events.jsonl")
	first=$(date -d "$(sed -n 1p <<<"$times")" +%s.%N)
	last=$(date -d "$(sed -n '$p' <<<"$times")" +%s.%N)
	awk -v s="$start" -v e="$end" -v f="$first" -v l="$last" 'BEGIN {
		printf "    of which: command start to the first event %.3f, last event to exit %.3f\n", f - s, e - l
	}'
}

# breakdown prints where clusterctl's rollout time went, from its events.
breakdown() {
	local rollout
	[[ -f $work/batches.json ]] || return 0
	read -r _ rollout _ <"$work/row-clusterctl"
	echo
	echo "clusterctl rollout from its events, seconds (ready: from the batch event, right before the"
	echo "create calls, to the last ready event of the batch; created-ready: from the first created event"
	echo "instead; after: from the last ready event to the next batch event, or to the last event; this"
	echo "covers swapping the instances in the front door, and at the end the old instances' last stop"
	echo "and their removal; steps: the last event of each kind for the batch's slots, old and new"
	echo "instances, each timed from the step before it; old instances stop in the background):"
	jq -r --arg wall "$rollout" '
		"  before the first batch event \(.before * 1000 | round / 1000)",
		(.batches | to_entries[] |
			"  batch \(.key) slots \(.value.slots | map(tostring) | join(",")): ready \(.value.ready * 1000 | round / 1000), created-ready \(.value.created_ready * 1000 | round / 1000), after \(.value.after * 1000 | round / 1000)",
			"    steps: \(.value.steps | map("\(.kind) +\(.seconds * 1000 | round / 1000)") | join(", "))"),
		"  created-ready sum \(.created_ready_sum * 1000 | round / 1000); rollout / created-ready sum \(($wall | tonumber) / .created_ready_sum * 100 | round / 100)",
		"  first to last event \(.span * 1000 | round / 1000); outside the events \(($wall | tonumber) - .span | . * 1000 | round / 1000)"
	' "$work/batches.json"
	event_edges
	echo "  clusterctl up with nothing to change, best of 3 after the rollout (process start, loading"
	echo "  the file, the project lock, reading the engine's state): $(cat "$work/noop-seconds")"
}

# failures prints what each failed rollout left, and the first failed requests of each tool
# that had any.
failures() {
	local tool
	for tool in clusterctl compose swarm; do
		if [[ -s $work/errors-$tool ]]; then
			sed '1s/^/'"$tool"': /; 2,$s/^/  /' "$work/errors-$tool"
		fi
		[[ -f $work/result-$tool.json ]] || continue
		jq -r --arg tool "$tool" 'select(.first_failures) | "\($tool) first failed requests:", (.first_failures[:3][] | "  \(.time) \(.error)")' \
			"$work/result-$tool.json"
	done
}

report() {
	echo
	echo "bench/rollout, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores, Docker Engine $(docker version --format '{{.Server.Version}}')" \
		"(API $(docker version --format '{{.Server.APIVersion}}')), compose $compose_version," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
	echo "v1 -> v2 of the demo worker under $CLIENTS keep-alive clients (GET /), load until ${SETTLE}s after the rollout returned;"
	echo "healthcheck /worker -healthcheck every 500ms; parallelism $PARALLELISM, start-first (compose: recreate)"
	echo
	echo "| tool | instances | on v2 after | failed requests (err+non2xx) | failing s | requests | load s | rollout s | batch ready sum s | ratio |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for tool in $TOOLS; do row "$tool"; done
	echo
	verdict
	echo "compose runs 1 instance: a host port is published by one container only. up -d stops the old"
	echo "container before it starts the new one, and returns once it started, not once it is healthy."
	echo "swarm: load from a container on the overlay network by DNS round robin (endpoint mode dnsrr), not"
	echo "through a published port, because the routing mesh needs IPVS; --update-monitor $SWARM_MONITOR."
	[[ -f $work/swarm-update ]] && cat "$work/swarm-update"
	echo "failed requests = transport errors (err) + responses with a status outside 200-299 (non2xx);"
	echo "failing s = from the first failed request to the last; on v2 after = instances running v2 at the end."
	breakdown
	echo
	failures
}

main() {
	build_images
	find_compose
	local tool
	for tool in $TOOLS; do
		case $tool in
		clusterctl) run_clusterctl ;;
		compose) run_compose ;;
		swarm) run_swarm ;;
		*) echo "bench/rollout: unknown tool $tool in TOOLS; use clusterctl, compose, swarm" >&2; exit 2 ;;
		esac
	done
	report
}

main
