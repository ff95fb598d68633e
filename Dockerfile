# One image for every service of the product; the command picks the service:
#   python -m services.identity | services.certificates | services.reissue | ...
# and python -m services.ops for the operators' commands and the schema Job.
#
# Pin the base by digest when you build for production:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
# and build with --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml ./
COPY services ./services
# The pinned dependencies and the product go into a virtual environment that is
# copied whole into the runtime image; pip stays behind in this stage.
RUN python -m venv /opt/xjcert \
 && /opt/xjcert/bin/pip install --no-cache-dir --no-compile . \
 && /opt/xjcert/bin/pip uninstall --yes pip setuptools \
 && /opt/xjcert/bin/python -m compileall -q /opt/xjcert/lib

FROM ${PYTHON_IMAGE}
# libpq is what the pure-Python psycopg loads; nothing else comes from apt.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends libpq5 \
 && rm -rf /var/lib/apt/lists/* \
 && python -m pip uninstall --yes pip setuptools wheel \
 && groupadd --system --gid 10001 xjcert \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin xjcert
COPY --from=build /opt/xjcert /opt/xjcert
# The stand-ins for outside systems, for `python -m services.ops publish`.
COPY tools /app/tools
# The portal's pages, served by `python -m services.portal`.
COPY portal /app/portal
ENV PATH=/opt/xjcert/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XJCERT_HTTP_HOST=0.0.0.0 \
    XJCERT_PORTAL_PAGES=/app/portal
WORKDIR /app
USER 10001:10001
EXPOSE 8001 8002 8003 8004 8005 8080
CMD ["python", "-m", "services"]
