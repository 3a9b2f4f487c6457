"""mod_smtp against third-party clients: smtplib, swaks, openssl s_client.

Starts its own daemon (mod_shardstore + mod_smtp) on ephemeral loopback
ports with users made by `rmail user add`, and checks deliveries by
reading the mail root.  Needs RMAIL_BIN, RMAIL_MODULE_DIR and
RMAIL_SOURCE_DIR (set by ctest).
"""
import glob
import os
import smtplib
import subprocess
import sys
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir))
from rmail_interop import free_port, tls_ctx  # noqa: E402
import rmail_interop  # noqa: E402

DOM = "example.test"
ALICE = "alice@" + DOM
BOB = "bob@" + DOM
PW = "interop-pw"


class Daemon(rmail_interop.Daemon):
    def __init__(self):
        self.ports = {k: free_port() for k in ("mx", "sub", "smtps")}
        super().__init__("rmsmtp-interop-", ["mod_smtp"], {
            "smtp": {
                "listen": ["127.0.0.1:%d" % self.ports["mx"]],
                "submission_listen": ["127.0.0.1:%d" % self.ports["sub"]],
                "smtps_listen": ["127.0.0.1:%d" % self.ports["smtps"]],
            },
        })
        self.add_user(ALICE, PW, admin=True)
        self.add_user(BOB, PW)
        self.start(self.ports["mx"])

    def inbox(self, user, marker):
        local = user.split("@")[0]
        pat = os.path.join(self.root, "domains", DOM, "users", local, "**",
                           "*.eml")
        n = 0
        for path in glob.glob(pat, recursive=True):
            if "/INBOX" not in path:
                continue
            with open(path, "rb") as f:
                if marker.encode() in f.read():
                    n += 1
        return n


def message(sender, to, marker):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = marker
    m.set_content("interop body " + marker + "\n.leading dot line\n")
    return m


class SmtpInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_smtplib_starttls_plain(self):
        with smtplib.SMTP("127.0.0.1", self.d.ports["sub"], timeout=10) as s:
            s.ehlo("client.test")
            self.assertFalse(s.has_extn("auth"))
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=tls_ctx())
            s.ehlo("client.test")
            self.assertIn("PLAIN", s.esmtp_features["auth"])
            s.login(ALICE, PW)
            s.send_message(message(ALICE, BOB, "interop-plain"))
        self.assertEqual(self.d.inbox(BOB, "interop-plain"), 1)
        self.assertEqual(self.d.inbox(BOB, "..leading"), 0)

    def test_smtplib_smtps_login(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.d.ports["smtps"],
                              context=tls_ctx(), timeout=10) as s:
            s.ehlo("client.test")
            s.user, s.password = BOB, PW
            code, _ = s.auth("LOGIN", s.auth_login)
            self.assertEqual(code, 235)
            s.send_message(message(BOB, ALICE, "interop-login"))
            with self.assertRaises(smtplib.SMTPSenderRefused) as e:
                s.send_message(message(ALICE, BOB, "interop-spoof"))
            self.assertEqual(e.exception.smtp_code, 553)
        self.assertEqual(self.d.inbox(ALICE, "interop-login"), 1)
        self.assertEqual(self.d.inbox(BOB, "interop-spoof"), 0)

    def test_smtplib_bad_password(self):
        with smtplib.SMTP("127.0.0.1", self.d.ports["sub"], timeout=10) as s:
            s.starttls(context=tls_ctx())
            with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
                s.login(BOB, "nope")
            self.assertEqual(e.exception.smtp_code, 535)
        self.assertIn("event=auth_failed proto=smtp user=" + BOB,
                      self.d.stderr())

    def test_smtplib_smtputf8(self):
        raw = ("From: j\u00f6rg@remote.test\r\nTo: " + BOB +
               "\r\nSubject: interop-utf8 \u00e9t\u00e9\r\n\r\n"
               "Gr\u00fc\u00dfe\r\n").encode("utf-8")
        with smtplib.SMTP("127.0.0.1", self.d.ports["mx"], timeout=10) as s:
            s.ehlo("client.test")
            self.assertTrue(s.has_extn("smtputf8"))
            s.sendmail("j\u00f6rg@remote.test", [BOB], raw,
                       mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        self.assertEqual(self.d.inbox(BOB, "interop-utf8"), 1)
        # RFC 6531 4.3: the trace names the SMTPUTF8 transaction, which
        # is how the core records that the sender asked for it
        self.assertEqual(self.d.inbox(BOB, " with UTF8SMTP id "), 1)

    def test_smtplib_relay_denied(self):
        with smtplib.SMTP("127.0.0.1", self.d.ports["mx"], timeout=10) as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
                s.sendmail("a@remote.test", ["b@elsewhere.test"], b"x\r\n")
            code = e.exception.recipients["b@elsewhere.test"][0]
            self.assertEqual(code, 554)

    def swaks(self, *args):
        return subprocess.run(["swaks", "--server", "127.0.0.1",
                               "--helo", "client.test", "--timeout", "10"]
                              + list(args), capture_output=True, text=True)

    def test_swaks_submission(self):
        r = self.swaks("--port", str(self.d.ports["sub"]), "-tls",
                       "--auth", "PLAIN", "--auth-user", ALICE,
                       "--auth-password", PW, "--from", ALICE,
                       "--to", BOB, "--header", "Subject: interop-swaks")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.d.inbox(BOB, "interop-swaks"), 1)
        r = self.swaks("--port", str(self.d.ports["mx"]),
                       "--from", "a@remote.test", "--to", "x@nowhere.test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("554 5.7.1", r.stdout)
        r = self.swaks("--port", str(self.d.ports["mx"]),
                       "--from", "a@remote.test", "--to", BOB,
                       "--pipeline", "--header", "Subject: interop-pipe")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.d.inbox(BOB, "interop-pipe"), 1)

    def test_openssl_starttls(self):
        r = subprocess.run(["openssl", "s_client", "-starttls", "smtp",
                            "-connect",
                            "127.0.0.1:%d" % self.d.ports["mx"],
                            "-crlf", "-quiet", "-name", "client.test"],
                           input="EHLO client.test\nQUIT\n",
                           capture_output=True, text=True, timeout=20)
        self.assertIn("250-AUTH PLAIN LOGIN", r.stdout)
        self.assertNotIn("STARTTLS", r.stdout)
        self.assertIn("221 2.0.0", r.stdout)


if __name__ == "__main__":
    unittest.main()
