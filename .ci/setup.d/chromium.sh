# Chromium for the threat-model pages: crates/model/tests/chromium.rs renders
# the example models and checks them in headless Chromium (the test fails
# when Chromium is missing). Sourced by .ci/run as root after apt-get update.
# fonts-dejavu-core: a font with the glyphs the pages use, so screenshots are
# the same on a bare machine.
if command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "error: /usr/bin/chromium is missing after setup" >&2
  return 1 2>/dev/null || exit 1
fi
/usr/bin/chromium --version 2>/dev/null || true
