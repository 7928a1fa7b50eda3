# CrowdPulse in a container: the wheel is built in one stage and installed in a slim one, which runs as
# a numeric non-root user with its data (the SQLite file) on the /data volume. README: "Run it with Docker".
# Secrets (bot tokens) come from the environment at run time, never from the image.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md settings.toml ./
COPY bot ./bot
COPY adapters ./adapters
COPY tasks_catalog ./tasks_catalog
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    CROWDPULSE_STORAGE__PATH=/data/crowdpulse.db
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin crowdpulse \
    && mkdir /data \
    && chown 10001:10001 /data
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
# Settings, catalog and the database's schema; no request to the platforms, no scan of the data.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["crowdpulse", "doctor", "--quick"]
ENTRYPOINT ["crowdpulse"]
CMD ["run"]
