#!/usr/bin/env bash
# The project's containers for real, with podman, as root on Debian 12 with no
# Docker engine and no registry (issue 15; README, "Containers for real").
#
#   containers.sh setup         install podman, buildah, debootstrap and
#                               podman-compose; make containers run here
#   containers.sh base          the debian:bookworm(-slim) base image
#                               (debootstrap minbase, cached: a second run
#                               only imports the cached tarball, if needed)
#   containers.sh images        setup + base, then the four images from the
#                               project's Dockerfile unchanged, and the local
#                               test images of PostgreSQL and Pulsar
#   containers.sh sizes         each image's size
#   containers.sh compose-test  docker-compose.yml with podman-compose (both buses)
#   containers.sh test          images + compose-test (make containers-test)
#   containers.sh clean         remove what a test run left (containers,
#                               volumes, networks of the test's names)
#
# Environment (defaults):
#   OMS_CONTAINERS_CACHE  $HOME/.cache/oms-containers (the base image tarball,
#                         podman-compose's venv)
#   OMS_TEST_SLOT         0 (ports below shift by 100*slot, names carry it)
#   CT_GATEWAY_PORT       19080 + 100*slot (the gateway published on the host)
#   CT_PG_PORT            26433 + 100*slot (PostgreSQL published for the tests'
#                         own checks; compose.test.yaml)
#   CT_METRICS_PORT       19090 + 100*slot (+1, +2: the services' metrics ports)
#   PULSAR_VERSION        4.0.8 (the distribution pulsar.sh fetches)
# The test images are oms-test/postgres:15 and oms-test/pulsar:$PULSAR_VERSION,
# given to compose as POSTGRES_IMAGE and PULSAR_IMAGE; they are not the
# official images and are never pushed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
readonly SCRIPT_DIR REPO_ROOT

readonly CACHE="${OMS_CONTAINERS_CACHE:-$HOME/.cache/oms-containers}"
readonly BASE_TAR="$CACHE/bookworm-minbase.tar"
readonly BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly COMPOSE_VENV="$CACHE/venv"
readonly PODMAN_COMPOSE_VERSION=1.5.0
readonly PODMAN_COMPOSE="$COMPOSE_VENV/bin/podman-compose"
readonly SLOT="${OMS_TEST_SLOT:-0}"
readonly OFFSET=$((100 * SLOT))
readonly GATEWAY_PORT_CT="${CT_GATEWAY_PORT:-$((19080 + OFFSET))}"
readonly PG_PORT_CT="${CT_PG_PORT:-$((26433 + OFFSET))}"
readonly METRICS_PORT_CT="${CT_METRICS_PORT:-$((19090 + OFFSET))}"
export PULSAR_VERSION="${PULSAR_VERSION:-4.0.8}"
readonly PG_TEST_IMAGE=oms-test/postgres:15
readonly PULSAR_TEST_IMAGE="oms-test/pulsar:$PULSAR_VERSION"
readonly PROCESSES=(order-service inventory-service payment-service api-gateway)
readonly PROJECT="oms-ct$SLOT"
readonly VENV="$REPO_ROOT/.venv"

log() { printf '[containers] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
    exit 2
}

# ---------------------------------------------------------------- setup

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

cmd_setup() {
    [ "$(id -u)" -eq 0 ] || die "run as root (podman as root, debootstrap)"
    local missing=() package
    for package in podman buildah debootstrap runc netavark aardvark-dns uidmap python3-venv; do
        is_installed "$package" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    setup_containers_conf
    if [ ! -x "$PODMAN_COMPOSE" ] || ! "$PODMAN_COMPOSE" version 2>/dev/null | grep -q "$PODMAN_COMPOSE_VERSION"; then
        log "podman-compose $PODMAN_COMPOSE_VERSION into $COMPOSE_VENV"
        python3 -m venv "$COMPOSE_VENV"
        "$COMPOSE_VENV/bin/pip" install -q --disable-pip-version-check "podman-compose==$PODMAN_COMPOSE_VERSION"
    fi
}

