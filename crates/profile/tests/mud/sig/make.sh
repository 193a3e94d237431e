#!/usr/bin/env bash
# Makes the MUD signature fixtures (README.md). Run once; the tests read the
# committed outputs and never run openssl. Running it again makes new keys,
# so every fixture changes together.
set -euo pipefail
cd "$(dirname "$0")"
mud=../Luminaire_150.json
keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
days=36500

# Self-signed signer certificates, as a MUD file's maker would pin them.
cert() { # name keygen-args...
  local name=$1; shift
  openssl genpkey "$@" -out "$keys/$name.key" 2>/dev/null
  openssl req -x509 -new -key "$keys/$name.key" -subj "/O=warden test/CN=$name MUD signer" \
    -days $days -out "$name.pem"
  openssl x509 -in "$name.pem" -outform DER -out "$name.der"
}
cert p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
cert p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
cert rsa2048 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
# A second P-256 signer: valid signatures, but not the pinned one.
cert other -algorithm EC -pkeyopt ec_paramgen_curve:P-256
# Too small a key for warden to trust.
cert rsa1024 -algorithm RSA -pkeyopt rsa_keygen_bits:1024

# The command the MUD world uses (RFC 8520 s.13, MUD-Manager, mudmaker).
sign() { # out signer extra-args...
  local out=$1 signer=$2; shift 2
  openssl cms -sign -binary -outform DER -in "$mud" -signer "$signer.pem" \
    -inkey "$keys/$signer.key" -out "$out" "$@"
}
sign luminaire.p256.p7s p256
sign luminaire.p384.p7s p384 -md sha384
sign luminaire.rsa2048.p7s rsa2048
sign luminaire.rsa2048-sha512.p7s rsa2048 -md sha512
sign luminaire.other.p7s other
sign luminaire.rsa1024.p7s rsa1024
# No certificate inside: the verifier must use the pinned one.
sign luminaire.p256-nocerts.p7s p256 -nocerts
# No signed attributes: the signature is over the MUD file itself.
sign luminaire.p256-noattr.p7s p256 -noattr
# PEM instead of DER.
openssl cms -sign -binary -outform PEM -in "$mud" -signer p256.pem -inkey "$keys/p256.key" \
  -out luminaire.p256.pem

# SHA-256 pins of each certificate's SubjectPublicKeyInfo.
for c in p256 p384 rsa2048 other rsa1024; do
  printf '%s sha256:%s\n' "$c" "$(openssl x509 -in "$c.pem" -pubkey -noout |
    openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
done > pins.txt

# openssl itself accepts every signature against its certificate.
for s in p256 p384 rsa2048 rsa2048-sha512 other rsa1024; do
  signer=${s%-sha512}
  openssl cms -verify -binary -inform DER -in "luminaire.$s.p7s" -content "$mud" \
    -CAfile "$signer.pem" -purpose any -out /dev/null 2>/dev/null || { echo "openssl rejects $s" >&2; exit 1; }
done
