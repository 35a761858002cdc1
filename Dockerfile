# smart-router: one image for every mode (operator by default, standalone).
# Build: docker build -t smart-router:0.1.0 .
# Without a registry, `make image` builds it with podman on bases made from
# Debian packages (hack/build-image.sh passes BUILD_IMAGE and RUNTIME_IMAGE).
ARG BUILD_IMAGE=node:20-bookworm-slim
# Any base with node at /nodejs/bin/node and a user nonroot (65532).
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
# A CA bundle for npm behind a TLS-inspecting proxy (mounted at build time, never copied).
ARG NODE_EXTRA_CA_CERTS
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api ./api
COPY bench ./bench
COPY cli ./cli
COPY core ./core
COPY lua ./lua
COPY operator ./operator
COPY tools ./tools
COPY crds ./crds
RUN npm run build && npm prune --omit=dev

FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/api ./dist/api
COPY --from=build /src/dist/cli ./dist/cli
COPY --from=build /src/dist/core ./dist/core
COPY --from=build /src/dist/lua ./dist/lua
COPY --from=build /src/dist/operator ./dist/operator
# Read at run time: the Lua scripts, the CRD (standalone validation), the OpenAPI document.
COPY --from=build /src/lua ./lua
COPY --from=build /src/crds ./crds
COPY examples ./examples
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["operator"]
