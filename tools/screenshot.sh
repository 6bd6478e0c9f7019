#!/usr/bin/env bash
# Screenshot of the real window under Xvfb: docs/screenshot.png.
#
#   tools/screenshot.sh [SOURCE] [extra `main.py gui` options]
#
# Installs (apt-get, only what is missing) Xvfb, the xcb libraries Qt's xcb platform plugin needs,
# xdotool and ImageMagick; starts `main.py gui` on the demo clip with the shipped default model,
# waits until detections are on screen, grabs the window with ImageMagick's `import`, and quits the
# app with its own Q shortcut (so a clean shutdown is part of the run).
#   SCREENSHOT_WAIT   seconds to let the model warm up before the grab (default 40)
#   SCREENSHOT_OUT    output file (default docs/screenshot.png)
#   SCREENSHOT_THRESHOLD  score threshold of the drawn boxes (default 0.3, the app's own default)
#   SCREENSHOT_SOURCES    several sources, space-separated (the window's grid), instead of SOURCE, e.g.
#                         SCREENSHOT_SOURCES="assets/demo/bikes.mp4 ../shared/data/video/vtest.avi"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
SOURCE="${1:-}"
[ $# -gt 0 ] && shift
if [ -z "$SOURCE" ]; then
    for candidate in assets/demo/bikes.mp4 assets/bikes.mp4 ../shared/data/video/bikes.mp4; do
        if [ -f "$candidate" ]; then SOURCE="$candidate"; break; fi
    done
fi
[ -n "$SOURCE" ] || { echo "error: no demo clip found: pass a video as the first argument" >&2; exit 2; }
SOURCE_ARGS=(--source "$SOURCE")
if [ -n "${SCREENSHOT_SOURCES:-}" ]; then
    SOURCE_ARGS=()
    for s in $SCREENSHOT_SOURCES; do
        [ -e "$s" ] || [[ "$s" == *://* ]] || { echo "error: $s (SCREENSHOT_SOURCES) does not exist" >&2; exit 2; }
        SOURCE_ARGS+=(--source "$s")
    done
fi
WAIT="${SCREENSHOT_WAIT:-40}"
OUT="${SCREENSHOT_OUT:-$ROOT/docs/screenshot.png}"

PACKAGES=(xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 xdotool imagemagick
          libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1
          libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

WORK="$(mktemp -d)"
XVFB_PID=""; APP_PID=""
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

DISPLAY_NUM=99
while [ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ] || [ -e "/tmp/.X$DISPLAY_NUM-lock" ]; do DISPLAY_NUM=$((DISPLAY_NUM + 1)); done
Xvfb ":$DISPLAY_NUM" -screen 0 1600x1000x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
export DISPLAY=":$DISPLAY_NUM"
for _ in $(seq 50); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.1; done

# a fresh settings file, so the shot does not depend on whoever ran the app before
export XDG_CONFIG_HOME="$WORK/config"
unset QT_QPA_PLATFORM
export QT_QPA_PLATFORM=xcb
"$PY" main.py gui "${SOURCE_ARGS[@]}" --loop --threshold "${SCREENSHOT_THRESHOLD:-0.3}" "$@" >"$WORK/app.log" 2>&1 &
APP_PID=$!

WID=""
for _ in $(seq 600); do
    WID="$(xdotool search --onlyvisible --name 'CenterNet Live' 2>/dev/null | head -n1 || true)"
    [ -n "$WID" ] && break
    kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log" >&2; echo "error: the app exited early" >&2; exit 1; }
    sleep 0.1
done
[ -n "$WID" ] || { cat "$WORK/app.log" >&2; echo "error: no window appeared" >&2; exit 1; }
xdotool windowmove "$WID" 0 0 windowsize "$WID" 1440 900
echo "window $WID up; waiting ${WAIT}s for the model and a few frames"
sleep "$WAIT"

mkdir -p "$(dirname "$OUT")"
import -window "$WID" "$OUT"
echo "saved $OUT ($(identify -format '%wx%h' "$OUT"))"

start_ns=$(date +%s%N)
xdotool windowfocus --sync "$WID" key q 2>/dev/null || xdotool key --window "$WID" q
for _ in $(seq 100); do xdotool search --onlyvisible --name 'CenterNet Live' >/dev/null 2>&1 || break; sleep 0.05; done
if xdotool search --onlyvisible --name 'CenterNet Live' >/dev/null 2>&1; then
    echo "warning: the window did not close on Q within 5 s" >&2
else
    echo "window closed on Q in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"
fi
# the process itself ends once a forward pass in flight (slow on a busy CPU) has finished
for _ in $(seq 600); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$APP_PID" 2>/dev/null; then
    echo "warning: the app did not exit within 30 s of Q" >&2
else
    wait "$APP_PID" || true
    echo "process ended $(( ($(date +%s%N) - start_ns) / 1000000 )) ms after Q"
fi
APP_PID=""
grep -i "destroyed while\|traceback" "$WORK/app.log" >&2 && exit 1 || true
