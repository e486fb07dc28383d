#!/usr/bin/env bash
# Apache Pulsar standalone broker for development and tests, without Docker
# and without any download site but Maven Central.
#
#   pulsar.sh fetch            obtain Pulsar into the cache (no-op when cached)
#   pulsar.sh start [--wipe]   start a broker in the background and wait until ready
#   pulsar.sh stop             stop it (SIGTERM, SIGKILL after 30 s)
#   pulsar.sh restart          stop + start, keeping the data
#   pulsar.sh status           exit 0 when a broker answers and is ready
#   pulsar.sh wait             wait until ready (PULSAR_WAIT_S, default 300 s)
#   pulsar.sh latest-version   print the newest 4.0.x on Maven Central
#
# Environment (defaults):
#   PULSAR_VERSION     4.0.8 (newest 4.0.x that resolved when this was written)
#   PULSAR_CACHE       $HOME/.cache/oms-pulsar   (Pulsar goes to $PULSAR_CACHE/<version>)
#   PULSAR_DIR         <repo>/.run/pulsar        (data, logs, pid, generated conf)
#   PULSAR_PORT        6650                      (binary protocol)
#   PULSAR_ADMIN_PORT  8081                      (HTTP admin API)
#   PULSAR_BOOKIE_PORT 3181                      (the embedded bookie, 127.0.0.1)
#   PULSAR_MEM         -Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g
#   PULSAR_WAIT_S      300
#   PULSAR_FETCH_ROUTE distribution|jars       (default: distribution, then jars)
#   MAVEN_REPO_LOCAL   Maven's local repository (default ~/.m2/repository)
# See README.md beside this file for how fetching works.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
readonly SCRIPT_DIR REPO_ROOT

readonly VERSION="${PULSAR_VERSION:-4.0.8}"
readonly CACHE_ROOT="${PULSAR_CACHE:-$HOME/.cache/oms-pulsar}"
readonly HOME_DIR="$CACHE_ROOT/$VERSION"
readonly RUN_DIR="${PULSAR_DIR:-$REPO_ROOT/.run/pulsar}"
readonly BROKER_PORT="${PULSAR_PORT:-6650}"
readonly ADMIN_PORT="${PULSAR_ADMIN_PORT:-8081}"
readonly BOOKIE_PORT="${PULSAR_BOOKIE_PORT:-3181}"
readonly MEM_OPTS="${PULSAR_MEM:--Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g}"
readonly WAIT_S="${PULSAR_WAIT_S:-300}"
readonly STOP_GRACE_S=30

readonly PID_FILE="$RUN_DIR/pulsar.pid"
readonly LOG_DIR="$RUN_DIR/logs"
readonly DATA_DIR="$RUN_DIR/data"
readonly CONF_FILE="$RUN_DIR/standalone.conf"
readonly READY_URL="http://127.0.0.1:$ADMIN_PORT/admin/v2/namespaces/public"
readonly FETCH_LOG="$CACHE_ROOT/fetch-$VERSION.log"
readonly DIST_ARTIFACT="org.apache.pulsar:pulsar-server-distribution:$VERSION:tar.gz:bin"

