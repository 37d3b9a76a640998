#!/usr/bin/env bash
# Prepares PostgreSQL's own regression suite as a test corpus for Lifeboat (issue 17): the regression
# SQL of the installed server's Debian source package, and the C modules it loads (regress.so from
# src/test/regress, autoinc.so and refint.so from contrib/spi), compiled against the server's headers.
# The integration test test/integration/regression-corpus.test.ts runs this schedule with pg_regress
# into the test cluster to build the `regression` database pg_dump and pg_upgrade are themselves tested on.
#
# Idempotent and cached: everything goes under .cache/regression-corpus/<package version>/ (git-ignored),
# and a second run for the same installed version does nothing. .ci/run calls it; run it by hand once
# before running that test. Needs root or sudo only the first time, for apt (deb-src entries, index).
#
#   scripts/regression-corpus.sh            # prepare (or confirm) the corpus
#   PG_MAJOR=16 scripts/regression-corpus.sh   # for another installed major (default: the newest one,
#                                              # which is the one the test cluster runs)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${LIFEBOAT_CORPUS_DIR:-$ROOT/.cache/regression-corpus}"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

now_ms() { echo $(($(date +%s%N) / 1000000)); }
seconds_since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
step_started=0
step() { step_started=$(now_ms); printf '• %s… ' "$1"; }
done_step() { echo "done in $(seconds_since "$step_started") s"; }

# The server the tests run: the newest /usr/lib/postgresql/N (as src/sandbox/postgres-cluster.ts picks it).
if [ -z "${PG_MAJOR:-}" ]; then
  PG_MAJOR="$(ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1 || true)"
fi
if [ -z "$PG_MAJOR" ] || [ ! -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ]; then
  echo "No PostgreSQL server under /usr/lib/postgresql. Install one first: ${SUDO:+sudo }apt-get install -y postgresql" >&2
  exit 2
fi
PACKAGE="postgresql-$PG_MAJOR"
VERSION="$(dpkg-query -W -f='${Version}' "$PACKAGE" 2>/dev/null || true)"
if [ -z "$VERSION" ]; then
  echo "$PACKAGE is not installed from Debian's packages, so its source package cannot be found." >&2
  exit 2
fi
PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
PG_REGRESS="/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress" # shipped by postgresql-client-N
DIR="$CACHE/$VERSION"
# Bump when what this script builds changes, so that existing caches are rebuilt.
RECIPE=2

if grep -qsx "recipe $RECIPE" "$DIR/ready" && [ -f "$CACHE/corpus.json" ] && grep -q "\"version\": \"$VERSION\"" "$CACHE/corpus.json"; then
  echo "Regression corpus for $PACKAGE $VERSION is ready (cached in $DIR)."
  exit 0
fi
echo "Preparing the regression corpus for $PACKAGE $VERSION in $DIR"
total_started=$(now_ms)
rm -rf "$DIR"
mkdir -p "$DIR/download"

# 0. Tools: dpkg-source (dpkg-dev) unpacks the source package, gcc builds the modules.
missing=()
command -v dpkg-source >/dev/null 2>&1 || missing+=(dpkg-dev)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  done_step
fi

