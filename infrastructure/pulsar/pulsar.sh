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
#   pulsar.sh token-file ROLE  print the path of ROLE's token (admin, order-service, ...)
#   pulsar.sh mint-token ROLE [EXPIRY]  print a new token for ROLE (EXPIRY: 30s, 12h, 7d; none: never)
#   pulsar.sh ca-file          print the path of the CA certificate that signed the broker's
#   pulsar.sh verify-dist FILE exit 0 when FILE is the distribution tarball of the pinned SHA-512
#
# Security (on by default; README.md, "Security"): token authentication with
# a generated HS256 secret, per-topic authorization for the three services'
# roles, a superuser `admin`, and a TLS port with a certificate from a CA
# generated here. State in $PULSAR_DIR/auth and $PULSAR_DIR/tls (mode 0700).
#
# Environment (defaults):
#   PULSAR_VERSION     4.0.8 (newest 4.0.x that resolved when this was written)
#   PULSAR_CACHE       $HOME/.cache/oms-pulsar   (Pulsar goes to $PULSAR_CACHE/<version>)
#   PULSAR_DIR         <repo>/.run/pulsar        (data, logs, pid, generated conf)
#   PULSAR_PORT        6650                      (binary protocol)
#   PULSAR_ADMIN_PORT  8081                      (HTTP admin API)
#   PULSAR_BOOKIE_PORT 3181                      (the embedded bookie, 127.0.0.1)
#   PULSAR_TLS_PORT    PULSAR_PORT + 1           (binary protocol over TLS)
#   PULSAR_AUTH        on                        (off: no authentication, for a quick experiment)
#   PULSAR_MEM         -Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g
#   PULSAR_WAIT_S      300
#   PULSAR_FETCH_ROUTE distribution|jars       (default: distribution only; jars: the broker's
#                                              transitive tree, checked by Maven's checksums only)
#   PULSAR_DIST_SHA512 the distribution's SHA-512 (pinned below for 4.0.8; required for another version)
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
readonly TLS_PORT="${PULSAR_TLS_PORT:-$((BROKER_PORT + 1))}"
readonly AUTH="${PULSAR_AUTH:-on}"
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
# The SHA-512 of pulsar-server-distribution-4.0.8-bin.tar.gz (review M6),
# computed from the file Maven fetched from Central, whose SHA-1 matched
# Central's .sha1 (c1778d3c31fa53616190d644bb69616f9a3ae2fc); not checked
# against Apache's .sha512/.asc of the release (no network here to fetch
# them). A tarball that does not match is never extracted.
readonly PINNED_SHA512_4_0_8="65b769b10696cdfebf7fc5bcdc95dd663702e27051e616c1a13cb100e91279525be35352171befe7b0011176330aab29bd0a6c8a0f2f0646641af46d2e33cbd6"
if [[ "$VERSION" == "4.0.8" ]]; then
  readonly DIST_SHA512="${PULSAR_DIST_SHA512:-$PINNED_SHA512_4_0_8}"
else
  readonly DIST_SHA512="${PULSAR_DIST_SHA512:-}"
fi
readonly AUTH_DIR="$RUN_DIR/auth"
readonly SECRET_KEY="$AUTH_DIR/secret.key"
readonly TOKEN_DIR="$AUTH_DIR/tokens"
readonly ADMIN_HEADER="$AUTH_DIR/admin.header"
readonly TLS_DIR="$RUN_DIR/tls"
readonly ADMIN_ROLE=admin
readonly SERVICE_ROLES=(order-service payment-service inventory-service)

