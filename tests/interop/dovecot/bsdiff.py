"""APPEND the same generated messages to rmail and to a private Dovecot
(Debian's dovecot-imapd, started here with a generated config:
`dovecot -c CONF -F`, 127.0.0.1 on a free port, passwd-file auth, a
Maildir in a temporary directory), FETCH BODYSTRUCTURE and BODY from
both and compare them parsed (a literal and a quoted string with the
same bytes are equal).

Every difference is put in a class (classify); the classes rmail keeps
on purpose are ALLOWED, each documented in docs/imap.md "Parity with
Dovecot".  run() returns the counts and the unexplained differences.

As a tool: python3 bsdiff.py [N] [--show K] (needs RMAIL_BIN,
RMAIL_MODULE_DIR, RMAIL_SOURCE_DIR as for the interop tests).
"""
import os
import pwd
import grp
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir))
sys.path.insert(0, HERE)
import bsgen  # noqa: E402
import rmail_interop  # noqa: E402
from rmail_interop import free_port, tls_ctx  # noqa: E402

USER = "bs@example.test"
PW = "parity-pw"

# class -> why rmail differs on purpose (docs/imap.md lists the same)
ALLOWED = {
    "case": "type, subtype, transfer encoding and parameter names differ "
            "only in letter case (RFC 2045: case-insensitive); rmail sends "
            "types in lower case and the encoding in upper case",
    "malformed-ctype": "a Content-Type without a valid type/subtype (\"text\", "
                       "\"text/\", none in a multipart/related) or with an "
                       "empty charset=: rmail reports the RFC 2045 5.2 "
                       "default text/plain; charset=us-ascii, Dovecot echoes "
                       "the broken value (\"text\" \"\", \"\" \"\", "
                       "\"charset\" \"\")",
    "rfc822-close-crlf": "a message/rfc822 part whose message is a multipart "
                         "ending in its close-delimiter right before the "
                         "parent's delimiter: Dovecot counts the CRLF between "
                         "into the message/rfc822 part (size +2, lines +1); "
                         "RFC 2046 5.1.1 gives that CRLF to the parent's "
                         "delimiter, as rmail does",
    "no-mime-version": "a message without MIME-Version and Content-Type "
                       "but with a Content-Transfer-Encoding: rmail "
                       "reports the encoding it will decode with, Dovecot "
                       "ignores it (7bit)",
    "ew-reencoded": "an ENVELOPE display name with encoded-words goes out "
                    "as one =?UTF-8?B?...?= word of the same text (the "
                    "core's address parser decodes names)",
}


class Client:
    """A small IMAP client that keeps the raw responses."""

    def __init__(self, port, tls=False):
        s = socket.create_connection(("127.0.0.1", port), 10)
        if tls:
            s = tls_ctx().wrap_socket(s)
        s.settimeout(60)
        self.s = s
        self.buf = b""
        self.n = 0
        self.response()

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed")
            self.buf += d
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        """one whole response, literals included"""
        out = b""
        while True:
            line = self._line()
            out += line
            if line.endswith(b"}\r\n") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-3].rstrip(b"+"))
                out += self._exact(n)
                continue
            return out

    def cmd(self, text, literal=None):
        self.n += 1
        tag = b"t%d" % self.n
        if literal is not None:
            self.s.sendall(tag + b" " + text + b" {%d}\r\n" % len(literal))
            r = self.response()
            if not r.startswith(b"+"):
                raise RuntimeError("no continuation: %r" % r)
            self.s.sendall(literal + b"\r\n")
        else:
            self.s.sendall(tag + b" " + text + b"\r\n")
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag + b" "):
                if not r.startswith(tag + b" OK"):
                    raise RuntimeError("%r: %r" % (text, r))
                return untagged
            untagged.append(r)