# 1. Source packages must be known to apt. Add deb-src twins of the existing deb entries when none exist.
step "apt source index"
if ! apt-cache showsrc "$PACKAGE" 2>/dev/null | grep -qx "Version: $VERSION"; then
  if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    sources=""
    for file in /etc/apt/sources.list.d/*.sources; do
      [ -f "$file" ] || continue
      sources+="$(sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$file")"$'\n\n'
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$file" ] || continue
      sources+="$(grep -E '^deb ' "$file" | sed -E 's/^deb /deb-src /' || true)"$'\n'
    done
    if ! grep -q 'deb-src' <<<"$sources"; then
      echo "no apt sources to derive deb-src entries from" >&2
      exit 2
    fi
    # Old one-line entries cannot go into a deb822 file; keep each kind in its own file.
    if grep -q '^Types:' <<<"$sources"; then
      grep -v '^deb-src ' <<<"$sources" | $SUDO tee /etc/apt/sources.list.d/lifeboat-deb-src.sources >/dev/null
    fi
    if grep -q '^deb-src ' <<<"$sources"; then
      grep '^deb-src ' <<<"$sources" | $SUDO tee /etc/apt/sources.list.d/lifeboat-deb-src.list >/dev/null
    fi
  fi
  $SUDO apt-get update -qq
fi
done_step

# 2. The exact source of the installed server (Debian's patches applied), and its server headers.
step "apt-get source $PACKAGE=$VERSION"
(cd "$DIR/download" && apt-get source -qq "$PACKAGE=$VERSION" >/dev/null 2>&1) || {
  echo; echo "apt-get source $PACKAGE=$VERSION failed:" >&2
  (cd "$DIR/download" && apt-get source "$PACKAGE=$VERSION") >&2 || true
  exit 2
}
source_tree="$(find "$DIR/download" -mindepth 1 -maxdepth 1 -type d | head -1)"
done_step

INCLUDE_SERVER="$("$PG_CONFIG" --includedir-server)"
if [ ! -f "$INCLUDE_SERVER/postgres.h" ]; then
  # postgresql-server-dev-N would pull in clang and LLVM (hundreds of MB) for headers the compiler
  # alone needs, so unpack the package's files into the cache instead of installing it.
  step "server headers (postgresql-server-dev-$PG_MAJOR=$VERSION, unpacked)"
  (cd "$DIR/download" && apt-get download -qq "postgresql-server-dev-$PG_MAJOR=$VERSION" >/dev/null 2>&1) || {
    echo; echo "apt-get download postgresql-server-dev-$PG_MAJOR=$VERSION failed" >&2; exit 2; }
  dpkg-deb -x "$DIR"/download/postgresql-server-dev-"$PG_MAJOR"_*.deb "$DIR/server-dev"
  INCLUDE_SERVER="$DIR/server-dev$INCLUDE_SERVER"
  done_step
fi

# 3. Keep only what the schedule needs; the rest of the tree is 160 MB.
step "keep src/test/regress"
mkdir -p "$DIR/regress"
cp -r "$source_tree/src/test/regress/"{sql,expected,data,parallel_schedule,resultmap} "$DIR/regress/"
cp "$source_tree/src/test/regress/regress.c" "$source_tree/contrib/spi/autoinc.c" "$source_tree/contrib/spi/refint.c" "$DIR/"
rm -rf "$DIR/download"
done_step

# 4. The C functions the regression SQL loads, built the way PGXS would build them.
step "compile regress.so, autoinc.so, refint.so"
mkdir -p "$DIR/lib"
# shellcheck disable=SC2046 # pg_config's flags are meant to be split into words
for module in regress autoinc refint; do
  # contrib/spi's Makefile builds refint with REFINT_VERBOSE, and the triggers test expects its notices.
  gcc $("$PG_CONFIG" --cflags) $("$PG_CONFIG" --cflags_sl) -DREFINT_VERBOSE -I"$INCLUDE_SERVER" -shared \
    -o "$DIR/lib/$module.so" "$DIR/$module.c"
done
done_step

[ -x "$PG_REGRESS" ] || { echo "pg_regress not found at $PG_REGRESS (it comes with postgresql-client-$PG_MAJOR)" >&2; exit 2; }

# The server, running as the postgres user, loads the modules and reads the data files itself.
chmod -R a+rX "$CACHE"
cat >"$CACHE/corpus.json" <<EOF
{
  "package": "$PACKAGE",
  "version": "$VERSION",
  "major": $PG_MAJOR,
  "pgRegress": "$PG_REGRESS",
  "inputDir": "$DIR/regress",
  "schedule": "$DIR/regress/parallel_schedule",
  "dlpath": "$DIR/lib"
}
EOF
echo "recipe $RECIPE" >"$DIR/ready"
echo "Regression corpus ready in $(seconds_since "$total_started") s: $CACHE/corpus.json"
