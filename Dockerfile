# syntax=docker/dockerfile:1
# zoommock as a container: a static, CGO-free binary on distroless, running as a non-root user.
#
#   docker build -t zoommock .
#   docker run --rm -p 127.0.0.1:9876:9876 zoommock
#
# Configure it with ZOOMMOCK_<FLAG> environment variables (see `zoommock serve --help`); set
# ZOOMMOCK_ADMIN_TOKEN when tests drive the admin API from outside the container. Cassettes are
# mounted read-only at /cassettes (-v ./cassettes:/cassettes:ro). examples/compose shows it all.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/zoommock ./cmd/zoommock

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/zoommock /usr/local/bin/zoommock
# Every interface of the container, so other containers and the port mapping reach it.
ENV ZOOMMOCK_ADDR=0.0.0.0:9876
EXPOSE 9876
# distroless's "nonroot" user, by number so that runAsNonRoot policies can check it.
USER 65532:65532
# The image has no shell: exec form only. healthcheck reads ZOOMMOCK_ADDR (0.0.0.0 means loopback).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/zoommock", "healthcheck", "--timeout", "2s"]
ENTRYPOINT ["/usr/local/bin/zoommock"]
CMD ["serve"]
