#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) run from Maven Central jars, for
# machines without Docker (DESIGN.md §8, shared/reference/kafka-local.md §1). Docker users: docker/compose.yml.
#
#   scripts/kafka-local.sh start [--fresh]   start (or reuse) the broker, wait until ready, create the topics
#   scripts/kafka-local.sh stop              stop the broker this script started
#   scripts/kafka-local.sh status            report whether Kafka answers; exit 0 only if it does
#
# Environment:
#   KAFKA_BROKERS                 another cluster: `start` only waits for it and creates the topics
#   KAFKA_LOCAL_PORT              client port (default 19092)
#   KAFKA_LOCAL_CONTROLLER_PORT   KRaft controller port (default 19093)
#   KAFKA_LOCAL_DIR               state directory: server.properties, kafka.pid, kafka.out, data/ (default .local/kafka)
#   KAFKA_TOPIC_PREFIX, KAFKA_TOPIC_PARTITIONS   passed on to scripts/kafka-admin.ts
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_DIR="$ROOT/docker/local-kafka"
LIB="$KAFKA_DIR/target/lib"
PORT="${KAFKA_LOCAL_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_LOCAL_CONTROLLER_PORT:-19093}"
LOCAL_BROKERS="127.0.0.1:$PORT"
# Made absolute before the cd below: it ends up in server.properties and in the broker's command line.
mkdir -p "${KAFKA_LOCAL_DIR:-$ROOT/.local/kafka}"
STATE="$(cd "${KAFKA_LOCAL_DIR:-$ROOT/.local/kafka}" && pwd)"
PID_FILE="$STATE/kafka.pid"
OUT="$STATE/kafka.out"
READY_TIMEOUT_MS=90000
STOP_GRACE_SECONDS=30

# ts-node finds tsconfig.json and node_modules from the repository root.
cd "$ROOT"

die() {
  echo "kafka-local: $*" >&2
  exit 1
}

kafka_admin() {
  node -r ts-node/register/transpile-only scripts/kafka-admin.ts "$@"
}

# Prints the pid of the broker this script started, if it is still running. The pid file can outlive the
# broker (crash, reboot) and its pid be reused, so the process must still be our kafka.Kafka with our config.
running_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid="$(<"$PID_FILE")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ "$(ps -ww -o args= -p "$pid" 2>/dev/null)" == *"kafka.Kafka $STATE/server.properties"* ]] || return 1
  echo "$pid"
}

# Client port the running broker was started with (its rendered config), which may differ from $PORT when
# KAFKA_LOCAL_PORT changed since.
running_port() {
  sed -n 's#^advertised.listeners=PLAINTEXT://127.0.0.1:##p' "$STATE/server.properties"
}

