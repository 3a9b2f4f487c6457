"""mod_spamlearn against a real rspamd (tests/interop/rspamd/
rspamd_fixture.py: private rspamd and Redis on loopback).

- a message moved into Junk over IMAP is learned as spam: the
  controller's learn counter goes up and rspamd logs the learn;
- moved out of Junk it is learned as ham;
- with rspamd stopped, the move still answers at once; the learn waits
  in the queue and is sent once rspamd is back;
- the queue survives a restart of rmail.
"""
import imaplib
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
import rmail_interop  # noqa: E402
import rspamd_fixture  # noqa: E402

USER = "learner@example.test"
PW = "pw-learner-1"


def spammy(tag):
    words = ("cheap pills casino lottery winner money transfer urgent "
             "offer bitcoin investment guaranteed ")
    return ("From: <promo@far.test>\r\nTo: <%s>\r\n"
            "Subject: you won %s\r\nMessage-ID: <%s@far.test>\r\n\r\n"
            "%s\r\n" % (USER, tag, tag, (words + tag + " ") * 8)).encode()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class RspamdLearn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = rspamd_fixture.Rspamd()
        try:
            cls.r.start()
        except Exception:
            cls.r.close()
            raise
        cls.imap = rmail_interop.free_port()
        pwfile = os.path.join(cls.r.dir, "controller.pw")
        with open(pwfile, "w") as f:
            f.write(cls.r.password + "\n")
        cls.d = rmail_interop.Daemon(
            "rmail-learn-", ["mod_imap", "mod_spamlearn"],
            {"imap": {"listen": ["127.0.0.1:%d" % cls.imap],
                      "imaps_listen": [],
                      "allow_cleartext_login_loopback": True},
             "spamlearn": {"url": "http://127.0.0.1:%d" % cls.r.controller,
                           "password_file": pwfile,
                           "timeout": "5s",
                           "retry_initial": "0.2s", "retry_max": "1s"}})
        cls.d.add_user(USER, PW)
        cls.d.start(cls.imap)

    @classmethod
    def tearDownClass(cls):
        cls.d.proc.terminate()
        rc = cls.d.proc.wait(15)
        log = cls.d.stderr()
        cls.d.stop()
        cls.r.close()
        # under ASan/UBSan a report is a failure too
        if rc != 0 or "Sanitizer" in log or "runtime error:" in log:
            raise AssertionError("rmail exited %d:\n%s" % (rc, log[-4000:]))

    def setUp(self):
        self.c = imaplib.IMAP4("127.0.0.1", self.imap)
        self.c.login(USER, PW)

    def tearDown(self):
        try:
            self.c.logout()
        except Exception:
            pass

    def append(self, mbox):
        tag = uuid.uuid4().hex
        typ, data = self.c.append(mbox, None, None, spammy(tag))
        self.assertEqual(typ, "OK", data)
        return tag

    def move_last(self, src, dst):
        """UID MOVE of the newest message of src; seconds it took"""
        self.assertEqual(self.c.select(src)[0], "OK")
        typ, data = self.c.uid("SEARCH", None, "ALL")
        uid = data[0].split()[-1].decode()
        t = time.monotonic()
        typ, data = self.c.uid("MOVE", uid, dst)
        took = time.monotonic() - t
        self.assertEqual(typ, "OK", data)
        return took

    def learned(self):
        return self.r.stat()["learned"]

    def spam_learns(self):
        """learns in rspamd's log, which outlives its restarts"""
        return self.r.log().count("learned message as spam")

    def test_1_into_junk_is_spam_out_is_ham(self):
        before = self.learned()
        self.append("INBOX")
        self.move_last("INBOX", "Junk")
        wait_for(lambda: self.learned() >= before + 1, 15, "learnspam")
        self.assertIn("learned message as spam", self.r.log())
        self.move_last("Junk", "INBOX")
        wait_for(lambda: self.learned() >= before + 2, 15, "learnham")
        self.assertIn("learned message as ham", self.r.log())
        # what rmail logged: both learns done
        log = self.d.stderr()
        self.assertIn("learnspam", log)
        self.assertIn("learnham", log)

    def test_2_rspamd_down(self):
        before = self.spam_learns()
        self.r.stop()
        try:
            self.append("INBOX")
            took = self.move_last("INBOX", "Junk")
            # the move never waits on rspamd
            self.assertLess(took, 1.0)
            wait_for(lambda: "attempt 2 failed" in self.d.stderr(), 10,
                     "a retried learn")
        finally:
            self.r.start()
        wait_for(lambda: self.spam_learns() >= before + 1, 20,
                 "the learn sent after rspamd came back")
        self.assertEqual(
            os.listdir(os.path.join(self.d.root, "spamlearn", "new")), [])

    def restart_rmail(self):
        self.d.proc.terminate()
        self.d.proc.wait(10)
        self.d.start(self.imap)

    def test_3_queue_survives_restart(self):
        before = self.spam_learns()
        self.r.stop()
        try:
            self.append("INBOX")
            self.move_last("INBOX", "Junk")
            qdir = os.path.join(self.d.root, "spamlearn", "new")
            wait_for(lambda: len(os.listdir(qdir)) == 1, 10,
                     "the learn queued")
            self.c.logout()
            self.restart_rmail()
            self.c = imaplib.IMAP4("127.0.0.1", self.imap)
            self.c.login(USER, PW)
            self.assertEqual(len(os.listdir(qdir)), 1)
        finally:
            self.r.start()
        wait_for(lambda: self.spam_learns() >= before + 1, 20,
                 "the learn sent by the restarted daemon")
        wait_for(lambda: os.listdir(qdir) == [], 5, "an empty queue")

    def test_4_one_sender_per_mail_root(self):
        """a second daemon on the same mail root queues its users'
        learns; only the lease holder (the first daemon) sends them"""
        before = self.spam_learns()
        imap2 = rmail_interop.free_port()
        d2 = rmail_interop.Daemon(
            "rmail-learn2-", ["mod_imap", "mod_spamlearn"],
            {"mail_root": self.d.root,
             "imap": {"listen": ["127.0.0.1:%d" % imap2],
                      "imaps_listen": [],
                      "allow_cleartext_login_loopback": True},
             "spamlearn": {"url": "http://127.0.0.1:%d" % self.r.controller,
                           "password_file": os.path.join(self.r.dir,
                                                         "controller.pw"),
                           "timeout": "5s",
                           "retry_initial": "0.2s", "retry_max": "1s"}})
        d2.start(imap2)
        try:
            c2 = imaplib.IMAP4("127.0.0.1", imap2)
            c2.login(USER, PW)
            tag = uuid.uuid4().hex
            self.assertEqual(c2.append("INBOX", None, None,
                                       spammy(tag))[0], "OK")
            self.assertEqual(c2.select("INBOX")[0], "OK")
            uid = c2.uid("SEARCH", None, "ALL")[1][0].split()[-1]
            self.assertEqual(c2.uid("MOVE", uid.decode(), "Junk")[0], "OK")
            c2.logout()
            wait_for(lambda: self.spam_learns() >= before + 1, 20,
                     "the learn queued by the second daemon")
            qdir = os.path.join(self.d.root, "spamlearn", "new")
            wait_for(lambda: os.listdir(qdir) == [], 5, "an empty queue")
            time.sleep(1)
            self.assertEqual(self.spam_learns(), before + 1)
            # queued by the second, sent by the first
            self.assertIn("queued", d2.stderr())
            self.assertNotIn(": done (HTTP", d2.stderr())
        finally:
            d2.proc.terminate()
            d2.proc.wait(15)
            d2.stop()


if __name__ == "__main__":
    unittest.main()
