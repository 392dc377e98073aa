# realtime-gateway image. docs/image.md: building with Docker or podman, the local base image,
# running with a read-only root filesystem, the smoke test (scripts/image-smoke.js).
#
#   docker build -t realtime-gateway .
#   podman build --network=host -t realtime-gateway \
#     --build-arg BASE_IMAGE=localhost/realtime-gateway-base:bookworm-node20 .
#
# BASE_IMAGE: any Debian bookworm image with Node.js 20 and npm on PATH and a user `node` with
# uid/gid 1000 (the official node:20-bookworm-slim, or the one scripts/image-base.sh builds).
# Optional build secret `npm_ca` (--secret id=npm_ca,src=ca.pem): extra CA certificates for npm,
# for a registry reached through a TLS-intercepting proxy; it never lands in a layer.
ARG BASE_IMAGE=node:20-bookworm-slim

# Production dependencies only, from the lockfile. No install scripts: none of them needs one
# (the only one, @scarf/scarf's, reports install analytics).
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
    && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=warn

# Compile the server (TypeScript needs the dev dependencies: typescript and the @types packages),
# and bundle the demo page (/demo, served in production only with DEMO_ENABLED=true) with the
# client package it runs on (esbuild, a dev dependency). Nothing else is compiled.
FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
    && npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=warn
COPY tsconfig.json ./
COPY server ./server
COPY shared ./shared
RUN printf '%s\n' '{"extends": "./tsconfig.json", "include": ["server", "shared"], "compilerOptions": {"types": ["node"], "sourceMap": false}}' > tsconfig.image.json \
    && npx tsc -p tsconfig.image.json
COPY clients ./clients
COPY demo ./demo
RUN node clients/build.mjs && npx tsc -p demo/tsconfig.json && node demo/build.mjs

# Run: the compiled server and its production dependencies, owned by root and read-only to the
# user that runs them. The app writes only to /tmp and UPLOAD_DIR: run it with a read-only root
# filesystem and those two as volumes (docs/image.md; the Helm chart mounts two emptyDirs).
FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    PORT=3000 \
    UPLOAD_DIR=/app/uploads
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/server ./dist/server
COPY --from=build /app/dist/shared ./dist/shared
COPY --from=build /app/dist/demo ./dist/demo
# The disk store of uploads (UPLOAD_DIR). Mode 1777, as /tmp: runc gives a tmpfs mounted here
# (docker/podman run --tmpfs /app/uploads) this directory's mode and root as owner, so the node
# user can write to it only if everyone can; a new named or anonymous volume copies owner and mode.
RUN mkdir -p /app/uploads && chown 1000:1000 /app/uploads && chmod 1777 /app/uploads
VOLUME ["/tmp", "/app/uploads"]
# Numeric: Kubernetes' runAsNonRoot can check it (the user is `node`).
USER 1000:1000
EXPOSE 3000
# Exec form: SIGTERM reaches node (PID 1) directly; the gateway drains and exits 0.
CMD ["node", "dist/server/index.js"]