# What podman needs here, in /etc/containers/containers.conf (written when
# absent or ours, never over an administrator's own):
# - default_ulimits = []: podman sets every rlimit of the engine's defaults on
#   a container; in a sandbox that may not raise them, `podman run` fails
#   ("error setting rlimit type 7");
# - runtime = "runc": crun refuses cgroups v1 beside a cgroup2 mount ("cgroups
#   in hybrid mode not supported"), which such machines have.
readonly CONF_MARK="# written by infrastructure/containers/containers.sh"

setup_containers_conf() {
    local conf=/etc/containers/containers.conf
    if [ -s "$conf" ] && ! grep -q "^$CONF_MARK" "$conf"; then
        grep -qs '^default_ulimits *= *\[\]' "$conf" && grep -qs '^runtime *= *"runc"' "$conf" && return 0
        log "$conf is not ours: it needs [containers] default_ulimits = [] and [engine] runtime = \"runc\""
        return 0
    fi
    mkdir -p /etc/containers
    printf '%s\n[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' "$CONF_MARK" >"$conf"
}

# ---------------------------------------------------------------- images

image_exists() { podman image exists "$1"; }

cmd_base() {
    if image_exists debian:bookworm && image_exists debian:bookworm-slim &&
        podman image inspect --format '{{.Config.Env}}' debian:bookworm | grep -q "PATH=$BASE_PATH"; then
        log "base image debian:bookworm present"
        return 0
    fi
    mkdir -p "$CACHE"
    if [ ! -s "$BASE_TAR" ]; then
        local root="$CACHE/rootfs.tmp" started=$SECONDS
        rm -rf "$root"
        log "debootstrap --variant=minbase bookworm (about 30 s)"
        debootstrap --variant=minbase bookworm "$root" >"$CACHE/debootstrap.log" 2>&1 ||
            die "debootstrap failed: see $CACHE/debootstrap.log"
        # No package lists in the image: apt-get update in a build fetches them.
        rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
        tar -C "$root" -cf "$BASE_TAR.tmp" .
        mv "$BASE_TAR.tmp" "$BASE_TAR"
        rm -rf "$root"
        log "base tarball in $((SECONDS - started)) s: $BASE_TAR"
    fi
    # PATH and CMD as the official image's configuration has them (a kube
    # play container finds `sh` only through the image's PATH).
    podman import --quiet --change "ENV PATH=$BASE_PATH" --change 'CMD ["bash"]' \
        "$BASE_TAR" docker.io/library/debian:bookworm >/dev/null
    podman tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim
    log "imported debian:bookworm and debian:bookworm-slim"
}

# --format docker: an OCI image has no HEALTHCHECK, and the Dockerfile's is
# what compose's service_healthy waits for.
build_image() {
    local tag="$1" started=$SECONDS
    shift
    log "building $tag"
    podman build --quiet --pull=never --format docker -t "$tag" "$@" >/dev/null || die "building $tag failed"
    log "built $tag in $((SECONDS - started)) s"
}

cmd_images() {
    cmd_setup
    cmd_base
    local name port
    for name in "${PROCESSES[@]}"; do
        port=8000
        [ "$name" = api-gateway ] && port=8080
        build_image "oms/$name:latest" --build-arg SERVICE="$name" --build-arg PORT="$port" \
            -f "$REPO_ROOT/Dockerfile" "$REPO_ROOT"
    done
    build_image "$PG_TEST_IMAGE" -f "$SCRIPT_DIR/postgres/Containerfile" "$SCRIPT_DIR/postgres"
    local dist="${PULSAR_CACHE:-$HOME/.cache/oms-pulsar}/$PULSAR_VERSION"
    "$REPO_ROOT/infrastructure/pulsar/pulsar.sh" fetch
    [ -x "$dist/bin/pulsar" ] || die "$dist has no bin/pulsar: the image needs the distribution (PULSAR_FETCH_ROUTE=distribution)"
    build_image "$PULSAR_TEST_IMAGE" -f "$SCRIPT_DIR/pulsar/Containerfile" "$dist"
    cmd_sizes
}

