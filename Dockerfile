# syntax=docker/dockerfile:1
# Build stage: wheels for the hub and its dependencies.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
# The same pins as `make run` and `make test`: a new release of a dependency cannot change the image.
COPY requirements/lock.txt requirements/lock.txt
COPY hub hub
COPY rest rest
COPY realtime realtime
COPY storage storage
RUN pip wheel --wheel-dir /wheels -c requirements/lock.txt .

# Runtime stage: slim, non-root, no compilers.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HUB_HOST=0.0.0.0 HUB_PORT=8080 HUB_DATA_DIR=/data HUB_ENV=production HUB_TRUST_FORWARDED=true
RUN useradd --system --create-home --uid 10001 hub && mkdir -p /data && chown hub /data
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY --chown=hub web web
COPY --chown=hub examples examples
USER hub
EXPOSE 8080
# `hub serve` only: a `hub worker` container has no HTTP port (probe its HUB_METRICS_LISTEN instead).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HUB_PORT', '8080'), timeout=2).status == 200 else 1)"
CMD ["hub", "serve"]
