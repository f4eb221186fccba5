#!/usr/bin/env bash
# The library as an app depends on it: Examples/ClassifyImages is built against a git clone of
# this checkout, tagged with the release in Sources/Core/About/FineTuneVersion.swift, through
# `.package(url:, from:)`, the way an app resolves a release (SwiftPM refuses a package resolved
# by version whose products carry unsafe flags). The app then classifies the held-out images
# of a small model trained here, and must agree with `finetune predict`.
# Usage: scripts/example.sh BIN_DIR   (make example passes the release build folder)
# Only committed files are in the clone.
set -euo pipefail
bin="${1:?usage: scripts/example.sh BIN_DIR}"
ft="$bin/finetune"
root="$(cd "$(dirname "$0")/.." && pwd)"
example="$root/Examples/ClassifyImages"
version="$(sed -n 's/.*static let release = "\(.*\)".*/\1/p' "$root/Sources/Core/About/FineTuneVersion.swift")"
for file in "$example/Package.swift" "$root/README.md"; do
    grep -q "from: \"$version\"" "$file" \
        || { echo "error: $file does not ask for release $version (from: \"$version\"): update it" >&2; exit 1; }
done
# The README's "In a Swift app" shows the example's main.swift as it is, so neither drifts.
main="$example/Sources/ClassifyImages/main.swift"
if ! diff -u "$main" <(awk '/^## In a Swift app/{on=1; next} on && /^```swift$/{copy=1; next} copy && /^```$/{exit} copy' "$root/README.md") >&2; then
    echo "error: README.md's \"In a Swift app\" must show $main as it is (the diff above)" >&2; exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

git clone -q "$root" "$work/finetune"
git -C "$work/finetune" tag "$version"
cp -R "$example" "$work/app"
rm -rf "$work/app/.build" "$work/app/Package.resolved"
echo "== Examples/ClassifyImages against finetune $version (a tagged clone, resolved by version)"
FINETUNE_PACKAGE_URL="file://$work/finetune" swift build --package-path "$work/app" --scratch-path "$work/app/.build"
app="$(swift build --package-path "$work/app" --scratch-path "$work/app/.build" --show-bin-path)/ClassifyImages"
[ -f "$(dirname "$app")/libResNet.so" ] || { echo "error: the ResNet product was not built next to the app" >&2; exit 1; }

echo "== A small model to run it on"
"$ft" demo-data "$work/data" --per-class 8 >/dev/null
"$ft" train --backbone resnet18 --data "$work/data" --strategy freeze --epochs 1 --input-size 32 \
    --output "$work/run" --seed 1 >/dev/null || { echo "error: training the example's model failed" >&2; exit 1; }
images=("$work"/data/holdout/*)

echo "== The app, with no plugin flags or environment"
out="$(env -u FINETUNE_PLUGIN_PATH XDG_DATA_HOME="$work/no-user-plugins" "$app" "$work/run/best.safetensors" "${images[@]}")"
echo "$out" | sed "s|$work/||g"
expected="$("$ft" predict --model "$work/run/best.safetensors" --top-k 1 "${images[@]}" | sed 's/ [0-9.]*$//')"
got="$(echo "$out" | grep -F "$work/data/holdout/" | sed 's/ [0-9.]*$//')"
[ "$got" = "$expected" ] || { echo "error: the app's classes differ from finetune predict's:" >&2; diff <(echo "$expected") <(echo "$got") >&2; exit 1; }
echo "$out" | grep -q "classified in memory: ${#images[@]}" || { echo "error: the app did not classify every image in memory" >&2; exit 1; }
echo "The example app built against release $version and agrees with finetune predict on ${#images[@]} images."
