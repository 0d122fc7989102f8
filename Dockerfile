# komo-braze: one image for every command (producer, worker, braze-sim, dlq, topology, ...).
# The command is the argument: `docker run IMAGE producer`, `docker run IMAGE worker --workspace client_b`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install the project and its dependencies into a virtual environment ------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/komo-braze
WORKDIR /src
COPY pyproject.toml README.md ./
COPY komo_braze ./komo_braze
COPY producer ./producer
COPY worker ./worker
COPY braze_sim ./braze_sim
COPY devtools ./devtools
RUN /opt/komo-braze/bin/pip install --no-cache-dir .

# --- run: the environment alone, as a user without privileges -------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 komo \
    && useradd --system --uid 10001 --gid komo --no-create-home --shell /usr/sbin/nologin komo
COPY --from=build /opt/komo-braze /opt/komo-braze
# Inside a container every process listens on all interfaces: the producer then refuses to start
# without KOMO_BRAZE_WEBHOOK_TOKEN or KOMO_BRAZE_WEBHOOK_HMAC_SECRET.
ENV PATH=/opt/komo-braze/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KOMO_BRAZE_LOG_FORMAT=json \
    KOMO_BRAZE_PRODUCER_BIND=0.0.0.0:8080 \
    KOMO_BRAZE_WORKER_METRICS_BIND=0.0.0.0:9108
USER 10001:10001
# 8080 intake (producer), 9108 worker /metrics and health
EXPOSE 8080 9108
# no curl in the slim image: Python asks /healthz on whichever of the configured binds this process serves
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "komo_braze.healthcheck"]
ENTRYPOINT ["komo-braze"]
CMD ["--help"]
