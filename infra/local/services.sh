#!/usr/bin/env bash
# Real Redis, Kafka (KRaft) and FerretDB servers on this machine, without Docker.
#
#   bash infra/local/services.sh up|down|status|logs [redis|kafka|ferretdb|all]
#
# Everything binds to 127.0.0.1. State (data, logs, pid files, jars, binaries) lives under .crest-local/ in the repo
# root; Maven and Go keep their usual caches (~/.m2, ~/go, ~/.cache/go-build). See infra/local/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${CREST_LOCAL_DIR:-$ROOT/.crest-local}"
PROBE="$ROOT/infra/local/probe.mjs"
HOST=127.0.0.1

REDIS_PORT="${CREST_LOCAL_REDIS_PORT:-6379}"
KAFKA_PORT="${CREST_LOCAL_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${CREST_LOCAL_KAFKA_CONTROLLER_PORT:-9093}"
FERRETDB_PORT="${CREST_LOCAL_FERRETDB_PORT:-27017}"
START_TIMEOUT="${CREST_LOCAL_START_TIMEOUT:-120}"   # seconds to wait for each server to answer

KAFKA_VERSION="${CREST_LOCAL_KAFKA_VERSION:-4.1.1}"
LOG4J_VERSION=2.24.3          # the log4j2 that kafka_2.13 4.1.x itself depends on
KAFKA_HEAP="${CREST_LOCAL_KAFKA_HEAP:--Xmx512m -Xms256m}"
FERRETDB_VERSION=v1.24.0      # last 1.x: 2.x needs PostgreSQL with the DocumentDB extension

REDIS_DIR="$STATE/redis"
KAFKA_DIR="$STATE/kafka"
FERRETDB_DIR="$STATE/ferretdb"

log() { printf '[crest-local] %s\n' "$*"; }
warn() { printf '[crest-local] WARNING: %s\n' "$*" >&2; }
die() { printf '[crest-local] ERROR: %s\n' "$*" >&2; exit 1; }

for port_var in REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT FERRETDB_PORT START_TIMEOUT; do
  [[ "${!port_var}" =~ ^[0-9]+$ ]] || die "$port_var must be a number, got '${!port_var}'"
done

# ---------------------------------------------------------------------------------------------------- helpers

# Print the pid in PIDFILE if that process is alive AND its command line contains MARKER (so a stale pid file whose
# pid was reused by another process is not mistaken for our server). Returns 1 otherwise.
live_pid() {
  local pidfile="$1" marker="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  printf '%s' "$pid"
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_busy() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Who listens on PORT, for error messages (best effort: ss may be missing on a minimal machine).
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Htlnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -1
  fi
}

require_free_port() {
  local name="$1" port="$2" env_var="$3" owner
  if port_busy "$port"; then
    owner="$(port_owner "$port")"
    die "$name: port $HOST:$port is already in use by a process this script did not start${owner:+ ($owner)}. Stop it, or pick another port with $env_var=<port>."
  fi
}

tail_logs() {
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    echo "---- last 40 lines of $f ----" >&2
    tail -n 40 "$f" >&2 || true
  done
}

# Wait until CHECK (a shell function) succeeds, failing early if PID dies; on failure, tail each LOGFILE.
wait_ready() {
  local name="$1" pid="$2" check="$3" deadline=$((SECONDS + START_TIMEOUT)) start=$SECONDS out=""
  shift 3
  while ((SECONDS < deadline)); do
    if out="$("$check" 2>&1)"; then
      log "$name: ready after $((SECONDS - start))s — $out"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_logs "$@"
      die "$name: the server process (pid $pid) exited before it became ready. Logs: $*"
    fi
    sleep 1
  done
  tail_logs "$@"
  die "$name: not ready within ${START_TIMEOUT}s (last probe: ${out:-no output}). Process $pid is left running; logs: $*. Raise CREST_LOCAL_START_TIMEOUT, or stop it with: bash infra/local/services.sh down $name"
}

