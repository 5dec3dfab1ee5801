# zendesk-forwarder container image.
#   Build stage: compiles and runs the unit tests.
#   Runtime stage: Debian 12 with only the runtime libraries, non-root,
#   read-only-root friendly (state only under /var/lib/zendesk-forwarder).
# Built and smoke-tested without a Docker engine by deploy/image/build-and-smoke.sh.
ARG BASE=debian:12

FROM ${BASE} AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN deploy/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_BUILD_TESTS=ON -DZF_UNIT_TESTS_ONLY=ON \
 && cmake --build /build -j"$(nproc)" --target zendesk-forwarder zendesk-emulator zf_unit_tests \
 && /build/tests/unit/zf_unit_tests

FROM ${BASE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 librdkafka1 libyaml-cpp0.7 libsimdjson14 libprometheus-cpp-core1.0 \
      libcpp-httplib0.11 libssl3 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 forwarder \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /var/lib/zendesk-forwarder --shell /usr/sbin/nologin forwarder \
 && mkdir -p /var/lib/zendesk-forwarder /etc/zendesk-forwarder \
 && chown 65532:65532 /var/lib/zendesk-forwarder
COPY --from=build /build/src/app/zendesk-forwarder /build/src/emulator/zendesk-emulator /usr/local/bin/
COPY config/ /etc/zendesk-forwarder/examples/
LABEL org.opencontainers.image.title="zendesk-forwarder" \
      org.opencontainers.image.description="Ships Zendesk access logs to Kafka, syslog or JSON lines without losing events" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
USER 65532:65532
WORKDIR /var/lib/zendesk-forwarder
VOLUME ["/var/lib/zendesk-forwarder"]
EXPOSE 9464
# Kubernetes uses the HTTP probes (/healthz, /readyz on metrics.listen); see
# docs/KUBERNETES.md. No HEALTHCHECK: the image ships no HTTP client.
ENTRYPOINT ["zendesk-forwarder"]
CMD ["run", "--config", "/etc/zendesk-forwarder/config.yaml"]
