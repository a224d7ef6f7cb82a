#!/usr/bin/env bash
# Puts libexttextcat's character n-gram profiles (<code>.lm) of the
# languages the identifier knows into OUT_DIR, each checked against its
# known SHA-256, for compilation into the binary by tools/langgen.py.
#
#   scripts/fetch-langprofiles.sh OUT_DIR
#
# The profiles are those of Debian's libexttextcat-data (BSD 3-clause,
# WiseGuys Internet B.V.; see docs/languages.md). Sources, first match wins:
#   1. $LANGPROFILE_DIR holding <code>.lm
#   2. a local install of libexttextcat-data (/usr/share/libexttextcat)
#   3. Debian's libexttextcat-data .deb, fetched with `apt-get download` and
#      unpacked with `dpkg-deb -x` into a cache ($LEXICON_CACHE, else
#      OUT_DIR/.deb-cache; nothing is installed).
# Nothing from the package is committed to the repository.
set -euo pipefail

out=${1:?usage: fetch-langprofiles.sh OUT_DIR}
mkdir -p "$out"
cache=${LEXICON_CACHE:-$out/.deb-cache}
unpacked=$cache/libexttextcat-data

declare -A sha=(
  [en]=8b955199513584076b185bec42bb2c257271b8499c5e071e465141670bc2e31e
  [fr]=8522d1b0fd9978962e61182797eda7e51cba0277cc839a7b32312b16ed1cc906
  [de]=ca7abe143e47f562c913e11ea1190a3dd601528352a63b241f3b7d41348ab21b
  [es]=a68f77c09de76cb5e46c56161f8e5cb73f9de68390c51c5ed9eccad1f0071b3c
  [it]=ce3f6fb90a61dc6520378504e13522664a43184bbfa563a893d33b02f50db5e6
  [nl]=33f2c318e89bbe41e5e230cd5575e1233bc64249394f3c0b665971ee438ffe3f
  [pt]=d4719231f41e9139d133078be72b1a2d4a99614fab79d04604f7898e08ac96b9
  [pl]=fb675b06c715173816a7eade0d8fd217046a488ba9071395fcd778c518b313c8
  [cs]=92ea1308b0fffb418fa38cc3054be76a1305ea338f577eb5206668f6bf985963
  [sk]=8460f49e8aa9502705808158962c29c02ceaae6ac6ae5b088d745f8c8e22eadf
  [sv]=2c68cca8dd1dfe8e2f193b7043c4c8e416c0aff12dd0f04fbe61d8b3a9e1327a
  [da]=a14a80b7668ddedf071e356ed39d1fa6c6eda692bc7a6193a0e6dd8c39c5ec94
  [nb]=334d783d8c2989b8235c92473b4abc44789685f1b906953f24c1ce751c527862
  [fi]=43003d9f2a14db92c57b0a3800b9342a212d3905717b5565bb5dc02150b9a4c7
  [tr]=07876d7a031696b43ef3ce077645dcaf6500a4b74d549a98119bed7dc9da619f
  [ro]=e44de33d2d1341d9b5156761b23f024f1999536dff0a10186365b7b42d6323a7
  [hu]=5ec2fcf2a89184ada432adc6ccfa3d0ecdee4dcd3a7b1c12a81455b2ae6f9b8e
  [id]=82bf165eb49adf67f57692a5c20c6dfd6ad5ae5be15da0b0f57509805f9298d1
  [ca]=8ea997878369351902151d174ba13f73a7a71fd7f9e3b0c0a016db3a75f6bca2
  [hr]=aa7b4306fce4de94a3ead250b93ebf699324801488faddfe438a562f73a6cd23
  [sl]=019b295b508a0b2b92a04b39e66a65d37eb81708a9b2b5b87c66cc8ea8f25c3a
  [et]=caf7cd2ffb3a003736bcdda9f723308af4ac6dd85801864012c7ab167780ea39
  [lv]=6897d396169f637601b7deacc93ebeda4661dbc8fb7e85e58d93304056828224
  [lt]=8a5bd7939ecb1bfe269466d21f88adfa31590a57a4e67441eaa8284ab57b3c6d
  [is]=3c0e474f145547373fec579269dc730f5e670b9f1e3b65cc58474cb1aaa4aad0
  [af]=ba673317a25ae2e83cc4e956f574934cad6750277b91a7eb56ddf70abb105ce3
  [sq]=a53e74552eee93a4af03b889d3d8cca5726b42e5086d776655505e69e5068494
)
langs=(en fr de es it nl pt pl cs sk sv da nb fi tr ro hu id ca hr sl et lv lt is af sq)

ok() { # ok FILE CODE: the file exists and has the expected hash
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "${sha[$2]}" ]
}

candidates() { # candidates CODE: possible paths, best first
  [ -n "${LANGPROFILE_DIR:-}" ] && echo "$LANGPROFILE_DIR/$1.lm"
  echo "/usr/share/libexttextcat/$1.lm"
  echo "$unpacked/usr/share/libexttextcat/$1.lm"
}

find_one() { # find_one CODE: prints a verified path or nothing
  local f
  while read -r f; do
    if ok "$f" "$1"; then
      echo "$f"
      return 0
    fi
  done < <(candidates "$1")
  return 1
}

need_deb=0
for l in "${langs[@]}"; do
  ok "$out/$l.lm" "$l" && continue
  find_one "$l" >/dev/null || need_deb=1
done

if [ "$need_deb" = 1 ]; then
  mkdir -p "$cache"
  if ! ls "$cache"/libexttextcat-data_*.deb >/dev/null 2>&1; then
    echo "fetch-langprofiles: downloading Debian package libexttextcat-data (not installing it)"
    (cd "$cache" &&
      { apt-get download libexttextcat-data 2>/dev/null ||
        { apt-get update -q >/dev/null 2>&1 && apt-get download libexttextcat-data; }; }) ||
      { echo "fetch-langprofiles: cannot download libexttextcat-data; set LANGPROFILE_DIR" >&2; exit 1; }
  fi
  rm -rf "$unpacked"
  dpkg-deb -x "$(ls "$cache"/libexttextcat-data_*.deb | tail -1)" "$unpacked"
fi

for l in "${langs[@]}"; do
  ok "$out/$l.lm" "$l" && continue
  src=$(find_one "$l") || {
    echo "fetch-langprofiles: no $l.lm with SHA-256 ${sha[$l]}" >&2
    exit 1
  }
  cp "$src" "$out/$l.lm"
done
echo "fetch-langprofiles: ${#langs[@]} profiles in $out"
