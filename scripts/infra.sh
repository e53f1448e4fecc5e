#!/usr/bin/env bash
# Local infrastructure for the CRM monorepo: FerretDB (Mongo wire protocol) on PostgreSQL 16
# (or on SQLite: CRM_LOCAL_STORE=sqlite), a single-node Kafka 4.x in KRaft combined mode and
# Mailpit (SMTP server with a web inbox, built from the Go module proxy like FerretDB).
# No Docker, nothing pre-installed beyond Go, Java and Maven: the PostgreSQL binaries come from
# Maven Central (deploy/local/postgres/pom.xml says why that source).
#
#   scripts/infra.sh build    # only build the FerretDB launcher, fetch the Kafka jars and PostgreSQL,
#                             # build etcd + kube-apiserver (the chart's server-side validation)
#   scripts/infra.sh up       # build/fetch on first use, start, wait for real client round trips
#   scripts/infra.sh down     # SIGTERM, wait up to 20 s, then SIGKILL
#   scripts/infra.sh status
#
# Environment:
#   CRM_VAR_DIR             state dir (data, logs, pid files); default <repo>/var
#   CRM_LOCAL_STORE         postgresql (default) or sqlite: FerretDB's backend
#   FERRETDB_PORT           default 27017
#   POSTGRES_PORT           default FERRETDB_PORT + 1 (127.0.0.1 only; only with postgresql)
#   FERRETDB_PG_POOL        FerretDB's pgx pool size (pool_max_conns), default 400 (see below)
#   KAFKA_PORT              default 9092
#   KAFKA_CONTROLLER_PORT   default 9093
#   MAILPIT_SMTP_PORT       default 1025 (127.0.0.1 only)
#   MAILPIT_UI_PORT         default 8025: web inbox and its HTTP API (/api/v1/messages)
#   SMTP_EXTERNAL           if set (non-empty), Mailpit is not started (a real SMTP server is used)
#   MONGODB_URI             if set, FerretDB is not started; that URI is checked instead
#   KAFKA_BOOTSTRAP_SERVERS if set, Kafka is not started; those servers are checked instead
#   KAFKA_HEAP_OPTS         default "-Xmx512m -Xms256m"
#   WAIT_READY_TIMEOUT      seconds, default 120
#   FERRETDB_LOG_LEVEL      debug|info|warn|error, default warn (info logs every connection)
#
# Build artefacts (the FerretDB launcher, Mailpit, the Kafka jars, the PostgreSQL binaries) always live
# in <repo>/var so isolated instances (CRM_VAR_DIR=...) share them.
#
# PostgreSQL (local/CI settings, not for data you care about): data in $CRM_VAR_DIR/postgres/data
# (initdb on first start, trust auth, listening on 127.0.0.1 only, no Unix socket),
# plan_cache_mode=force_custom_plan (FerretDB binds the field name of every pushed-down equality
# as a parameter; a cached generic plan cannot match an expression index, a custom plan can),
# fsync/synchronous_commit/full_page_writes off (a crash of the machine may lose or corrupt the
# local database; acceptable for dev and CI, whose data is disposable), pg_stat_statements
# loaded (the EXPLAIN test reads the SQL FerretDB sends from it). PostgreSQL refuses to run as
# root; as root it runs in a user namespace mapped to "nobody" (unshare), so its files stay
# root's and nothing needs chown or a system user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR_DIR="${CRM_VAR_DIR:-$ROOT/var}"
mkdir -p "$VAR_DIR"
VAR_DIR="$(cd "$VAR_DIR" && pwd)"

LOCAL_STORE="${CRM_LOCAL_STORE:-postgresql}"
case "$LOCAL_STORE" in
  postgresql|sqlite) ;;
  *) printf '[infra] ERROR: CRM_LOCAL_STORE must be postgresql or sqlite, not %s\n' "$LOCAL_STORE" >&2; exit 2 ;;
