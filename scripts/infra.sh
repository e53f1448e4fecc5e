#!/usr/bin/env bash
# Local infrastructure for the CRM monorepo: FerretDB (SQLite backend, Mongo wire protocol)
# and a single-node Kafka 4.x in KRaft combined mode. No Docker.
#
#   scripts/infra.sh build    # only build the FerretDB launcher and fetch the Kafka jars
#   scripts/infra.sh up       # build/fetch on first use, start, wait for real client round trips
#   scripts/infra.sh down     # SIGTERM, wait up to 20 s, then SIGKILL
#   scripts/infra.sh status
#
# Environment:
#   CRM_VAR_DIR             state dir (data, logs, pid files); default <repo>/var
#   FERRETDB_PORT           default 27017
#   KAFKA_PORT              default 9092
#   KAFKA_CONTROLLER_PORT   default 9093
#   MONGODB_URI             if set, FerretDB is not started; that URI is checked instead
#   KAFKA_BOOTSTRAP_SERVERS if set, Kafka is not started; those servers are checked instead
#   KAFKA_HEAP_OPTS         default "-Xmx512m -Xms256m"
#   WAIT_READY_TIMEOUT      seconds, default 120
#   FERRETDB_LOG_LEVEL      debug|info|warn|error, default warn (info logs every connection)
#
# Build artefacts (the FerretDB launcher and the Kafka jars) always live in <repo>/var so
# isolated instances (CRM_VAR_DIR=...) share them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR_DIR="${CRM_VAR_DIR:-$ROOT/var}"
mkdir -p "$VAR_DIR"
VAR_DIR="$(cd "$VAR_DIR" && pwd)"

FERRETDB_PORT="${FERRETDB_PORT:-27017}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
FERRETDB_LOG_LEVEL="${FERRETDB_LOG_LEVEL:-warn}"

FERRETDB_BIN="$ROOT/var/bin/ferretdb-local"
KAFKA_LIBS="$ROOT/var/kafka/libs"
DEPLOY="$ROOT/deploy/local"

LOG_DIR="$VAR_DIR/log"
RUN_DIR="$VAR_DIR/run"
FERRETDB_DATA="$VAR_DIR/ferretdb/data"
KAFKA_DATA="$VAR_DIR/kafka/data"
KAFKA_PROPS="$VAR_DIR/kafka/server.properties"

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
  mkdir -p "$FERRETDB_DATA"
  start_bg ferretdb "$LOG_DIR/ferretdb.log" \
    "$FERRETDB_BIN" -listen "127.0.0.1:$FERRETDB_PORT" -data "$FERRETDB_DATA/" -log-level "$FERRETDB_LOG_LEVEL"
  log "ferretdb started (pid $(cat "$RUN_DIR/ferretdb.pid")) on 127.0.0.1:$FERRETDB_PORT"
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

cmd_up() {
  local t0; t0="$(now)"
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  up_ferretdb
  up_kafka

  local args=(--timeout "${WAIT_READY_TIMEOUT:-120}")
  if [[ -n "${MONGODB_URI:-}" ]]; then args+=(--mongo-uri "$MONGODB_URI")
  else args+=(--mongo-uri "mongodb://127.0.0.1:$FERRETDB_PORT/"); fi
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then args+=(--kafka "$KAFKA_BOOTSTRAP_SERVERS")
  else args+=(--kafka "127.0.0.1:$KAFKA_PORT"); fi

  if ! (cd "$ROOT" && uv run --frozen python "$DEPLOY/wait_ready.py" "${args[@]}"); then
    local f
    for f in ferretdb kafka; do
      [[ "$f" == ferretdb && -n "${MONGODB_URI:-}" ]] && continue
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

cmd_down() {
  local name pid pids=() names=()
  for name in ferretdb kafka; do
    if pid="$(pid_alive "$name")"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
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

cmd_status() {
  local name pid port ext
  for name in ferretdb kafka; do
    case "$name" in
      ferretdb) port="$FERRETDB_PORT"; ext="${MONGODB_URI:-}" ;;
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
  build) ensure_ferretdb_bin; ensure_kafka_libs ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 build|up|down|status" >&2; exit 2 ;;
esac
