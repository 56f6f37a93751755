# Vireo: one broker node. Build: docker build -t vireo .
# Ports: 1883 MQTT, 8083 MQTT/WebSocket, 8883 MQTT/TLS and 8084 WSS (once certificates are
# configured), 18083 HTTP API + metrics + probes, 5370 cluster RPC.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# native modules (better-sqlite3) build here if no prebuilt binary fits
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY tests/package.json ./tests/package.json
# no lifecycle scripts at npm ci: the root `prepare` builds every project, tests included,
# which are not copied here; the packages that need their install script get it by rebuild
# (better-sqlite3: the native module; esbuild: builds the dashboard's page)
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild better-sqlite3 esbuild \
 && npx tsc -b packages/server \
 && node packages/dashboard/build.mjs \
 && npm prune --omit=dev --no-audit --no-fund \
 && find packages -name '*.test.*' -delete \
 && rm -rf packages/*/src packages/*/tsconfig*.json packages/*/dist/*.tsbuildinfo

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    VIREO_NODE__DATA_DIR=/var/lib/vireo \
    VIREO_LOG__FORMAT=json
WORKDIR /opt/vireo
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages
RUN mkdir -p /var/lib/vireo && chown node:node /var/lib/vireo
USER node
VOLUME ["/var/lib/vireo"]
EXPOSE 1883 8083 8883 8084 18083 5370
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:18083/status').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM stops the node cleanly (DISCONNECT 0x8B to MQTT 5 clients, exit 0)
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "packages/server/dist/cli.js"]
CMD ["start"]