esac
FERRETDB_PORT="${FERRETDB_PORT:-27017}"
POSTGRES_PORT="${POSTGRES_PORT:-$((FERRETDB_PORT + 1))}"
# An update on FerretDB's PostgreSQL backend holds one pool connection for its SELECT's rows
# while UpdateAll takes a second (handler/msg_update.go -> common.UpdateDocument), so a pool
# smaller than the number of client connections updating at once could wait on itself. Each
# Mongo connection runs one command at a time, so a pool larger than the client connections
# cannot. The services hold ~40, but the e2e tests' own clients add hundreds more (a full run
# once hung this way with 509 client connections: every one of the 100 pooled connections held
# by an update waiting for its second, 486 commands waiting for a first). FerretDB's own default
# is 50; PostgreSQL's max_connections is the pool plus 100 for our own sessions.
FERRETDB_PG_POOL="${FERRETDB_PG_POOL:-400}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
MAILPIT_SMTP_PORT="${MAILPIT_SMTP_PORT:-1025}"
MAILPIT_UI_PORT="${MAILPIT_UI_PORT:-8025}"
FERRETDB_LOG_LEVEL="${FERRETDB_LOG_LEVEL:-warn}"

FERRETDB_BIN="$ROOT/var/bin/ferretdb-local"
KAFKA_LIBS="$ROOT/var/kafka/libs"
# Mailpit: `go install` of this module version from the Go module proxy (keep it one the proxy
# serves); the binary is named after the version so a version change rebuilds it.
MAILPIT_MODULE="github.com/axllent/mailpit"
MAILPIT_VERSION="v1.33.1"
MAILPIT_BIN="$ROOT/var/bin/mailpit-$MAILPIT_VERSION"
# Keep in sync with deploy/local/postgres/pom.xml.
POSTGRES_VERSION="16.6.0"
POSTGRES_HOME="$ROOT/var/postgres/$POSTGRES_VERSION"
DEPLOY="$ROOT/deploy/local"

LOG_DIR="$VAR_DIR/log"
RUN_DIR="$VAR_DIR/run"
FERRETDB_DATA="$VAR_DIR/ferretdb/data"
MAILPIT_DATA="$VAR_DIR/mailpit"
KAFKA_DATA="$VAR_DIR/kafka/data"
KAFKA_PROPS="$VAR_DIR/kafka/server.properties"
POSTGRES_DATA="$VAR_DIR/postgres/data"

