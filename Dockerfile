# The tenantops controller image: `docker build -t tenantops/controller:0.1.0 .`
# Runs as a non-root user and writes nothing to its root filesystem (state, HOME and caches live on
# mounted volumes), so the Deployment can set readOnlyRootFilesystem.
# Only the product distribution is installed: no lab (tools/tenantops-lab: local servers, demo, benchmarks),
# no `infra` extra (the Pulumi SDKs; the controller never provisions).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controllers ./controllers
RUN python -m pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    TENANTOPS_STATE=/var/lib/tenantops/state.db \
    TENANTOPS_CATALOG=/etc/tenantops/catalog/catalog.yaml \
    TENANTOPS_POLICIES=/etc/tenantops/policies \
    TENANTOPS_HTTP_PORT=8080
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 tenantops \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin tenantops \
    && mkdir -p /var/lib/tenantops /etc/tenantops/catalog /etc/tenantops/policies \
    && chown 10001:10001 /var/lib/tenantops
COPY --chown=10001:10001 stacks/dev.catalog.yaml /etc/tenantops/catalog/catalog.yaml
COPY --chown=10001:10001 policies/ /etc/tenantops/policies/
USER 10001:10001
VOLUME ["/var/lib/tenantops", "/tmp"]
EXPOSE 8080
ENTRYPOINT ["tenantops"]
CMD ["run"]
