#!/usr/bin/env bash
# Puts VADER's valence lexicon (vader_lexicon.txt) into OUT_DIR, checked
# against its known SHA-256, for compilation into the binary by
# tools/vadergen.py.
#
#   scripts/fetch-vader.sh OUT_DIR
#
# The lexicon is the one of Hutto & Gilbert's VADER (MIT), as shipped in the
# npm package vader-sentiment (a JavaScript port, Apache-2.0). Sources, first
# match wins:
#   1. $VADER_DIR holding vader_lexicon.txt
#   2. the package tarball in the cache ($VADER_CACHE, else $LEXICON_CACHE,
#      else OUT_DIR/.npm-cache)
#   3. `npm pack vader-sentiment@VERSION` into that cache (nothing is
#      installed; npm checks the tarball's integrity against the registry).
# Nothing from the package is committed to the repository.
set -euo pipefail

out=${1:?usage: fetch-vader.sh OUT_DIR}
mkdir -p "$out"
cache=${VADER_CACHE:-${LEXICON_CACHE:-$out/.npm-cache}}
version=1.1.3
tarball=vader-sentiment-$version.tgz
want=ffb6117bfccf798a34e91d72f50604329946e6fd763668092618d5c5b340a298

ok() { # ok FILE: the file exists and has the expected hash
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$want" ]
}

dest=$out/vader_lexicon.txt
ok "$dest" && exit 0

if [ -n "${VADER_DIR:-}" ] && ok "$VADER_DIR/vader_lexicon.txt"; then
  cp "$VADER_DIR/vader_lexicon.txt" "$dest"
  echo "fetch-vader: vader_lexicon.txt from $VADER_DIR"
  exit 0
fi

mkdir -p "$cache"
if [ ! -f "$cache/$tarball" ]; then
  echo "fetch-vader: downloading npm package vader-sentiment@$version (not installing it)"
  (cd "$cache" && npm pack --silent "vader-sentiment@$version" >/dev/null) ||
    { echo "fetch-vader: cannot fetch vader-sentiment@$version; set VADER_DIR" >&2; exit 1; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$cache/$tarball" -C "$tmp" package/vader_lexicon.txt
if ! ok "$tmp/package/vader_lexicon.txt"; then
  echo "fetch-vader: vader_lexicon.txt in $cache/$tarball does not have SHA-256 $want" >&2
  exit 1
fi
cp "$tmp/package/vader_lexicon.txt" "$dest"
echo "fetch-vader: vader_lexicon.txt from $cache/$tarball"