log() { printf '[pulsar] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- fetch

maven_repo_local() {
  printf '%s\n' "${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
}

# mvn with batch mode, quiet, no colours, and MAVEN_REPO_LOCAL when set.
mvn_quiet() {
  local -a opts=(-B -q -Dstyle.color=never)
  if [[ -n "${MAVEN_REPO_LOCAL:-}" ]]; then
    opts+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
  fi
  mvn "${opts[@]}" "$@"
}

# Runs a command in the background, its output going to $FETCH_LOG, printing
# elapsed time and the size of a directory every 5 s so that a long download
# visibly makes progress.
run_with_progress() {
  local watch_dir="$1" label="$2"
  shift 2
  local started=$SECONDS
  "$@" >> "$FETCH_LOG" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if kill -0 "$pid" 2>/dev/null; then
      local size="starting"
      if [[ -d "$watch_dir" ]]; then
        size="$(du -sm "$watch_dir" 2>/dev/null | cut -f1) MiB"
      fi
      log "$label: $((SECONDS - started)) s, $size"
    fi
  done
  wait "$pid"
}

is_fetched() {
  [[ -f "$HOME_DIR/.fetched" && -d "$HOME_DIR/lib" ]]
}

# Route 1: the binary distribution (bin/, conf/, lib/) published on Central.
fetch_distribution() {
  local repo tarball
  repo="$(maven_repo_local)"
  tarball="$repo/org/apache/pulsar/pulsar-server-distribution/$VERSION/pulsar-server-distribution-$VERSION-bin.tar.gz"
  log "route 1: mvn dependency:get $DIST_ARTIFACT (~250 MB)"
  if ! run_with_progress "$repo/org/apache/pulsar/pulsar-server-distribution" "downloading" \
      mvn_quiet dependency:get -Dartifact="$DIST_ARTIFACT" -Dtransitive=false; then
    log "route 1 failed; see $FETCH_LOG"
    tail -n 5 "$FETCH_LOG" >&2
    return 1
  fi
  [[ -f "$tarball" ]] || { log "route 1: $tarball missing after download"; return 1; }
  local staging="$HOME_DIR.partial"
  rm -rf "$staging"
  mkdir -p "$staging"
  log "extracting into $HOME_DIR"
  tar -xzf "$tarball" -C "$staging" --strip-components=1
  rm -rf "$HOME_DIR"
  mv "$staging" "$HOME_DIR"
  echo "pulsar-server-distribution" > "$HOME_DIR/.fetched"
}

# Route 2: pulsar-broker and its dependencies plus a log4j binding, as jars.
fetch_broker_jars() {
  local staging="$HOME_DIR.partial"
  rm -rf "$staging"
  mkdir -p "$staging/lib"
  log "route 2: mvn dependency:copy-dependencies of org.apache.pulsar:pulsar-broker:$VERSION"
  if ! run_with_progress "$(maven_repo_local)" "downloading (Maven repository size)" \
      mvn_quiet -f "$SCRIPT_DIR/pom.xml" -Dpulsar.version="$VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$staging/lib"; then
    log "route 2 failed; see $FETCH_LOG"
    tail -n 5 "$FETCH_LOG" >&2
    rm -rf "$staging"
    return 1
  fi
  rm -rf "$HOME_DIR"
  mv "$staging" "$HOME_DIR"
  echo "pulsar-broker-jars" > "$HOME_DIR/.fetched"
}

cmd_fetch() {
  if is_fetched; then
    log "Pulsar $VERSION already in $HOME_DIR ($(cat "$HOME_DIR/.fetched"))"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  mkdir -p "$CACHE_ROOT"
  : > "$FETCH_LOG"
  local started=$SECONDS
  local route="${PULSAR_FETCH_ROUTE:-}"
  if [[ "$route" != "jars" ]] && fetch_distribution; then
    :
  elif [[ "$route" != "distribution" ]] && fetch_broker_jars; then
    :
  else
    die "could not obtain Pulsar $VERSION from Maven Central"
  fi
  log "Pulsar $VERSION fetched into $HOME_DIR in $((SECONDS - started)) s ($(cat "$HOME_DIR/.fetched"))"
}

# Resolves the version range [4.0.0,4.1.0) against Central's metadata.
cmd_latest_version() {
  local tmp
  tmp="$(mktemp -d)"
  cat > "$tmp/pom.xml" <<'POM'
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>oms.infrastructure</groupId><artifactId>pulsar-version-probe</artifactId><version>1</version>
<packaging>pom</packaging><dependencies><dependency><groupId>org.apache.pulsar</groupId>
<artifactId>pulsar-broker</artifactId><version>[4.0.0,4.1.0)</version><type>pom</type>
<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>
</dependency></dependencies></project>
POM
  local out
  out="$(mvn -B -U -Dstyle.color=never -f "$tmp/pom.xml" dependency:list -DexcludeTransitive=true 2>&1)" || {
    rm -rf "$tmp"
    printf '%s\n' "$out" | tail -20 >&2
    die "could not resolve the newest 4.0.x"
  }
  rm -rf "$tmp"
  printf '%s\n' "$out" | sed -n 's/.*org\.apache\.pulsar:pulsar-broker:pom:\([0-9.]*\).*/\1/p' | head -1
}

# ---------------------------------------------------------------- run

# Ready: the admin API lists public/default and the binary port accepts
# connections (the web service answers some seconds before that port does).
is_ready() {
  curl -sf --max-time 3 "$READY_URL" 2>/dev/null | grep -q '"public/default"' &&
    port_in_use "$BROKER_PORT"
}

our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A stale pid file may name a pid that the system has since reused.
  grep -q PulsarStandaloneStarter "/proc/$pid/cmdline" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

render_conf() {
  sed -e "s|@BROKER_PORT@|$BROKER_PORT|g" \
      -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" \
      -e "s|@DATA_DIR@|$DATA_DIR|g" \
      "$SCRIPT_DIR/standalone.conf.template" > "$CONF_FILE.tmp"
  mv "$CONF_FILE.tmp" "$CONF_FILE"
}

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    command -v java || die "java not found (apt-get install openjdk-17-jre-headless)"
  fi
}

