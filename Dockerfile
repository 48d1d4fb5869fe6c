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

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/runbook /runbook
# Owned by the nonroot user, so a fresh named volume mounted here is writable.
COPY --from=build --chown=65532:65532 /out/var/lib/runbook /var/lib/runbook
USER 65532:65532
ENV RUNBOOK_STATE_DIR=/var/lib/runbook
ENTRYPOINT ["/runbook"]
CMD ["worker"]
