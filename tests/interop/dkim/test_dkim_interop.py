"""DKIM against independent implementations.

- messages signed by Debian's python3-dkim (dkimpy) verify with rmail's
  verifier (tests/interop/dkim/dkim_tool), l= and rsa-sha1 included;
- rmail's signatures verify with dkimpy and with OpenDKIM (`opendkim -t`
  reading the keys from a file through its TestPublicKeys option, so no
  DNS server is needed);
- e2e: a message submitted on 587 reaches a loopback SMTP sink with an
  ed25519-sha256 and an rsa-sha256 signature that dkimpy and OpenDKIM
  verify, keys served from the daemon's key files.
Needs RMAIL_BIN, RMAIL_MODULE_DIR, RMAIL_SOURCE_DIR, DKIM_TOOL, OPENDKIM.
"""
import glob
import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir))
from rmail_interop import free_port, tls_ctx  # noqa: E402
import rmail_interop  # noqa: E402

TOOL = os.environ.get("DKIM_TOOL", "")
OPENDKIM = os.environ.get("OPENDKIM", "")

MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: bob@example.org\r\n"
       b"Subject: interop\r\n"
       b"Date: Sun, 6 Dec 2026 12:00:00 +0000\r\n"
       b"Message-ID: <interop-1@example.test>\r\n"
       b"\r\n"
       b"Hello  Bob,\r\n\r\nthe body.   \r\n\r\n")


