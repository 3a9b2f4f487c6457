"""mod_imap against third-party clients: Python's imaplib and mbsync.

Starts its own daemon (mod_shardstore + mod_imap) on ephemeral loopback
ports with users made by `rmail user add`.  Needs RMAIL_BIN,
RMAIL_MODULE_DIR and RMAIL_SOURCE_DIR (set by ctest).
"""
import email.utils
import glob
import imaplib
import os
import shutil
import subprocess
import sys
import time
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir))
from rmail_interop import free_port, tls_ctx  # noqa: E402
import rmail_interop  # noqa: E402

DOM = "example.test"
PW = "interop-pw"


class Daemon(rmail_interop.Daemon):
    def __init__(self):
        self.port = free_port()
        self.tls_port = free_port()
        super().__init__("rmimap-interop-", ["mod_imap"], {
            "imap": {
                "listen": ["127.0.0.1:%d" % self.port],
                "imaps_listen": ["127.0.0.1:%d" % self.tls_port],
            },
        })

    def start(self):
        super().start(self.port)

    def user(self, name):
        return self.add_user("%s@%s" % (name, DOM), PW)


def msg(subject, body="hello"):
    return ("From: a@example.test\r\nTo: b@example.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@example.test>\r\n"
            "Date: %s\r\n\r\n%s\r\n" % (
                subject, subject.replace(" ", "."),
                email.utils.formatdate(), body)).encode()


D = None
USERS = {}


def setUpModule():
    global D
    D = Daemon()
    for name in ("ilib", "idle", "sync", "label", "esearch", "listx",
                 "qr", "msrc", "mdst", "msrc2", "mdst2", "zlib"):
        USERS[name] = D.user(name)
    D.start()


def tearDownModule():
    D.stop()


class CompressedIMAP4_SSL(imaplib.IMAP4_SSL):
    """imaplib has no COMPRESS: wrap its reads and writes in raw deflate
    (RFC 4978) once the server said OK, as a client library would."""

    zin = zout = None

    def compress(self):
        imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        if typ == "OK":
            self.zin = zlib.decompressobj(-15)
            self.zout = zlib.compressobj(6, zlib.DEFLATED, -15)
            self.zbuf = b""
            self.wire_in = 0
        return typ, data

    def send(self, data):
        if self.zout is not None:
            data = (self.zout.compress(data) +
                    self.zout.flush(zlib.Z_SYNC_FLUSH))
        super().send(data)

    def _more(self):
        raw = self.file.read1(65536)
        if not raw:
            raise self.abort("EOF in compressed stream")
        self.wire_in += len(raw)
        self.zbuf += self.zin.decompress(raw)

    def read(self, size):
        if self.zin is None:
            return super().read(size)
        while len(self.zbuf) < size:
            self._more()
        out, self.zbuf = self.zbuf[:size], self.zbuf[size:]
        return out

    def readline(self):
        if self.zin is None:
            return super().readline()
        while b"\n" not in self.zbuf:
            self._more()
        i = self.zbuf.index(b"\n") + 1
        out, self.zbuf = self.zbuf[:i], self.zbuf[i:]
        return out


