#!/usr/bin/env bash
# ci/testbed/mkcerts.sh - makes every certificate the test bed serves.
#
#   mkcerts.sh OUTDIR
#
# OUTDIR/ca.pem            the test CA (CUTOVER_TB_CA); its key ca.key
# OUTDIR/good.pem|.key     localhost, app.cutover.test, *.cutover.test,
#                          127.0.0.1; valid one year
# OUTDIR/expired.pem       same names, valid only in January 2020
# OUTDIR/wronghost.pem     wrong.example.invalid only
# OUTDIR/expiring.pem      same names as good, expires in 5 days
# OUTDIR/unknownca.pem     same names as good, signed by a second CA whose
#                          certificate (other-ca/ca.pem) is in no bundle
# OUTDIR/redis.pem, pg.pem localhost + 127.0.0.1, for the TLS Redis and
#                          both PostgreSQL clusters
#
# Everything is remade on each run: the "expiring" certificate must have
# five days left whenever the test bed starts. The expired one needs
# `openssl ca`, the only OpenSSL 3.0 tool that takes an explicit start
# and end date.
set -euo pipefail

out=${1:?usage: mkcerts.sh OUTDIR}
mkdir -p "$out"
cd "$out"
rm -rf ./*

GOOD_SAN="DNS:localhost,DNS:app.cutover.test,DNS:*.cutover.test,IP:127.0.0.1"

newkey() { # FILE
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$1" 2>/dev/null
  chmod 600 "$1"
}

make_ca() { # DIR CN
  mkdir -p "$1"
  newkey "$1/ca.key"
  openssl req -x509 -new -key "$1/ca.key" -sha256 -days 3650 \
    -subj "/O=cutover test bed/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1/ca.pem"
}

leaf_ext() { # SAN -> extension file for a TLS server certificate
  cat <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$1
EXT
}

# leaf NAME CN SAN DAYS [CADIR]: NAME.key, NAME.pem signed by CADIR's CA.
leaf() {
  local name=$1 cn=$2 san=$3 days=$4 ca=${5:-.}
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/O=cutover test bed/CN=$cn" \
    -out "$name.csr"
  leaf_ext "$san" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
    -CAcreateserial -sha256 -days "$days" -extfile "$name.ext" \
    -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

# expired NAME CN SAN: signed by the test CA, valid 2020-01-01..02-01.
expired() {
  local name=$1 cn=$2 san=$3
  mkdir -p ca-db
  : >ca-db/index.txt
  echo 1000 >ca-db/serial
  cat >ca-db/ca.cnf <<CNF
[ ca ]
default_ca = testca
[ testca ]
dir = ca-db
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
organizationName = optional
commonName = supplied
[ server ]
$(leaf_ext "$san")
CNF
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/O=cutover test bed/CN=$cn" \
    -out "$name.csr"
  openssl ca -config ca-db/ca.cnf -batch -notext -extensions server \
    -startdate 20200101000000Z -enddate 20200201000000Z \
    -in "$name.csr" -out "$name.pem" 2>/dev/null
  rm -rf "$name.csr" ca-db
}

make_ca . "cutover test CA"
make_ca other-ca "cutover unknown CA"
leaf good app.cutover.test "$GOOD_SAN" 365
expired expired app.cutover.test "$GOOD_SAN"
leaf wronghost wrong.example.invalid "DNS:wrong.example.invalid" 365
leaf expiring app.cutover.test "$GOOD_SAN" 5
leaf unknownca app.cutover.test "$GOOD_SAN" 365 other-ca
leaf redis localhost "DNS:localhost,IP:127.0.0.1" 365
leaf pg localhost "DNS:localhost,IP:127.0.0.1" 365
rm -f ./*.srl other-ca/*.srl
# Certificates are public; keys stay private to whoever runs the bed.
chmod 644 ./*.pem other-ca/*.pem
