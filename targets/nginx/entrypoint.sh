#!/bin/sh
# Starts nginx in the foreground as PID 1 with worker_processes taken from
# WORKER_PROCESSES (default 1, also when empty or unset): nginx cannot read
# the environment in its configuration. Accepts `auto` or a positive integer
# without leading zeros; anything else exits 2 before nginx starts.
set -eu
workers=${WORKER_PROCESSES:-1}
case $workers in
    auto) ;;
    '' | *[!0-9]* | 0*)
        echo "entrypoint: WORKER_PROCESSES must be 'auto' or a positive integer, got '$workers'" >&2
        exit 2
        ;;
esac
exec nginx -c /etc/nginx/nginx.conf -g "worker_processes $workers;" "$@"
