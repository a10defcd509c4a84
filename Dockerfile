# syntax=docker/dockerfile:1
# Tieout: one image for the API, the workers and the projector (the command picks the role).

# --- build: install tieout and its dependencies into a virtualenv ---------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gcc and OpenSSL's headers build the C extensions (engine/matching/_jaro.c and
# engine/_merkle.c); the runtime stage below takes the built virtualenv only
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/tieout
ENV PATH=/opt/tieout/bin:$PATH

WORKDIR /src
# pyproject.toml names README.md as the long description, so the build needs it.
COPY pyproject.toml setup.py README.md ./
COPY tieout ./tieout
COPY engine ./engine
COPY projections ./projections
COPY api ./api
COPY snapshots ./snapshots
RUN pip install .

# --- runtime: the virtualenv only, no sources, no build tools, not root ---------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/tieout/bin:$PATH \
    TIEOUT_HOME=/var/lib/tieout

RUN groupadd --system --gid 10001 tieout \
    && useradd --system --uid 10001 --gid tieout \
        --home-dir /var/lib/tieout --create-home --shell /usr/sbin/nologin tieout

COPY --from=build /opt/tieout /opt/tieout

USER tieout:tieout
WORKDIR /var/lib/tieout

# 8080: the API (`serve`); 9100: Prometheus metrics of `worker` and `projector`.
EXPOSE 8080 9100

ENTRYPOINT ["tieout"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