cmd_sizes() {
    local image
    for image in "${PROCESSES[@]/#/oms/}" "$PG_TEST_IMAGE" "$PULSAR_TEST_IMAGE"; do
        image="${image%:latest}"
        image_exists "$image" || continue
        printf '%-32s %s\n' "$image" "$(podman image inspect --format '{{.Size}}' "$image" |
            awk '{ printf "%.0f MB", $1 / 1000000 }')"
    done
}

# ---------------------------------------------------------------- compose

readonly COMPOSE_FILES=(-f "$REPO_ROOT/docker-compose.yml" -f "$SCRIPT_DIR/compose.test.yaml")
readonly BLACKBOX_TESTS=(tests/blackbox/test_saga.py tests/blackbox/test_cancel.py
    tests/blackbox/test_validation.py tests/blackbox/test_catalog.py tests/blackbox/test_concurrency.py)

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The settings docker-compose.yml requires, made at random for this run (the
# .env of a real deployment), and the test images.
compose_env() {
    export POSTGRES_IMAGE="$PG_TEST_IMAGE" PULSAR_IMAGE="$PULSAR_TEST_IMAGE"
    export POSTGRES_PASSWORD ORDER_SERVICE_DB_PASSWORD INVENTORY_SERVICE_DB_PASSWORD
    export PAYMENT_SERVICE_DB_PASSWORD INTERNAL_API_KEY CT_API_KEY
    POSTGRES_PASSWORD="$(random_secret)"
    ORDER_SERVICE_DB_PASSWORD="$(random_secret)"
    INVENTORY_SERVICE_DB_PASSWORD="$(random_secret)"
    PAYMENT_SERVICE_DB_PASSWORD="$(random_secret)"
    INTERNAL_API_KEY="$(random_secret)"
    CT_API_KEY="$(random_secret)"
    export API_KEYS="$CT_API_KEY:admin"
    export GATEWAY_PORT="$GATEWAY_PORT_CT" CT_PG_PORT="$PG_PORT_CT"
    export CT_ORDER_METRICS_PORT="$METRICS_PORT_CT" CT_INVENTORY_METRICS_PORT=$((METRICS_PORT_CT + 1))
    export CT_PAYMENT_METRICS_PORT=$((METRICS_PORT_CT + 2))
    # The black-box suite's load (200 orders at once) and its new customers.
    export RATE_LIMIT_RPS=10000 DEFAULT_CREDIT=1000.00
    # The broker's token key and one token per role (compose `secrets:`),
    # made once with the test image's own tool and kept in the cache (0700).
    export PULSAR_SECRETS_DIR="$CACHE/pulsar-secrets"
    CONTAINER_ENGINE=podman PULSAR_IMAGE="$PULSAR_TEST_IMAGE" \
        "$REPO_ROOT/infrastructure/pulsar/make-credentials.sh" "$PULSAR_SECRETS_DIR" >&2 ||
        die "could not make the Pulsar credentials"
}

compose() {
    (cd "$REPO_ROOT" && "$PODMAN_COMPOSE" --no-ansi -p "$PROJECT" "${COMPOSE_FILES[@]}" "$@")
}

project_containers() {
    podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}'
}

