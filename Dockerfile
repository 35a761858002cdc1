# smart-router: one image for every mode (operator by default, standalone).
# Build: docker build -t smart-router:0.1.0 .

FROM node:20-bookworm-slim AS build
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

FROM gcr.io/distroless/nodejs20-debian12:nonroot
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
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["operator"]
