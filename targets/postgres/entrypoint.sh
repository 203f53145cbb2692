#!/bin/sh
# Creates the cluster in $PGDATA at the first start (initdb), then replaces
# itself with postgres in the foreground (PID 1), so the engine's signals
# reach postgres and the container lives exactly as long as it does.
#
# SHARED_BUFFERS (default 128MB, PostgreSQL's and Debian's own default, so
# the profile measures the server as shipped) is passed as -c and checked by
# postgres itself: a bad value stops it with its own message. Extra
# arguments are passed on to postgres (e.g. -c work_mem=8MB).
#
# huge_pages=off: with the default `try`, shared memory is huge pages on a
# host that has them and 4 KiB pages elsewhere, which would change what the
# memory metrics read from host to host.
#
# Trust authentication: the server is a throwaway measurement target whose
# port runcost publishes on 127.0.0.1 only.
#
# --no-sync: initdb does not wait for its files to reach the disk, which
# took ~6 s of the ~13 s it took on a loaded 2-core host here; a cluster
# that lives as long as one container has nothing to lose in a crash. The
# server itself keeps fsync as shipped.
set -eu
: "${PGDATA:?PGDATA must be set}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb --pgdata="$PGDATA" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    # Clients from outside the container (the published port).
    echo "host all all all trust" >>"$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" \
    -c listen_addresses='*' \
    -c unix_socket_directories=/run/postgresql \
    -c shared_buffers="${SHARED_BUFFERS:-128MB}" \
    -c huge_pages=off \
    "$@"
