#!/usr/bin/env bash
# infrastructure/pulsar/container-broker.sh -- the Pulsar broker of
# docker-compose and Kubernetes, with security on (README, "Security"):
# token authentication (HS256 tokens whose subject is the role), per-topic
# authorization from permissions.txt (each service produces and consumes only
# its own topics), and the role `admin` as the only superuser.
#
# Run from the Pulsar distribution's home (the image's working directory,
# /pulsar), in the official image or in any image with the distribution:
# it starts `bin/pulsar standalone`, waits until the broker answers, creates
# the services' topics and grants their permissions (idempotent, at every
# start), then marks the broker ready by creating $READY_FILE, which the
# healthcheck (compose) and the readiness probe (Kubernetes) look for: a
# service never meets a broker that would refuse it for a missing grant.
# SIGTERM stops the broker gracefully.
#
# Settings (environment):
#   PULSAR_TOKEN_SECRET_KEY_FILE  the HS256 secret key tokens are signed with
#                                 (required; a "change-me" placeholder is refused)
#   PULSAR_ADMIN_TOKEN_FILE       a token of the role admin (required): the
#                                 broker's own client and the grants use it
#   PULSAR_ADVERTISED_ADDRESS     the name clients reach the broker by (required)
#   PULSAR_PERMISSIONS_FILE       default: permissions.txt next to this script
#   PULSAR_READY_FILE             default: /tmp/oms-broker-ready
# Credentials: infrastructure/pulsar/make-credentials.sh makes the key and
# the tokens.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly PERMISSIONS_FILE="${PULSAR_PERMISSIONS_FILE:-$SCRIPT_DIR/permissions.txt}"
readonly READY_FILE="${PULSAR_READY_FILE:-/tmp/oms-broker-ready}"
readonly CONF_DIR="${TMPDIR:-/tmp}/oms-pulsar-conf"
readonly NAMESPACE=public/default
readonly ADMIN_ROLE=admin

log() { printf '[broker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# A secret file must exist, be non-empty and not be a published placeholder.
check_secret() {
  local name="$1" file="${!1:-}"
  [[ -n "$file" ]] || die "$name must be set"
  [[ -r "$file" && -s "$file" ]] || die "$name: $file is missing, empty or unreadable"
  if head -c 9 "$file" | grep -qi '^change-me'; then
    die "$name: $file holds a placeholder; make real credentials (infrastructure/pulsar/make-credentials.sh)"
  fi
}

# The distribution's configuration plus security, in a copy (the image's
# conf/ may be read-only); bin/pulsar and bin/pulsar-admin read the copies.
write_conf() {
  mkdir -p "$CONF_DIR"
  cp conf/standalone.conf "$CONF_DIR/standalone.conf"
  cp conf/client.conf "$CONF_DIR/client.conf"
  cat >> "$CONF_DIR/standalone.conf" <<EOF

### Added by container-broker.sh (later keys win)
authenticationEnabled=true
authorizationEnabled=true
authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
tokenSecretKey=file://$PULSAR_TOKEN_SECRET_KEY_FILE
superUserRoles=$ADMIN_ROLE
brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
brokerClientAuthenticationParameters=file://$PULSAR_ADMIN_TOKEN_FILE
# Topics exist because this script creates them; a typo must not make one.
allowAutoTopicCreation=false
# A paused consumer's topic stays (the default deletes idle topics).
brokerDeleteInactiveTopicsEnabled=false
EOF
  cat >> "$CONF_DIR/client.conf" <<EOF

### Added by container-broker.sh
webServiceUrl=http://localhost:8080/
brokerServiceUrl=pulsar://localhost:6650/
authPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
authParams=file://$PULSAR_ADMIN_TOKEN_FILE
EOF
  export PULSAR_STANDALONE_CONF="$CONF_DIR/standalone.conf"
  export PULSAR_CLIENT_CONF="$CONF_DIR/client.conf"
}

# Polls the broker until it answers the admin's health check; false when the
# broker process ended first.
wait_for_broker() {
  local pid="$1"
  until bin/pulsar-admin brokers healthcheck > /dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 5
  done
}

# Creates the topics of permissions.txt that do not exist yet and grants
# every row, in one pulsar-shell (one JVM start instead of one per command).
apply_permissions() {
  local -A actions=() topics=()
  local topic action role key existing commands="$CONF_DIR/permissions.commands"
  while read -r topic action role; do
    [[ -n "$topic" ]] || continue
    topics[$topic]=1
    key="$topic $role"
    actions[$key]="${actions[$key]:+${actions[$key]},}$action"
  done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$PERMISSIONS_FILE")
  existing="$(bin/pulsar-admin topics list "$NAMESPACE")" || { log "could not list the topics"; return 1; }
  : > "$commands"
  for topic in "${!topics[@]}"; do
    grep -qx "persistent://$NAMESPACE/$topic" <<< "$existing" ||
      echo "admin topics create persistent://$NAMESPACE/$topic" >> "$commands"
  done
  for key in "${!actions[@]}"; do
    read -r topic role <<< "$key"
    echo "admin topics grant-permission --actions ${actions[$key]} --role $role persistent://$NAMESPACE/$topic" >> "$commands"
  done
  # The shell goes on past a failed command (its --fail-on-error stops after
  # a successful create in 4.0.x) and prints "Reason: ..." for each failure.
  # Its home (~/.pulsar-shell) in our writable folder: the image's /pulsar
  # may not be writable by the broker's user (AccessDeniedException there).
  if ! PULSAR_EXTRA_OPTS="${PULSAR_EXTRA_OPTS:-} -Duser.home=$CONF_DIR" \
      bin/pulsar-shell -c "$PULSAR_CLIENT_CONF" -f "$commands" -np > "$CONF_DIR/permissions.log" 2>&1 ||
      grep -q '^Reason:' "$CONF_DIR/permissions.log"; then
    cat "$CONF_DIR/permissions.log" >&2
    log "could not create the topics or grant their permissions"
    return 1
  fi
  log "topics created and permissions granted (${#topics[@]} topics, ${#actions[@]} grants)"
}

main() {
  check_secret PULSAR_TOKEN_SECRET_KEY_FILE
  check_secret PULSAR_ADMIN_TOKEN_FILE
  [[ -n "${PULSAR_ADVERTISED_ADDRESS:-}" ]] || die "PULSAR_ADVERTISED_ADDRESS must be set"
  [[ -r "$PERMISSIONS_FILE" ]] || die "no permissions file at $PERMISSIONS_FILE"
  rm -f "$READY_FILE"
  write_conf

  bin/pulsar standalone --no-functions-worker --no-stream-storage \
    --advertised-address "$PULSAR_ADVERTISED_ADDRESS" &
  local broker=$!
  trap 'log "stopping"; kill -TERM "$broker" 2>/dev/null || true' TERM INT

  if wait_for_broker "$broker" && apply_permissions; then
    touch "$READY_FILE"
    log "ready: authentication and per-topic authorization on"
  else
    log "error: the broker did not come up with its permissions; stopping it"
    kill -TERM "$broker" 2>/dev/null || true
  fi
  # wait returns early when a trapped signal arrives: wait again for the exit.
  local status=0
  wait "$broker" || status=$?
  if kill -0 "$broker" 2>/dev/null; then
    wait "$broker" || status=$?
  fi
  [[ -f "$READY_FILE" ]] || exit 1
  exit "$status"
}

main "$@"
