# A static binary in a distroless image that runs as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.buildVersion=${VERSION}" -o /out/bulksync ./cmd/bulksync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bulksync /usr/local/bin/bulksync
USER nonroot:nonroot
WORKDIR /work
ENTRYPOINT ["bulksync"]
