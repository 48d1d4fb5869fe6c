# The runbook worker image (docker-compose.yml builds it as the `worker` service).
# Plain Dockerfile syntax, so the classic builder of docker-compose 1.29 builds it too.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so a source change reuses the module download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/runbook ./cmd/runbook \
	&& mkdir -p /out/var/lib/runbook

# OpenTofu for provision steps, built from the Go module proxy like `make tools` does
# (keep TOFU_VERSION in step with the Makefile's pin).
FROM golang:1.26 AS tofu
ARG TOFU_VERSION=1.12.6
RUN dir=$(cd / && go mod download -json github.com/opentofu/opentofu@v${TOFU_VERSION} | grep '"Dir":' | cut -d'"' -f4) \
	&& cd "$dir" \
	&& CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/opentofu/opentofu/version.dev=no" -o /out/tofu ./cmd/tofu

# Debian slim rather than distroless: OpenTofu's local-exec provisioners need a shell.
FROM debian:12-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates bash \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --uid 65532 --user-group --home-dir /var/lib/runbook --no-create-home runbook
COPY --from=build /out/runbook /usr/local/bin/runbook
COPY --from=tofu /out/tofu /usr/local/bin/tofu
# Owned by the runbook user, so a fresh named volume mounted here is writable.
COPY --from=build --chown=65532:65532 /out/var/lib/runbook /var/lib/runbook
USER 65532:65532
ENV RUNBOOK_STATE_DIR=/var/lib/runbook RUNBOOK_TOFU_BIN=/usr/local/bin/tofu
ENTRYPOINT ["/usr/local/bin/runbook"]
CMD ["worker"]
