#!/bin/sh
# Make sure a PostgreSQL answers on 127.0.0.1:5432 with a database "test" (trust auth) for
# the tests. If none answers: start the machine's cluster, or else a throwaway one owned by
# the postgres user.
set -eu
PGHOST=127.0.0.1
PGPORT=5432

ready() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
    echo "ensure-postgres: PostgreSQL client tools are missing (apt-get install postgresql)" >&2
    exit 1
fi

if ! ready; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        for version in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
        done
    fi
fi

if ! ready; then
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    datadir=/tmp/pixelmotion-pg
    echo "ensure-postgres: starting a throwaway cluster in $datadir" >&2
    if [ ! -d "$datadir" ]; then
        mkdir -p "$datadir" && chown postgres "$datadir"
        su postgres -c "$bindir/initdb -D $datadir -A trust -U postgres" >/dev/null
    fi
    su postgres -c "$bindir/pg_ctl -D $datadir -o '-h 127.0.0.1 -p $PGPORT -k /tmp' -l $datadir/log -w start" >/dev/null
fi

for _ in $(seq 1 30); do ready && break; sleep 1; done
ready || { echo "ensure-postgres: PostgreSQL did not start" >&2; exit 1; }

if ! psql -h "$PGHOST" -p "$PGPORT" -U postgres -d test -tAc "select 1" >/dev/null 2>&1; then
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null
fi