class ImaplibTest(unittest.TestCase):
    def login(self, name, tls=True):
        if tls:
            m = imaplib.IMAP4_SSL("127.0.0.1", D.tls_port,
                                  ssl_context=tls_ctx())
        else:
            m = imaplib.IMAP4("127.0.0.1", D.port)
            self.assertIn("LOGINDISABLED", m.capabilities)
            m.starttls(ssl_context=tls_ctx())
        m.login(USERS[name], PW)
        return m

    def test_starttls_session(self):
        m = self.login("ilib", tls=False)
        typ, data = m.list()
        self.assertEqual(typ, "OK")
        self.assertTrue(any(b"\\Sent" in d for d in data))
        m.logout()

    def test_mail_flow(self):
        m = self.login("ilib")
        m.create('"Projects/Q 4"')
        for i in range(3):
            typ, data = m.append("INBOX", "(\\Seen)" if i == 0 else None,
                                 None, msg("flow %d" % i))
            self.assertEqual(typ, "OK")
            self.assertIn(b"APPENDUID", data[0])
        typ, data = m.select("INBOX")
        self.assertEqual(int(data[0]), 3)
        typ, data = m.search(None, "UNSEEN")
        self.assertEqual(data[0].split(), [b"2", b"3"])
        typ, data = m.fetch("2", "(BODY.PEEK[] RFC822.SIZE)")
        self.assertIn(b"Subject: flow 1", data[0][1])
        typ, data = m.uid("STORE", "1:*", "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "OK")
        typ, data = m.uid("COPY", "1:2", '"Projects/Q 4"')
        self.assertEqual(typ, "OK")
        typ, data = m.response("COPYUID")
        self.assertRegex(data[0], rb"^\d+ 1:2 1:2$")
        typ, data = m.uid("MOVE", "3", "Trash")
        self.assertEqual(typ, "OK")
        m.store("1", "+FLAGS", "(\\Deleted)")
        typ, data = m.expunge()
        self.assertEqual(data[-1], b"1")  # after the MOVE's EXPUNGE 3
        typ, data = m.status('"Projects/Q 4"', "(MESSAGES UNSEEN)")
        self.assertIn(b"MESSAGES 2", data[0])
        typ, data = m.fetch("1:*", "(FLAGS)")
        self.assertEqual(len([d for d in data if d]), 1)
        m.close()
        m.logout()

    def test_idle_sees_other_session(self):
        a = self.login("idle")
        b = self.login("idle")
        a.select("INBOX")
        tag = a._new_tag().decode()
        a.send(("%s IDLE\r\n" % tag).encode())
        self.assertTrue(a.readline().startswith(b"+"))
        t0 = time.monotonic()
        b.append("INBOX", None, None, msg("idle ping"))
        line = a.readline()
        self.assertRegex(line, rb"^\* \d+ EXISTS")
        self.assertLess(time.monotonic() - t0, 1.5)
        a.send(b"DONE\r\n")
        while not a.readline().startswith(tag.encode()):
            pass
        a.logout()
        b.logout()

    def test_labels(self):
        m = self.login("label")
        m.append("INBOX", None, None, msg("label one"))
        m.append("INBOX", "($label1 Work)", None, msg("label two"))
        m.select("INBOX")
        m.store("1", "+FLAGS", "(Work $Important)")
        typ, data = m.search(None, "KEYWORD", "Work")
        self.assertEqual(data[0].split(), [b"1", b"2"])
        typ, data = m.search(None, "UNKEYWORD", "$label1")
        self.assertEqual(data[0].split(), [b"1"])
        m.store("2", "-FLAGS", "(Work)")
        typ, data = m.fetch("1:2", "(FLAGS)")
        self.assertIn(b"$Important", data[0])
        self.assertNotIn(b"Work", data[1])
        self.assertIn(b"$label1", data[1])
        m.logout()

    def test_condstore_qresync(self):
        """RFC 7162 through imaplib: a client resyncs after being away
        with SELECT (QRESYNC ...), then sees VANISHED and [MODIFIED]."""
        m = self.login("qr")
        self.assertIn("CONDSTORE", m.capabilities)
        self.assertIn("QRESYNC", m.capabilities)
        for i in range(3):
            m.append("INBOX", None, None, msg("qr %d" % i))
        typ, data = m.enable("QRESYNC")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.response("ENABLED")[1], [b"QRESYNC"])
        m.select("INBOX")
        uidvalidity = int(m.response("UIDVALIDITY")[1][0])
        hms = int(m.response("HIGHESTMODSEQ")[1][0])
        m.logout()

        b = self.login("qr")
        b.select("INBOX")
        b.store("1", "+FLAGS", "(\\Flagged)")
        b.store("2", "+FLAGS", "(\\Deleted)")
        b.expunge()

        m = self.login("qr")
        m.enable("QRESYNC")
        typ, data = m._simple_command(
            "SELECT", "INBOX", "(QRESYNC (%d %d))" % (uidvalidity, hms))
        self.assertEqual(typ, "OK")
        m.state = "SELECTED"  # imaplib's select() takes no parameters
        vanished = m.untagged_responses.pop("VANISHED", [])
        self.assertEqual(vanished, [b"(EARLIER) 2"])
        fetches = m.untagged_responses.pop("FETCH", [])
        self.assertTrue(any(b"UID 1 FLAGS (\\Flagged) MODSEQ (" in f
                            for f in fetches), fetches)
        new_hms = int(m.response("HIGHESTMODSEQ")[1][0])
        self.assertGreater(new_hms, hms)

        typ, data = m.uid("FETCH", "1:*", "(FLAGS)",
                          "(CHANGEDSINCE %d)" % new_hms)
        self.assertEqual(typ, "OK")
        # a modseq the store lost (shown as 1) counts as changed
        self.assertEqual([d for d in data
                          if d and not d.endswith(b"MODSEQ (1))")], [])
        typ, data = m.uid("STORE", "1,3", "(UNCHANGEDSINCE 0)",
                          "+FLAGS", "(\\Seen)")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.response("MODIFIED")[1], [b"1,3"])
        typ, data = m.uid("SEARCH", "MODSEQ", "1")
        self.assertRegex(data[0], rb"^1 3 \(MODSEQ \d+\)$")
        typ, data = m.uid("SEARCH", "MODSEQ", str(new_hms + 1), "DRAFT")
        self.assertEqual(data[0], b"")

        # another session's expunge reaches this one as VANISHED
        b.store("2", "+FLAGS", "(\\Deleted)")
        b.expunge()
        m.noop()
        self.assertEqual(m.untagged_responses.pop("VANISHED", []), [b"3"])
        self.assertNotIn("EXPUNGE", m.untagged_responses)
        m.logout()
        b.logout()


    def test_esearch_searchres(self):
        # ESEARCH (RFC 4731) and "$" (RFC 5182) through imaplib's
        # generic command path: it files "* ESEARCH" under its name
        m = self.login("esearch")
        self.assertIn("ESEARCH", m.capabilities)
        self.assertIn("SEARCHRES", m.capabilities)
        for i in range(4):
            m.append("INBOX", "(\\Flagged)" if i % 2 else None, None,
                     msg("es %d" % i))
        m.select("INBOX")
        typ, _ = m.uid("SEARCH", "RETURN", "(MIN MAX COUNT SAVE)",
                       "FLAGGED")
        self.assertEqual(typ, "OK")
        typ, data = m.response("ESEARCH")
        self.assertRegex(data[0],
                         rb'^\(TAG "[A-Za-z0-9]+"\) UID MIN 2 MAX 4 COUNT 2$')
        typ, data = m.fetch("$", "(UID)")
        self.assertEqual(data, [b"2 (UID 2)", b"4 (UID 4)"])
        typ, data = m.store("$", "-FLAGS.SILENT", "(\\Flagged)")
        self.assertEqual(typ, "OK")
        typ, data = m.search(None, "FLAGGED")
        self.assertEqual(data, [b""])
        # a NO to a SAVE search empties "$"
        try:
            m.uid("SEARCH", "RETURN", "(SAVE)", "CHARSET", "KOI8-R", "ALL")
        except m.error:
            pass
        typ, data = m.fetch("$", "(UID)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [None])
        m.logout()

    def test_compress(self):
        """COMPRESS=DEFLATE (RFC 4978) under TLS with a zlib-wrapped
        imaplib: append, fetch back, search, and a second COMPRESS."""
        m = CompressedIMAP4_SSL("127.0.0.1", D.tls_port,
                                ssl_context=tls_ctx())
        self.assertNotIn("COMPRESS=DEFLATE", m.capabilities)
        m.login(USERS["zlib"], PW)
        typ, data = m.capability()
        self.assertIn(b"COMPRESS=DEFLATE", data[0])
        typ, data = m.compress()
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"DEFLATE active"])
        body = "".join("line %d of a compressed message\r\n" % i
                       for i in range(5000))
        m.append("INBOX", None, None, msg("zipped", body))
        m.select("INBOX")
        typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], (body + "\r\n").encode())
        typ, data = m.search(None, "SUBJECT", "zipped")
        self.assertEqual(data, [b"1"])
        # the text above is repetitive: far fewer bytes on the wire
        self.assertLess(m.wire_in, len(body) // 4)
        typ, data = m._simple_command("COMPRESS", "DEFLATE")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[COMPRESSIONACTIVE]", data[0])
        m.logout()

    def test_list_extended(self):
        m = self.login("listx")
        self.assertIn("LIST-EXTENDED", m.capabilities)
        m.create("Foo")
        m.create("Foo/Baz")
        m.subscribe("Foo/Baz")
        typ, dat = m._simple_command("LIST", "(SUBSCRIBED RECURSIVEMATCH)",
                                     '""', '"%"')
        self.assertEqual(typ, "OK")
        typ, data = m._untagged_response(typ, dat, "LIST")
        self.assertIn(b'(\\HasChildren) "/" "Foo" '
                      b'("CHILDINFO" ("SUBSCRIBED"))', data)
        typ, data = m.status("Foo/Baz", "(MESSAGES SIZE)")
        self.assertIn(b"SIZE 0", data[0])
        m.logout()


class MbsyncTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("mbsync") is None:
            self.skipTest("mbsync not installed")
        self.local = os.path.join(D.dir, "maildir")
        os.makedirs(self.local, exist_ok=True)
        self.rc = os.path.join(D.dir, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write("""IMAPAccount rm
Host localhost
Port %d
User %s
Pass %s
SSLType IMAPS
CertificateFile %s

IMAPStore remote
Account rm

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel rm
Far :remote:
Near :local:
Patterns INBOX Sent
Create Both
Expunge Both
SyncState *
""" % (D.tls_port, USERS["sync"], PW, D.cert, self.local, self.local))

    def mbsync(self):
        r = subprocess.run(["mbsync", "-c", self.rc, "-a"], text=True,
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def local_msgs(self, box):
        out = []
        for sub in ("cur", "new"):
            out += glob.glob(os.path.join(self.local, box, sub, "*"))
        return out

    def local_ids(self, box):
        ids = []
        for p in self.local_msgs(box):
            with open(p, "rb") as f:
                for line in f:
                    if line.lower().startswith(b"message-id:"):
                        ids.append(line.split(b":", 1)[1].strip())
        return sorted(ids)

    def server(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", D.tls_port, ssl_context=tls_ctx())
        m.login(USERS["sync"], PW)
        return m

    def server_state(self, m):
        m.select("INBOX")
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS "
                            "(MESSAGE-ID)])")
        out = {}
        for d in data:
            if isinstance(d, tuple):
                mid = d[1].split(b":", 1)[1].strip()
                self.assertNotIn(mid, out, "duplicate on the server")
                out[mid] = d[0]
        return out

    def test_round_trip(self):
        m = self.server()
        for i in range(3):
            m.append("INBOX", None, None, msg("sync %d" % i))
        m.append("Sent", "(\\Seen)", None, msg("sent 0"))
        self.mbsync()
        self.assertEqual(len(self.local_msgs("INBOX")), 3)
        self.assertEqual(len(self.local_msgs("Sent")), 1)

        # flags on both sides, a new message on each side
        m.select("INBOX")
        m.store("1", "+FLAGS", "(\\Flagged)")
        m.append("INBOX", None, None, msg("sync server new"))
        p = sorted(self.local_msgs("INBOX"))[-1]
        with open(p, "rb") as f:
            seen_id = [l for l in f if l.lower().startswith(b"message-id")]
        base = os.path.basename(p).split(":2,")[0]
        os.rename(p, os.path.join(self.local, "INBOX", "cur",
                                  base + ":2,S"))
        newp = os.path.join(self.local, "INBOX", "new",
                            "%d.local.x" % int(time.time()))
        with open(newp, "wb") as f:
            f.write(msg("sync local new"))
        self.mbsync()
        self.mbsync()   # a resync changes nothing

        state = self.server_state(m)
        self.assertEqual(len(state), 5)
        local = self.local_ids("INBOX")
        self.assertEqual(len(local), 5, "duplicates or losses locally")
        self.assertEqual(sorted(state.keys()), local)
        self.assertIn(b"\\Seen", state[seen_id[0].split(b":", 1)[1]
                                       .strip()])
        flagged = [p for p in self.local_msgs("INBOX")
                   if ":2," in p and "F" in p.split(":2,")[1]]
        self.assertEqual(len(flagged), 1)
        m.logout()


class MbsyncMigrateTest(unittest.TestCase):
    """Moving in with mbsync from a server that lacks some of rmail's
    default mailboxes (here Archive only as a \\Noselect parent, and no
    Junk): the recipes docs/imap.md gives ("Default mailboxes") work.
    The source is a second rmail user, IMAP to IMAP."""

    def setUp(self):
        if shutil.which("mbsync") is None:
            self.skipTest("mbsync not installed")

    def login(self, name):
        m = imaplib.IMAP4_SSL("127.0.0.1", D.tls_port, ssl_context=tls_ctx())
        m.login(USERS[name], PW)
        return m

    def source(self, name):
        m = self.login(name)
        self.assertEqual(m.delete("Archive")[0], "OK")
        self.assertEqual(m.delete("Junk")[0], "OK")
        self.assertEqual(m.create("Archive/2024")[0], "OK")
        m.append("Archive/2024", None, None, msg("archived " + name))
        m.logout()

    def run_mbsync(self, src, dst, create, patterns):
        state = os.path.join(D.dir, "mstate-" + src)
        os.makedirs(state, exist_ok=True)
        rc = os.path.join(D.dir, "mbsyncrc-" + src)
        acct = """IMAPAccount %s
Host localhost
Port %d
User %s
Pass %s
SSLType IMAPS
CertificateFile %s

IMAPStore %s
Account %s

"""
        with open(rc, "w") as f:
            for n in (src, dst):
                f.write(acct % (n, D.tls_port, USERS[n], PW, D.cert, n, n))
            f.write("Channel c\nFar :%s:\nNear :%s:\nPatterns %s\n"
                    "Create %s\nSyncState %s/\n"
                    % (dst, src, patterns, create, state))
        return subprocess.run(["mbsync", "-c", rc, "-a"], text=True,
                              capture_output=True, timeout=60)

    def archived(self, name):
        m = self.login(name)
        typ, data = m.select("Archive/2024")
        self.assertEqual(typ, "OK")
        n = int(data[0])
        m.logout()
        return n

    def test_exclude_defaults(self):
        # the source is left as it is
        self.source("msrc")
        r = self.run_mbsync("msrc", "mdst", "Far", "* !Archive !Junk")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.archived("mdst"), 1)
        m = self.login("msrc")
        typ, data = m.list('""', "Archive")
        self.assertIn(b"\\Noselect", data[0])
        m.logout()

    def test_create_both(self):
        # the missing boxes are made, empty, on the source
        self.source("msrc2")
        r = self.run_mbsync("msrc2", "mdst2", "Both", "*")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.archived("mdst2"), 1)
        m = self.login("msrc2")
        self.assertEqual(m.select("Archive")[0], "OK")
        m.logout()


if __name__ == "__main__":
    unittest.main()
