# The injector's image: `kubectl-inject serve` (deploy/ runs it).
#   docker build -t ghcr.io/kubectl-inject/kubectl-inject:0.1.0 .
# One binary: the same build is the kubectl plugin and the webhook.
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin kubectl-inject

# glibc and CA certificates, no shell; uid 65532 as deploy/ expects.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/kubectl-inject /usr/local/bin/kubectl-inject
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/kubectl-inject"]
CMD ["serve", "--tls-cert=/etc/kubectl-inject/tls/tls.crt", "--tls-key=/etc/kubectl-inject/tls/tls.key"]