def parse(b, i=0):
    """IMAP data from b[i:] as a list; strings as bytes, NIL as None"""
    out = []
    n = len(b)
    while i < n:
        c = b[i:i + 1]
        if c in (b" ", b"\r", b"\n"):
            i += 1
        elif c == b"(":
            sub, i = parse(b, i + 1)
            out.append(sub)
        elif c == b")":
            return out, i + 1
        elif c == b'"':
            j = i + 1
            s = b""
            while b[j:j + 1] != b'"':
                if b[j:j + 1] == b"\\":
                    j += 1
                s += b[j:j + 1]
                j += 1
            out.append(s)
            i = j + 1
        elif c == b"{":
            j = b.index(b"}", i)
            ln = int(b[i + 1:j].rstrip(b"+"))
            j += 3
            out.append(b[j:j + ln])
            i = j + ln
        else:
            j = i
            while j < n and b[j:j + 1] not in b" ()\r\n":
                if b[j:j + 1] == b"[":
                    j = b.index(b"]", j)
                j += 1
            a = b[i:j].decode("ascii", "replace")
            out.append(None if a.upper() == "NIL" else a)
            i = j
    return out, i


def fetch_items(raw):
    """{item: value} of a '* N FETCH (...)' response"""
    v, _ = parse(raw)
    items = v[3]
    return {items[k].upper(): items[k + 1] for k in range(0, len(items), 2)}


