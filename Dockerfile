# syntax=docker/dockerfile:1
# The Finks code-location image: one image serves the gRPC code server (the user deployment),
# the run pods the K8sRunLauncher starts from it, and the data API (`finks-api serve`).
#
#   docker build -t finks:dev .
#   docker run --rm -p 3030:3030 finks:dev          # code server on :3030
#
# Stage 1 installs the runtime set of uv.lock (the lock CI tests; `make lock`) and the k8s extra
# into a venv with `uv sync --frozen --no-dev` (uv checks every wheel against the lock's hashes)
# and bakes the dbt manifest (`dbt parse`), so nothing is parsed at container start.
# Stage 2 is the slim runtime: no compilers, no pip cache, no secrets, a non-root user.

# The highest Python of the policy (pyproject's requires-python; CI also tests the lowest, 3.11).
ARG PYTHON_IMAGE=python:3.13-slim-bookworm

# uv's own image, only to copy its static binary into the builder (Dependabot bumps the tag).
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM ${PYTHON_IMAGE} AS builder
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# uv only lives in the builder; the runtime stage copies the finished venv.
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /app
# Dependencies first (own layer, re-used while only source changes): exactly uv.lock's runtime
# set plus the k8s extra (--frozen: the lock as committed, never re-resolved; --no-dev: no
# dependency group).
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --extra k8s --no-install-project --python /usr/local/bin/python3
# Source (.dockerignore is an allow-list: only the package, the dbt project and metadata).
COPY . .
# The project goes in editable (uv's default), which keeps finks_assets next to finks_dbt (gold.py
# finds the dbt project relative to the package), then the manifest is built here, once.
RUN uv sync --frozen --no-dev --extra k8s --python /usr/local/bin/python3 \
    && FINKS_DATA_DIR=/tmp/finks-build dbt parse --project-dir finks_dbt --profiles-dir finks_dbt \
    && test -s finks_dbt/target/manifest.json \
    && rm -rf finks_dbt/logs logs /tmp/finks-build

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="finks" \
      org.opencontainers.image.description="Finks Dagster code location and data API" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DAGSTER_DISABLE_TELEMETRY=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    FINKS_DATA_DIR=/tmp/finks
RUN groupadd --gid 10001 finks \
    && useradd --uid 10001 --gid finks --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin finks \
    && mkdir -p /opt/dagster/dagster_home \
    && chown finks:finks /opt/dagster/dagster_home
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=root:root /app /app
# dbt writes run artifacts next to the manifest: only target/ is writable by the runtime user.
RUN chown -R finks:finks /app/finks_dbt/target
WORKDIR /app
USER 10001:10001
EXPOSE 3030 8000
# Same check the Helm chart's readiness probe runs; docker/compose users get it for free.
# (Kubernetes ignores HEALTHCHECK: the API Deployment probes /healthz and /readyz instead.)
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "3030"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "finks_assets.definitions"]
