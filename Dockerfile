# Minimal image for the Finks code location (hardened multi-stage build: see issue 7).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false FINKS_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY finks_assets ./finks_assets
COPY finks_dbt ./finks_dbt
COPY workspace.yaml dagster.yaml ./
RUN pip install --no-cache-dir -e . \
    && cd finks_dbt && dbt parse --profiles-dir . \
    && useradd --create-home --uid 10001 finks && mkdir -p /data && chown finks /data

USER finks
EXPOSE 3030
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "finks_assets.definitions"]