class Dovecot:
    def __init__(self):
        exe = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(exe):
            raise RuntimeError("dovecot is not installed "
                               "(sh scripts/deps.sh)")
        self.exe = exe
        self.dir = tempfile.mkdtemp(prefix="rmail-dovecot-")
        self.port = free_port()
        me = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        d = self.dir
        for sub in ("run", "state", "mail"):
            os.mkdir(os.path.join(d, sub))
        if os.getuid() == 0:
            # Dovecot refuses root for its unprivileged processes and
            # as the mail user: use its own (or nobody)
            login = "dovenull" if self._user("dovenull") else "nobody"
            internal = "dovecot" if self._user("dovecot") else "nobody"
            pw_ = pwd.getpwnam(internal)
            muid, mgid = pw_.pw_uid, pw_.pw_gid
            os.chown(os.path.join(d, "mail"), muid, mgid)
        else:
            login = internal = me
            muid, mgid = os.getuid(), os.getgid()
        group = grp.getgrgid(mgid).gr_name
        # the auth process runs as default_internal_user: it must read
        # the (throw-away) passwd-file
        os.chmod(d, 0o711)
        with open(os.path.join(d, "passwd"), "w") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write("%s:{PLAIN}%s:%d:%d::%s/mail/%%u::\n" % (
                USER, PW, muid, mgid, d))
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(CONF % dict(dir=d, port=self.port, login=login,
                                internal=internal, me=me, group=group,
                                uid=muid, gid=mgid))
        self.log = open(os.path.join(d, "stderr.log"), "w+")
        self.proc = subprocess.Popen([exe, "-c", self.conf, "-F"],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + self.errors())
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dovecot not listening: " +
                                       self.errors())
                time.sleep(0.05)

    @staticmethod
    def _user(name):
        try:
            pwd.getpwnam(name)
            return True
        except KeyError:
            return False

    def errors(self):
        self.log.flush()
        out = open(self.log.name).read()
        p = os.path.join(self.dir, "dovecot.log")
        if os.path.exists(p):
            out += open(p).read()
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = %(dir)s/run
state_dir = %(dir)s/state
log_path = %(dir)s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = %(login)s
default_internal_user = %(internal)s
default_internal_group = %(group)s
mail_location = maildir:%(dir)s/mail/%%u
mail_uid = %(uid)d
mail_gid = %(gid)d
first_valid_uid = %(uid)d
first_valid_gid = %(gid)d
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %(dir)s/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%%u %(dir)s/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0600
  }
}
"""


class Rmail(rmail_interop.Daemon):
    def __init__(self):
        self.port = free_port()
        super().__init__("rmail-bsparity-", ["mod_imap"], {
            "imap": {"listen": [],
                     "imaps_listen": ["127.0.0.1:%d" % self.port]}})


def load(c, msgs):
    c.cmd(b"LOGIN " + USER.encode() + b" " + PW.encode())
    for m in msgs:
        c.cmd(b"APPEND INBOX", m)
    c.cmd(b"SELECT INBOX")
    out = {}
    for r in c.cmd(b"FETCH 1:* (BODYSTRUCTURE BODY)"):
        if b" FETCH " not in r[:24]:
            continue
        seq = int(r.split(b" ")[1])
        out[seq] = (fetch_items(r), r)
    return out


def walk(a, b, path, diffs):
    """where two parsed structures differ, as (path, a, b)"""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append((path + "/len", a, b))
        for k in range(min(len(a), len(b))):
            walk(a[k], b[k], path + "/%d" % k, diffs)
        return
    if a != b:
        diffs.append((path, a, b))


def ew_text(v):
    import email.header
    try:
        return str(email.header.make_header(
            email.header.decode_header(v.decode("utf-8", "replace"))))
    except Exception:
        return None


def leaf_at(tree, path):
    """the innermost non-multipart body on the way to path"""
    node, found = tree, None
    for step in path.split("/")[1:]:
        if is_leaf(node):
            found = node
        if not step.isdigit() or not isinstance(node, list) or \
                int(step) >= len(node):
            break
        node = node[int(step)]
    if is_leaf(node):
        found = node
    return found


def is_leaf(n):
    """(type subtype params id desc encoding size ...)"""
    return isinstance(n, list) and len(n) >= 7 and \
        isinstance(n[0], (bytes, type(None))) and \
        isinstance(n[2], (list, type(None))) and isinstance(n[6], str)


def classify(item, path, a, b, rm, dc, msg=b""):
    """the class of one difference (a: rmail, b: dovecot)"""
    head = msg.split(b"\n\n")[0].split(b"\r\n\r\n")[0].lower()
    if b == b"7bit" and b"\nmime-version:" not in head and \
            b"\ncontent-type:" not in head and path.endswith("/5"):
        return "no-mime-version"
    leaf = leaf_at(dc, path)
    if leaf is not None and (leaf[0] in (b"", None) or leaf[1] in (b"", None)
                             or (len(leaf) > 2 and isinstance(leaf[2], list) and
                                 b"" in leaf[2][1::2])):
        return "malformed-ctype"
    if leaf is not None and isinstance(a, str) and isinstance(b, str) and \
            a.isdigit() and b.isdigit() and \
            (leaf[0] or b"").lower() == b"message" and \
            (leaf[1] or b"").lower() == b"rfc822" and \
            int(b) - int(a) in (1, 2):
        return "rfc822-close-crlf"
    if isinstance(a, (str, bytes)) and isinstance(b, (str, bytes)):
        x = a.encode() if isinstance(a, str) else a
        y = b.encode() if isinstance(b, str) else b
        if x.lower() == y.lower():
            return "case"
        if x.startswith(b"=?UTF-8?B?") and ew_text(x) == ew_text(y):
            return "ew-reencoded"
    return "unexplained"


def run(n, show=0, log=print):
    msgs = bsgen.gen(n)
    dc = Dovecot()
    rm = Rmail()
    try:
        rm.add_user(USER, PW)
        rm.start(rm.port)
        t = time.monotonic()
        drm = load(Client(rm.port, tls=True), msgs)
        ddc = load(Client(dc.port), msgs)
        log("loaded %d messages into both in %.1fs" %
            (n, time.monotonic() - t))
    finally:
        rm.stop()
        dc.stop()
    counts = {}
    bad = []
    for seq in range(1, n + 1):
        if seq not in drm or seq not in ddc:
            bad.append((seq, "missing", None, None, None))
            continue
        for item in ("BODYSTRUCTURE", "BODY"):
            a = drm[seq][0].get(item)
            b = ddc[seq][0].get(item)
            diffs = []
            walk(a, b, item, diffs)
            for path, x, y in diffs:
                k = classify(item, path, x, y, a, b, msgs[seq - 1])
                counts[k] = counts.get(k, 0) + 1
                if k not in ALLOWED:
                    bad.append((seq, k, path, x, y))
    for seq, k, path, x, y in bad[:show]:
        log("#%d %s %s\n  rmail:   %r\n  dovecot: %r" % (seq, k, path, x, y))
        if show and seq in drm:
            log("  rmail raw:   %r" % drm[seq][1][:600])
            log("  dovecot raw: %r" % ddc[seq][1][:600])
    return counts, bad


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = 10
    if "--show" in sys.argv:
        show = int(sys.argv[sys.argv.index("--show") + 1])
        args = [a for a in args if a != str(show)]
    counts, bad = run(int(args[0]) if args else 2000, show)
    print("differences by class:", counts)
    print("unexplained:", len(bad))
    sys.exit(1 if bad else 0)
