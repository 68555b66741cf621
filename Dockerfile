# One image for the worker and the API (docker-compose.yml picks the command).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN bash scripts/build.sh dist && npm prune --omit=dev

FROM node:20-bookworm-slim
# The worker reaches training VMs over SSH (ssh2 is pure JS); git pins model repos to commits and
# archives the pinned code; `python3` runs the model programs for predict and evaluate, with the
# libraries pinned in models/requirements.txt (scikit-learn, statsmodels, pandas), as on the VMs: the
# venv comes first on PATH, as a machine image puts its Python first (machine-images/README.md).
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY models/requirements.txt /opt/models-requirements.txt
RUN python3 -m venv /opt/models-python \
 && /opt/models-python/bin/pip install --no-cache-dir -r /opt/models-requirements.txt
ENV PATH="/opt/models-python/bin:$PATH"
WORKDIR /app
ENV NODE_ENV=production WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
USER node
CMD ["node", "dist/workers/main.js"]