# True when something accepts TCP connections on the client port (bash's /dev/tcp: no nc/curl needed).
port_open() {
  (: <>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

# Maven resolves ~60 jars; run it only when target/lib is missing, was left incomplete (the stamp is written
# last) or pom.xml changed since (the stamp is its checksum; stale jars of another version are removed).
ensure_jars() {
  local stamp="$LIB/.pom-cksum" want
  want="$(cksum <"$KAFKA_DIR/pom.xml")"
  if [[ -f $stamp && "$(<"$stamp")" == "$want" ]]; then
    return
  fi
  echo "Fetching the Kafka jars with Maven into $LIB"
  rm -rf "$LIB"
  mvn -q -B -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB"
  echo "$want" >"$stamp"
}

render_config() {
  sed -e "s#@DATA@#$STATE#g" -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    "$KAFKA_DIR/server.properties.in" >"$STATE/server.properties"
}

# KRaft will not start on an unformatted log dir, and formatting a formatted one fails: format once, so
# topics and committed offsets survive restarts (`--fresh` removes data/ first).
format_if_needed() {
  [[ -f $STATE/data/meta.properties ]] && return
  local cluster_id
  cluster_id="$(storage_tool random-uuid | tail -n 1)"
  echo "Formatting $STATE/data (cluster id $cluster_id)"
  storage_tool format -t "$cluster_id" -c "$STATE/server.properties" >/dev/null
}

storage_tool() {
  java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$LIB/*" kafka.tools.StorageTool "$@"
}

# Starts the broker in the background, detached from this shell (nohup; a non-interactive shell's background
# jobs also ignore SIGINT), and sets BROKER_PID. Not run in $(...): as this shell's own child, a broker that
# dies during start-up is reaped here at once, so `kafka-admin.ts wait --pid` notices it immediately.
# The heap is capped: the JVM default is a quarter of the RAM.
launch() {
  nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
    -cp "$LIB/*" kafka.Kafka "$STATE/server.properties" </dev/null >"$OUT" 2>&1 &
  BROKER_PID=$!
  echo "$BROKER_PID" >"$PID_FILE"
}

# True while the process exists. A zombie counts as gone: the broker was reparented when its launching shell
# exited, and where PID 1 does not reap (some containers) kill -0 would succeed on the corpse forever.
alive() {
  local stat
  stat="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ $stat != Z* ]]
}

# SIGTERM lets Kafka shut down cleanly (flushes logs, writes the clean-shutdown marker, deregisters the broker,
# so the next start neither recovers logs nor waits ~9 s for the old registration to expire); SIGKILL only
# if it has not exited after the grace period.
stop_pid() {
  local pid=$1 deadline=$((SECONDS + STOP_GRACE_SECONDS))
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "$pid"; then
    echo "Broker $pid still running after ${STOP_GRACE_SECONDS}s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do
      sleep 0.2
    done
  fi
  rm -f "$PID_FILE"
}

create_topics_and_report() {
  local brokers=$1
  KAFKA_BROKERS="$brokers" kafka_admin create-topics
  echo "Kafka ready: KAFKA_BROKERS=$brokers"
}

# KAFKA_BROKERS naming anything but the local broker's address means another cluster is in charge.
external_brokers() {
  [[ -n ${KAFKA_BROKERS:-} && $KAFKA_BROKERS != "$LOCAL_BROKERS" && $KAFKA_BROKERS != "localhost:$PORT" ]]
}

cmd_start() {
  local fresh=false pid
  (($# <= 1)) || die "start takes at most one option (--fresh)"
  case "${1:-}" in
    --fresh) fresh=true ;;
    "") ;;
    *) die "unknown option for start: $1 (only --fresh)" ;;
  esac

  if external_brokers; then
    $fresh && die "--fresh wipes the local broker's data; it cannot apply to KAFKA_BROKERS=$KAFKA_BROKERS"
    echo "Using the cluster at KAFKA_BROKERS=$KAFKA_BROKERS (no local broker is started)"
    KAFKA_BROKERS="$KAFKA_BROKERS" kafka_admin wait --timeout-ms "$READY_TIMEOUT_MS"
    create_topics_and_report "$KAFKA_BROKERS"
    return
  fi

  if pid="$(running_pid)"; then
    if ! $fresh; then
      [[ "$(running_port)" == "$PORT" ]] ||
        die "the local broker (pid $pid) listens on port $(running_port), not $PORT: stop it first, or set KAFKA_LOCAL_PORT=$(running_port)"
      echo "Reusing the local broker (pid $pid)"
      KAFKA_BROKERS="$LOCAL_BROKERS" kafka_admin wait --timeout-ms "$READY_TIMEOUT_MS" --pid "$pid"
      create_topics_and_report "$LOCAL_BROKERS"
      return
    fi
    echo "Stopping the local broker (pid $pid) to start fresh"
    stop_pid "$pid"
  elif port_open; then
    $fresh && die "something this script did not start answers on $LOCAL_BROKERS; refusing to wipe or replace it"
    echo "Reusing the Kafka already answering on $LOCAL_BROKERS (not started by this script; stop will not touch it)"
    KAFKA_BROKERS="$LOCAL_BROKERS" kafka_admin wait --timeout-ms "$READY_TIMEOUT_MS"
    create_topics_and_report "$LOCAL_BROKERS"
    return
  fi

  rm -f "$PID_FILE" # stale: its process is gone (checked above)
  if $fresh; then
    echo "Removing $STATE/data"
    rm -rf "$STATE/data"
  fi
  ensure_jars
  render_config
  format_if_needed
  launch
  pid=$BROKER_PID
  echo "Started the local broker (pid $pid, log $OUT)"
  if ! KAFKA_BROKERS="$LOCAL_BROKERS" kafka_admin wait --timeout-ms "$READY_TIMEOUT_MS" --pid "$pid"; then
    echo "----- last lines of $OUT -----" >&2
    tail -n 40 "$OUT" >&2 || true
    echo "------------------------------" >&2
    # A half-started broker would hold the port and the data dir lock, and the next start would reuse it.
    running_pid >/dev/null && stop_pid "$pid"
    rm -f "$PID_FILE"
    die "the local broker did not become ready"
  fi
  create_topics_and_report "$LOCAL_BROKERS"
}

cmd_stop() {
  local pid
  if pid="$(running_pid)"; then
    echo "Stopping the local broker (pid $pid)"
    stop_pid "$pid"
    echo "Stopped"
  elif [[ -f $PID_FILE ]]; then
    echo "The broker recorded in $PID_FILE is not running; removing the stale pid file"
    rm -f "$PID_FILE"
  else
    echo "No broker started by this script is running"
    if port_open; then
      echo "(something else answers on $LOCAL_BROKERS; left alone)"
    fi
  fi
}

cmd_status() {
  local pid brokers=$LOCAL_BROKERS
  if external_brokers; then
    brokers=$KAFKA_BROKERS
    echo "KAFKA_BROKERS=$brokers (external cluster)"
  elif pid="$(running_pid)"; then
    brokers="127.0.0.1:$(running_port)"
    echo "Local broker running: pid $pid, KAFKA_BROKERS=$brokers, state $STATE"
  elif port_open; then
    echo "Something not started by this script answers on $LOCAL_BROKERS"
  else
    echo "Not running (nothing answers on $LOCAL_BROKERS)"
    return 1
  fi
  KAFKA_BROKERS="$brokers" kafka_admin wait --timeout-ms 5000
}

case "${1:-}" in
  start) cmd_start "${@:2}" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "usage: $0 start [--fresh] | stop | status" ;;
esac
