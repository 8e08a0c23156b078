#!/usr/bin/env bash
# Install everything the tests need (Python packages, and Debian's chromium for the
# browser tests), check the style with ruff, then run every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core fonts-noto-color-emoji >/dev/null
fi
lint=0
python -m ruff check . || lint=$?  # style: ruff.toml (line length 120)
status=0
python -m pytest "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "error: no tests ran" >&2
fi
if [ "$status" = 0 ] && [ "$lint" != 0 ]; then
  echo "error: ruff check found problems (see above)" >&2
  status=1
fi
exit "$status"