# Stop the process in PIDFILE (if it is ours), TERM first and KILL after GRACE seconds.
stop_pidfile() {
  local name="$1" pidfile="$2" marker="$3" grace="${4:-30}" pid i
  if ! pid="$(live_pid "$pidfile" "$marker")"; then
    if [[ -e "$pidfile" ]]; then
      log "$name: not running (removing stale pid file $pidfile)"
      rm -f "$pidfile"
    else
      log "$name: not running"
    fi
    return 0
  fi
  log "$name: stopping pid $pid (SIGTERM, up to ${grace}s)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name: pid $pid still alive after ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}

# Run CMD... in the background, detached from this shell (nohup + setsid: it survives the shell, a Ctrl-C in it, and
# npm exiting), stdout+stderr appended to OUTFILE. The pid file is written by the process itself just before it execs
# CMD, so it holds the server's own pid.
start_detached() {
  local pidfile="$1" outfile="$2" i
  shift 2
  rm -f "$pidfile"
  : >"$outfile"
  # shellcheck disable=SC2016 # expanded by the inner bash
  nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$outfile" 2>&1 </dev/null &
  for ((i = 0; i < 50; i++)); do [[ -s "$pidfile" ]] && break; sleep 0.1; done
  sleep 0.3
}

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"
  fi
}

node_probe() {
  command -v node >/dev/null 2>&1 || die "node is needed for the readiness probes"
  (cd "$ROOT" && node "$PROBE" "$@")
}

# ---------------------------------------------------------------------------------------------------- redis

REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

redis_check() {
  local reply
  reply="$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>&1)" || { echo "$reply"; return 1; }
  [[ "$reply" == PONG ]] || { echo "$reply"; return 1; }
  echo "redis-cli ping -> PONG"
}

redis_install() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "redis: redis-server is missing and apt-get is not available to install it"
  log "redis: redis-server not found; installing Debian's redis-server with apt-get (apt-get update first)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Keep the package's init script from starting a system-wide redis on 6379: policy-rc.d exit 101 = "don't start".
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ ! -e "$policy" ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    added_policy=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >"$REDIS_DIR/apt-install.log" 2>&1 || rc=$?
  ((added_policy)) && as_root rm -f "$policy"
  if ((rc != 0)); then
    tail -n 20 "$REDIS_DIR/apt-install.log" >&2
    die "redis: apt-get install redis-server failed (log: $REDIS_DIR/apt-install.log)"
  fi
  log "redis: installed $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/redis-server \1/p')"
}

redis_up() {
  mkdir -p "$REDIS_DIR/data"
  local pid
  if pid="$(live_pid "$REDIS_PIDFILE" redis-server)"; then
    if redis_check >/dev/null 2>&1; then
      log "redis: already running (pid $pid, $HOST:$REDIS_PORT) and answering PING — nothing to do"
      return 0
    fi
    die "redis: pid $pid from $REDIS_PIDFILE is alive but $HOST:$REDIS_PORT does not answer PING (started on another port?). Run: bash infra/local/services.sh down redis"
  fi
  [[ -e "$REDIS_PIDFILE" ]] && { log "redis: removing stale pid file"; rm -f "$REDIS_PIDFILE"; }
  require_free_port redis "$REDIS_PORT" CREST_LOCAL_REDIS_PORT
  redis_install
  log "redis: starting redis-server on $HOST:$REDIS_PORT (no persistence; log $REDIS_LOG)"
  : >"$REDIS_LOG"
  redis-server --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes \
    --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$REDIS_DIR/data"
  # --daemonize writes the pid file a moment after the parent returns.
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$REDIS_PIDFILE" ]] && break; sleep 0.1; done
  pid="$(live_pid "$REDIS_PIDFILE" redis-server)" || { tail -n 20 "$REDIS_LOG" >&2; die "redis: redis-server did not start (log: $REDIS_LOG)"; }
  log "redis: waiting for PONG (pid $pid, timeout ${START_TIMEOUT}s)"
  wait_ready redis "$pid" redis_check "$REDIS_LOG"
}

redis_down() { stop_pidfile redis "$REDIS_PIDFILE" redis-server 15; }