# The flags Pulsar's own bin/pulsar passes to the JVM, plus our memory limits.
java_opts() {
  local -a opts
  read -r -a opts <<< "$MEM_OPTS"
  opts+=(
    -XX:+UseG1GC
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.util.zip=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED
    --add-opens java.base/jdk.internal.misc=ALL-UNNAMED
    --add-opens java.base/sun.net=ALL-UNNAMED
    --add-opens java.management/sun.management=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dorg.apache.pulsar.shade.io.netty.tryReflectionSetAccessible=true
    -Djava.net.preferIPv4Stack=true
    -Dlog4j2.is.webapp=false
    "-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.properties"
    "-Dpulsar.log.dir=$LOG_DIR"
  )
  opts+=("$(class_data_sharing_opt)")
  printf '%s\n' "${opts[@]}"
}

# ---------------------------------------------------------------- class data sharing
# The JVM spends most of a start loading and verifying ~20 000 classes, which
# on a busy 2-core machine takes minutes. The first start records the classes
# it loads; once ready, an AppCDS archive of them is built in the background
# (at low priority), and later starts map it instead of loading the classes
# one by one. A missing or mismatched archive only costs speed (-Xshare:auto).
readonly CDS_DIR="$HOME_DIR/cds"
readonly CDS_LIST="$CDS_DIR/classes.lst"
readonly CDS_RECORDING="$RUN_DIR/loaded-classes.lst"
readonly CDS_ARCHIVE="$CDS_DIR/pulsar.jsa"

class_data_sharing_opt() {
  if [[ -f "$CDS_ARCHIVE" ]]; then
    printf '%s\n' "-XX:SharedArchiveFile=$CDS_ARCHIVE"
  else
    mkdir -p "$CDS_DIR"
    printf '%s\n' "-XX:DumpLoadedClassList=$CDS_RECORDING"
  fi
}

build_class_data_archive() {
  [[ -f "$CDS_ARCHIVE" || ! -s "$CDS_RECORDING" ]] && return 0
  local java
  java="$(java_bin)"
  cp "$CDS_RECORDING" "$CDS_LIST.$$"
  log "building the class data archive in the background (faster later starts)"
  # One dump at a time per cache (flock -n: a second start skips it).
  (
    flock -n 9 || { rm -f "$CDS_LIST.$$"; exit 0; }
    [[ -f "$CDS_ARCHIVE" ]] ||
      { nice -n 19 "$java" -Xshare:dump "-XX:SharedClassListFile=$CDS_LIST.$$" \
          "-XX:SharedArchiveFile=$CDS_ARCHIVE.$$" -cp "$HOME_DIR/lib/*" \
          > "$CDS_DIR/dump.log" 2>&1 < /dev/null &&
        mv "$CDS_ARCHIVE.$$" "$CDS_ARCHIVE"; }
    rm -f "$CDS_LIST.$$" "$CDS_ARCHIVE.$$"
  ) 9> "$CDS_DIR/dump.lock" > /dev/null 2>&1 &
}

