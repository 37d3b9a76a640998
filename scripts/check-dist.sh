#!/usr/bin/env bash
# Fails when the committed dist/ differs from a fresh build of the source, including new untracked
# bundles (git status, unlike git diff, sees those). Same idea as github/codeql-action's check-js.sh.
set -euo pipefail
npm run -s build
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ is not up to date with the source. Run 'npm run build' and commit dist/." >&2
  git status --porcelain -- dist >&2
  git --no-pager diff --stat -- dist >&2 || true
  exit 1
fi
echo "dist/ matches the source."
