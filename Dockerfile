# syntax=docker/dockerfile:1
# admit: one static-ish binary on a distroless, non-root base.
#   docker build -t registry.example.com/admit/admit:0.1.0 .
# Build stage: the workspace's pinned toolchain (rust-version 1.95), a locked build of the one
# binary, nothing else (aws-lc-sys builds with gcc; SQLite is bundled).
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p admit \
 && install -D -m 0755 target/release/admit /out/admit

# Runtime: glibc and CA certificates only, user 65532 (nonroot), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/admit /usr/local/bin/admit
USER 65532:65532
EXPOSE 8080 8443 8081
ENTRYPOINT ["/usr/local/bin/admit"]
CMD ["serve", "--listen", "127.0.0.1:8080", "--data-dir", "/var/lib/admit"]
