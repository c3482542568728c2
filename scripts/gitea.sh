#!/usr/bin/env bash
# The testbed's forge: Gitea (built by install-tools.sh) on https://127.0.0.1:$GITEA_PORT with
# the testbed registry's certificate (the one CA every step of the tests already trusts), SQLite,
# no SSH, no sign-up, webhooks allowed to loopback and the node's pod network only (where the
# event source listens). Its
# administrator `luban` has a random password kept in $dir/admin-password; tests make their own
# repositories and tokens through the API with it.
#   gitea.sh start | running | stop | url
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dir=$LUBAN_TESTBED/gitea
bin=$LUBAN_TESTBED/gitea-$GITEA_VERSION
url=https://127.0.0.1:$GITEA_PORT
pidfile=$dir/gitea.pid

up() { curl -fsS --cacert "$dir/tls.crt" -o /dev/null "$url/api/v1/version" 2>/dev/null; }

as_gitea() { env HOME="$dir/home" "$@"; }

# Written at every start; its secrets are made once and kept.
config() {
  [ -s "$dir/secret-key" ] || openssl rand -hex 32 > "$dir/secret-key"
  [ -s "$dir/internal-token" ] || openssl rand -hex 48 > "$dir/internal-token"
  cat > "$dir/app.ini" <<INI
APP_NAME = luban testbed
RUN_MODE = prod
RUN_USER = $(id -un)
# Gitea refuses root unless told; the testbed runs as whoever runs the tests (root in CI), on
# 127.0.0.1 only.
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = $([ "$(id -u)" = 0 ] && echo true || echo false)
WORK_PATH = $dir

[server]
PROTOCOL = https
HTTP_ADDR = 127.0.0.1
HTTP_PORT = $GITEA_PORT
ROOT_URL = $url/
CERT_FILE = $dir/tls.crt
KEY_FILE = $dir/tls.key
STATIC_ROOT_PATH = $bin
APP_DATA_PATH = $dir/data
OFFLINE_MODE = true
DISABLE_SSH = true
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = $dir/data/gitea.db

[repository]
ROOT = $dir/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = $(cat "$dir/secret-key")
INTERNAL_TOKEN = $(cat "$dir/internal-token")

[service]
DISABLE_REGISTRATION = true

[webhook]
ALLOWED_HOST_LIST = loopback,$CLUSTER_POD_SUBNET
DELIVER_TIMEOUT = 10

[mailer]
ENABLED = false

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = $dir/log
INI
}

start() {
  [ -x "$bin/gitea" ] || die "Gitea $GITEA_VERSION is missing (scripts/install-tools.sh builds it)"
  "$LUBAN_ROOT/scripts/registry.sh" ca
  mkdir -p "$dir/home" "$dir/data" "$dir/log"
  cp "$LUBAN_TESTBED/registry/ca.crt" "$dir/tls.crt"
  cp "$LUBAN_TESTBED/registry/ca.key" "$dir/tls.key"
  up && return 0
  config
  chmod 700 "$dir"
  as_gitea "$bin/gitea" migrate -c "$dir/app.ini" >"$dir/log/migrate.log" 2>&1 ||
    die "Gitea's database could not be set up (see $dir/log/migrate.log)"
  if ! [ -s "$dir/admin-password" ]; then
    openssl rand -hex 16 > "$dir/admin-password.tmp"
    as_gitea "$bin/gitea" admin user create -c "$dir/app.ini" --username luban --email luban@127.0.0.1 \
      --password "$(cat "$dir/admin-password.tmp")" --admin --must-change-password=false >/dev/null
    mv "$dir/admin-password.tmp" "$dir/admin-password"
  fi
  nohup setsid bash -c "$(declare -f as_gitea); dir=$dir; as_gitea '$bin/gitea' web -c '$dir/app.ini'" \
    >"$dir/log/web.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 100); do up && break; sleep 0.2; done
  up || die "Gitea did not start (see $dir/log/web.log and $dir/log/gitea.log)"
  log "Gitea $GITEA_VERSION on $url (administrator luban, password in $dir/admin-password)"
}

case ${1:-start} in
  start) start ;;
  running) up ;;
  url) echo "$url" ;;
  stop)
    if [ -f "$pidfile" ]; then kill -- "-$(cat "$pidfile")" 2>/dev/null || kill "$(cat "$pidfile")" 2>/dev/null || true; fi
    rm -f "$pidfile"
    for _ in $(seq 50); do up || break; sleep 0.1; done
    ;;
  *) die "usage: gitea.sh start|running|stop|url" ;;
esac
