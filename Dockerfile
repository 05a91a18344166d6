# stembot's images. `docker build .` makes the CPU image (the last stage, `runtime`);
# `docker build --target gpu .` makes the CUDA one. compose.yaml builds both.

FROM node:20-bookworm-slim AS node-base
WORKDIR /app
# onnxruntime-node's install script downloads its CUDA provider from NuGet (hundreds of MB);
# the CPU build ships inside the npm package, so every stage skips the download unless it asks.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Compiles dist/ with the dev dependencies (TypeScript); none of them reach an image.
FROM node-base AS build
COPY package.json package-lock.json ./
# --ignore-scripts: the root `prepare` script would run tsc before the sources are here.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json stembot.ts ./
COPY bots ./bots
COPY core ./core
COPY worker ./worker
COPY migrations ./migrations
RUN npm run build

# Run-time dependencies only. --ignore-scripts keeps the root `prepare` (tsc, a dev dependency)
# from running; `npm rebuild` then runs the dependencies' own install scripts, onnxruntime-node's
# CUDA download skipped by ONNXRUNTIME_NODE_INSTALL=skip. onnxruntime-node ships binaries for
# macOS and Windows too (about 220 MB): a Linux image needs none of them.
FROM node-base AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32

# The same dependencies plus onnxruntime-node's CUDA 12 provider. `true` forces the download
# (onnxruntime-node 1.30 reads `cuda12` as "not set"); `test -f` fails the build if it did not land.
FROM deps AS deps-cuda
RUN ONNXRUNTIME_NODE_INSTALL=true npm rebuild onnxruntime-node \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# GPU image: CUDA 12 + cuDNN 9 (what onnxruntime's CUDA 12 builds need) with Node 20's binary.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS gpu
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node-base /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=deps-cuda /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Owned by uid 1000 so that volumes Docker creates on these paths start writable for the user.
RUN mkdir -p /data/files /data/models /data/tmp \
 && chown -R 1000:1000 /data
# TEMP_DIR holds decoded tracks (hundreds of MB each): on the data volume, not in a RAM tmpfs.
ENV DATA_DIR=/data \
    TEMP_DIR=/data/tmp \
    ONNX_DEVICE=cuda \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080 \
    YTDL_NO_UPDATE=1 \
    YTDL_NO_DEBUG_FILE=1
VOLUME ["/data"]
# uid 1000 is `ubuntu` here and `node` in the CPU image: both read and write the shared stems.
USER 1000:1000
EXPOSE 8080 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.WEB_PORT || 8080}/healthz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/stembot.js"]
CMD ["start"]

# CPU image, the default target.
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data/files /data/models /data/tmp \
 && chown -R 1000:1000 /data
ENV DATA_DIR=/data \
    TEMP_DIR=/data/tmp \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080 \
    YTDL_NO_UPDATE=1 \
    YTDL_NO_DEBUG_FILE=1
VOLUME ["/data"]
USER 1000:1000
EXPOSE 8080 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.WEB_PORT || 8080}/healthz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/stembot.js"]
CMD ["start"]
