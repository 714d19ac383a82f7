#!/usr/bin/env bash
# Debian/Ubuntu packages the program and its tests need. Installs them when run as root (CI),
# otherwise prints the apt-get line to run and carries on if they are already present.
set -euo pipefail
PACKAGES=(libportaudio2 espeak-ng libespeak-ng1 xvfb xdotool libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri libglx-mesa0 libglib2.0-0 python3-venv)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Missing system packages: ${missing[*]}"
  echo "Install them with:  sudo apt-get install -y ${missing[*]}"
  echo "(continuing; features that need them are skipped or report what is missing)"
fi
