#!/usr/bin/env bash
# Refreshes the README's dashboard screenshots (docs/screenshots/) from the browser tests, which
# take them in real Chromium at 1280 px and 390 px (test-artifacts/screenshots/).
set -euo pipefail
cd "$(dirname "$0")/.."
npx vitest run test/browser/pipeline.test.ts test/browser/candidate.test.ts test/browser/approvals.test.ts \
  test/browser/lifecycle.test.ts
mkdir -p docs/screenshots
for name in matrix candidate approvals lifecycle; do
  for width in desktop phone; do
    cp "test-artifacts/screenshots/$name-$width.png" "docs/screenshots/$name-$width.png"
  done
done
ls -l docs/screenshots