redis_status() {
  local pid out
  if pid="$(live_pid "$REDIS_PIDFILE" redis-server)"; then
    if out="$(redis_check 2>&1)"; then
      log "redis: running (pid $pid, $HOST:$REDIS_PORT, $(redis-cli -h "$HOST" -p "$REDIS_PORT" info server | sed -n 's/^redis_version:\(.*\)\r$/redis_version=\1/p'); $out)"
      return 0
    fi
    log "redis: process $pid alive but not answering on $HOST:$REDIS_PORT ($out)"
    return 1
  fi
  if port_busy "$REDIS_PORT"; then log "redis: not ours — port $HOST:$REDIS_PORT is used by another process $(port_owner "$REDIS_PORT")"
  else log "redis: stopped"; fi
  return 1
}

# ---------------------------------------------------------------------------------------------------- kafka

KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_DIR/log4j2.properties"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/logs/server.log"
KAFKA_STDOUT="$KAFKA_DIR/logs/stdout.log"
KAFKA_MARKER="kafka.Kafka $KAFKA_PROPS"

kafka_check() { node_probe kafka "$HOST:$KAFKA_PORT"; }

kafka_install() {
  local stamp="$KAFKA_LIBS/.complete-kafka_2.13-$KAFKA_VERSION"
  if [[ -e "$stamp" ]]; then
    log "kafka: jars for kafka_2.13 $KAFKA_VERSION already in $KAFKA_LIBS"
    return 0
  fi
  command -v java >/dev/null 2>&1 || die "kafka: java (17+) is required (Debian: apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null 2>&1 || die "kafka: mvn is required to fetch the jars from Maven Central (Debian: apt-get install maven)"
  log "kafka: fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its dependencies from Maven Central (cache ~/.m2)"
  mkdir -p "$KAFKA_DIR"
  cat >"$KAFKA_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by infra/local/services.sh: only used to copy Kafka's runtime jars into libs/. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>crest.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- Kafka logs through slf4j 1.7; this binds it to the log4j2 core that kafka_2.13 already brings. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "$KAFKA_LIBS.tmp"
  if ! mvn -B -q -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS.tmp" >"$KAFKA_DIR/mvn.log" 2>&1; then
    tail -n 30 "$KAFKA_DIR/mvn.log" >&2
    die "kafka: mvn could not fetch the jars (log: $KAFKA_DIR/mvn.log)"
  fi
  [[ -e "$KAFKA_LIBS.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka: kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  touch "$KAFKA_LIBS.tmp/.complete-kafka_2.13-$KAFKA_VERSION"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$KAFKA_LIBS" | cut -f1)) in $KAFKA_LIBS"
}

