"""mod_milter against a real rspamd: its proxy worker in milter mode
(tests/interop/rspamd/rspamd_fixture.py: private rspamd and Redis on
loopback), on rmail's port 25.

- GTUBE (rspamd's action: reject) is refused at the end of data with a
  5xx and stored nowhere;
- rspamd's add-header GTUBE variant makes rspamd add `X-Spam: Yes`
  through a milter header edit: the message lands in Junk (the spam
  verdict of core/submit/spool.c);
- a clean message reaches INBOX with rspamd's headers
  (X-Spamd-Result, X-Rspamd-Server, X-Rspamd-Queue-Id);
- with rspamd stopped, default_action tempfail answers 451 and rmail
  logs it.
"""
import glob
import os
import smtplib
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
import rmail_interop  # noqa: E402
import rspamd_fixture  # noqa: E402

DOM = "example.test"
USER = "rcpt@" + DOM
PW = "pw-rcpt-1"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# rspamd's variant whose action is "add header"
GTUBE_ADD_HEADER = "Y" + GTUBE[1:]


def message(tag, body):
    return ("From: <sender@far.test>\r\nTo: <%s>\r\n"
            "Subject: milter %s\r\nMessage-ID: <%s@far.test>\r\n"
            "Date: Sun, 06 Dec 2026 12:00:00 +0000\r\n\r\n"
            "%s\r\n" % (USER, tag, tag, body)).encode()


class RspamdMilter(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = rspamd_fixture.Rspamd("rmail-rspamd-milter-")
        try:
            cls.r.start()
        except Exception:
            cls.r.close()
            raise
        cls.mx = rmail_interop.free_port()
        cls.d = rmail_interop.Daemon(
            "rmail-milter-rspamd-", ["mod_smtp", "mod_milter"],
            {"smtp": {"listen": ["127.0.0.1:%d" % cls.mx],
                      "submission_listen": [], "smtps_listen": []},
             "milter": {"milters": ["{ inet:127.0.0.1:%d, listeners=mx }"
                                    % cls.r.proxy],
                        "default_action": "tempfail",
                        "connect_timeout": "2s",
                        "command_timeout": "10s",
                        "content_timeout": "20s"}})
        cls.d.add_user(USER, PW)
        cls.d.start(cls.mx)

    @classmethod
    def tearDownClass(cls):
        cls.d.proc.terminate()
        rc = cls.d.proc.wait(15)
        log = cls.d.stderr()
        cls.d.stop()
        cls.r.close()
        if rc != 0 or "Sanitizer" in log or "runtime error:" in log:
            raise AssertionError("rmail exited %d:\n%s" % (rc, log[-4000:]))

    def stored(self, tag):
        """{mailbox path: message bytes} of the copies carrying tag"""
        pat = os.path.join(self.d.root, "domains", DOM, "users",
                           USER.split("@")[0], "**", "*.eml")
        out = {}
        for path in glob.glob(pat, recursive=True):
            with open(path, "rb") as f:
                data = f.read()
            if tag.encode() in data:
                out[path] = data
        return out

    def wait_stored(self, tag, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.stored(tag)
            if got:
                return got
            time.sleep(0.05)
        self.fail("message %s not stored:\n%s\n%s"
                  % (tag, self.d.stderr()[-3000:], self.r.log()[-3000:]))

    def send(self, data):
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=30) as s:
            s.ehlo("client.far.test")
            s.sendmail("sender@far.test", [USER], data)

    def test_1_gtube_rejected(self):
        tag = uuid.uuid4().hex
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send(message(tag, GTUBE))
        self.assertTrue(500 <= cm.exception.smtp_code < 600,
                        cm.exception)
        time.sleep(0.2)
        self.assertEqual(self.stored(tag), {})
        self.assertIn("reject", self.r.log())

    def test_2_add_header_goes_to_junk(self):
        tag = uuid.uuid4().hex
        self.send(message(tag, GTUBE_ADD_HEADER))
        got = self.wait_stored(tag)
        self.assertEqual(len(got), 1, got)
        path, data = next(iter(got.items()))
        self.assertIn("/Junk", path)
        head = data.split(b"\r\n\r\n")[0]
        self.assertIn(b"\r\nX-Spam: Yes", head)
        self.assertIn("marked as spam by a filter", self.d.stderr())

    def test_3_clean_to_inbox_with_rspamd_headers(self):
        tag = uuid.uuid4().hex
        self.send(message(tag, "Hello, the meeting is at noon. " + tag))
        got = self.wait_stored(tag)
        self.assertEqual(len(got), 1, got)
        path, data = next(iter(got.items()))
        self.assertIn("/INBOX", path)
        head = data.split(b"\r\n\r\n")[0]
        self.assertIn(b"X-Spamd-Result:", head)
        self.assertIn(b"X-Rspamd-Server:", head)
        self.assertIn(b"X-Rspamd-Queue-Id:", head)
        self.assertNotIn(b"X-Spam: Yes", head)

    def test_4_rspamd_down_tempfail(self):
        self.r.stop()
        try:
            tag = uuid.uuid4().hex
            t = time.monotonic()
            code = None
            try:
                self.send(message(tag, "rspamd is down " + tag))
            except smtplib.SMTPRecipientsRefused as e:
                code = e.recipients[USER][0]
            except smtplib.SMTPResponseException as e:
                code = e.smtp_code
            self.assertEqual(code, 451, self.d.stderr()[-3000:])
            self.assertLess(time.monotonic() - t, 10)
            self.assertEqual(self.stored(tag), {})
            self.assertIn("default_action tempfail", self.d.stderr())
        finally:
            self.r.start()


if __name__ == "__main__":
    unittest.main()