# Until every container of the project is running and passes its healthcheck
# (podman runs healthchecks from systemd timers; without systemd nothing
# would, so this runs them). Prints the seconds it took.
wait_healthy() {
    local timeout="$1" started=$SECONDS name pending
    while :; do
        pending=()
        for name in $(project_containers); do
            if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ] ||
                ! podman healthcheck run "$name" >/dev/null 2>&1; then
                pending+=("$name")
            fi
        done
        if [ ${#pending[@]} -eq 0 ] && [ -n "$(project_containers)" ]; then
            echo $((SECONDS - started))
            return 0
        fi
        if [ $((SECONDS - started)) -ge "$timeout" ]; then
            log "not healthy after ${timeout} s: ${pending[*]}"
            return 1
        fi
        sleep 2
    done
}

compose_logs() {
    local name
    for name in $(project_containers); do
        echo "--- last lines of $name"
        podman logs --tail 15 "$name" 2>&1 | cut -c1-400
    done
}

# Nothing of the project left: containers, volumes, networks.
compose_left_behind() {
    {
        project_containers
        podman volume ls --format '{{.Name}}' | grep "^${PROJECT}_" || true
        podman network ls --format '{{.Name}}' | grep "^${PROJECT}_" || true
        podman pod ls --format '{{.Name}}' | grep "^pod_${PROJECT}$" || true
    } | sed '/^$/d'
}

compose_down() {
    compose down -v >/dev/null 2>&1 || true
    local left
    left="$(compose_left_behind)"
    [ -z "$left" ] && return 0
    log "down -v left behind: ${left//$'\n'/ }"
    return 1
}

# One compose run on MESSAGE_BUS=$1: up, healthy, the black-box suite through
# the published ports, on Pulsar a service killed mid-load, down -v.
compose_run() {
    local bus="$1" status=0 seconds started=$SECONDS
    local -a files=()
    [ "$bus" = pg ] && files=(-f "$SCRIPT_DIR/compose.pg-bus.yaml")
    compose_down >/dev/null 2>&1 || true
    log "compose up -d (MESSAGE_BUS=$bus, project $PROJECT, gateway on $GATEWAY_PORT_CT)"
    compose "${files[@]}" up -d >"$CACHE/compose-up-$bus.log" 2>&1 || {
        log "up failed: $CACHE/compose-up-$bus.log"; tail -n 20 "$CACHE/compose-up-$bus.log" >&2; status=1; }
    # Pulsar alone may take minutes on a loaded machine (container-broker.sh
    # waits for the broker, then makes the topics and grants with JVM tools).
    if [ "$status" -eq 0 ] && seconds="$(wait_healthy 900)"; then
        log "MESSAGE_BUS=$bus: every container healthy $((SECONDS - started)) s after up (${seconds} s of waiting)"
        # Not the demo products: `make run` makes them, compose does not.
        compose_pytest "$bus" "${BLACKBOX_TESTS[@]}" -k "not demo_products" || status=1
        if [ "$bus" = pulsar ]; then
            CT_KILL_CONTAINER="$(podman ps --filter "label=io.podman.compose.project=$PROJECT" \
                --filter label=com.docker.compose.service=payment-service --format '{{.Names}}')" \
                compose_pytest "$bus" tests/containers || status=1
        fi
    else
        status=1
    fi
    [ "$status" -ne 0 ] && compose_logs
    compose_down || status=1
    return "$status"
}

compose_pytest() {
    local bus="$1"
    shift
    [ -x "$VENV/bin/python" ] || die "no $VENV: run scripts/test.sh's python-env suite first"
    (cd "$REPO_ROOT" &&
        env -u PGPASSFILE BASE_URL="http://127.0.0.1:$GATEWAY_PORT_CT" \
            ORDER_URL="http://127.0.0.1:$CT_ORDER_METRICS_PORT" \
            INVENTORY_URL="http://127.0.0.1:$CT_INVENTORY_METRICS_PORT" \
            PAYMENT_URL="http://127.0.0.1:$CT_PAYMENT_METRICS_PORT" \
            PG_PORT="$PG_PORT_CT" PGPASSWORD="$POSTGRES_PASSWORD" MESSAGE_BUS="$bus" API_KEY="$CT_API_KEY" \
            OMS_RUN_DIR="$CACHE/no-run-dir" \
            "$VENV/bin/python" -m pytest -q -ra -p no:cacheprovider "$@")
}

cmd_compose_test() {
    cmd_setup
    compose_env
    local status=0
    compose_run pg || status=1
    compose_run pulsar || status=1
    return "$status"
}

cmd_clean() {
    compose_env
    compose_down || true
}

cmd_test() {
    local status=0 started=$SECONDS
    cmd_images || return 1
    log "images ready in $((SECONDS - started)) s"
    cmd_compose_test || status=1
    log "containers test: $((SECONDS - started)) s"
    return "$status"
}

main() {
    [ $# -ge 1 ] || usage
    local command="$1"
    shift
    case "$command" in
        setup) cmd_setup ;;
        base) cmd_setup; cmd_base ;;
        images) cmd_images ;;
        sizes) cmd_sizes ;;
        compose-test) cmd_compose_test ;;
        test) cmd_test ;;
        clean) cmd_clean ;;
        *) usage ;;
    esac
}

main "$@"
