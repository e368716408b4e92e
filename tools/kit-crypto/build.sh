#!/usr/bin/env bash
# Rebuilds templates/assets/kit-crypto.js: ChaCha20-Poly1305, HKDF and SHA-256 from the
# audited noble libraries (MIT), as one script for the personal page. Pure JavaScript, so it
# works on a plain-HTTP local server where crypto.subtle does not exist. Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
cp entry.js "$work/"
cd "$work"
npm init -y >/dev/null
npm install --silent @noble/ciphers@2.4.0 @noble/hashes@2.4.0 esbuild@0.28.2
{
  echo "/*! kit-crypto: @noble/ciphers 2.4.0 and @noble/hashes 2.4.0 (MIT, Paul Miller), bundled by tools/kit-crypto/build.sh */"
  ./node_modules/.bin/esbuild entry.js --bundle --format=iife --global-name=KitCrypto --minify \
    --target=es2017 --legal-comments=none
} > "$OLDPWD/../../templates/assets/kit-crypto.js"
rm -rf "$work"
