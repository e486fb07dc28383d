#!/usr/bin/env bash
# scripts/deps.sh -- installs the Debian 12 packages the project needs.
#
#   scripts/deps.sh               build + run packages (make run / make up)
#   scripts/deps.sh --build-only  only what compiling needs (the Dockerfile)
#   scripts/deps.sh --test        also the test and Pulsar packages (make test)
#
# Checks with dpkg-query which packages are missing and prints nothing when none
# is. As root it installs them (apt-get update once, then apt-get install -y);
# otherwise it prints the exact sudo command and exits 1.
set -euo pipefail

BUILD_PACKAGES=(build-essential pkg-config libpq-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev
    libcurl4-openssl-dev uuid-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libjwt-dev libssl-dev)
RUN_PACKAGES=(postgresql-15 postgresql-client-15 curl)
TEST_PACKAGES=(python3-venv clang libclang-rt-14-dev shellcheck docker-compose valgrind wrk gcovr clang-format
    postgresql-contrib chromium nodejs)
PULSAR_PACKAGES=(openjdk-17-jre-headless maven)
# Debian's nodejs comes without npm (a package of its own); some other builds
# of nodejs bring it, and Debian's npm package would conflict with them.
command -v npm >/dev/null 2>&1 || TEST_PACKAGES+=(npm)
# The containers suite (infrastructure/containers/containers.sh): podman as
# root with runc, its network stack, buildah and debootstrap for the base image.
CONTAINER_PACKAGES=(podman buildah debootstrap runc netavark aardvark-dns uidmap slirp4netns)

usage() {
    echo "usage: $0 [--build-only | --test]" >&2
    exit 2
}

wanted_packages() {
    case "${1:-}" in
        "") echo "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}" ;;
        --build-only) echo "${BUILD_PACKAGES[@]}" ;;
        --test) echo "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${PULSAR_PACKAGES[@]}" \
            "${CONTAINER_PACKAGES[@]}" ;;
    esac
}

# A package counts as present only when dpkg says "install ok installed".
is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

main() {
    [ $# -le 1 ] || usage
    case "${1:-}" in "" | --build-only | --test) ;; *) usage ;; esac
    local wanted missing=()
    read -r -a wanted <<<"$(wanted_packages "${1:-}")"
    for package in "${wanted[@]}"; do
        is_installed "$package" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages: ${missing[*]}" >&2
        echo "deps: install them with:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

main "$@"