def ed_key():
    k = ed25519.Ed25519PrivateKey.generate()
    raw = k.private_bytes(serialization.Encoding.Raw,
                          serialization.PrivateFormat.Raw,
                          serialization.NoEncryption())
    pub = k.public_key().public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw)
    pem = k.private_bytes(serialization.Encoding.PEM,
                          serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    import base64
    return {"dkimpy": base64.b64encode(raw), "pem": pem,
            "txt": "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub).decode()}


def rsa_key(bits=2048):
    import base64
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = k.private_bytes(serialization.Encoding.PEM,
                          serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption())
    der = k.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"dkimpy": pem, "pem": pem,
            "txt": "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()}


class Files:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rmdkim-")

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path


def our_verify(files, msg, zone):
    """rmail's verdicts: [(result, d, s, a, full)]"""
    m = files.write("msg.eml", msg)
    z = files.write("zone", "".join("%s %s\n" % kv for kv in zone.items()))
    out = subprocess.run([TOOL, "verify", m, z], check=True,
                         capture_output=True, text=True).stdout
    res = []
    for line in out.splitlines():
        if line == "none":
            continue
        f = line.split(" ")
        res.append((f[0], f[1][2:], f[2][2:], f[3][2:], f[4] == "full=1"))
    return res


def our_sign(files, msg, domain, keys):
    """keys: [(selector, pem)]"""
    m = files.write("tosign.eml", msg)
    args = [TOOL, "sign", m, domain]
    for i, (sel, pem) in enumerate(keys):
        args += [sel, files.write("k%d.pem" % i, pem)]
    return subprocess.run(args, check=True, capture_output=True).stdout


def dnsfunc_of(zone):
    def dnsfunc(name, timeout=5):
        n = name.decode().rstrip(".")
        v = zone.get(n)
        return v.encode() if v else None
    return dnsfunc


def dkimpy_verify_all(msg, zone):
    d = dkim.DKIM(msg)
    head = msg.replace(b"\r\n", b"\n").split(b"\n\n")[0]
    n = len([ln for ln in head.split(b"\n")
             if ln.lower().startswith(b"dkim-signature:")])
    return [d.verify(idx=i, dnsfunc=dnsfunc_of(zone)) for i in range(n)]


def opendkim_verify(files, msg, zone):
    """OpenDKIM's verdict on the first signature: True when it passes"""
    keys = files.write("od.keys", "".join("%s %s\n" % kv
                                           for kv in zone.items()))
    conf = files.write("od.conf", "Mode v\nSyslog no\nTestPublicKeys %s\n"
                       % keys)
    m = files.write("od.eml", msg)
    p = subprocess.run([OPENDKIM, "-x", conf, "-t", m],
                       capture_output=True, text=True)
    return p.returncode == 0 and "succeeded" in p.stderr + p.stdout


class Interop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ed = ed_key()
        cls.rsa = rsa_key()
        cls.zone = {"ed._domainkey.example.test": cls.ed["txt"],
                    "rs._domainkey.example.test": cls.rsa["txt"]}

    def setUp(self):
        self.f = Files()

    def tearDown(self):
        shutil.rmtree(self.f.dir, ignore_errors=True)

    def test_tools_present(self):
        self.assertTrue(os.access(TOOL, os.X_OK), TOOL)
        self.assertTrue(os.access(OPENDKIM, os.X_OK), OPENDKIM)

    def test_dkimpy_signed_verify_here(self):
        for canon in [(b"relaxed", b"relaxed"), (b"simple", b"simple"),
                      (b"relaxed", b"simple"), (b"simple", b"relaxed")]:
            for sel, key, alg in [(b"ed", self.ed, b"ed25519-sha256"),
                                  (b"rs", self.rsa, b"rsa-sha256")]:
                sig = dkim.sign(MSG, sel, b"example.test", key["dkimpy"],
                                canonicalize=canon,
                                signature_algorithm=alg)
                r = our_verify(self.f, sig + MSG, self.zone)
                self.assertEqual(len(r), 1)
                self.assertEqual(r[0][0], "pass", (canon, alg, r))
                self.assertEqual(r[0][3], alg.decode())
                self.assertTrue(r[0][4])
                # tampered body fails
                r = our_verify(self.f, sig + MSG.replace(b"Bob", b"Eve"),
                               self.zone)
                self.assertEqual(r[0][0], "fail")

    def test_dkimpy_length_tag(self):
        sig = dkim.sign(MSG, b"rs", b"example.test", self.rsa["dkimpy"],
                        length=True)
        self.assertIn(b"l=", sig)
        r = our_verify(self.f, sig + MSG, self.zone)
        self.assertEqual((r[0][0], r[0][4]), ("pass", True))
        # content after the signed length: still a pass, not full body
        r = our_verify(self.f, sig + MSG + b"appended by a list\r\n",
                       self.zone)
        self.assertEqual((r[0][0], r[0][4]), ("pass", False))

    def test_dkimpy_rsa_sha1_never_passes(self):
        sig = dkim.sign(MSG, b"rs", b"example.test", self.rsa["dkimpy"],
                        signature_algorithm=b"rsa-sha1")
        r = our_verify(self.f, sig + MSG, self.zone)
        self.assertEqual(r[0][0], "policy")

    def test_dkimpy_missing_and_temp_keys(self):
        sig = dkim.sign(MSG, b"nokey", b"example.test", self.rsa["dkimpy"])
        r = our_verify(self.f, sig + MSG,
                       {"nokey._domainkey.example.test": "NXDOMAIN"})
        self.assertEqual(r[0][0], "permerror")
        r = our_verify(self.f, sig + MSG,
                       {"nokey._domainkey.example.test": "TEMP"})
        self.assertEqual(r[0][0], "temperror")

    def test_ours_verify_with_dkimpy_and_opendkim(self):
        signed = our_sign(self.f, MSG, "example.test",
                          [("ed", self.ed["pem"]), ("rs", self.rsa["pem"])])
        self.assertEqual(dkimpy_verify_all(signed, self.zone), [True, True])
        self.assertTrue(all(r[0] == "pass"
                            for r in our_verify(self.f, signed, self.zone)))
        # OpenDKIM reports the first signature: one key at a time
        for sel, key in [("ed", self.ed), ("rs", self.rsa)]:
            one = our_sign(self.f, MSG, "example.test", [(sel, key["pem"])])
            self.assertTrue(opendkim_verify(self.f, one, self.zone), sel)
            bad = one.replace(b"Subject: interop", b"Subject: Interop")
            self.assertFalse(opendkim_verify(self.f, bad, self.zone), sel)
            self.assertEqual(dkimpy_verify_all(bad, self.zone), [False])


class Sink:
    """A loopback SMTP server keeping each message's DATA."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.messages = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,),
                             daemon=True).start()

    def session(self, c):
        f = c.makefile("rb")
        c.sendall(b"220 sink ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                break
            cmd = line[:4].upper()
            if cmd in (b"EHLO", b"HELO"):
                c.sendall(b"250-sink\r\n250 8BITMIME\r\n")
            elif cmd == b"DATA":
                c.sendall(b"354 go\r\n")
                data = b""
                while True:
                    ln = f.readline()
                    if ln in (b".\r\n", b""):
                        break
                    if ln.startswith(b".."):
                        ln = ln[1:]
                    data += ln
                self.messages.append(data)
                c.sendall(b"250 ok\r\n")
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                break
            elif cmd == b"RCPT" and b"reject" in line:
                c.sendall(b"550 5.1.1 no such user here\r\n")
            else:
                c.sendall(b"250 ok\r\n")
        c.close()


class Submission(unittest.TestCase):
    def bounce_is_signed(self, d, sub, zone):
        """a bounce (From: MAILER-DAEMON@mail.example.test) is signed
        with the hostname's parent domain's keys"""
        with smtplib.SMTP("127.0.0.1", sub, timeout=10) as s:
            s.starttls(context=tls_ctx())
            s.login("alice@example.test", "pw-alice-1")
            s.sendmail("alice@example.test", ["reject@example.org"],
                       MSG.replace(b"bob@", b"reject@"))
        pat = os.path.join(d.root, "domains", "example.test", "users",
                           "alice", "**", "*.eml")
        deadline = time.monotonic() + 15
        bounce = None
        while bounce is None and time.monotonic() < deadline:
            for path in glob.glob(pat, recursive=True):
                with open(path, "rb") as f:
                    data = f.read()
                if b"Undelivered Mail" in data:
                    bounce = data
            time.sleep(0.05)
        self.assertIsNotNone(bounce, d.stderr())
        head = bounce.split(b"\r\n\r\n")[0]
        self.assertIn(b"d=example.test", head)
        self.assertEqual(dkimpy_verify_all(bounce, zone), [True, True])

    def dns_records(self, d, keys):
        out = subprocess.run([d.bin, "-c", d.config, "dns", "example.test",
                              "--ip", "192.0.2.1,2001:db8::1"],
                             check=True, capture_output=True,
                             text=True).stdout
        for want in ["example.test. ", "IN MX    10 mail.example.test.",
                     '"v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 mx -all"',
                     "_dmarc.example.test.", "v=DMARC1; p=quarantine; "
                     "rua=mailto:dmarc-reports@example.test",
                     "_submission._tcp.example.test.",
                     "_submissions._tcp.example.test.",
                     "IN SRV   0 0 0 .", "_imaps._tcp.example.test."]:
            self.assertIn(want, out)
        for k in keys:
            name = "%s._domainkey.example.test." % k["selector"]
            line = [ln for ln in out.splitlines() if ln.startswith(name)]
            self.assertEqual(len(line), 1, out)
            # 255-byte character-strings that join into the record
            strings = line[0].split("IN TXT", 1)[1].strip()
            parts = [p for p in strings.split('"')[1::2]]
            self.assertTrue(all(len(p) <= 255 for p in parts))
            self.assertEqual("".join(parts), k["txt"])

    def test_submitted_mail_is_signed_twice(self):
        sink = Sink()
        sub = free_port()
        d = rmail_interop.Daemon("rmdkim-e2e-", ["mod_smtp"], {
            "smtp": {"listen": ["127.0.0.1:%d" % free_port()],
                     "submission_listen": ["127.0.0.1:%d" % sub],
                     "smtps_listen": []},
            "delivery": {"routes": {"example.org":
                                    "127.0.0.1:%d" % sink.port},
                         "relay_tls": "none"},
        })
        files = Files()
        try:
            d.add_user("alice@example.test", "pw-alice-1")
            d.start(sub)
            # keys made while it runs are loaded on SIGHUP
            d.rmail("dkim", "keygen", "example.test", "--force")
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while ("dkim: 2 active signing keys" not in d.stderr()
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            keys = json.loads(subprocess.run(
                [d.bin, "-c", d.config, "dkim", "list", "--json"],
                check=True, capture_output=True, text=True).stdout)
            self.assertEqual(len(keys), 2)
            for k in keys:
                self.assertEqual(k["state"], "active")
                pem = os.path.join(d.root, "dkim", "example.test",
                                   k["selector"] + ".pem")
                self.assertEqual(os.stat(pem).st_mode & 0o777, 0o600)
            zone = {"%s._domainkey.%s" % (k["selector"], k["domain"]):
                    k["txt"] for k in keys}
            with smtplib.SMTP("127.0.0.1", sub, timeout=10) as s:
                s.starttls(context=tls_ctx())
                s.login("alice@example.test", "pw-alice-1")
                s.sendmail("alice@example.test", ["carol@example.org"],
                           MSG)
            deadline = time.monotonic() + 15
            while not sink.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(sink.messages, d.stderr())
            got = sink.messages[0]
            head = got.split(b"\r\n\r\n")[0]
            self.assertIn(b"a=ed25519-sha256", head)
            self.assertIn(b"a=rsa-sha256", head)
            self.assertNotIn(b" l=", head)
            self.assertEqual(dkimpy_verify_all(got, zone), [True, True])
            self.assertTrue(opendkim_verify(files, got, zone))
            self.assertEqual([r[0] for r in our_verify(files, got, zone)],
                             ["pass", "pass"])
            self.bounce_is_signed(d, sub, zone)
            self.dns_records(d, keys)
        finally:
            d.stop()
            shutil.rmtree(files.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
