# syntax=docker/dockerfile:1
#
# convops-control-plane: a statically linked binary on distroless, run as a non-root user.
#
#   docker build -f packaging/control-plane.Dockerfile -t convops-control-plane .   (repo root)
#
# Run it with a read-only root filesystem, the database on a volume and the TLS pair mounted
# (packaging/README.md):
#
#   docker run --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
#     --ulimit nofile=65536:65536 -p 8443:8443 \
#     -v convops-cp-data:/var/lib/convops-control-plane \
#     -v "$PWD/tls:/etc/convops-control-plane/tls:ro" convops-control-plane

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# glibc linked statically (static-pie): the final image has no C library. SQLite is the copy
# bundled by libsqlite3-sys and AWS-LC is compiled from its sources, both into the binary.
ENV CARGO_TARGET_DIR=/cache/target \
    RUSTFLAGS="-C target-feature=+crt-static" \
    AWS_LC_SYS_USE_SYSTEM=0 \
    CARGO_TERM_COLOR=never
COPY . .
# The target directory is a cache mount: the binary is copied out of it in the same step. A
# dynamically linked binary is refused (it would not start on distroless/static), then it must run.
RUN --mount=type=cache,id=convops-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=convops-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=convops-target,target=/cache/target,sharing=locked \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
        -p convops-control-plane --bin convops-control-plane \
 && install -D -m 0755 /cache/target/x86_64-unknown-linux-gnu/release/convops-control-plane \
        /out/convops-control-plane \
 && readelf -lW /out/convops-control-plane > /tmp/program-headers \
 && readelf -dW /out/convops-control-plane > /tmp/dynamic-section \
 && if grep -qF 'program interpreter' /tmp/program-headers \
        || grep -qF '(NEEDED)' /tmp/dynamic-section; then \
        echo "convops-control-plane is dynamically linked" >&2; exit 1; \
    fi \
 && /out/convops-control-plane --version \
 && install -d -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="convops-control-plane" \
      org.opencontainers.image.description="ConvOps control plane: ingests agents' evidence, opens incidents, diagnoses and delivers them to chat, serves the REST API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/convops-control-plane /usr/local/bin/convops-control-plane
# The data directory (SQLite convops.db and master.key), owned by the non-root user so that a new
# named volume mounted here is writable.
COPY --from=build --chown=65532:65532 /out/data/ /var/lib/convops-control-plane/
VOLUME ["/var/lib/convops-control-plane"]
# Listen on every interface of the container (the binary's default is loopback only), keep the
# data on the volume, and read the TLS pair from a mounted directory. The environment overrides
# a --config file: change these with -e, not in the file.
ENV CONVOPS_CP__LISTEN=0.0.0.0:8443 \
    CONVOPS_CP__DATA_DIR=/var/lib/convops-control-plane \
    CONVOPS_CP__TLS__CERT_FILE=/etc/convops-control-plane/tls/cert.pem \
    CONVOPS_CP__TLS__KEY_FILE=/etc/convops-control-plane/tls/key.pem
EXPOSE 8443
# distroless "nonroot" (UID/GID 65532), numeric so that runAsNonRoot checks can see it.
USER 65532:65532
# GET /healthz on metrics.listen (plain HTTP, 127.0.0.1:9465; 200 when the database answers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/convops-control-plane", "health"]
ENTRYPOINT ["/usr/local/bin/convops-control-plane"]
CMD ["serve"]
