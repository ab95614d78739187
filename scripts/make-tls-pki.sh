#!/bin/sh
# A CA and one certificate per role for a TLS deployment (deploy file `tls` section, `callgate lab --tls-*`):
# EC P-256, CN and DNS name = the role in lower case, IP 127.0.0.1, usable as TLS server and client.
#   scripts/make-tls-pki.sh DIR [ROLE...]     (default roles: uac sip1 pol1 r1 ch sip2 pol2 r2 uas)
# Writes DIR/ca.pem, DIR/ca.key and DIR/ROLE.pem, DIR/ROLE.key; `lab` in the list adds DIR/lab.pem, one
# certificate naming every lab role (what `callgate lab --tls-cert` wants).
set -eu
dir=${1:?usage: make-tls-pki.sh DIR [ROLE...]}
shift
[ $# -gt 0 ] || set -- uac sip1 pol1 r1 ch sip2 pol2 r2 uas
mkdir -p "$dir"
cd "$dir"
days=${DAYS:-365}
[ -f ca.pem ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days "$days" -subj "/CN=callgate CA" 2>/dev/null
for role in "$@"; do
  role=$(printf %s "$role" | tr 'A-Z' 'a-z')
  if [ "$role" = lab ]; then names="DNS:sip1,DNS:pol1,DNS:r1,DNS:ch,DNS:sip2,DNS:pol2,DNS:r2,DNS:uas"; else names="DNS:$role"; fi
  printf 'subjectAltName=%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$names" > "$role.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$role.key" -out "$role.csr" -subj "/CN=$role" 2>/dev/null
  openssl x509 -req -in "$role.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$role.pem" -days "$days" -extfile "$role.ext" 2>/dev/null
  rm -f "$role.csr" "$role.ext"
done
echo "$dir: ca.pem and $(printf '%s.pem ' "$@")"
