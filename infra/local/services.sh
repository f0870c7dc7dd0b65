#!/usr/bin/env bash
# Real Redis, Kafka (KRaft), FerretDB and PostgreSQL servers on this machine, without Docker.
#
#   bash infra/local/services.sh up|install|down|status|logs [redis|kafka|ferretdb|postgresql|all]
#
# Everything binds to 127.0.0.1 (CREST_LOCAL_HOST picks another address: infra/local/hosts.sh runs a second set on a
# network namespace's address). State (data, logs, pid files) lives under .crest-local/ in the repo root (CREST_LOCAL_DIR),
# jars and binaries there too (CREST_LOCAL_TOOLS_DIR); Maven and Go keep their usual caches (~/.m2, ~/go,
# ~/.cache/go-build). See infra/local/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${CREST_LOCAL_DIR:-$ROOT/.crest-local}"
TOOLS="${CREST_LOCAL_TOOLS_DIR:-$STATE}"
PROBE="$ROOT/infra/local/probe.mjs"
HOST="${CREST_LOCAL_HOST:-127.0.0.1}"
[[ "$HOST" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || { printf '[crest-local] ERROR: CREST_LOCAL_HOST must be an IPv4 address, got %s\n' "$HOST" >&2; exit 1; }

REDIS_PORT="${CREST_LOCAL_REDIS_PORT:-6379}"
KAFKA_PORT="${CREST_LOCAL_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${CREST_LOCAL_KAFKA_CONTROLLER_PORT:-9093}"
FERRETDB_PORT="${CREST_LOCAL_FERRETDB_PORT:-27017}"
POSTGRESQL_PORT="${CREST_LOCAL_POSTGRESQL_PORT:-5432}"
START_TIMEOUT="${CREST_LOCAL_START_TIMEOUT:-120}"   # seconds to wait for each server to answer

KAFKA_VERSION="${CREST_LOCAL_KAFKA_VERSION:-4.1.1}"
LOG4J_VERSION=2.24.3          # the log4j2 that kafka_2.13 4.1.x itself depends on
KAFKA_HEAP="${CREST_LOCAL_KAFKA_HEAP:--Xmx512m -Xms256m}"
FERRETDB_VERSION=v1.24.0      # last 1.x: 2.x needs PostgreSQL with the DocumentDB extension

REDIS_DIR="$STATE/redis"
KAFKA_DIR="$STATE/kafka"
FERRETDB_DIR="$STATE/ferretdb"
POSTGRESQL_DIR="$STATE/postgresql"

log() { printf '[crest-local] %s\n' "$*"; }
warn() { printf '[crest-local] WARNING: %s\n' "$*" >&2; }
die() { printf '[crest-local] ERROR: %s\n' "$*" >&2; exit 1; }

for port_var in REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT FERRETDB_PORT POSTGRESQL_PORT START_TIMEOUT; do
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

# True when something accepts TCP connections on $HOST:PORT.
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

# apt-get install PACKAGE for SERVICE, logging to LOG, without letting the package start a system-wide server of its
# own (policy-rc.d exit 101 = "don't start"); dies with the log's tail if it fails.
apt_install() {
  local service="$1" package="$2" logfile="$3" policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  if [[ ! -e "$policy" ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    added_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >"$logfile" 2>&1 || rc=$?
  ((added_policy)) && as_root rm -f "$policy"
  if ((rc != 0)); then
    tail -n 20 "$logfile" >&2
    die "$service: apt-get install $package failed (log: $logfile)"
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
  apt_install redis redis-server "$REDIS_DIR/apt-install.log"
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
  # protected mode accepts loopback clients only; off another address it must be off (the hosts' bridge is private)
  local protected=yes
  [[ "$HOST" == 127.* ]] || protected=no
  redis-server --bind "$HOST" --port "$REDIS_PORT" --protected-mode "$protected" --save "" --appendonly no --daemonize yes \
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

KAFKA_LIBS="$TOOLS/kafka/libs"
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
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  if ! mvn -B -q -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS.tmp" >"$KAFKA_DIR/mvn.log" 2>&1; then
    tail -n 30 "$KAFKA_DIR/mvn.log" >&2
    die "kafka: mvn could not fetch the jars (log: $KAFKA_DIR/mvn.log)"
  fi
  [[ -e "$KAFKA_LIBS.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka: kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  touch "$KAFKA_LIBS.tmp/.complete-kafka_2.13-$KAFKA_VERSION"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
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
# Crest's inventory workers use a 3 s session timeout (fail over in seconds); the broker's floor is 6 s by default.
group.min.session.timeout.ms=1000
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

FERRETDB_BIN="$TOOLS/ferretdb/bin/ferretdb"
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
  mkdir -p "$(dirname "$FERRETDB_BIN")"
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

# ---------------------------------------------------------------------------------------------------- postgresql

# Debian's server binaries (apt-get install postgresql), not the pg_wrapper/psql symlinks in /usr/bin or /usr/local/bin.
PG_LIBDIR=/usr/lib/postgresql
# Absolute and canonical: pg_ctl runs from /, and postmaster.pid records the data directory canonicalized.
POSTGRESQL_DIR="$(realpath -m -- "$POSTGRESQL_DIR")"
# As root, the server runs as an unprivileged user, who must be able to walk to its directory. A checkout under a
# private directory (a root home, say) cannot give it that, so its data then lives under /var/tmp, named after the
# state directory (the same name at every up, status and down).
if [[ $EUID -eq 0 ]]; then
  pg_reach="$POSTGRESQL_DIR"
  while [[ ! -e "$pg_reach" ]]; do pg_reach="$(dirname -- "$pg_reach")"; done
  if ! runuser -u nobody -- test -x "$pg_reach" 2>/dev/null; then
    POSTGRESQL_DIR="/var/tmp/crest-local-postgresql-$(printf '%s' "$STATE" | sha1sum | cut -c1-12)"
  fi
  unset pg_reach
fi
PG_DATA="$POSTGRESQL_DIR/data"
PG_LOG="$POSTGRESQL_DIR/postgresql.log"
PG_ROLE=crest                 # superuser created by initdb (trust auth, 127.0.0.1 only)
PG_DB=crest
PG_FALLBACK_USER=crest-pg     # system user created when running as root and there is no 'postgres' user

# The bin directory to use: the one matching an existing data directory's PG_VERSION if it is installed, else the
# newest /usr/lib/postgresql/<version>/bin that has a postgres binary. Prints nothing and returns 1 if none.
postgresql_bindir() {
  local want="" d
  [[ -r "$PG_DATA/PG_VERSION" ]] && want="$(tr -dc '0-9.' <"$PG_DATA/PG_VERSION")"
  if [[ -n "$want" && -x "$PG_LIBDIR/$want/bin/postgres" ]]; then
    printf '%s' "$PG_LIBDIR/$want/bin"
    return 0
  fi
  d="$(find "$PG_LIBDIR" -mindepth 3 -maxdepth 3 -path "$PG_LIBDIR/*/bin/postgres" -perm -u+x 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$d" ]] || return 1
  printf '%s' "${d%/postgres}"
}

# "15.18" from "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
pg_server_version() { "$1/postgres" --version | sed -n 's/.*(PostgreSQL) \([^ ]*\).*/\1/p'; }

# Client tools (psql, pg_isready) from the same bin directory; they run as the calling user (root is fine for clients).
pg_client() {
  local tool="$1" bindir
  shift
  bindir="$(postgresql_bindir)" || { echo "PostgreSQL is not installed under $PG_LIBDIR"; return 1; }
  "$bindir/$tool" "$@"
}
pg_psql() { pg_client psql -X -q -v ON_ERROR_STOP=1 -At -h "$HOST" -p "$POSTGRESQL_PORT" -U "$PG_ROLE" "$@"; }

# The OS user that owns the data directory and runs initdb/pg_ctl/postgres. PostgreSQL refuses to run as root: as root
# this is the existing data directory's owner, else 'postgres', else the system user crest-pg (created when CREATE=1).
postgresql_os_user() {
  local create="${1:-0}" owner
  if [[ "$(id -u)" != 0 ]]; then
    id -un
    return 0
  fi
  if [[ -d "$PG_DATA" ]]; then
    owner="$(stat -c %U "$PG_DATA")"
    if [[ "$owner" != root && "$owner" != UNKNOWN ]] && id -u "$owner" >/dev/null 2>&1; then
      printf '%s' "$owner"
      return 0
    fi
  fi
  if id -u postgres >/dev/null 2>&1; then
    printf '%s' postgres
    return 0
  fi
  if ! id -u "$PG_FALLBACK_USER" >/dev/null 2>&1; then
    ((create)) || return 1
    command -v useradd >/dev/null 2>&1 || die "postgresql: running as root, there is no 'postgres' user, and useradd is missing to create $PG_FALLBACK_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_FALLBACK_USER" >&2 ||
      die "postgresql: useradd --system $PG_FALLBACK_USER failed"
    log "postgresql: created system user $PG_FALLBACK_USER to run the server (PostgreSQL refuses to run as root)" >&2
  fi
  printf '%s' "$PG_FALLBACK_USER"
}

# Run a server-side command (initdb, pg_ctl) as USER: directly when we are that user, through runuser when root. Runs
# from / so the unprivileged user never needs access to the caller's working directory.
pg_as() {
  local user="$1"
  shift
  if [[ "$(id -u)" == 0 && "$user" != root ]]; then
    (cd / && runuser -u "$user" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Print the postmaster's pid if $PG_DATA/postmaster.pid names a live postgres serving THIS data directory (line 1 is
# the pid, line 2 the data directory; the command line must mention it too). Uses /proc, not kill -0, so it also works
# when the server runs as another user. Returns 1 otherwise.
postgresql_live_pid() {
  local pidfile="$PG_DATA/postmaster.pid" pid dir
  [[ -r "$pidfile" ]] || return 1
  pid="$(sed -n 1p "$pidfile" | tr -dc '0-9')"
  dir="$(sed -n 2p "$pidfile")"
  [[ -n "$pid" && -d "/proc/$pid" && "$dir" == "$PG_DATA" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $PG_DATA" || return 1
  printf '%s' "$pid"
}

# If postmaster.pid is left over from a server that is gone (or its pid now belongs to a non-postgres process), remove
# it. A live postgres named in it that postgresql_live_pid does not recognise is left alone (the file is the data
# directory's lock): fatal for 'up', a warning for 'down' (so 'down all' still stops the other servers).
postgresql_clear_stale_pidfile() {
  local on_live="$1" pidfile="$PG_DATA/postmaster.pid" pid msg
  [[ -e "$pidfile" ]] || return 0
  pid="$(sed -n 1p "$pidfile" | tr -dc '0-9')"
  if [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]]; then
    msg="postgresql: $pidfile names a running postgres (pid $pid) that this script did not start; stop it yourself (pg_ctl stop -D $PG_DATA)"
    [[ "$on_live" == die ]] && die "$msg"
    warn "$msg"
    return 0
  fi
  log "postgresql: removing stale pid file $pidfile"
  rm -f "$pidfile"
}

postgresql_check() {
  local out
  out="$(pg_client pg_isready -h "$HOST" -p "$POSTGRESQL_PORT" -U "$PG_ROLE" -d "$PG_DB" -t 3 2>&1)" || { echo "$out"; return 1; }
  out="$(pg_psql -d "$PG_DB" -c 'select 1' -c 'show server_version' 2>&1)" || { echo "$out"; return 1; }
  [[ "$(sed -n 1p <<<"$out")" == 1 ]] || { echo "unexpected reply to select 1: $out"; return 1; }
  echo "select 1 ok, server_version=$(sed -n 2p <<<"$out" | awk '{print $1}')"
}

# Readiness during 'up': once the server accepts connections, create the crest database if missing, then the check.
postgresql_ready() {
  local out created=""
  out="$(pg_client pg_isready -h "$HOST" -p "$POSTGRESQL_PORT" -U "$PG_ROLE" -d postgres -t 3 2>&1)" || { echo "$out"; return 1; }
  out="$(pg_psql -d postgres -c "select 1 from pg_database where datname = '$PG_DB'" 2>&1)" || { echo "$out"; return 1; }
  if [[ "$out" != 1 ]]; then
    out="$(pg_psql -d postgres -c "create database $PG_DB" 2>&1)" || { echo "$out"; return 1; }
    created="created database $PG_DB; "
  fi
  out="$(postgresql_check)" || { echo "$out"; return 1; }
  echo "$created$out"
}

postgresql_install() {
  postgresql_bindir >/dev/null && return 0
  command -v apt-get >/dev/null 2>&1 || die "postgresql: no $PG_LIBDIR/*/bin/postgres and apt-get is not available to install it"
  log "postgresql: no server under $PG_LIBDIR; installing Debian's postgresql with apt-get (apt-get update first)"
  apt_install postgresql postgresql "$POSTGRESQL_DIR/apt-install.log"
  postgresql_bindir >/dev/null || die "postgresql: still no $PG_LIBDIR/*/bin/postgres after apt-get install postgresql"
  log "postgresql: installed PostgreSQL $(pg_server_version "$(postgresql_bindir)")"
}

# Create the data directory with initdb on first start (UTF8, C locale, trust auth, superuser crest).
postgresql_init() {
  local user="$1" bindir="$2"
  if [[ -s "$PG_DATA/PG_VERSION" ]]; then
    log "postgresql: reusing the data directory $PG_DATA (PostgreSQL $(cat "$PG_DATA/PG_VERSION"), owner $(stat -c %U "$PG_DATA"))"
    return 0
  fi
  if [[ -e "$PG_DATA" ]]; then
    log "postgresql: $PG_DATA exists without PG_VERSION (an interrupted initdb?); removing it (local test data only)"
    rm -rf "$PG_DATA"
  fi
  log "postgresql: initdb $PG_DATA (PostgreSQL $(pg_server_version "$bindir"), superuser $PG_ROLE, UTF8, --auth=trust, as user $user)"
  if ! pg_as "$user" "$bindir/initdb" -D "$PG_DATA" -U "$PG_ROLE" --auth=trust --encoding=UTF8 --locale=C \
    >"$POSTGRESQL_DIR/initdb.log" 2>&1; then
    cat "$POSTGRESQL_DIR/initdb.log" >&2
    die "postgresql: initdb failed (log: $POSTGRESQL_DIR/initdb.log)"
  fi
}

postgresql_up() {
  mkdir -p "$POSTGRESQL_DIR"
  local pid user bindir
  if pid="$(postgresql_live_pid)"; then
    if postgresql_check >/dev/null 2>&1; then
      log "postgresql: already running (pid $pid, $HOST:$POSTGRESQL_PORT) and answering select 1 — nothing to do"
      return 0
    fi
    log "postgresql: pid $pid is alive but not answering yet; waiting for it (timeout ${START_TIMEOUT}s)"
    wait_ready postgresql "$pid" postgresql_ready "$PG_LOG"
    return 0
  fi
  if [[ -e "$PG_DATA" && ! -r "$PG_DATA" ]]; then
    die "postgresql: $PG_DATA belongs to $(stat -c %U "$PG_DATA") and is not readable by $(id -un). Run as that user (or root), or remove $POSTGRESQL_DIR."
  fi
  postgresql_clear_stale_pidfile die
  require_free_port postgresql "$POSTGRESQL_PORT" CREST_LOCAL_POSTGRESQL_PORT
  postgresql_install
  bindir="$(postgresql_bindir)"
  if [[ -s "$PG_DATA/PG_VERSION" && ! -x "$PG_LIBDIR/$(cat "$PG_DATA/PG_VERSION")/bin/postgres" ]]; then
    die "postgresql: $PG_DATA was created by PostgreSQL $(cat "$PG_DATA/PG_VERSION"), which is no longer installed. Remove $POSTGRESQL_DIR (local test data only) to start afresh with $bindir."
  fi
  user="$(postgresql_os_user 1)"
  if [[ "$(id -u)" == 0 ]]; then
    # The server user must own its directory (postgres insists the data directory is its own, mode 0700) and reach it.
    [[ "$(stat -c %U "$POSTGRESQL_DIR")" == "$user" ]] || chown "$user:" "$POSTGRESQL_DIR"
    [[ ! -e "$PG_DATA" || "$(stat -c %U "$PG_DATA")" == "$user" ]] || chown -R "$user:" "$PG_DATA"
    runuser -u "$user" -- test -w "$POSTGRESQL_DIR" ||
      die "postgresql: user $user cannot write $POSTGRESQL_DIR (is a parent directory not searchable by others?). Pick another state directory with CREST_LOCAL_DIR=<dir>."
  fi
  postgresql_init "$user" "$bindir"
  # initdb trusts loopback only: on another address, trust the hosts of that address's own subnet (hosts.sh's bridge)
  if [[ "$HOST" != 127.* ]] && ! grep -q '^host all all samenet trust' "$PG_DATA/pg_hba.conf"; then
    pg_as "$user" sh -c "echo 'host all all samenet trust' >>'$PG_DATA/pg_hba.conf'"
  fi
  : >"$PG_LOG"
  [[ "$(id -u)" != 0 ]] || chown "$user:" "$PG_LOG"
  log "postgresql: starting PostgreSQL $(pg_server_version "$bindir") on $HOST:$POSTGRESQL_PORT as user $user (data $PG_DATA; log $PG_LOG)"
  # TCP on $HOST only (no Unix socket: its path could exceed 107 bytes, and /var/run/postgresql is the system's).
  local opts="-c listen_addresses=$HOST -p $POSTGRESQL_PORT -c unix_socket_directories='' -c fsync=on"
  opts+=" -c max_connections=200 -c shared_buffers=128MB"
  if ! pg_as "$user" "$bindir/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -W -o "$opts" >"$POSTGRESQL_DIR/pg_ctl.log" 2>&1; then
    cat "$POSTGRESQL_DIR/pg_ctl.log" >&2
    tail_logs "$PG_LOG"
    die "postgresql: pg_ctl start failed (log: $PG_LOG)"
  fi
  # pg_ctl -W returns at once; the postmaster writes postmaster.pid a moment later.
  local i
  for ((i = 0; i < 50; i++)); do pid="$(postgresql_live_pid)" && break; sleep 0.1; done
  [[ -n "$pid" ]] || { tail -n 40 "$PG_LOG" >&2; die "postgresql: the server did not start (log: $PG_LOG)"; }
  log "postgresql: waiting for pg_isready and select 1 on database $PG_DB (pid $pid, timeout ${START_TIMEOUT}s)"
  wait_ready postgresql "$pid" postgresql_ready "$PG_LOG"
  log "postgresql: connect with postgres://$PG_ROLE@$HOST:$POSTGRESQL_PORT/$PG_DB"
}

# pg_ctl stop -m fast (bounded wait), then -m immediate, then SIGKILL — only for the server of our data directory.
postgresql_down() {
  local pid user bindir grace=30
  if ! pid="$(postgresql_live_pid)"; then
    log "postgresql: not running"
    postgresql_clear_stale_pidfile warn
    return 0
  fi
  user="$(stat -c %U "$PG_DATA")"
  bindir="$(postgresql_bindir)" || die "postgresql: pid $pid is running but no pg_ctl was found under $PG_LIBDIR"
  log "postgresql: stopping pid $pid (pg_ctl stop -m fast, up to ${grace}s)"
  if ! pg_as "$user" "$bindir/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$grace" >"$POSTGRESQL_DIR/pg_ctl.log" 2>&1; then
    warn "postgresql: pid $pid still alive after ${grace}s ($(tr '\n' ' ' <"$POSTGRESQL_DIR/pg_ctl.log")), trying pg_ctl stop -m immediate"
    pg_as "$user" "$bindir/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 10 >>"$POSTGRESQL_DIR/pg_ctl.log" 2>&1 || true
    if [[ -d "/proc/$pid" ]]; then
      warn "postgresql: pid $pid still alive, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  log "postgresql: stopped"
}

postgresql_status() {
  local pid out
  if pid="$(postgresql_live_pid)"; then
    if out="$(postgresql_check 2>&1)"; then
      log "postgresql: running (pid $pid, $HOST:$POSTGRESQL_PORT, user $(stat -c %U "/proc/$pid"), postgres://$PG_ROLE@$HOST:$POSTGRESQL_PORT/$PG_DB; $out)"
      return 0
    fi
    log "postgresql: process $pid alive but not answering on $HOST:$POSTGRESQL_PORT ($out)"
    return 1
  fi
  if port_busy "$POSTGRESQL_PORT"; then log "postgresql: not ours — port $HOST:$POSTGRESQL_PORT is used by another process $(port_owner "$POSTGRESQL_PORT")"
  else log "postgresql: stopped"; fi
  return 1
}

# ---------------------------------------------------------------------------------------------------- main

usage() {
  cat <<EOF
usage: bash infra/local/services.sh up|install|down|status|logs [redis|kafka|ferretdb|postgresql|all]

  up      install what is missing, start the server(s), wait until each really answers (idempotent)
  install only install what is missing (binaries, jars), start nothing
  down    stop the server(s) that 'up' started (pid files under $STATE)
  status  print each server's state; exit 0 only if all the named servers are running and answering, else 3
  logs    print the tail of each server's log

ports: redis $HOST:$REDIS_PORT (CREST_LOCAL_REDIS_PORT), kafka $HOST:$KAFKA_PORT (CREST_LOCAL_KAFKA_PORT) with its
controller on $HOST:$KAFKA_CONTROLLER_PORT (CREST_LOCAL_KAFKA_CONTROLLER_PORT), ferretdb $HOST:$FERRETDB_PORT (CREST_LOCAL_FERRETDB_PORT),
postgresql $HOST:$POSTGRESQL_PORT (CREST_LOCAL_POSTGRESQL_PORT; postgres://crest@$HOST:$POSTGRESQL_PORT/crest)
EOF
}

action="${1:-}"
target="${2:-all}"
case "$target" in
  all) services=(redis kafka ferretdb postgresql) ;;
  redis | kafka | ferretdb | postgresql) services=("$target") ;;
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
  install)
    mkdir -p "$STATE"
    for s in "${services[@]}"; do
      case "$s" in redis) mkdir -p "$REDIS_DIR" ;; kafka) mkdir -p "$KAFKA_DIR" ;; ferretdb) mkdir -p "$FERRETDB_DIR" ;; postgresql) mkdir -p "$POSTGRESQL_DIR" ;; esac
      "${s}_install"
    done
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
      case "$s" in redis) f="$REDIS_LOG" ;; kafka) f="$KAFKA_LOG" ;; postgresql) f="$PG_LOG" ;; *) f="$FERRETDB_LOG" ;; esac
      echo "==== $s: $f"
      tail -n "${CREST_LOCAL_LOG_LINES:-30}" "$f" 2>/dev/null || echo "(no log yet)"
    done
    ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
