# syntax=docker/dockerfile:1
#
# convops-agent: a statically linked binary on distroless, run as a non-root user.
#
#   docker build -f packaging/agent.Dockerfile -t convops-agent .     (from the repository root)
#
# Run it with a read-only root filesystem and the spool on a volume (packaging/README.md):
#
#   docker run --read-only --cap-drop ALL --security-opt no-new-privileges \
#     -v convops-agent-spool:/var/lib/convops-agent \
#     -e CONVOPS_AGENT__CONTROL_PLANE__URL=wss://cp.example.com:8443/v1/agent/connect \
#     -e CONVOPS_AGENT__CONTROL_PLANE__TOKEN=cvo_agt_... convops-agent

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# glibc linked statically (static-pie): the final image has no C library. AWS-LC is compiled
# from its sources into the binary, never taken from a system install.
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
        -p convops-agent --bin convops-agent \
 && install -D -m 0755 /cache/target/x86_64-unknown-linux-gnu/release/convops-agent /out/convops-agent \
 && readelf -lW /out/convops-agent > /tmp/program-headers \
 && readelf -dW /out/convops-agent > /tmp/dynamic-section \
 && if grep -qF 'program interpreter' /tmp/program-headers \
        || grep -qF '(NEEDED)' /tmp/dynamic-section; then \
        echo "convops-agent is dynamically linked" >&2; exit 1; \
    fi \
 && /out/convops-agent --version \
 && install -d -m 0700 /out/spool

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="convops-agent" \
      org.opencontainers.image.description="ConvOps agent: watches CloudWatch alarms, gathers and redacts evidence, streams it to the control plane" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/convops-agent /usr/local/bin/convops-agent
# The spool (sled: unsent evidence, alarm memory, agent id, pseudonym key) at the agent's default
# spool.dir, owned by the non-root user so that a new named volume mounted here is writable.
COPY --from=build --chown=65532:65532 /out/spool/ /var/lib/convops-agent/
VOLUME ["/var/lib/convops-agent"]
# distroless "nonroot" (UID/GID 65532), numeric so that runAsNonRoot checks can see it.
USER 65532:65532
# No port is published: the agent only dials out. Its health endpoint (metrics.listen, default
# 127.0.0.1:9464) is on the container's loopback, where the health check runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/convops-agent", "health"]
ENTRYPOINT ["/usr/local/bin/convops-agent"]
CMD ["run"]
