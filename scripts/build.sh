#!/usr/bin/env bash
# Production build into dist/ (or $1): compiled JavaScript (tsc emits the decorator metadata Nest
# needs), the prebuilt workflow bundle, and the files read at run time next to the code that reads
# them: each pipeline package's files that are not code (its SQL, read by activities/bigquery/sql.ts),
# the model programs the worker runs for predict/evaluate, machine images.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
rm -rf "$out"
npx tsc -p tsconfig.build.json --outDir "$out"
find pipelines -type f ! -name '*.ts' -exec cp --parents {} "$out/" \;
cp -r models machine-images "$out/"
node "$out/scripts/build-workflow-bundle.js" "$out/workflow-bundle.js"
