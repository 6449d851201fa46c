# syntax=docker/dockerfile:1
#
# gigamcp in a container: a static-ish release binary on Debian slim, running as a non-root user
# with its data in a volume. Build and try the demo:
#
#   docker build -t gigamcp .
#   docker run --rm -p 8080:8080 -e GIGAMCP_DEMO_PASSWORD=change-me gigamcp serve --demo
#
# In production set GIGAMCP_PUBLIC_URL to the https origin users reach (see docs/deploy.md).

# --- build -----------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Only the server binary, optimised; the cache mounts keep the registry and target between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin gigamcp \
 && install -D -m 0755 target/release/gigamcp /out/gigamcp

# --- runtime ---------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: the GitHub API and ACME CAs over https; curl: the HEALTHCHECK below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gigamcp \
 && useradd --system --uid 10001 --gid gigamcp --home-dir /var/lib/gigamcp --shell /usr/sbin/nologin gigamcp \
 && install -d -m 0700 -o gigamcp -g gigamcp /var/lib/gigamcp
COPY --from=build /out/gigamcp /usr/local/bin/gigamcp
# The demo workspaces' knowledge base, for `serve --demo`.
COPY fixtures/knowledge /usr/share/gigamcp/fixtures/knowledge

ENV GIGAMCP_DATA_DIR=/var/lib/gigamcp \
    GIGAMCP_FIXTURES_DIR=/usr/share/gigamcp/fixtures \
    GIGAMCP_BIND=0.0.0.0:8080 \
    GIGAMCP_PUBLIC_URL=http://localhost:8080 \
    GIGAMCP_LOG_FORMAT=json
USER gigamcp:gigamcp
WORKDIR /var/lib/gigamcp
VOLUME ["/var/lib/gigamcp"]
EXPOSE 8080
# With TLS in the binary (--tls-cert or --acme-domain) or another GIGAMCP_BIND, override it, e.g.
# `--health-cmd 'curl -fsSk -o /dev/null https://127.0.0.1:8443/healthz'`.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gigamcp"]
CMD ["serve"]
