# A throwaway PostgreSQL server for the tests: sourced by .ci/run (and usable by hand:
# `source .ci/postgres.sh` in bash). It installs Debian's postgresql if missing, makes a cluster
# in a temporary directory, listens on a unix socket only (no TCP port to collide with another
# run), exports SMMAPI_TEST_POSTGRES_DSN, and stops and removes the cluster when the shell exits.
# initdb refuses to run as root: as root, the cluster belongs to the postgres user.

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$pg_bin" ]; then
    echo "+ apt-get install -y postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
pg_dir=$(mktemp -d /tmp/smmapi-pg.XXXXXX)
pg_user=$(id -un)
as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    pg_user=postgres
    chown postgres "$pg_dir"
    as_pg() { runuser -u postgres -- "$@"; }
fi
echo "+ initdb and start PostgreSQL ($pg_bin) in $pg_dir"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U "$pg_user" -A trust --no-sync >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-c listen_addresses='' -c unix_socket_directories='$pg_dir' -c fsync=off -c max_connections=50" start >/dev/null
stop_postgres() {
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
}
trap stop_postgres EXIT
export SMMAPI_TEST_POSTGRES_DSN="postgresql://$pg_user@/postgres?host=$pg_dir"
