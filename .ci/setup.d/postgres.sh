# PostgreSQL for the feed server's tests (crates/feed-server): its storage
# suite runs against SQLite and against this server, and fails (never skips)
# under CI when WARDEN_TEST_POSTGRES_URL is missing.
# Sourced by .ci/run as root on Debian after `apt-get update`; also safe to
# run again on a machine where PostgreSQL is already installed or running.

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

warden_pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$warden_pg_version main"; then
  pg_createcluster "$warden_pg_version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$warden_pg_version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$warden_pg_version" main start
fi
warden_pg_port=$(pg_lsclusters -h | awk -v v="$warden_pg_version" '$1==v && $2=="main" {print $3}')

for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$warden_pg_port" && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p "$warden_pg_port"

# A role that owns its own database; each test works in a fresh schema of it.
su postgres -c "psql -q -p $warden_pg_port -v ON_ERROR_STOP=1" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_test') THEN
    CREATE ROLE warden_test LOGIN PASSWORD 'warden_test';
  END IF;
END $$;
SELECT 'CREATE DATABASE warden_test OWNER warden_test'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'warden_test') \gexec
SQL

export WARDEN_TEST_POSTGRES_URL="postgres://warden_test:warden_test@127.0.0.1:${warden_pg_port}/warden_test"
echo "PostgreSQL $warden_pg_version on 127.0.0.1:$warden_pg_port; WARDEN_TEST_POSTGRES_URL set"
unset warden_pg_version warden_pg_port
