#!/usr/bin/env bash
# Benchmarks the front door against nginx, both as HTTP reverse proxies with upstream
# keep-alive in front of the same backends, all on loopback. It prints, per proxy,
# requests per second, p50 and p99 latency (wrk), CPU time per request (utime+stime of the
# proxy's processes over the measured run) and peak RSS (VmHWM, summed over processes).
#
# Settings come from the environment, with defaults in brackets: DURATION (10s),
# CONNECTIONS (16), THREADS (wrk threads, 2), BACKENDS (3), ROUNDS (1), BODY (response body
# bytes, 64), PORT (18080), NGINX_PORT (18081). PORT is the front door's port and also the
# backends' port. PROFILE names a file for the front door's CPU profile (off when empty).
#
# Backends listen on 127.0.0.2, 127.0.0.3, ... because the front door dials backends on its
# own port number; the proxies listen on 127.0.0.1. The script stops everything it started
# when it exits.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
BACKENDS=${BACKENDS:-3}
ROUNDS=${ROUNDS:-1}
BODY=${BODY:-64}
PORT=${PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}
PROFILE=${PROFILE:-}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as nobody
pids=()

cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_missing() {
	local missing=()
	command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
	command -v wrk >/dev/null || missing+=(wrk)
	if ((${#missing[@]})); then
		echo "installing ${missing[*]}" >&2
		apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

wait_http() {
	local url=$1
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no response from $url" >&2
	return 1
}

start_backends() {
	go build -o "$work/backend" "$root/bench/frontdoor/backend"
	go build -o "$work/proxy" "$root/bench/frontdoor/proxy"
	backend_ips=()
	for i in $(seq 2 $((BACKENDS + 1))); do
		backend_ips+=("127.0.0.$i")
		"$work/backend" -addr "127.0.0.$i:$PORT" -body "$BODY" &
		pids+=($!)
	done
	for ip in "${backend_ips[@]}"; do wait_http "http://$ip:$PORT/"; done
}

start_frontdoor() {
	local ips profile_flag=()
	ips=$(IFS=,; echo "${backend_ips[*]}")
	[[ -n $PROFILE ]] && profile_flag=(-cpuprofile "$PROFILE")
	"$work/proxy" -listen 127.0.0.1 -port "$PORT" -backends "$ips" \
		-socket "$work/admin.sock" "${profile_flag[@]}" &
	frontdoor_pid=$!
	pids+=("$frontdoor_pid")
	wait_http "http://127.0.0.1:$PORT/"
}

start_nginx() {
	local servers=""
	for ip in "${backend_ips[@]}"; do servers+="server $ip:$PORT; "; done
	cat >"$work/nginx.conf" <<CONF
worker_processes $(nproc);
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/client_body;
	proxy_temp_path $work/proxy_temp;
	fastcgi_temp_path $work/fastcgi_temp;
	uwsgi_temp_path $work/uwsgi_temp;
	scgi_temp_path $work/scgi_temp;
	upstream backends { $servers keepalive 64; }
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / {
			proxy_pass http://backends;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_set_header X-Forwarded-Host \$host;
		}
	}
}
CONF
	nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" &
	nginx_pid=$!
	pids+=("$nginx_pid")
	wait_http "http://127.0.0.1:$NGINX_PORT/"
}

# process_tree prints a pid and its children's pids.
process_tree() {
	echo "$1"
	pgrep -P "$1" || true
}

# cpu_ticks prints the summed utime+stime, in clock ticks, of the given pids.
cpu_ticks() {
	local total=0 pid fields
	for pid in "$@"; do
		fields=$(sed 's/.*) //' "/proc/$pid/stat")
		total=$((total + $(awk '{print $12 + $13}' <<<"$fields")))
	done
	echo "$total"
}

# peak_rss_mib prints the summed VmHWM of the given pids in MiB.
peak_rss_mib() {
	local pid
	for pid in "$@"; do awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; done |
		awk '{s += $1} END {printf "%.1f", s / 1024}'
}

# measure loads url, then prints one table row for the processes in the remaining arguments.
measure() {
	local name=$1 url=$2
	shift 2
	wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$url" >/dev/null # warm-up
	local before after out
	before=$(cpu_ticks "$@")
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
	after=$(cpu_ticks "$@")
	awk -v name="$name" -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" \
		-v rss="$(peak_rss_mib "$@")" '
		$1 == "50%" { p50 = $2 }
		$1 == "99%" { p99 = $2 }
		/requests in/ { total = $1 }
		/^Requests\/sec/ { rps = $2 }
		/Non-2xx/ { bad = $NF }
		/Socket errors/ { errs = $0 }
		END {
			printf "%-10s %12.0f %9s %9s %12.1f %10s %8d  %s\n", name, rps, p50, p99,
				ticks / hz * 1e6 / total, rss, bad + 0, errs
		}' <<<"$out"
}

install_missing
start_backends
start_frontdoor
start_nginx

echo "$CONNECTIONS keep-alive connections, $THREADS wrk threads, $DURATION per run, $BACKENDS backends, $BODY-byte bodies, $(nproc) cores"
printf "%-10s %12s %9s %9s %12s %10s %8s\n" proxy req/s p50 p99 "cpu µs/req" "rss MiB" non-2xx
for _ in $(seq "$ROUNDS"); do
	# shellcheck disable=SC2046
	measure frontdoor "http://127.0.0.1:$PORT/" $(process_tree "$frontdoor_pid")
	# shellcheck disable=SC2046
	measure nginx "http://127.0.0.1:$NGINX_PORT/" $(process_tree "$nginx_pid")
done
