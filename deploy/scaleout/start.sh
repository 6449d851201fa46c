#!/usr/bin/env bash
# Starts N gigamcp replicas on one PostgreSQL database and nginx in front of them (round robin,
# no stickiness), on this machine, in the foreground; Ctrl-C stops everything.
#
#   deploy/scaleout/start.sh DATABASE_URL [REPLICAS=2] [LISTEN=127.0.0.1:8080]
#
# The database must exist (replicas apply migrations under an advisory lock, so they may start
# together). Replicas listen on 127.0.0.1:18081, 18082, …; every one is started with --demo
# (idempotent) and GIGAMCP_DEMO_PASSWORD if set. `gigamcp` is taken from $GIGAMCP_BIN, else
# target/debug/gigamcp, else PATH. `cargo xtask scaleout` runs the same stack and checks it.
set -euo pipefail
db=${1:?usage: start.sh DATABASE_URL [REPLICAS] [LISTEN]}
n=${2:-2}
listen=${3:-127.0.0.1:8080}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${GIGAMCP_BIN:-}
if [ -z "$bin" ]; then
    if [ -x "$root/target/debug/gigamcp" ]; then bin=$root/target/debug/gigamcp; else bin=gigamcp; fi
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d -t gigamcp-scaleout.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

upstreams=""
for i in $(seq 1 "$n"); do
    port=$((18080 + i))
    mkdir -p "$work/replica-$i"
    "$bin" serve --demo --database-url "$db" --data-dir "$work/replica-$i" \
        --bind "127.0.0.1:$port" --public-url "http://$listen" \
        --trusted-proxy 127.0.0.1/32 >"$work/replica-$i/server.log" 2>&1 &
    pids+=($!)
    upstreams+="server 127.0.0.1:$port; "
done

mkdir -p "$work"/{body,proxy,fastcgi,uwsgi,scgi}
sed -e "s|@PREFIX@|$work|g" -e "s|@LISTEN@|$listen|g" -e "s|@UPSTREAMS@|$upstreams|g" \
    "$here/nginx.conf.in" >"$work/nginx.conf"
"$nginx" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
pids+=($!)
echo "gigamcp: $n replicas behind http://$listen (logs in $work); Ctrl-C to stop" >&2
wait -n "${pids[@]}"
