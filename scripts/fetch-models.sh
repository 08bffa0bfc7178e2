#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Fetch the pretrained detector weights into DIR: MediaPipe's BlazeFace
# models from @mediapipe/face_detection and CenterNet from @vladmandic/human,
# both taken from the npm registry with `npm pack`.  Every file is checked
# against models/SHA256SUMS before it lands in DIR, so DIR never contains an
# unverified model.  Idempotent: nothing is downloaded when DIR already holds
# the four verified files.
#
# usage: scripts/fetch-models.sh DIR

set -eu

MEDIAPIPE=@mediapipe/face_detection@0.4.1657300184
HUMAN=@vladmandic/human@3.3.6

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
root=$(cd "$(dirname "$0")/.." && pwd)
sums="$root/models/SHA256SUMS"

fail() {
    echo "fetch-models: $*" >&2
    exit 1
}

# Checks the files named in SHA256SUMS inside directory $1.
verify() {
    (cd "$1" && sha256sum --check --strict --quiet "$sums")
}

[ -r "$sums" ] || fail "checksum list '$sums' not found"

if [ -d "$dir" ] && verify "$dir" >/dev/null 2>&1; then
    echo "models in '$dir' already present and verified"
    exit 0
fi

command -v npm >/dev/null 2>&1 ||
    fail "npm not found: install it with scripts/install-deps.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "downloading $MEDIAPIPE and $HUMAN with npm pack"
(cd "$tmp" && npm pack --silent "$MEDIAPIPE" "$HUMAN" >/dev/null) ||
    fail "npm pack failed: check the network connection and npm's registry setting"

mkdir "$tmp/out"
tar -xzf "$tmp"/mediapipe-face_detection-*.tgz -C "$tmp" \
    package/face_detection_full_range.tflite \
    package/face_detection_short_range.tflite ||
    fail "MediaPipe package lacks the face detection models"
mv "$tmp"/package/face_detection_*_range.tflite "$tmp/out/"
rm -rf "$tmp/package"
tar -xzf "$tmp"/vladmandic-human-*.tgz -C "$tmp" \
    package/models/centernet.json package/models/centernet.bin ||
    fail "human package lacks models/centernet.json or models/centernet.bin"
mv "$tmp"/package/models/centernet.* "$tmp/out/"

if ! verify "$tmp/out"; then
    fail "downloaded models do not match models/SHA256SUMS; nothing was installed"
fi

mkdir -p "$dir"
for f in "$tmp"/out/*; do
    cp "$f" "$dir/.$(basename "$f").part"
    mv "$dir/.$(basename "$f").part" "$dir/$(basename "$f")"
done
verify "$dir" || fail "models copied to '$dir' failed verification"
echo "models installed in '$dir' and verified"
