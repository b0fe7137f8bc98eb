#!/usr/bin/env bash
# Turns (part of) a video file into one clip folder of PNG frames for `--data folder:DIR`
# (docs/video-data.md), with Debian's ffmpeg (`apt-get install ffmpeg`).
#
#   scripts/video_to_clips.sh VIDEO OUT_DIR FPS [HEIGHT] [START_S END_S]
#
# FPS is the temporal sampling the model sees: consecutive frames of a sample are 1/FPS s apart.
# HEIGHT (default 64) is the frames' height; tessera centre-crops and resizes each frame to the
# model's size when it loads it, so a height at or above the model's keeps full detail. START_S and
# END_S (seconds) cut a time range, e.g. to keep a held-out part of a video for DIR/val.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  sed -n 2,10p "$0" >&2
  exit 2
fi
video=$1 out=$2 fps=$3 height=${4:-64}
command -v ffmpeg >/dev/null || { echo "video_to_clips: ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }
range=()
if [[ $# -ge 6 ]]; then
  range=(-ss "$5" -to "$6")
fi
mkdir -p "$out"
if compgen -G "$out/*.png" >/dev/null; then
  echo "video_to_clips: $out already holds frames; choose an empty folder" >&2
  exit 1
fi
# -an: no audio; -vf: resample in time, then scale to HEIGHT keeping the aspect (even width).
ffmpeg -nostdin -loglevel error "${range[@]}" -i "$video" -an \
  -vf "fps=$fps,scale=-2:$height" -start_number 1 "$out/%05d.png"
echo "$out: $(ls "$out" | wc -l) frames"