export PATH="/usr/local/go/bin:$PATH"

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# pid_alive NAME -> prints pid and returns 0 if var/run/NAME.pid names a live process of ours.
pid_alive() {
  local name="$1" pidfile="$RUN_DIR/$1.pid" pid cmd
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against PID reuse: the command line must look like our server.
  cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)"
  case "$name" in
    ferretdb) [[ "$cmd" == *ferretdb-local* ]] || return 1 ;;
    kafka) [[ "$cmd" == *kafka.Kafka* ]] || return 1 ;;
    postgres) [[ "$cmd" == *bin/postgres*-D* ]] || return 1 ;;
    mailpit) [[ "$cmd" == *mailpit-* ]] || return 1 ;;
  esac
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_ferretdb_bin() {
  # Rebuild when missing or when the launcher sources changed since the last build.
  if [[ -x "$FERRETDB_BIN" ]] && [[ -z "$(find "$DEPLOY/ferretdb" -newer "$FERRETDB_BIN" -type f | head -n1)" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"
  log "building FerretDB launcher -> $FERRETDB_BIN (cold build takes ~1 min)"
  local t0; t0="$(now)"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  (cd "$DEPLOY/ferretdb" && GOFLAGS=-mod=mod go build -o "$FERRETDB_BIN.tmp" .) \
    || die "go build of deploy/local/ferretdb failed"
  mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  log "FerretDB launcher built in $(since "$t0")s"
}

ensure_mailpit_bin() {
  [[ -x "$MAILPIT_BIN" ]] && return 0
  command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"
  log "building Mailpit $MAILPIT_VERSION -> $MAILPIT_BIN (cold build takes a few minutes)"
  local t0 tmp; t0="$(now)"
  tmp="$ROOT/var/bin/.mailpit-build.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # Same toolchain settings as the FerretDB build: module mode, the configured GOPROXY.
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "$MAILPIT_MODULE@$MAILPIT_VERSION" \
    || { rm -rf "$tmp"; die "go install $MAILPIT_MODULE@$MAILPIT_VERSION failed"; }
  mv -f "$tmp/mailpit" "$MAILPIT_BIN"
  rm -rf "$tmp"
  log "Mailpit built in $(since "$t0")s"
}

# etcd and kube-apiserver for `make helm-check`'s server-side validation of the chart
# (scripts/kube_local.py: `go install` through deploy/local/kube into var/kube/<version>;
# `make helm-e2e` builds the controller-manager, scheduler and kwok on first use).
ensure_kube_apiserver() {
  command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"
  (cd "$ROOT" && uv run --frozen python scripts/kube_local.py build --apiserver-only) \
    || die "building etcd and kube-apiserver (deploy/local/kube) failed"
}

ensure_kafka_libs() {
  [[ -d "$KAFKA_LIBS" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found"
  log "copying Kafka jars -> $KAFKA_LIBS"
  local t0 tmp; t0="$(now)"
  tmp="$KAFKA_LIBS.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  mvn -B -q -Dstyle.color=never -f "$DEPLOY/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >&2 || { rm -rf "$tmp"; die "mvn copy-dependencies failed"; }
  mv "$tmp" "$KAFKA_LIBS"
  log "Kafka jars copied in $(since "$t0")s ($(ls "$KAFKA_LIBS" | wc -l) jars)"
}

ensure_postgres_bin() {
  [[ -x "$POSTGRES_HOME/bin/postgres" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found"
  log "fetching PostgreSQL $POSTGRES_VERSION binaries -> $POSTGRES_HOME"
  local t0 tmp; t0="$(now)"
  tmp="$POSTGRES_HOME.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp/jar" "$tmp/home"
  mvn -B -q -Dstyle.color=never -f "$DEPLOY/postgres/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp/jar" >&2 || { rm -rf "$tmp"; die "mvn copy-dependencies (postgres) failed"; }
  # The jar holds one postgres-linux-x86_64.txz; python3's zipfile reads the jar (no unzip needed).
  python3 - "$tmp/jar" "$tmp" <<'PY' || { rm -rf "$tmp"; die "no PostgreSQL archive in the jar"; }
import pathlib, sys, zipfile
jar = next(pathlib.Path(sys.argv[1]).glob("embedded-postgres-binaries-*.jar"))
with zipfile.ZipFile(jar) as z:
    name = next(n for n in z.namelist() if n.endswith(".txz"))
    pathlib.Path(sys.argv[2], "postgres.txz").write_bytes(z.read(name))
PY
  tar -xJf "$tmp/postgres.txz" -C "$tmp/home" || { rm -rf "$tmp"; die "unpacking PostgreSQL failed"; }
  rm -rf "$POSTGRES_HOME"
  mv "$tmp/home" "$POSTGRES_HOME"
  rm -rf "$tmp"
  log "PostgreSQL $("$POSTGRES_HOME/bin/postgres" --version | awk '{print $NF}') unpacked in $(since "$t0")s"
}

# Sets the PG_AS array: how to run PostgreSQL's programs. PostgreSQL refuses to run as root, so
# root runs them in a new user namespace where it is "nobody" (uid 65534, present on every
# Debian); files it writes are still owned by root outside, so no chown and no system user.
pg_as() {
  PG_AS=()
  if [[ "$(id -u)" == 0 ]]; then
    command -v unshare >/dev/null || die "unshare (util-linux) not found; PostgreSQL cannot run as root"
    PG_AS=(unshare --user --map-user=65534 --map-group=65534)
  fi
}

init_postgres_once() {
  [[ -f "$POSTGRES_DATA/PG_VERSION" ]] && return 0
  pg_as
  local t0; t0="$(now)"
  rm -rf "$POSTGRES_DATA"
  mkdir -p "$(dirname "$POSTGRES_DATA")"
  log "initdb $POSTGRES_DATA"
  "${PG_AS[@]}" "$POSTGRES_HOME/bin/initdb" -D "$POSTGRES_DATA" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >> "$LOG_DIR/postgres-initdb.log" 2>&1 \
    || die "initdb failed; see $LOG_DIR/postgres-initdb.log"
  # FerretDB's database and the statement statistics the EXPLAIN test reads, in single-user
  # mode (no server, no client program needed).
  printf 'CREATE DATABASE ferretdb;\n' | "${PG_AS[@]}" "$POSTGRES_HOME/bin/postgres" --single \
    -D "$POSTGRES_DATA" -c unix_socket_directories= postgres >> "$LOG_DIR/postgres-initdb.log" 2>&1 \
    || die "CREATE DATABASE failed; see $LOG_DIR/postgres-initdb.log"
  printf 'CREATE EXTENSION pg_stat_statements;\n' | "${PG_AS[@]}" "$POSTGRES_HOME/bin/postgres" --single \
    -D "$POSTGRES_DATA" -c unix_socket_directories= ferretdb >> "$LOG_DIR/postgres-initdb.log" 2>&1 \
    || die "CREATE EXTENSION failed; see $LOG_DIR/postgres-initdb.log"
  log "PostgreSQL cluster initialised in $(since "$t0")s"
}

up_postgres() {
  local pid
  if pid="$(pid_alive postgres)"; then
    log "postgres already running (pid $pid)"
    return 0
  fi
  ensure_postgres_bin
  port_open "$POSTGRES_PORT" && die "port 127.0.0.1:$POSTGRES_PORT is already in use by another process (set POSTGRES_PORT)"
  init_postgres_once
  pg_as
  start_bg postgres "$LOG_DIR/postgres.log" "${PG_AS[@]}" "$POSTGRES_HOME/bin/postgres" -D "$POSTGRES_DATA" \
    -c listen_addresses=127.0.0.1 -c port="$POSTGRES_PORT" -c unix_socket_directories= \
    -c max_connections=$((FERRETDB_PG_POOL + 100)) -c plan_cache_mode=force_custom_plan \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all \
    -c logging_collector=off -c log_min_messages=warning
  local deadline=$((SECONDS + 60))
  until port_open "$POSTGRES_PORT"; do
    # Liveness of the started pid only: its command line is briefly unreadable while
    # setsid/nohup/unshare exec into postgres, which pid_alive's check would take for an exit.
    kill -0 "$(cat "$RUN_DIR/postgres.pid")" 2>/dev/null \
      || { tail -n 20 "$LOG_DIR/postgres.log" >&2; die "postgres exited during start"; }
    ((SECONDS < deadline)) || die "postgres did not open 127.0.0.1:$POSTGRES_PORT within 60s"
    sleep 0.1
  done
  log "postgres started (pid $(cat "$RUN_DIR/postgres.pid")) on 127.0.0.1:$POSTGRES_PORT"
}

# Sets the KAFKA_JAVA array: java + JVM flags + classpath (kept as an array so the
# classpath wildcard is passed to java verbatim, not globbed by the shell).
kafka_java() {
  local java="java" heap
  [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]] && java="$JAVA_HOME/bin/java"
  read -r -a heap <<< "$KAFKA_HEAP_OPTS"
  KAFKA_JAVA=("$java" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent
    -Djava.awt.headless=true -Dlog4j2.shutdownHookEnabled=false
    "-Dlog4j2.configurationFile=$DEPLOY/kafka/log4j2.properties" "-Dkafka.logs.dir=$LOG_DIR"
    -cp "$KAFKA_LIBS/*")
}

render_kafka_props() {
  mkdir -p "$KAFKA_DATA" "$(dirname "$KAFKA_PROPS")"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@KAFKA_DATA_DIR@|$KAFKA_DATA|g" \
      "$DEPLOY/kafka/server.properties.template" > "$KAFKA_PROPS"
}

format_kafka_once() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local t0 cluster_id; t0="$(now)"
  kafka_java
  # KRaft cluster ids are 16 random bytes, URL-safe base64 without padding. An id starting
  # with '-' would be read as an option by StorageTool, so draw again in that case.
  cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  log "formatting Kafka storage (cluster id $cluster_id)"
  "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_PROPS" --standalone \
    >> "$LOG_DIR/kafka-format.log" 2>&1 || die "Kafka storage format failed; see $LOG_DIR/kafka-format.log"
  log "Kafka storage formatted in $(since "$t0")s"
}

# start NAME LOGFILE CMD... : detached, own session, pid file written.
start_bg() {
  local name="$1" logfile="$2"; shift 2
  {
    echo "==== $(date -Is) starting $name: $*"
  } >> "$logfile"
  # Not a process-group leader here, so setsid execs in place and $! is the server's pid.
  setsid nohup "$@" >> "$logfile" 2>&1 < /dev/null &
  echo "$!" > "$RUN_DIR/$name.pid"
}

up_ferretdb() {
  if [[ -n "${MONGODB_URI:-}" ]]; then
    log "MONGODB_URI set; not starting FerretDB"
    return 0
  fi
  local pid
  if pid="$(pid_alive ferretdb)"; then
    log "ferretdb already running (pid $pid)"
    return 0
  fi
  ensure_ferretdb_bin
  if port_open "$FERRETDB_PORT"; then
    die "port 127.0.0.1:$FERRETDB_PORT is already in use by another process (set FERRETDB_PORT or MONGODB_URI)"
  fi
  local store
  if [[ "$LOCAL_STORE" == postgresql ]]; then
    up_postgres
    store=(-postgresql-url "postgres://postgres@127.0.0.1:$POSTGRES_PORT/ferretdb?pool_max_conns=$FERRETDB_PG_POOL")
  else
    mkdir -p "$FERRETDB_DATA"
    store=(-data "$FERRETDB_DATA/")
  fi
  start_bg ferretdb "$LOG_DIR/ferretdb.log" \
    "$FERRETDB_BIN" -listen "127.0.0.1:$FERRETDB_PORT" "${store[@]}" -log-level "$FERRETDB_LOG_LEVEL"
  log "ferretdb started (pid $(cat "$RUN_DIR/ferretdb.pid")) on 127.0.0.1:$FERRETDB_PORT ($LOCAL_STORE)"
}

up_kafka() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    log "KAFKA_BOOTSTRAP_SERVERS set; not starting Kafka"
    return 0
  fi
  local pid
  if pid="$(pid_alive kafka)"; then
    log "kafka already running (pid $pid)"
    return 0
  fi
  ensure_kafka_libs
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$p" && die "port 127.0.0.1:$p is already in use by another process (set KAFKA_PORT/KAFKA_CONTROLLER_PORT or KAFKA_BOOTSTRAP_SERVERS)"
  done
  render_kafka_props
  format_kafka_once
  kafka_java
  start_bg kafka "$LOG_DIR/kafka.log" "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_PROPS"
  log "kafka started (pid $(cat "$RUN_DIR/kafka.pid")) on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
}

up_mailpit() {
  if [[ -n "${SMTP_EXTERNAL:-}" ]]; then
    log "SMTP_EXTERNAL set; not starting Mailpit"
    return 0
  fi
  local pid p
  if pid="$(pid_alive mailpit)"; then
    log "mailpit already running (pid $pid)"
    return 0
  fi
  ensure_mailpit_bin
  for p in "$MAILPIT_SMTP_PORT" "$MAILPIT_UI_PORT"; do
    port_open "$p" && die "port 127.0.0.1:$p is already in use by another process (set MAILPIT_SMTP_PORT/MAILPIT_UI_PORT)"
  done
  mkdir -p "$MAILPIT_DATA"
  # Any SMTP login is accepted (services may send credentials) without TLS, on loopback only.
  # Recipients in the reserved .invalid TLD (RFC 2606) are refused with 550, as a real server
  # refuses an unknown mailbox, so a refused address can be tried locally (RE2 has no
  # look-ahead: the pattern spells "does not end in .invalid" position by position).
  local refuse_invalid='(?i)^(.{0,7}|.*([^.].{7}|.[^i].{6}|..[^n].{5}|...[^v].{4}|....[^a].{3}|.....[^l].{2}|......[^i].|.......[^d]))$'
  start_bg mailpit "$LOG_DIR/mailpit.log" "$MAILPIT_BIN" \
    --smtp "127.0.0.1:$MAILPIT_SMTP_PORT" --listen "127.0.0.1:$MAILPIT_UI_PORT" \
    --database "$MAILPIT_DATA/mailpit.db" --max 5000 \
    --smtp-auth-accept-any --smtp-auth-allow-insecure --smtp-disable-rdns \
    --smtp-allowed-recipients "$refuse_invalid" --quiet
  local deadline=$((SECONDS + 30))
  until port_open "$MAILPIT_SMTP_PORT" && port_open "$MAILPIT_UI_PORT"; do
    kill -0 "$(cat "$RUN_DIR/mailpit.pid")" 2>/dev/null \
      || { tail -n 20 "$LOG_DIR/mailpit.log" >&2; die "mailpit exited during start"; }
    ((SECONDS < deadline)) || die "mailpit did not open its ports within 30s"
    sleep 0.1
  done
  log "mailpit started (pid $(cat "$RUN_DIR/mailpit.pid")): SMTP 127.0.0.1:$MAILPIT_SMTP_PORT, inbox http://127.0.0.1:$MAILPIT_UI_PORT/"
}

cmd_up() {
  local t0; t0="$(now)"
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  up_ferretdb
  up_kafka
  up_mailpit

  local args=(--timeout "${WAIT_READY_TIMEOUT:-120}")
  if [[ -n "${MONGODB_URI:-}" ]]; then args+=(--mongo-uri "$MONGODB_URI")
  else args+=(--mongo-uri "mongodb://127.0.0.1:$FERRETDB_PORT/"); fi
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then args+=(--kafka "$KAFKA_BOOTSTRAP_SERVERS")
  else args+=(--kafka "127.0.0.1:$KAFKA_PORT"); fi

  if ! (cd "$ROOT" && uv run --frozen python "$DEPLOY/wait_ready.py" "${args[@]}"); then
    local f
    for f in postgres ferretdb kafka; do
      [[ "$f" != kafka && -n "${MONGODB_URI:-}" ]] && continue
      [[ "$f" == kafka && -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]] && continue
      [[ -f "$LOG_DIR/$f.log" ]] || continue
      pid_alive "$f" >/dev/null || log "$f is NOT running"
      log "last lines of $LOG_DIR/$f.log:"
      tail -n 20 "$LOG_DIR/$f.log" >&2 || true
    done
    die "infrastructure did not become ready"
  fi
  log "up in $(since "$t0")s"
}

# stop SIGNAL NAME... : signal every live one, wait up to 20 s, then SIGKILL.
stop_all() {
  local sig="$1" name pid pids=() names=(); shift
  for name in "$@"; do
    if pid="$(pid_alive "$name")"; then
      log "stopping $name (pid $pid)"
      kill "-$sig" "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    else
      rm -f "$RUN_DIR/$name.pid"
    fi
  done
  local i deadline=$((SECONDS + 20))
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[$i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      log "${names[$i]} did not stop within 20s; sending SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
      sleep 0.5
    fi
    rm -f "$RUN_DIR/${names[$i]}.pid"
    log "${names[$i]} stopped"
  done
}

cmd_down() {
  stop_all TERM ferretdb kafka mailpit
  # After FerretDB (its client); SIGINT is PostgreSQL's "fast" shutdown (SIGTERM would wait for
  # every client session to end).
  stop_all INT postgres
}

cmd_status() {
  local name pid port ext
  for name in ferretdb postgres kafka mailpit; do
    case "$name" in
      mailpit) port="$MAILPIT_SMTP_PORT"; ext="${SMTP_EXTERNAL:-}" ;;
      ferretdb) port="$FERRETDB_PORT"; ext="${MONGODB_URI:-}" ;;
      postgres)
        port="$POSTGRES_PORT"; ext=""
        [[ ( -n "${MONGODB_URI:-}" || "$LOCAL_STORE" == sqlite ) && ! -f "$RUN_DIR/postgres.pid" ]] && continue ;;
      kafka) port="$KAFKA_PORT"; ext="${KAFKA_BOOTSTRAP_SERVERS:-}" ;;
    esac
    if [[ -n "$ext" ]]; then
      printf '%-9s external (%s)\n' "$name" "$ext"
    elif pid="$(pid_alive "$name")"; then
      if port_open "$port"; then
        printf '%-9s running  pid %-7s 127.0.0.1:%s\n' "$name" "$pid" "$port"
      else
        printf '%-9s starting pid %-7s 127.0.0.1:%s (port not open yet)\n' "$name" "$pid" "$port"
      fi
    elif [[ -f "$RUN_DIR/$name.pid" ]]; then
      printf '%-9s stopped  (stale pid file %s)\n' "$name" "$RUN_DIR/$name.pid"
    else
      printf '%-9s stopped\n' "$name"
    fi
  done
  printf 'var dir   %s\n' "$VAR_DIR"
}

case "${1:-}" in
  build) ensure_ferretdb_bin; ensure_mailpit_bin; ensure_kafka_libs; [[ "$LOCAL_STORE" == sqlite ]] || ensure_postgres_bin; ensure_kube_apiserver ;;
  up) cmd_up ;;
  down) cmd_down ;;
  # Only Mailpit (tests stop and start it to simulate an SMTP outage).
  mailpit-up) mkdir -p "$LOG_DIR" "$RUN_DIR"; up_mailpit ;;
  mailpit-down) stop_all TERM mailpit ;;
  status) cmd_status ;;
  *) echo "usage: $0 build|up|down|status|mailpit-up|mailpit-down" >&2; exit 2 ;;
esac
