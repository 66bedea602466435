#!/usr/bin/env bash
# Make this machine ready for zidong: system packages, a .venv with the package and its pinned
# dependencies. Idempotent, and quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."

# espeak-ng / flite: TTS voices for the built-in corpus; sox: audio checks and conversion;
# tuxpaint-stamps-default: real-photo cut-outs with EN/ZH descriptions; dataset-fashion-mnist;
# fonts-droid-fallback: Chinese prompts in the evaluation report's image grid.
APT_PACKAGES=(espeak-ng flite sox python3-venv tuxpaint-stamps-default dataset-fashion-mnist
              fonts-droid-fallback)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when what is installed could have changed.
stamp=.venv/.zidong-setup
want=$(cat setup.py tools/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing zidong and its dependencies into .venv (mindspore 2.10, numpy<2, ...)"
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -e '.[test]'; } >"$log" 2>&1; then
    cat "$log"; echo "setup: pip install failed (log above)" >&2; exit 1
  fi
  rm -f "$log"
  echo "$want" > "$stamp"
fi
