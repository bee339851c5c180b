# Multi-stage: the build stage compiles with the dev dependencies, then drops them; the
# runtime stage gets production dependencies and dist/ only, and runs as a non-root user.
# Both stages use the same base so native modules (better-sqlite3) match the runtime.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY bin ./bin
# npm ci installs every dependency and runs `prepare`, which compiles src/ into dist/; the
# precompiled config validator is built next, then the dev dependencies are dropped.
RUN npm ci && node scripts/build-validator.mjs && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/bin ./bin
USER 10001:10001
EXPOSE 8000 8100
ENTRYPOINT ["node", "bin/northgate.js"]
CMD ["start", "--config", "/etc/northgate/northgate.yaml"]