kafka_configure() {
  mkdir -p "$KAFKA_DIR/logs"
  cat >"$KAFKA_PROPS" <<EOF
# Generated by infra/local/services.sh — single-node KRaft broker+controller for local tests. Do not edit: rewritten on 'up'.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
# Dynamic quorum (KIP-853) formatted with --standalone: bootstrap servers instead of controller.quorum.voters.
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
log.dirs=$KAFKA_DATA
num.partitions=6
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests join consumer groups often: don't wait 3 s for more members.
group.initial.rebalance.delay.ms=0
log.retention.hours=24
EOF
  cat >"$KAFKA_LOG4J" <<EOF
# Generated by infra/local/services.sh — broker logs to $KAFKA_LOG (INFO), chatty packages at WARN.
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $KAFKA_LOG
appender.file.filePattern = $KAFKA_DIR/logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafkalog.name = kafka.log
logger.kafkalog.level = WARN
logger.storage.name = org.apache.kafka.storage
logger.storage.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

# JVM command line shared by the storage tool and the broker.
kafka_java_cmd() {
  # shellcheck disable=SC2206 # KAFKA_HEAP is deliberately split into JVM options
  KAFKA_JAVA=(java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_DIR/logs"
    -cp "$KAFKA_LIBS/*")
}
kafka_java() { kafka_java_cmd; "${KAFKA_JAVA[@]}" "$@"; }

kafka_format() {
  # The standalone controller records its own endpoint when formatted: reformat if the ports changed.
  local stamp="$KAFKA_DATA/.crest-ports" want="$KAFKA_PORT/$KAFKA_CONTROLLER_PORT"
  if [[ -e "$KAFKA_DATA/meta.properties" ]]; then
    if [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
      log "kafka: storage already formatted in $KAFKA_DATA ($(sed -n 's/^cluster.id=//p' "$KAFKA_DATA/meta.properties"))"
      return 0
    fi
    log "kafka: ports changed since the storage was formatted; wiping $KAFKA_DATA (local test data only)"
    rm -rf "$KAFKA_DATA"
  fi
  local cluster_id
  cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: could not generate a cluster id (got '$cluster_id')"
  log "kafka: formatting KRaft storage in $KAFKA_DATA (cluster id $cluster_id, --standalone)"
  mkdir -p "$KAFKA_DATA"
  if ! kafka_java kafka.tools.StorageTool format --config "$KAFKA_PROPS" --cluster-id "$cluster_id" --standalone \
    >"$KAFKA_DIR/logs/format.log" 2>&1; then
    cat "$KAFKA_DIR/logs/format.log" >&2
    die "kafka: storage format failed (log: $KAFKA_DIR/logs/format.log)"
  fi
  echo "$want" >"$stamp"
}

kafka_up() {
  mkdir -p "$KAFKA_DIR/logs"
  local pid
  if pid="$(live_pid "$KAFKA_PIDFILE" "$KAFKA_MARKER")"; then
    if kafka_check >/dev/null 2>&1; then
      log "kafka: already running (pid $pid, $HOST:$KAFKA_PORT) and answering metadata requests — nothing to do"
      return 0
    fi
    log "kafka: pid $pid is alive but not answering yet; waiting for it (timeout ${START_TIMEOUT}s)"
    wait_ready kafka "$pid" kafka_check "$KAFKA_STDOUT" "$KAFKA_LOG"
    return 0
  fi
  [[ -e "$KAFKA_PIDFILE" ]] && { log "kafka: removing stale pid file"; rm -f "$KAFKA_PIDFILE"; }
  require_free_port kafka "$KAFKA_PORT" CREST_LOCAL_KAFKA_PORT
  require_free_port "kafka controller" "$KAFKA_CONTROLLER_PORT" CREST_LOCAL_KAFKA_CONTROLLER_PORT
  kafka_install
  log "kafka: writing $KAFKA_PROPS and $KAFKA_LOG4J"
  kafka_configure
  kafka_format
  log "kafka: starting broker+controller on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT; log $KAFKA_LOG)"
  kafka_java_cmd
  start_detached "$KAFKA_PIDFILE" "$KAFKA_STDOUT" "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_PROPS"
  pid="$(live_pid "$KAFKA_PIDFILE" "$KAFKA_MARKER")" || { tail -n 40 "$KAFKA_STDOUT" >&2; die "kafka: the JVM did not start (output: $KAFKA_STDOUT)"; }
  log "kafka: waiting for a metadata request to succeed (pid $pid, timeout ${START_TIMEOUT}s)"
  wait_ready kafka "$pid" kafka_check "$KAFKA_STDOUT" "$KAFKA_LOG"
}

kafka_down() { stop_pidfile kafka "$KAFKA_PIDFILE" "$KAFKA_MARKER" 40; }

kafka_status() {
  local pid out
  if pid="$(live_pid "$KAFKA_PIDFILE" "$KAFKA_MARKER")"; then
    if out="$(kafka_check 2>&1)"; then
      log "kafka: running (pid $pid, $HOST:$KAFKA_PORT, kafka_2.13 $KAFKA_VERSION; $out)"
      return 0
    fi
    log "kafka: process $pid alive but not answering on $HOST:$KAFKA_PORT ($out)"
    return 1
  fi
  if port_busy "$KAFKA_PORT"; then log "kafka: not ours — port $HOST:$KAFKA_PORT is used by another process $(port_owner "$KAFKA_PORT")"
  else log "kafka: stopped"; fi
  return 1
}

# ---------------------------------------------------------------------------------------------------- ferretdb

FERRETDB_BIN="$FERRETDB_DIR/bin/ferretdb"
FERRETDB_DATA="$FERRETDB_DIR/data"
FERRETDB_PIDFILE="$FERRETDB_DIR/ferretdb.pid"
FERRETDB_LOG="$FERRETDB_DIR/ferretdb.log"
FERRETDB_MARKER="ferretdb --handler=sqlite"

ferretdb_check() { node_probe mongo "$HOST:$FERRETDB_PORT"; }

ferretdb_install() {
  # (capture, then match: 'ferretdb --version | grep -q' fails under pipefail when grep exits early)
  if [[ -x "$FERRETDB_BIN" ]] && [[ "$("$FERRETDB_BIN" --version 2>/dev/null)" == *"version: $FERRETDB_VERSION"* ]]; then
    log "ferretdb: $FERRETDB_VERSION already built at $FERRETDB_BIN"
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "ferretdb: go (1.22+) is required to build FerretDB (Debian: apt-get install golang-go, or the official Go toolchain)"
  # Not 'go install ...@version', for two reasons: it asks the module proxy for FerretDB's version list (to report
  # deprecation), which the proxy refuses (403); and FerretDB's build/version/version.txt is generated by their release
  # tooling, so a binary built straight from the module panics at start. So: download the module source, copy it,
  # write version.txt, and build it as the main module (its own go.sum pins every dependency).
  local src="$FERRETDB_DIR/src" t0=$SECONDS moddir
  export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
  log "ferretdb: downloading github.com/FerretDB/FerretDB@$FERRETDB_VERSION source through the Go module proxy (cache ~/go/pkg/mod)"
  moddir="$(cd "$FERRETDB_DIR" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    node -e 'let s="";process.stdin.on("data",(d)=>{s+=d;}).on("end",()=>{const m=JSON.parse(s);if(m.Error){console.error(m.Error);process.exit(1);}console.log(m.Dir);})')" ||
    die "ferretdb: go mod download github.com/FerretDB/FerretDB@$FERRETDB_VERSION failed"
  rm -rf "$src"
  cp -R "$moddir" "$src"
  chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  echo "crest-local" >"$src/build/version/package.txt"
  mkdir -p "$FERRETDB_DIR/bin"
  log "ferretdb: building ./cmd/ferretdb with $(go version | awk '{print $3}') (cold: about 1.5–2.5 min on 2 cores; cache ~/.cache/go-build)"
  if ! (cd "$src" && go build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb) >"$FERRETDB_DIR/build.log" 2>&1; then
    tail -n 30 "$FERRETDB_DIR/build.log" >&2
    die "ferretdb: go build failed (log: $FERRETDB_DIR/build.log)"
  fi
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  rm -rf "$src"
  [[ "$("$FERRETDB_BIN" --version 2>&1)" == *"version: $FERRETDB_VERSION"* ]] || die "ferretdb: the built binary does not report $FERRETDB_VERSION"
  log "ferretdb: built $FERRETDB_BIN in $((SECONDS - t0))s"
}

ferretdb_up() {
  mkdir -p "$FERRETDB_DIR"
  local pid
  if pid="$(live_pid "$FERRETDB_PIDFILE" "$FERRETDB_MARKER")"; then
    if ferretdb_check >/dev/null 2>&1; then
      log "ferretdb: already running (pid $pid, $HOST:$FERRETDB_PORT) and answering ping — nothing to do"
      return 0
    fi
    log "ferretdb: pid $pid is alive but not answering yet; waiting for it (timeout ${START_TIMEOUT}s)"
    wait_ready ferretdb "$pid" ferretdb_check "$FERRETDB_LOG"
    return 0
  fi
  [[ -e "$FERRETDB_PIDFILE" ]] && { log "ferretdb: removing stale pid file"; rm -f "$FERRETDB_PIDFILE"; }
  require_free_port ferretdb "$FERRETDB_PORT" CREST_LOCAL_FERRETDB_PORT
  ferretdb_install
  mkdir -p "$FERRETDB_DATA" "$FERRETDB_DIR/state"
  log "ferretdb: starting $FERRETDB_VERSION (SQLite backend in $FERRETDB_DATA) on $HOST:$FERRETDB_PORT (log $FERRETDB_LOG)"
  start_detached "$FERRETDB_PIDFILE" "$FERRETDB_LOG" "$FERRETDB_BIN" --handler=sqlite \
    --sqlite-url="file:$FERRETDB_DATA/" --listen-addr="$HOST:$FERRETDB_PORT" \
    --state-dir="$FERRETDB_DIR/state" --telemetry=disable --debug-addr=- --log-level="${CREST_LOCAL_FERRETDB_LOG_LEVEL:-info}"
  pid="$(live_pid "$FERRETDB_PIDFILE" "$FERRETDB_MARKER")" || { tail -n 40 "$FERRETDB_LOG" >&2; die "ferretdb: did not start (log: $FERRETDB_LOG)"; }
  log "ferretdb: waiting for a MongoDB ping to succeed (pid $pid, timeout ${START_TIMEOUT}s)"
  wait_ready ferretdb "$pid" ferretdb_check "$FERRETDB_LOG"
}

ferretdb_down() { stop_pidfile ferretdb "$FERRETDB_PIDFILE" "$FERRETDB_MARKER" 15; }

ferretdb_status() {
  local pid out
  if pid="$(live_pid "$FERRETDB_PIDFILE" "$FERRETDB_MARKER")"; then
    if out="$(ferretdb_check 2>&1)"; then
      log "ferretdb: running (pid $pid, $HOST:$FERRETDB_PORT; $out)"
      return 0
    fi
    log "ferretdb: process $pid alive but not answering on $HOST:$FERRETDB_PORT ($out)"
    return 1
  fi
  if port_busy "$FERRETDB_PORT"; then log "ferretdb: not ours — port $HOST:$FERRETDB_PORT is used by another process $(port_owner "$FERRETDB_PORT")"
  else log "ferretdb: stopped"; fi
  return 1
}

# ---------------------------------------------------------------------------------------------------- main

usage() {
  cat <<EOF
usage: bash infra/local/services.sh up|down|status|logs [redis|kafka|ferretdb|all]

  up      install what is missing, start the server(s), wait until each really answers (idempotent)
  down    stop the server(s) that 'up' started (pid files under $STATE)
  status  print each server's state; exit 0 only if all the named servers are running and answering, else 3
  logs    print the tail of each server's log

ports: redis $HOST:$REDIS_PORT (CREST_LOCAL_REDIS_PORT), kafka $HOST:$KAFKA_PORT (CREST_LOCAL_KAFKA_PORT) with its
controller on $HOST:$KAFKA_CONTROLLER_PORT (CREST_LOCAL_KAFKA_CONTROLLER_PORT), ferretdb $HOST:$FERRETDB_PORT (CREST_LOCAL_FERRETDB_PORT)
EOF
}

action="${1:-}"
target="${2:-all}"
case "$target" in
  all) services=(redis kafka ferretdb) ;;
  redis | kafka | ferretdb) services=("$target") ;;
  *) usage >&2; die "unknown service '$target'" ;;
esac

case "$action" in
  up)
    mkdir -p "$STATE"
    t0=$SECONDS
    for s in "${services[@]}"; do
      t=$SECONDS
      "${s}_up"
      log "$s: up ($((SECONDS - t))s)"
    done
    log "up: ${services[*]} ready in $((SECONDS - t0))s"
    ;;
  down)
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do "${services[i]}_down"; done
    ;;
  status)
    rc=0
    for s in "${services[@]}"; do "${s}_status" || rc=3; done
    exit "$rc"
    ;;
  logs)
    for s in "${services[@]}"; do
      case "$s" in redis) f="$REDIS_LOG" ;; kafka) f="$KAFKA_LOG" ;; *) f="$FERRETDB_LOG" ;; esac
      echo "==== $s: $f"
      tail -n "${CREST_LOCAL_LOG_LINES:-30}" "$f" 2>/dev/null || echo "(no log yet)"
    done
    ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
