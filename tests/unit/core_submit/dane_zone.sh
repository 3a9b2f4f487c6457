#!/bin/sh
# Fixtures of test_submit_dane, in DIR: a test CA and certificates, the
# DNSSEC-signed zone dane.test (ldns-signzone) with TLSA records for
# them, the unsigned zone plain.test, and an nsd.conf serving both on
# 127.0.0.1@PORT.  The test starts `nsd -d -c DIR/nsd.conf` itself.
# usage: dane_zone.sh DIR PORT
set -eu
D=$1
PORT=$2
cd "$D"

cert() { # name subject-alt-names
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		"$2" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
		-CAcreateserial -days 2 -out "$1.pem" -extfile "$1.ext" \
		2>/dev/null
	cat "$1.pem" ca.pem >"$1.chain.pem"
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout ca.key -out ca.pem -days 2 -subj "/CN=rmail test CA" \
	2>/dev/null
# the MX sink: the DANE-TA names and the relay's address
cert mx "DNS:mx-good.dane.test,DNS:mx-ta.dane.test,IP:127.0.0.1"
# a certificate of the test CA for some other name
cert other "DNS:other.example.test"

EE=$(openssl x509 -in mx.pem -noout -pubkey |
	openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
TA=$(openssl x509 -in ca.pem -outform DER | sha256sum | cut -d' ' -f1)
ZERO=0000000000000000000000000000000000000000000000000000000000000000

cat >dane.test.zone <<ZONE
\$ORIGIN dane.test.
\$TTL 300
@		SOA	ns.dane.test. admin.dane.test. 1 3600 600 86400 300
@		NS	ns.dane.test.
ns		A	127.0.0.1
good		MX	10 mx-good.dane.test.
mx-good		A	127.0.0.1
_25._tcp.mx-good TLSA	3 1 1 $EE
wrong		MX	10 mx-wrong.dane.test.
mx-wrong	A	127.0.0.1
_25._tcp.mx-wrong TLSA	3 1 1 $ZERO
bogus		MX	10 mx-bogus.dane.test.
mx-bogus	A	127.0.0.1
_25._tcp.mx-bogus TLSA	3 1 1 $ZERO
ta		MX	10 mx-ta.dane.test.
mx-ta		A	127.0.0.1
_25._tcp.mx-ta	TLSA	2 0 1 $TA
taname		MX	10 mx-taname.dane.test.
mx-taname	A	127.0.0.1
_25._tcp.mx-taname TLSA	2 0 1 $TA
strip		MX	10 mx-strip.dane.test.
mx-strip	A	127.0.0.2
_25._tcp.mx-strip TLSA	3 1 1 $EE
notlsa		MX	10 mx-notlsa.dane.test.
mx-notlsa	A	127.0.0.1
ZONE

cat >plain.test.zone <<ZONE
\$ORIGIN plain.test.
\$TTL 300
@		SOA	ns.plain.test. admin.plain.test. 1 3600 600 86400 300
@		NS	ns.plain.test.
ns		A	127.0.0.1
@		MX	10 mx.plain.test.
mx		A	127.0.0.1
_25._tcp.mx	TLSA	3 1 1 $ZERO
strip		MX	10 mx-strip.plain.test.
mx-strip	A	127.0.0.2
ZONE

K=$(ldns-keygen -a ECDSAP256SHA256 -k dane.test)
ldns-signzone dane.test.zone "$K"
# bogus: signed with a TLSA record that does not match, served with one
# that does — only a validator tells them apart
sed -i "/^_25._tcp.mx-bogus.dane.test.*TLSA/s/$ZERO/$EE/" dane.test.zone.signed
grep -q "mx-bogus.dane.test.*TLSA.*$EE" dane.test.zone.signed
cp "$K.key" trust-anchor.key

cat >nsd.conf <<CONF
server:
	ip-address: 127.0.0.1@$PORT
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "$D"
	zonelistfile: "$D/zone.list"
	database: ""
	xfrdfile: "$D/xfrd.state"
	pidfile: "$D/nsd.pid"
	logfile: "$D/nsd.log"
	server-count: 1
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: dane.test
	zonefile: dane.test.zone.signed
zone:
	name: plain.test
	zonefile: plain.test.zone
CONF