log() { printf '[pulsar] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# ---------------------------------------------------------------- fetch

maven_repo_local() {
  printf '%s\n' "${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
}

# mvn with batch mode, quiet, no colours, and MAVEN_REPO_LOCAL when set.
mvn_quiet() {
  # -C: a download whose checksum does not match Central's fails (Maven's
  # default only warns).
  local -a opts=(-B -q -C -Dstyle.color=never)
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

# Whether $1 has the pinned SHA-512 (DIST_SHA512); says why not.
verify_distribution() {
  local file="$1" actual
  if [[ -z "$DIST_SHA512" ]]; then
    log "no SHA-512 pinned for Pulsar $VERSION: set PULSAR_DIST_SHA512 (from Apache's .sha512 of the release)"
    return 1
  fi
  actual="$(sha512sum "$file" | cut -d' ' -f1)" || return 1
  if [[ "$actual" != "$DIST_SHA512" ]]; then
    log "SHA-512 mismatch for $file: $actual, pinned $DIST_SHA512; not extracted"
    return 1
  fi
  log "SHA-512 of $(basename "$file") matches the pinned one"
}

cmd_verify_dist() {
  [[ $# -eq 1 && -f "$1" ]] || die "usage: pulsar.sh verify-dist FILE"
  verify_distribution "$1"
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
  verify_distribution "$tarball" || return 1
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
  # The jars route has no pinned checksum for its transitive tree: only when
  # asked for, never as a silent fallback (a tampered tarball must stop here).
  if [[ "$route" != "jars" ]] && fetch_distribution; then
    :
  elif [[ "$route" == "jars" ]] && fetch_broker_jars; then
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

# ---------------------------------------------------------------- security

# Who may produce and consume what (infrastructure/pulsar/permissions.txt,
# shared with the containers' broker, container-broker.sh): "topic action
# role" rows, comments and blank lines dropped.
PERMISSIONS="$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SCRIPT_DIR/permissions.txt")" ||
  { echo "pulsar: cannot read $SCRIPT_DIR/permissions.txt" >&2; exit 1; }
readonly PERMISSIONS

auth_on() {
  case "$AUTH" in
    on) return 0 ;;
    off) return 1 ;;
    *) die "PULSAR_AUTH=$AUTH: must be on or off" ;;
  esac
}

# Prints a token for a role, signed with the secret by the distribution's own
# tool (subject = role; EXPIRY as the tool takes it, e.g. 30s or 12h).
print_token() {
  local role="$1" expiry="${2:-}" java
  java="$(java_bin)"
  local -a args=(create --secret-key "file://$SECRET_KEY" --subject "$role")
  [[ -n "$expiry" ]] && args+=(--expiry-time "$expiry")
  "$java" -XX:TieredStopAtLevel=1 -cp "$HOME_DIR/lib/*" org.apache.pulsar.utils.auth.tokens.TokensCliUtils "${args[@]}"
}

# The role's token file, without expiry: the local broker's secret never
# leaves $PULSAR_DIR.
mint_token() {
  local role="$1"
  (umask 077 && print_token "$role" > "$TOKEN_DIR/$role.token.tmp") || die "could not mint the token of $role"
  grep -q '^ey' "$TOKEN_DIR/$role.token.tmp" || die "the token tool printed no token for $role"
  mv "$TOKEN_DIR/$role.token.tmp" "$TOKEN_DIR/$role.token"
}

# The HS256 secret and a token per role, made once per $PULSAR_DIR; a new
# secret invalidates every old token, so they are minted again with it.
ensure_tokens() {
  auth_on || return 0
  (umask 077 && mkdir -p "$TOKEN_DIR")
  chmod 700 "$AUTH_DIR"
  if [[ ! -s "$SECRET_KEY" ]]; then
    log "generating the token secret ($SECRET_KEY)"
    (umask 077 && openssl rand -out "$SECRET_KEY.tmp" 32) || die "openssl rand failed"
    mv "$SECRET_KEY.tmp" "$SECRET_KEY"
    rm -f "$TOKEN_DIR"/*.token
  fi
  local role
  for role in "$ADMIN_ROLE" "${SERVICE_ROLES[@]}"; do
    if [[ ! -s "$TOKEN_DIR/$role.token" ]]; then
      log "minting the token of $role"
      mint_token "$role"
    fi
  done
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$TOKEN_DIR/$ADMIN_ROLE.token")" > "$ADMIN_HEADER")
}

# A CA and the broker's certificate (names localhost and 127.0.0.1), made once
# per $PULSAR_DIR and again when the certificate expires within a day.
ensure_tls() {
  (umask 077 && mkdir -p "$TLS_DIR")
  if [[ -s "$TLS_DIR/broker.pem" ]] &&
      openssl x509 -checkend 86400 -noout -in "$TLS_DIR/broker.pem" >/dev/null 2>&1; then
    return 0
  fi
  log "making a CA and the broker's TLS certificate in $TLS_DIR"
  local days=825
  (
    set -e
    umask 077
    cd "$TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
      -subj "/CN=oms local Pulsar CA" -keyout ca.key -out ca.pem
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=localhost" -keyout broker.key -out broker.csr
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
      -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
      -out broker.pem
    rm -f broker.csr ca.srl
    chmod 644 ca.pem
  ) > "$TLS_DIR/openssl.log" 2>&1 || { cat "$TLS_DIR/openssl.log" >&2; die "could not make the TLS certificates"; }
}

# curl on the admin API, as the admin role when authentication is on.
admin_curl() {
  if auth_on; then
    curl -sf --max-time 10 -H "@$ADMIN_HEADER" "$@"
  else
    curl -sf --max-time 10 "$@"
  fi
}

# Runs an admin request until it succeeds (a broker just started may take a
# while to load what it is asked about); false after 5 tries.
admin_retry() {
  local try
  for try in 1 2 3 4 5; do
    admin_curl --max-time 30 "$@" > /dev/null && return 0
    sleep "$try"
  done
  return 1
}

# Creates the topics of $PERMISSIONS that do not exist yet (a permission can
# only be granted on a topic that exists) and grants every row. Idempotent;
# run at every start, since a wiped metadata store forgets both.
apply_permissions() {
  auth_on || return 0
  local -A actions=() topics=()
  local topic action role key existing
  while read -r topic action role; do
    [[ -n "$topic" ]] || continue
    topics[$topic]=1
    key="$topic $role"
    actions[$key]="${actions[$key]:+${actions[$key]},}\"$action\""
  done <<< "$PERMISSIONS"
  local base="http://127.0.0.1:$ADMIN_PORT/admin/v2/persistent/public/default"
  existing="$(admin_curl --max-time 30 "$base")" || { log "error: could not list the topics"; return 1; }
  for topic in "${!topics[@]}"; do
    [[ "$existing" == *"\"persistent://public/default/$topic\""* ]] && continue
    admin_retry -X PUT "$base/$topic" || { log "error: could not create $topic"; return 1; }
  done
  for key in "${!actions[@]}"; do
    read -r topic role <<< "$key"
    admin_retry -X POST -H 'Content-Type: application/json' -d "[${actions[$key]}]" \
      "$base/$topic/permissions/$role" ||
      { log "error: could not grant ${actions[$key]} on $topic to $role"; return 1; }
  done
  log "created the services' topics and granted their permissions (${#actions[@]} grants)"
}

cmd_token_file() {
  local role="${1:-}"
  [[ -n "$role" ]] || die "token-file: which role? ($ADMIN_ROLE ${SERVICE_ROLES[*]})"
  auth_on || die "token-file: PULSAR_AUTH=off"
  [[ -s "$TOKEN_DIR/$role.token" ]] || die "no token for $role in $TOKEN_DIR (start the broker first)"
  printf '%s\n' "$TOKEN_DIR/$role.token"
}

cmd_mint_token() {
  local role="${1:-}" expiry="${2:-}"
  [[ -n "$role" ]] || die "mint-token: which role?"
  auth_on || die "mint-token: PULSAR_AUTH=off"
  [[ -s "$SECRET_KEY" ]] || die "no secret in $AUTH_DIR (start the broker first)"
  print_token "$role" "$expiry"
}

cmd_ca_file() {
  [[ -s "$TLS_DIR/ca.pem" ]] || die "no CA in $TLS_DIR (start the broker first)"
  printf '%s\n' "$TLS_DIR/ca.pem"
}

# ---------------------------------------------------------------- run

# Ready: the admin API lists public/default and the binary port accepts
# connections (the web service answers some seconds before that port does).
is_ready() {
  admin_curl --max-time 3 "$READY_URL" 2>/dev/null | grep -q '"public/default"' &&
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
  local enabled=false plugin="" params=""
  if auth_on; then
    enabled=true
    plugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
    params="file://$TOKEN_DIR/$ADMIN_ROLE.token"
  fi
  sed -e "s|@BROKER_PORT@|$BROKER_PORT|g" \
      -e "s|@TLS_PORT@|$TLS_PORT|g" \
      -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" \
      -e "s|@DATA_DIR@|$DATA_DIR|g" \
      -e "s|@AUTH_ENABLED@|$enabled|g" \
      -e "s|@SECRET_KEY@|file://$SECRET_KEY|g" \
      -e "s|@SUPER_USER@|$ADMIN_ROLE|g" \
      -e "s|@CLIENT_AUTH_PLUGIN@|$plugin|g" \
      -e "s|@CLIENT_AUTH_PARAMS@|$params|g" \
      -e "s|@TLS_DIR@|$TLS_DIR|g" \
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
  log "starting broker: pulsar://127.0.0.1:$BROKER_PORT, pulsar+ssl://localhost:$TLS_PORT, admin http://127.0.0.1:$ADMIN_PORT, authentication $AUTH, dir $RUN_DIR$([[ "$wipe" == yes ]] && echo ', new data')"
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
    else
      log "already running (pid $(our_pid)), not ready yet"
      wait_ready || return 1
    fi
    apply_permissions
    return
  fi
  if is_ready; then
    log "a broker not started from $RUN_DIR already serves port $ADMIN_PORT and is ready; using it"
    return 0
  fi
  local port
  for port in "$BROKER_PORT" "$TLS_PORT" "$ADMIN_PORT"; do
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
  ensure_tokens
  ensure_tls
  render_conf
  local started=$SECONDS
  launch_broker "$wipe"
  if ! wait_ready; then
    build_class_data_archive # what loaded so far still shortens the next try
    cmd_stop
    die "broker did not become ready"
  fi
  if ! apply_permissions; then
    cmd_stop
    die "broker started without its permissions"
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
    token-file) cmd_token_file "$@" ;;
    mint-token) cmd_mint_token "$@" ;;
    ca-file) cmd_ca_file ;;
    verify-dist) cmd_verify_dist "$@" ;;
    *) usage ;;
  esac
}

main "$@"
