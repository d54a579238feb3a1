#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench-server: driven by bench_http (`bench_http --server PROG`).
#
# nginx (Debian's nginx-light or nginx) with one worker answering every
# request with `return 200 "Hello, world!"`: master_process off, so the one
# process measured is the one doing the work; no access log; keep-alive
# without a request limit (the default closes a connection after 1000
# requests, which the other servers never do). Listens on 127.0.0.1:PORT
# ($1) until killed. Its configuration and logs go to $BENCH_TMP (the
# driver's scratch directory). Exits 77 when nginx is not installed.
set -eu
port=$1
nginx=$(command -v nginx || true)
[ -n "$nginx" ] || [ ! -x /usr/sbin/nginx ] || nginx=/usr/sbin/nginx
if [ -z "$nginx" ]; then
    echo "http_nginx: nginx is not installed" >&2
    exit 77
fi
dir=${BENCH_TMP:?the driver sets BENCH_TMP}/nginx
mkdir -p "$dir/logs" "$dir/tmp"
cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
    default_type text/plain;
    server {
        listen 127.0.0.1:$port backlog=1024;
        location / { return 200 "Hello, world!"; }
    }
}
CONF
exec "$nginx" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
