# Build: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY server ./server
COPY shared ./shared
COPY clients ./clients
COPY bench ./bench
COPY tests ./tests
RUN npx tsc -p tsconfig.json

# Run: production dependencies and the compiled server only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/server ./dist/server
COPY --from=build /app/dist/shared ./dist/shared
# The disk store of uploads (UPLOAD_DIR): the one place the gateway writes; mount a volume here.
RUN mkdir -p /app/uploads && chown node:node /app/uploads
USER node
EXPOSE 3000
# SIGTERM reaches node directly (exec form): the gateway stops gracefully and exits 0.
CMD ["node", "dist/server/index.js"]
