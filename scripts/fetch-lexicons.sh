#!/usr/bin/env bash
# Puts the pattern sentiment lexicons (en, fr, it, nl) into OUT_DIR, checked
# against their known SHA-256, for compilation into the binary.
#
#   scripts/fetch-lexicons.sh OUT_DIR
#
# Sources, first match wins:
#   1. $LEXICON_DIR holding <lang>-sentiment.xml (or <lang>/<lang>-sentiment.xml)
#   2. a local pattern install (Debian's python3-pattern, or pip's Pattern)
#   3. a local TextBlob install (English only; the rest from 2 or 4)
#   4. Debian's python3-pattern .deb, fetched with `apt-get download` and
#      unpacked with `dpkg-deb -x` into a cache (nothing is installed).
# Nothing from the package is committed to the repository.
set -euo pipefail

out=${1:?usage: fetch-lexicons.sh OUT_DIR}
mkdir -p "$out"
cache=${LEXICON_CACHE:-$out/.deb-cache}

declare -A sha=(
  [en]=0ca603db55570bab9b2865716a3696ede01e3da02b570c47628a9dbcc3b37d1e
  [fr]=83ba5c699dd065683a62bdec214db852f13a34a833631b46136178757f5bd314
  [it]=21cf02c566a1c966a443e40bbf321b0199dd1cccbee24e2043ba72667df0a737
  [nl]=79284a8f68d496428dea494cd982490700beb83eb16e51d06a550894e8ef8d23
)

ok() { # ok FILE LANG: the file exists and has the expected hash
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "${sha[$2]}" ]
}

candidates() { # candidates LANG: possible paths, best first
  local l=$1
  if [ -n "${LEXICON_DIR:-}" ]; then
    echo "$LEXICON_DIR/$l-sentiment.xml"
    echo "$LEXICON_DIR/$l/$l-sentiment.xml"
  fi
  for d in /usr/lib/python3/dist-packages /usr/local/lib/python3*/dist-packages \
    /usr/local/lib/python3*/site-packages; do
    echo "$d/pattern/text/$l/$l-sentiment.xml"
    [ "$l" = en ] && echo "$d/textblob/en/en-sentiment.xml"
  done
  echo "$cache/x/usr/lib/python3/dist-packages/pattern/text/$l/$l-sentiment.xml"
}

find_one() { # find_one LANG: prints a verified path or nothing
  local p
  while read -r p; do
    for f in $p; do
      if ok "$f" "$1"; then
        echo "$f"
        return 0
      fi
    done
  done < <(candidates "$1")
  return 1
}

need_deb=0
for l in en fr it nl; do
  ok "$out/$l-sentiment.xml" "$l" && continue
  find_one "$l" >/dev/null || need_deb=1
done

if [ "$need_deb" = 1 ]; then
  mkdir -p "$cache"
  echo "fetch-lexicons: downloading Debian package python3-pattern (not installing it)"
  (cd "$cache" && rm -f python3-pattern_*.deb &&
    { apt-get download python3-pattern 2>/dev/null ||
      { apt-get update -q >/dev/null 2>&1 && apt-get download python3-pattern; }; }) ||
    { echo "fetch-lexicons: cannot download python3-pattern; set LEXICON_DIR" >&2; exit 1; }
  rm -rf "$cache/x"
  dpkg-deb -x "$cache"/python3-pattern_*.deb "$cache/x"
fi

for l in en fr it nl; do
  ok "$out/$l-sentiment.xml" "$l" && continue
  src=$(find_one "$l") || {
    echo "fetch-lexicons: no $l-sentiment.xml with SHA-256 ${sha[$l]}" >&2
    exit 1
  }
  cp "$src" "$out/$l-sentiment.xml"
  echo "fetch-lexicons: $l-sentiment.xml from $src"
done
