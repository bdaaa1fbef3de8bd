# syntax=docker/dockerfile:1
# pw2mqtt: Tesla Powerwall gateway (local API) -> MQTT.
#   docker build -t pw2mqtt .
#   docker run -d --name pw2mqtt -v pw2mqtt-data:/data \
#     -e PW2MQTT_GATEWAYS__0__HOST=192.168.1.5 -e PW2MQTT_GATEWAYS__0__PASSWORD_FILE=/run/secrets/powerwall \
#     -e PW2MQTT_MQTT__HOST=mosquitto pw2mqtt
# Configuration: PW2MQTT_... environment variables, ..._FILE secrets, and /config/pw2mqtt.yaml if it exists.

ARG PYTHON_IMAGE=python:3.12-slim

# -- build: the pw2mqtt wheel and the wheels of its dependencies, for this platform -----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pw2mqtt ./pw2mqtt
RUN python -m pip wheel --wheel-dir /wheels .

# -- runtime: installed from those wheels only, no compiler, no network ------------------------
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/pw2mqtt/bin:$PATH \
    PW2MQTT_STATE_DIR=/data
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/pw2mqtt \
    && /opt/pw2mqtt/bin/pip install --no-index --find-links /wheels pw2mqtt \
    && groupadd --system --gid 10001 pw2mqtt \
    && useradd --system --uid 10001 --gid pw2mqtt --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin pw2mqtt \
    && mkdir -p /data /config \
    && chown pw2mqtt:pw2mqtt /data
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/pw2mqtt-entrypoint

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# The bridge answers SIGTERM by publishing `offline` and exiting 0; the entrypoint execs it, so
# it is PID 1 and receives the signal itself.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["pw2mqtt-entrypoint", "healthcheck"]
ENTRYPOINT ["pw2mqtt-entrypoint"]
CMD ["run"]

LABEL org.opencontainers.image.title="pw2mqtt" \
      org.opencontainers.image.description="Tesla Powerwall gateway local API to MQTT, with Home Assistant discovery" \
      org.opencontainers.image.licenses="MIT"