launch_broker() {
  local wipe="$1"
  local -a args opts
  mapfile -t opts < <(java_opts)
  args=(-c "$CONF_FILE" -nfw -nss --bookkeeper-port "$BOOKIE_PORT"
        --bookkeeper-dir "$DATA_DIR/bookkeeper"
        --metadata-dir "$DATA_DIR/metadata")
  if [[ "$wipe" == yes ]]; then
    args+=(--wipe-data)
  fi
  local java
  java="$(java_bin)"
  log "starting broker: pulsar://127.0.0.1:$BROKER_PORT, admin http://127.0.0.1:$ADMIN_PORT, dir $RUN_DIR$([[ "$wipe" == yes ]] && echo ', new data')"
  # setsid: the broker outlives the calling shell and its terminal.
  (cd "$RUN_DIR" && exec setsid "$java" "${opts[@]}" -cp "$HOME_DIR/lib/*" \
      org.apache.pulsar.PulsarStandaloneStarter "${args[@]}" \
      >> "$LOG_DIR/pulsar.out" 2>&1 < /dev/null) &
  echo $! > "$PID_FILE"
}

show_log_tail() {
  local f
  for f in "$LOG_DIR/pulsar.out" "$LOG_DIR/pulsar.log"; do
    if [[ -s "$f" ]]; then
      log "--- last lines of $f ---"
      tail -n 40 "$f" >&2
    fi
  done
}

# Waits until the admin API lists public/default; fails early if our broker died.
wait_ready() {
  local deadline=$((SECONDS + WAIT_S)) started=$SECONDS
  printf '[pulsar] waiting for %s ' "$READY_URL" >&2
  while ! is_ready; do
    if [[ -f "$PID_FILE" ]] && ! our_pid >/dev/null; then
      printf ' broker exited\n' >&2
      show_log_tail
      return 1
    fi
    if (( SECONDS >= deadline )); then
      printf ' timeout after %s s\n' "$WAIT_S" >&2
      show_log_tail
      return 1
    fi
    printf '.' >&2
    sleep 2
  done
  printf ' ready after %s s\n' "$((SECONDS - started))" >&2
}

cmd_start() {
  local wipe_requested=no
  case "${1:-}" in
    "") ;;
    --wipe|--wipe-data) wipe_requested=yes ;;
    *) die "start: unknown option $1" ;;
  esac
  if our_pid >/dev/null; then
    if is_ready; then
      log "already running (pid $(our_pid)) and ready"
      return 0
    fi
    log "already running (pid $(our_pid)), not ready yet"
    wait_ready
    return
  fi
  if is_ready; then
    log "a broker not started from $RUN_DIR already serves port $ADMIN_PORT and is ready; using it"
    return 0
  fi
  local port
  for port in "$BROKER_PORT" "$ADMIN_PORT"; do
    if port_in_use "$port"; then
      die "port $port on 127.0.0.1 is taken by another process"
    fi
  done
  cmd_fetch
  mkdir -p "$LOG_DIR"
  local wipe=no
  if [[ "$wipe_requested" == yes ]]; then
    rm -rf "$DATA_DIR"
    wipe=yes
  elif [[ ! -d "$DATA_DIR/bookkeeper" ]]; then
    wipe=yes
  fi
  mkdir -p "$DATA_DIR"
  render_conf
  local started=$SECONDS
  launch_broker "$wipe"
  if ! wait_ready; then
    build_class_data_archive # what loaded so far still shortens the next try
    cmd_stop
    die "broker did not become ready"
  fi
  log "started in $((SECONDS - started)) s (pid $(cat "$PID_FILE"))"
  build_class_data_archive
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    log "not running (from $RUN_DIR)"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_GRACE_S))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_GRACE_S} s, SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
      sleep 0.2
    done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_restart() {
  cmd_stop
  cmd_start
}

cmd_status() {
  local pid=""
  pid="$(our_pid)" || pid=""
  if is_ready; then
    log "ready: pulsar://127.0.0.1:$BROKER_PORT ${pid:+(pid $pid)}"
    return 0
  fi
  if [[ -n "$pid" ]]; then
    log "running (pid $pid) but not ready"
  else
    log "not running"
  fi
  return 1
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    fetch) cmd_fetch ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    restart) cmd_restart ;;
    status) cmd_status ;;
    wait) wait_ready ;;
    latest-version) cmd_latest_version ;;
    *) usage ;;
  esac
}

main "$@"
