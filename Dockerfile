# syntax=docker/dockerfile:1
#
# One image recipe for the four processes, chosen with --build-arg SERVICE:
#
#   docker build --build-arg SERVICE=order-service -t oms/order-service .
#   docker build --build-arg SERVICE=api-gateway --build-arg PORT=8080 -t oms/api-gateway .
#
# SERVICE is api-gateway, order-service, inventory-service or payment-service;
# PORT is the container port (docs/architecture.md: 8000, the gateway 8080).
# The build stage runs the same make target as a local build
# (`make build/release/bin/$SERVICE`); the runtime stage has only the shared
# libraries the binary links, curl for HEALTHCHECK, the binary and its
# migrations, and runs as uid 10001.

FROM debian:bookworm AS build
ARG SERVICE
WORKDIR /src
# The build packages, from the same list as a developer's machine and CI
# (scripts/deps.sh --build-only runs apt-get as root).
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh --build-only \
 && rm -rf /var/lib/apt/lists/*
# The whole context, less what .dockerignore leaves out (tests/deploy checks
# that `make` finds every file it needs in it).
COPY . .
# /out becomes /app: bin/<name>, `service` (a link to it, the entrypoint) and
# migrations/ (the service's own, read from MIGRATIONS_DIR; empty for the
# gateway).
RUN case "$SERVICE" in \
        api-gateway|order-service|inventory-service|payment-service) ;; \
        *) echo "build with --build-arg SERVICE=api-gateway|order-service|inventory-service|payment-service" >&2; exit 1 ;; \
    esac \
 && make -j2 "build/release/bin/$SERVICE" \
 && install -D -m 0755 "build/release/bin/$SERVICE" "/out/bin/$SERVICE" \
 && ln -s "bin/$SERVICE" /out/service \
 && mkdir -p /out/migrations \
 && if [ -d "services/$SERVICE/migrations" ]; then cp "services/$SERVICE/migrations/"*.sql /out/migrations/; fi

FROM debian:bookworm-slim AS runtime
ARG SERVICE
ARG PORT=8000
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libpq5 libmicrohttpd12 libgnutls30 libjansson4 libcurl4 libuuid1 libprotobuf-c1 libjwt0 libssl3 \
        curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 oms \
 && useradd --system --uid 10001 --gid oms --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin oms
WORKDIR /app
COPY --from=build /out/ /app/
LABEL org.opencontainers.image.title="$SERVICE" \
      org.opencontainers.image.description="Order management system: $SERVICE"
ENV PORT=$PORT \
    MIGRATIONS_DIR=/app/migrations
USER 10001:10001
EXPOSE $PORT
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${PORT}/health || exit 1"]
ENTRYPOINT ["/app/service"]
