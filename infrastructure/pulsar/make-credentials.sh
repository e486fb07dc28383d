#!/usr/bin/env bash
# infrastructure/pulsar/make-credentials.sh DIR -- the Pulsar broker's
# credentials for docker-compose and Kubernetes: an HS256 secret key
# (DIR/token-secret.key, 32 random bytes) and one token per role, signed with
# it by the Pulsar distribution's own tool (DIR/<role>.token for admin,
# order-service, inventory-service and payment-service; no expiry: rotate by
# making a new DIR and restarting everything).
#
# Made once: when DIR already holds all of them, nothing changes. The
# directory is 0700; the files are 0644 so that the containers' non-root
# users can read the one each is given (compose `secrets:` bind-mount them
# with the host's mode).
#
#   CONTAINER_ENGINE=docker            or podman: runs the token tool
#   PULSAR_IMAGE=apachepulsar/pulsar:4.0.8   the image whose tool signs
#
# docker-compose reads DIR=./secrets/pulsar (PULSAR_SECRETS_DIR); for
# Kubernetes, README section Deployment turns DIR into the Secrets
# oms-pulsar-auth and oms-pulsar-tokens.
set -euo pipefail

readonly ROLES=(admin order-service inventory-service payment-service)

die() { echo "make-credentials: $*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: make-credentials.sh DIR"
dir="$1"
engine="${CONTAINER_ENGINE:-docker}"
image="${PULSAR_IMAGE:-apachepulsar/pulsar:4.0.8}"

complete() {
  local role
  [[ -s "$dir/token-secret.key" ]] || return 1
  for role in "${ROLES[@]}"; do
    [[ -s "$dir/$role.token" ]] || return 1
  done
}

mint() {
  local role="$1" out token
  out="$("$engine" run --rm --network none \
    -v "$(cd "$dir" && pwd)/token-secret.key:/oms/token-secret.key:ro" \
    "$image" bin/pulsar tokens create --secret-key file:///oms/token-secret.key --subject "$role")" ||
    die "the token tool of $image failed for $role"
  token="$(grep -m1 '^ey' <<< "$out")" || die "the token tool printed no token for $role"
  (umask 022 && printf '%s\n' "$token" > "$dir/$role.token.tmp")
  mv "$dir/$role.token.tmp" "$dir/$role.token"
}

main() {
  command -v "$engine" > /dev/null || die "$engine not found (CONTAINER_ENGINE: docker or podman)"
  mkdir -p "$dir"
  chmod 700 "$dir"
  if complete; then
    echo "make-credentials: $dir already holds the key and the tokens"
    return 0
  fi
  # A new key invalidates every older token: make them all again with it.
  rm -f "$dir"/*.token
  (umask 022 && openssl rand 32 > "$dir/token-secret.key.tmp") || die "openssl rand failed"
  mv "$dir/token-secret.key.tmp" "$dir/token-secret.key"
  local role
  for role in "${ROLES[@]}"; do
    mint "$role"
  done
  echo "make-credentials: made $dir/token-secret.key and the tokens of ${ROLES[*]}"
}

main
