#!/usr/bin/env python3
"""IMAP session consistency checker (issue 14).

N clients stay logged in to one user's INBOX on a real rmail daemon (or
on two daemons sharing one mail root) and do a seeded random mix of
APPEND, FETCH, STORE, EXPUNGE, UID EXPUNGE, MOVE, COPY, SELECT, EXAMINE,
SEARCH, NOOP and IDLE, some logging out and back in.  Each client keeps
the model RFC 3501 gives it and checks every reply against it:

  exists-decrease      `* N EXISTS` below the session's message count
  seq-out-of-range     a reply names a sequence number the client lacks
  expunge-out-of-range `* n EXPUNGE` for a number the client never had
  uid-changed          a sequence number's UID changed without EXPUNGE
  uid-order            UIDs not ascending with sequence numbers
  immutable-changed    size, internal date, envelope or body of a UID
                       differ between two replies (any session)
  empty-body           BODY[] answered with an empty string ({0} or "")
  keyword-before-flags a keyword in FETCH FLAGS not yet in `* FLAGS`
  recent-gt-exists     `* N RECENT` above the message count
  recent-twice         a message \\Recent in two sessions
  expunge-during-cmd   untagged EXPUNGE during FETCH, STORE or SEARCH
  own-change-echoed    unsolicited FETCH FLAGS for a message only this
                       session ever changed
  own-flags-differ     flags of a message only this client changed
                       differ from its last acknowledged change
  uid-unknown          FETCH n:* (UID FLAGS) left a sequence number
                       without its UID
  valid-seq-refused    BAD/NO for a sequence number the client holds
  checkpoint-disagree  after a quiet NOOP the sessions disagree on the
                       mailbox (UIDs or flags) or with the store
  protocol             anything unparsable, BAD, BYE, timeouts

With --qresync (RFC 7162) every other client runs ENABLE QRESYNC, so
its expunges arrive as `* VANISHED uid-set`, and one more client
resyncs at every checkpoint: it disconnected after the previous one
(other sessions, in both daemons, flagged, appended, expunged and
moved meanwhile), comes back with EXAMINE INBOX (QRESYNC (uidvalidity
modseq [known-uids])) and rebuilds its cache from VANISHED (EARLIER)
and the FETCHes, then asks for everything (UID FETCH 1:* (FLAGS
MODSEQ)) on the same connection:

  expunge-with-qresync `* n EXPUNGE` to a session with QRESYNC on
  vanished-unknown     `* VANISHED` of a UID the session does not hold
  resync-differs       the rebuilt cache (UIDs, flags, modseqs) is not
                       the full sync's
  modseq-regressed     a UID's MODSEQ went down between checkpoints

--trace FILE writes every line sent and received, per client, to
replay a finding.

Prints one line per class with a count and the first examples; exits 1
when anything was found.  Needs RMAIL_BIN, RMAIL_MODULE_DIR and
RMAIL_SOURCE_DIR (as ctest sets them) unless --connect is given.
"""
import argparse
import collections
import hashlib
import os
import random
import re
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "interop"))

DOM = "example.test"
PW = "check-pw"
SYSFLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft"]
KW_POOL = ["$Label1", "$Label2", "work", "todo", "later", "Junk2"]


class Protocol(Exception):
    pass


# ---- wire parsing ------------------------------------------------------

class Lit(bytes):
    """A literal: kept apart from quoted strings to spot {0}."""


NIL = None


def tokenize(data):
    """Parse one response (literals inlined) into nested lists.  Atoms
    are str, quoted strings are bytes, literals Lit, NIL None."""
    pos = 0
    n = len(data)
    stack = [[]]
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" ":
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            if len(stack) < 2:
                raise Protocol("unbalanced ) in %r" % data[:200])
            top = stack.pop()
            stack[-1].append(top)
            pos += 1
        elif c == b'"':
            out = bytearray()
            pos += 1
            while pos < n and data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
            pos += 1
            stack[-1].append(bytes(out))
        elif c == b"\x00":
            # literal marker inserted by read_response: \x00<idx>\x00
            end = data.index(b"\x00", pos + 1)
            stack[-1].append(("LIT", int(data[pos + 1:end])))
            pos = end + 1
        else:
            m = re.compile(rb"[^ ()\"\x00]+").match(data, pos)
            # section brackets may contain spaces and parens:
            # BODY[HEADER.FIELDS (X)] is one token
            tok = m.group(0)
            end = m.end()
            if b"[" in tok and b"]" not in tok:
                close = data.index(b"]", pos)
                end = close + 1
                m2 = re.compile(rb"[^ ()\"\x00]*").match(data, end)
                end = m2.end()
                tok = data[pos:end]
            pos = end
            s = tok.decode("latin-1")
            stack[-1].append(NIL if s.upper() == "NIL" else s)
    if len(stack) != 1:
        raise Protocol("unbalanced ( in %r" % data[:200])
    return stack[0]


def fill_literals(tree, lits):
    out = []
    for t in tree:
        if isinstance(t, tuple) and t[0] == "LIT":
            out.append(Lit(lits[t[1]]))
        elif isinstance(t, list):
            out.append(fill_literals(t, lits))
        else:
            out.append(t)
    return out


TRACE = None  # --trace: every line sent and received, per client


TRACE_LOCK = threading.Lock()


def trace(who, d, data):
    if TRACE is not None:
        with TRACE_LOCK:
                TRACE.write("%.6f %s %s %r\n" % (time.monotonic(), who, d,
                                             data[:300]))


class Conn:
    def __init__(self, host, port, timeout, who="?"):
        self.who = who
        self.sock = socket.create_connection((host, port), timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.tagn = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise Protocol("timeout waiting for the server")
        if not d:
            raise Protocol("connection closed by the server")
        self.buf += d

    def readline(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = self.buf[:i]
                self.buf = self.buf[i + 2:]
                return line
            self._fill()

    def readn(self, k):
        while len(self.buf) < k:
            self._fill()
        d = self.buf[:k]
        self.buf = self.buf[k:]
        return d

    def read_response(self):
        """One response: (raw text with literal markers, literals)."""
        parts = []
        lits = []
        while True:
            line = self.readline()
            m = re.search(rb"\{(\d+)\+?\}$", line)
            if m is None:
                parts.append(line)
                trace(self.who, "S", line)
                break
            parts.append(line[:m.start()])
            trace(self.who, "S", line)
            k = int(m.group(1))
            parts.append(b"\x00%d\x00" % len(lits))
            lits.append(self.readn(k))
        return b"".join(parts), lits

    def send(self, data):
        trace(self.who, "C", data)
        self.sock.sendall(data)

    def tag(self):
        self.tagn += 1
        return "t%d" % self.tagn


# ---- shared knowledge --------------------------------------------------

class World:
    """What all clients share: violations, per-UID immutable data (the
    UIDVALIDITY never changes in a run), flag touches, recent claims."""

    def __init__(self, verbose):
        self.lock = threading.Lock()
        self.viol = collections.OrderedDict()
        self.examples = collections.defaultdict(list)
        self.immut = {}  # (mbox, uid) -> {field: value}
        self.touch = collections.defaultdict(set)  # (mbox, uid) -> cids
        self.recent = {}  # (mbox, uid) -> cid
        # expunges anyone may have run on a mailbox: count, in flight
        self.expunges = collections.Counter()
        self.expunging = collections.Counter()
        self.stop = False
        self.verbose = verbose
        self.ops = collections.Counter()

    def violation(self, cls, msg):
        with self.lock:
            self.viol[cls] = self.viol.get(cls, 0) + 1
            if len(self.examples[cls]) < 5:
                self.examples[cls].append(msg)
            if self.verbose:
                print("VIOLATION %s: %s" % (cls, msg), file=sys.stderr)

    def immutable(self, cid, mbox, uid, field, value, ctx):
        key = (mbox, uid)
        with self.lock:
            d = self.immut.setdefault(key, {})
            old = d.get(field)
            if old is None:
                d[field] = value
                return
        if old != value:
            self.violation("immutable-changed",
                           "c%d %s uid %d %s: was %r now %r (%s)" %
                           (cid, mbox, uid, field, short(old), short(value),
                            ctx))

    def touched(self, mbox, uid, cid):
        with self.lock:
            self.touch[(mbox, uid)].add(cid)

    def only_toucher(self, mbox, uid, cid):
        with self.lock:
            return self.touch.get((mbox, uid), set()) <= {cid}

    # An EXPUNGE removes every \\Deleted message, also ones the issuer
    # never saw; a STORE on a message another session expunged is then
    # answered OK and ignored (RFC 2180 4.2), so its flags stay what
    # they were.  begin/end bracket the command: a check between them,
    # or after a change of the count, cannot rely on such a message.
    def expunge_begin(self, mbox):
        with self.lock:
            self.expunges[mbox] += 1
            self.expunging[mbox] += 1

    def expunge_end(self, mbox):
        with self.lock:
            self.expunges[mbox] += 1
            self.expunging[mbox] -= 1

    def expunge_epoch(self, mbox):
        with self.lock:
            return self.expunges[mbox]

    def maybe_expunged(self, mbox, since):
        with self.lock:
            return (self.expunging[mbox] > 0 or
                    self.expunges[mbox] != since)

    def claim_recent(self, mbox, uid, cid):
        with self.lock:
            other = self.recent.setdefault((mbox, uid), cid)
        if other != cid:
            self.violation("recent-twice",
                           "%s uid %d recent in sessions %s and %s" %
                           (mbox, uid, other, cid))


def short(v):
    s = repr(v)
    return s if len(s) < 120 else s[:117] + "..."


def flatten_flags(lst):
    return set(x for x in lst if isinstance(x, str))


# ---- one client --------------------------------------------------------

class Client:
    def __init__(self, cid, world, endpoints, user, seed, args):
        self.cid = cid
        self.w = world
        self.endpoints = endpoints
        self.user = user
        self.rng = random.Random(seed * 1000003 + cid)
        self.args = args
        self.conn = None
        self.mbox = None  # selected mailbox
        self.readonly = False
        self.map = []  # seq-1 -> uid or None
        self.kw = set()  # keywords announced by * FLAGS
        self.myflags = {}  # (mbox, uid) -> flags after own last change
        # (mbox, uid) -> expunge epoch when this client set \\Deleted
        self.deleted_at = {}
        self.recent_count = 0
        self.ctx = ""
        self.cmd_kind = None  # "FETCH"/"STORE"/"SEARCH" when non-UID
        self.solicited = set()  # UIDs this command asked FLAGS of
        self.sol_seqs = None
        self.appendseq = 0
        self.search_result = None
        self.lastflags = {}
        self.sid = "c%d.0" % cid  # session id (per SELECT)
        self.nsel = 0
        # --qresync: every other client takes VANISHED for EXPUNGE
        self.qresync = args.qresync and cid % 2 == 1

    # -- connection ----------------------------------------------------
    def connect(self):
        host, port = self.endpoints[self.cid % len(self.endpoints)]
        for _ in range(20):
            self.conn = Conn(host, port, self.args.timeout,
                             "c%d" % self.cid)
            greet, _ = self.conn.read_response()
            if not greet.startswith(b"* OK"):
                raise Protocol("greeting %r" % greet)
            st, rest = self.command('LOGIN "%s" "%s"' % (self.user, PW))
            if st == "OK":
                break
            if "[UNAVAILABLE]" not in rest:
                raise Protocol("LOGIN %s" % rest)
            # a busy store, or the core's login budget refusing many
            # parallel logins from one IP to one account: temporary
            # (docs/imap.md), and it counts toward auth_fail_disconnect,
            # so retry on a new connection after a pause; count it
            self.w.ops["login-unavailable"] += 1
            self.conn.close()
            time.sleep(random.uniform(0.1, 0.5))  # seed stays stable
        else:
            raise Protocol("LOGIN still UNAVAILABLE")
        self.mbox = None
        if self.qresync:
            self.command("ENABLE QRESYNC")

    def logout(self):
        try:
            self.command("LOGOUT", allow_bye=True)
        except Protocol:
            pass
        self.conn.close()
        self.conn = None
        self.mbox = None
        self.map = []

    # -- responses -----------------------------------------------------
    def v(self, cls, msg):
        self.w.violation(cls, "c%d %s: %s [%s]" %
                         (self.cid, self.mbox, msg, self.ctx))

    def command(self, text, literal=None, allow_bye=False, ok_no=True):
        """Send a command and handle responses until its tag; returns
        (status, rest of the tagged line)."""
        tag = self.conn.tag()
        if literal is not None:
            self.conn.send(("%s %s {%d+}\r\n" % (tag, text, len(literal)))
                           .encode() + literal + b"\r\n")
        else:
            self.conn.send(("%s %s\r\n" % (tag, text)).encode())
        self.ctx = "%s %s" % (tag, text[:80])
        while True:
            raw, lits = self.conn.read_response()
            if raw.startswith(tag.encode() + b" "):
                rest = raw[len(tag) + 1:].decode("latin-1")
                st = rest.split(" ", 1)[0]
                if st == "BAD":
                    if "sequence" in rest.lower():
                        self.v("valid-seq-refused", rest)
                    else:
                        self.v("protocol", "BAD %s" % rest)
                elif st == "NO" and not ok_no:
                    self.v("protocol", "NO %s" % rest)
                return st, rest
            if raw.startswith(b"* "):
                self.untagged(raw, lits, allow_bye)
            elif raw.startswith(b"+"):
                raise Protocol("unexpected continuation %r" % raw)
            else:
                raise Protocol("unexpected line %r" % raw[:200])

    def untagged(self, raw, lits, allow_bye):
        tree = fill_literals(tokenize(raw[2:]), lits)
        if not tree:
            raise Protocol("empty untagged")
        head = tree[0]
        if isinstance(head, str) and head.isdigit() and len(tree) >= 2:
            n = int(head)
            what = tree[1].upper() if isinstance(tree[1], str) else ""
            if what == "EXISTS":
                self.on_exists(n)
            elif what == "RECENT":
                if n > len(self.map):
                    self.v("recent-gt-exists",
                           "%d RECENT with %d messages" % (n, len(self.map)))
            elif what == "EXPUNGE":
                self.on_expunge(n)
            elif what == "FETCH":
                self.on_fetch(n, tree[2] if len(tree) > 2 else [])
            return
        if not isinstance(head, str):
            raise Protocol("odd untagged %r" % raw[:200])
        h = head.upper()
        if h == "VANISHED":
            self.on_vanished(tree[1:])
            return
        if h == "FLAGS" and len(tree) > 1 and isinstance(tree[1], list):
            self.kw = set(f for f in flatten_flags(tree[1])
                          if not f.startswith("\\"))
        elif h == "SEARCH":
            self.search_result = [int(x) for x in tree[1:]]
        elif h == "BYE":
            if not allow_bye:
                raise Protocol("BYE: %r" % raw[:200])
        # OK/NO/CAPABILITY/LIST/STATUS/ENABLED: nothing to model

    def on_exists(self, n):
        if n < len(self.map):
            self.v("exists-decrease",
                   "* %d EXISTS after %d" % (n, len(self.map)))
            del self.map[n:]
        else:
            self.map.extend([None] * (n - len(self.map)))

    def on_vanished(self, rest):
        if rest and isinstance(rest[0], list):
            return  # (EARLIER): only asked for, never sent here
        if not self.qresync:
            self.v("protocol", "VANISHED without QRESYNC")
        if self.cmd_kind is not None:
            self.v("expunge-during-cmd", "* VANISHED during %s" %
                   self.cmd_kind)
        for uid in uidset_iter(rest[0] if rest else ""):
            if uid in self.map:
                self.map.remove(uid)
            elif None in self.map:
                # announced by EXISTS, its UID not learnt yet: which
                # number it had is unknown, so learn them all again
                self.map = [None] * (len(self.map) - 1)
            else:
                self.v("vanished-unknown", "UID %d" % uid)

    def on_expunge(self, n):
        if self.qresync:
            self.v("expunge-with-qresync", "* %d EXPUNGE" % n)
        if self.cmd_kind is not None:
            self.v("expunge-during-cmd",
                   "* %d EXPUNGE during %s" % (n, self.cmd_kind))
        if n < 1 or n > len(self.map):
            self.v("expunge-out-of-range",
                   "* %d EXPUNGE with %d messages" % (n, len(self.map)))
            return
        del self.map[n - 1]

    def on_fetch(self, seq, atts):
        if seq < 1 or seq > len(self.map):
            self.v("seq-out-of-range",
                   "* %d FETCH with %d messages" % (seq, len(self.map)))
            return
        d = {}
        it = iter(atts)
        for k in it:
            try:
                d[str(k).upper()] = next(it)
            except StopIteration:
                raise Protocol("odd FETCH %r" % short(atts))
        uid = d.get("UID")
        if uid is None:
            if self.map[seq - 1] is None:
                return  # nothing to tie it to
            uid = self.map[seq - 1]
        else:
            uid = int(uid)
        have = self.map[seq - 1]
        if have is not None and have != uid:
            self.v("uid-changed", "seq %d was uid %d, now uid %d" %
                   (seq, have, uid))
        self.map[seq - 1] = uid
        # order check against known neighbours
        for j in range(seq - 2, -1, -1):
            if self.map[j] is not None:
                if self.map[j] >= uid:
                    self.v("uid-order", "seq %d uid %d after seq %d uid %d"
                           % (seq, uid, j + 1, self.map[j]))
                break
        for j in range(seq, len(self.map)):
            if self.map[j] is not None:
                if self.map[j] <= uid:
                    self.v("uid-order", "seq %d uid %d before seq %d uid %d"
                           % (seq, uid, j + 1, self.map[j]))
                break
        mb = self.mbox
        ctx = self.ctx
        for k, val in d.items():
            if k == "RFC822.SIZE":
                self.w.immutable(self.cid, mb, uid, "size", int(val), ctx)
            elif k == "INTERNALDATE":
                self.w.immutable(self.cid, mb, uid, "date", val, ctx)
            elif k == "ENVELOPE":
                self.w.immutable(self.cid, mb, uid, "envelope", repr(val),
                                 ctx)
            elif k in ("BODY[]", "RFC822"):
                if val is None:
                    continue  # expunged: NIL is the right answer
                if len(val) == 0:
                    self.v("empty-body", "uid %d %s empty (%s)" %
                           (uid, k, "literal" if isinstance(val, Lit)
                            else "quoted"))
                    continue
                self.w.immutable(self.cid, mb, uid, "body",
                                 hashlib.sha1(val).hexdigest(), ctx)
                self.w.immutable(self.cid, mb, uid, "size", len(val), ctx)
            elif k.startswith("BODY[HEADER.FIELDS"):
                if val is not None and len(val) == 0:
                    self.v("empty-body", "uid %d %s empty" % (uid, k))
                elif val is not None:
                    self.w.immutable(self.cid, mb, uid, "xchk", bytes(val),
                                     ctx)
            elif k == "FLAGS":
                if any(d.get(x, 1) is None for x in ("BODY[]", "RFC822")):
                    # expunged elsewhere: its last flags, which this
                    # FETCH could not change
                    self.myflags.pop((mb, uid), None)
                self.on_flags(seq, uid, val)

    def on_flags(self, seq, uid, val):
        flags = flatten_flags(val)
        for f in flags:
            if not f.startswith("\\") and f not in self.kw:
                self.v("keyword-before-flags",
                       "uid %d FLAGS has %s, * FLAGS had %s" %
                       (uid, f, sorted(self.kw)))
        if "\\Recent" in flags:
            self.w.claim_recent(self.mbox, uid, self.sid)
        key = (self.mbox, uid)
        self.lastflags[uid] = frozenset(flags - {"\\Recent"})
        mine = self.w.only_toucher(self.mbox, uid, self.cid)
        if not self.on_fetch_solicited_check(seq, uid):
            if mine and key in self.myflags:
                self.v("own-change-echoed",
                       "unsolicited FETCH %d (UID %d FLAGS %s)" %
                       (seq, uid, sorted(flags)))
        if (key in self.deleted_at and
                self.w.maybe_expunged(self.mbox, self.deleted_at[key])):
            # \\Deleted and an EXPUNGE since: maybe gone, its later
            # STOREs ignored
            self.myflags.pop(key, None)
            self.deleted_at.pop(key, None)
        if mine and key in self.myflags:
            want = self.myflags[key]
            got = flags - {"\\Recent"}
            if got != want:
                self.v("own-flags-differ", "uid %d FLAGS %s, set %s" %
                       (uid, sorted(got), sorted(want)))

    # -- operations ----------------------------------------------------
    def known_uids(self):
        return [u for u in self.map if u is not None]

    def rand_seqset(self):
        n = len(self.map)
        if n == 0:
            return None
        a = self.rng.randint(1, n)
        r = self.rng.random()
        if r < 0.5:
            return str(a)
        if r < 0.8:
            b = min(n, a + self.rng.randint(0, 5))
            return "%d:%d" % (a, b)
        return "%d,%d" % (a, self.rng.randint(1, n))

    def rand_uidset(self):
        u = self.known_uids()
        if not u:
            return None
        a = self.rng.choice(u)
        r = self.rng.random()
        if r < 0.6:
            return str(a)
        if r < 0.9:
            return "%d:%d" % (a, a + self.rng.randint(0, 8))
        return "%d:*" % a

    def seqs_of(self, setstr):
        out = set()
        for part in setstr.split(","):
            if ":" in part:
                a, b = part.split(":")
                a = int(a)
                b = len(self.map) if b == "*" else int(b)
                out.update(range(min(a, b), max(a, b) + 1))
            else:
                out.add(int(part))
        return out

    def solicit(self, uid, setstr):
        self.solicited = set()
        if uid:
            for part in setstr.split(","):
                if ":" in part:
                    a, b = part.split(":")
                    hi = 2 ** 32 if b == "*" else int(b)
                    self.solicited.update(x for x in self.known_uids()
                                          if int(a) <= x <= hi)
                    if b == "*":
                        self.solicited.add("*")
                else:
                    self.solicited.add(int(part))
        else:
            for s in self.seqs_of(setstr):
                if 1 <= s <= len(self.map) and self.map[s - 1] is not None:
                    self.solicited.add(self.map[s - 1])
            # unknown UIDs at these seqs learn their UID from the reply
            self.sol_seqs = self.seqs_of(setstr)

    def done_cmd(self):
        self.cmd_kind = None
        self.solicited = set()
        self.sol_seqs = None

    def on_fetch_solicited_check(self, seq, uid):
        return "*" in self.solicited or uid in self.solicited or (
            self.sol_seqs is not None and seq in self.sol_seqs)

    def select(self, name, examine=False):
        cmd = "EXAMINE" if examine else "SELECT"
        self.map = []
        self.kw = set()
        self.lastflags = {}
        self.mbox = name
        self.nsel += 1
        self.sid = "c%d.%d" % (self.cid, self.nsel)
        st, rest = self.command("%s %s" % (cmd, name))
        if st != "OK":
            self.mbox = None
            return
        self.readonly = examine
        if self.map:
            self.learn_uids()

    def learn_uids(self):
        self.solicited = set(["*"])
        self.command("UID FETCH 1:* (UID FLAGS)")
        self.done_cmd()
        self.solicited = set()

    def op_append(self, name):
        self.appendseq += 1
        tagline = "c%d-%d-%d" % (self.cid, self.appendseq,
                                 self.rng.randint(0, 1 << 30))
        body = ("From: Checker %d <c%d@example.test>\r\n"
                "To: box@example.test\r\n"
                "Subject: check %s\r\n"
                "Message-ID: <%s@example.test>\r\n"
                "X-Chk: %s\r\n\r\n" % (self.cid, self.cid, tagline,
                                         tagline, tagline))
        body += "line %s\r\n" % ("x" * self.rng.randint(0, 200))
        body = body.encode() * self.rng.randint(1, 3)
        flags = []
        if self.rng.random() < 0.3:
            flags.append(self.rng.choice(SYSFLAGS))
        if self.rng.random() < 0.2:
            flags.append(self.rng.choice(KW_POOL))
        st, rest = self.command("APPEND %s (%s)" % (name, " ".join(flags)),
                                literal=body)
        m = re.search(r"APPENDUID (\d+) (\d+)", rest)
        if st == "OK" and m:
            uid = int(m.group(2))
            self.w.immutable(self.cid, name, uid, "body",
                             hashlib.sha1(body).hexdigest(), "APPEND")
            self.w.immutable(self.cid, name, uid, "size", len(body),
                             "APPEND")
            self.w.touched(name, uid, self.cid)
            self.myflags[(name, uid)] = set(flags)

    def op_fetch(self):
        uid = self.rng.random() < 0.5
        setstr = self.rand_uidset() if uid else self.rand_seqset()
        if setstr is None:
            return
        items = self.rng.choice([
            "(UID FLAGS)",
            "(UID RFC822.SIZE INTERNALDATE ENVELOPE)",
            "(UID FLAGS BODY.PEEK[])",
            "(UID BODY.PEEK[HEADER.FIELDS (X-Chk)] RFC822.SIZE)",
            "(UID FLAGS BODY[])",
            "FAST",
        ])
        if items == "FAST":
            items = "(UID FLAGS INTERNALDATE RFC822.SIZE)"
        setstr_uids = None
        if "BODY[]" in items and not self.readonly:
            # a non-PEEK fetch sets \Seen: a flag change of this client
            if uid:
                setstr_uids = self.expand_uids(setstr)
            else:
                setstr_uids = [self.map[s - 1] for s in self.seqs_of(setstr)
                               if 1 <= s <= len(self.map)
                               and self.map[s - 1] is not None]
            for u in setstr_uids:
                self.w.touched(self.mbox, u, self.cid)
                k = (self.mbox, u)
                if k in self.myflags:
                    self.myflags[k] = self.myflags[k] | {"\\Seen"}
        self.cmd_kind = None if uid else "FETCH"
        self.solicit(uid, setstr)
        self.command("%sFETCH %s %s" % ("UID " if uid else "", setstr,
                                        items))
        self.done_cmd()

    def expand_uids(self, setstr):
        out = []
        known = self.known_uids()
        for part in setstr.split(","):
            if ":" in part:
                a, b = part.split(":")
                hi = 2 ** 32 if b == "*" else int(b)
                out += [x for x in known if int(a) <= x <= hi]
            else:
                if int(part) in known:
                    out.append(int(part))
        return out

    def op_store(self):
        if self.readonly:
            return
        uid = self.rng.random() < 0.5
        setstr = self.rand_uidset() if uid else self.rand_seqset()
        if setstr is None:
            return
        mode = self.rng.choice(["+", "-", ""])
        flags = set()
        for _ in range(self.rng.randint(1, 2)):
            r = self.rng.random()
            if r < 0.4:
                flags.add(self.rng.choice(SYSFLAGS))
            elif r < 0.55:
                flags.add("\\Deleted")
            elif r < 0.9:
                flags.add(self.rng.choice(KW_POOL))
            else:
                flags.add("kw%d" % self.rng.randint(0, 40))
        silent = self.rng.random() < 0.3
        if uid:
            targets = self.expand_uids(setstr)
        else:
            targets = [self.map[s - 1] for s in self.seqs_of(setstr)
                       if 1 <= s <= len(self.map)
                       and self.map[s - 1] is not None]
        epoch = self.w.expunge_epoch(self.mbox)
        for u in targets:
            self.w.touched(self.mbox, u, self.cid)
            k = (self.mbox, u)
            if "\\Deleted" in flags and mode != "-":
                self.deleted_at.setdefault(k, epoch)
            if k not in self.myflags:
                continue
            if mode == "+":
                self.myflags[k] = self.myflags[k] | flags
            elif mode == "-":
                self.myflags[k] = self.myflags[k] - flags
            else:
                self.myflags[k] = set(flags)
        self.cmd_kind = None if uid else "STORE"
        self.solicit(uid, setstr)
        self.store_mode = mode
        st, rest = self.command("%sSTORE %s %sFLAGS%s (%s)" % (
            "UID " if uid else "", setstr, mode,
            ".SILENT" if silent else "", " ".join(sorted(flags))))
        self.done_cmd()
        if st != "OK":
            for u in targets:
                self.myflags.pop((self.mbox, u), None)

    def op_search(self):
        uid = self.rng.random() < 0.3
        key = self.rng.choice(["ALL", "RECENT", "DELETED", "KEYWORD work",
                               "UNSEEN", "NEW"])
        self.cmd_kind = None if uid else "SEARCH"
        self.search_result = None
        self.command("%sSEARCH %s" % ("UID " if uid else "", key))
        self.done_cmd()
        res = self.search_result or []
        if uid:
            return
        for s in res:
            if s < 1 or s > len(self.map):
                self.v("seq-out-of-range", "SEARCH %s gave %d of %d" %
                       (key, s, len(self.map)))
        if key == "RECENT":
            for s in res:
                if 1 <= s <= len(self.map) and self.map[s - 1] is not None:
                    self.w.claim_recent(self.mbox, self.map[s - 1],
                                        self.sid)

    def expunge(self, cmd):
        self.w.expunge_begin(self.mbox)
        try:
            self.command(cmd)
        finally:
            self.w.expunge_end(self.mbox)

    def op_expunge(self):
        if self.readonly:
            return
        if self.rng.random() < 0.5:
            self.expunge("EXPUNGE")
        else:
            s = self.rand_uidset()
            if s is not None:
                self.expunge("UID EXPUNGE %s" % s)

    def op_copy(self, move):
        if move and self.readonly:
            return
        uid = self.rng.random() < 0.5
        setstr = self.rand_uidset() if uid else self.rand_seqset()
        if setstr is None:
            return
        dst = "Other" if self.mbox == "INBOX" else "INBOX"
        if move:
            # the moved messages leave this mailbox: no other client's
            # flags on them are to be relied on from now on
            if uid:
                moved = self.expand_uids(setstr)
            else:
                moved = [self.map[s - 1] for s in self.seqs_of(setstr)
                         if 1 <= s <= len(self.map)]
            for u in moved:
                if u is not None:
                    self.w.touched(self.mbox, u, self.cid)
        self.command("%s%s %s %s" % ("UID " if uid else "",
                                     "MOVE" if move else "COPY", setstr,
                                     dst))

    def op_idle(self):
        tag = self.conn.tag()
        self.conn.send(("%s IDLE\r\n" % tag).encode())
        self.ctx = "%s IDLE" % tag
        raw, lits = self.conn.read_response()
        while not raw.startswith(b"+"):
            if raw.startswith(b"* "):
                self.untagged(raw, lits, False)
            else:
                raise Protocol("IDLE: %r" % raw[:200])
            raw, lits = self.conn.read_response()
        # the updates queue in the socket meanwhile
        time.sleep(self.rng.uniform(0.05, 0.4))
        self.conn.send(b"DONE\r\n")
        while True:
            raw, lits = self.conn.read_response()
            if raw.startswith(tag.encode() + b" "):
                break
            self.untagged(raw, lits, False)

    def learn_new(self):
        """Learn the UIDs of new messages before touching any, so the
        model knows what each command acts on."""
        first = self.map.index(None) + 1
        self.cmd_kind = "FETCH"
        self.solicited = set(["*"])
        self.command("FETCH %d:* (UID FLAGS)" % first)
        self.done_cmd()

    def step(self):
        r = self.rng.random()
        a = self.args
        if self.conn is None:
            self.connect()
            self.select("INBOX")
            return
        if self.mbox is None:
            self.select("INBOX")
            return
        if None in self.map:
            self.learn_new()
            return
        if r < 0.14:
            self.op_append(self.rng.choice(["INBOX", "INBOX", "Other"]))
        elif r < 0.36:
            self.op_fetch()
        elif r < 0.56:
            self.op_store()
        elif r < 0.62:
            self.op_expunge()
        elif r < 0.66:
            self.op_copy(move=self.rng.random() < 0.5)
        elif r < 0.72:
            self.op_search()
        elif r < 0.78:
            self.command("NOOP")
        elif r < 0.82 and a.idle:
            self.op_idle()
        elif r < 0.85:
            self.select("INBOX", examine=self.rng.random() < 0.3)
        elif r < 0.86:
            self.select("Other")
        elif r < 0.87 and a.logout:
            self.logout()
        else:
            self.command("NOOP")
        if len(self.map) > a.max_messages and not self.readonly:
            # keep the box small so sequence ranges hit often
            # the op may have announced messages without their UIDs
            # (EXISTS in IDLE, NOOP, ...): STORE 1:k acts on them too
            for _ in range(3):
                if None not in self.map[:len(self.map) // 3]:
                    break
                self.learn_new()
            k = len(self.map) // 3
            if None in self.map[:k]:
                self.v("uid-unknown", "UIDs unknown after FETCH n:*")
                return
            for u in self.map[:k]:
                if u is not None:
                    self.w.touched(self.mbox, u, self.cid)
                    self.myflags.pop((self.mbox, u), None)
            self.command("STORE 1:%d +FLAGS.SILENT (\\Deleted)" % k)
            self.expunge("EXPUNGE")

    # checkpoint: returns (uids, flags) of INBOX after a quiet NOOP
    def checkpoint(self):
        if self.conn is None:
            self.connect()
        if self.mbox != "INBOX" or self.readonly:
            self.select("INBOX")
        self.command("NOOP")
        self.solicited = set(["*"])
        self.flagsnap = {}
        self.command("UID FETCH 1:* (UID FLAGS)")
        self.done_cmd()
        if None in self.map:
            self.v("checkpoint-disagree", "UIDs unknown after FETCH 1:*")
        return list(self.map), {u: self.lastflags.get(u) for u in self.map}


# ---- QRESYNC ---------------------------------------------------------------

def uidset_iter(setstr):
    for part in str(setstr).split(","):
        if not part:
            continue
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            for u in range(min(a, b), max(a, b) + 1):
                yield u
        else:
            yield int(part)


def uidset_str(uids):
    out, run = [], None
    for u in sorted(uids):
        if run is not None and u == run[1] + 1:
            run[1] = u
            continue
        if run is not None:
            out.append(run)
        run = [u, u]
    if run is not None:
        out.append(run)
    return ",".join("%d" % a if a == b else "%d:%d" % (a, b)
                    for a, b in out)


class Resync:
    """A QRESYNC client that is away between checkpoints: at each one
    it reconnects (to each daemon in turn), rebuilds its cache from
    EXAMINE (QRESYNC ...) and checks it against a full sync."""

    def __init__(self, world, endpoints, user, seed, args):
        self.w = world
        self.endpoints = endpoints
        self.user = user
        self.args = args
        self.rng = random.Random(seed * 7919 + 17)
        self.cache = None  # uid -> (flags, modseq)
        self.uidvalidity = None
        self.hms = None
        self.rounds = 0

    def cmd(self, conn, text, out):
        tag = conn.tag()
        conn.send(("%s %s\r\n" % (tag, text)).encode())
        while True:
            raw, lits = conn.read_response()
            if raw.startswith(tag.encode() + b" "):
                rest = raw[len(tag) + 1:].decode("latin-1")
                if not rest.startswith("OK"):
                    raise Protocol("resync %s: %s" % (text[:60], rest))
                out.append(raw)
                return
            if raw.startswith(b"* "):
                out.append(raw)

    def fetches(self, lines):
        """uid -> (flags, modseq) of the FETCH lines, VANISHED set."""
        got, gone = {}, set()
        for raw in lines:
            m = re.match(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", raw)
            if m:
                self.seen_hms = int(m.group(1))
            m = re.match(rb"\* OK \[UIDVALIDITY (\d+)\]", raw)
            if m:
                self.seen_uv = int(m.group(1))
            if raw.startswith(b"* VANISHED (EARLIER) "):
                gone.update(uidset_iter(raw[21:].decode()))
                continue
            if raw.startswith(b"* VANISHED "):
                raise Protocol("unsolicited VANISHED in a resync")
            if not raw.startswith(b"* "):
                continue
            tree = tokenize(raw[2:])
            if len(tree) < 3 or not isinstance(tree[1], str) or \
                    tree[1].upper() != "FETCH":
                continue
            d = {}
            it = iter(tree[2])
            for k in it:
                try:
                    d[str(k).upper()] = next(it)
                except StopIteration:
                    raise Protocol("odd FETCH %r" % raw[:200])
            if "UID" not in d or "FLAGS" not in d or "MODSEQ" not in d:
                self.w.violation("resync-differs",
                                 "FETCH without UID/FLAGS/MODSEQ: %r" %
                                 raw[:200])
                continue
            flags = frozenset(flatten_flags(d["FLAGS"]) - {"\\Recent"})
            got[int(d["UID"])] = (flags, int(d["MODSEQ"][0]))
        return got, gone

    def round(self):
        ep = self.endpoints[self.rounds % len(self.endpoints)]
        self.rounds += 1
        conn = Conn(ep[0], ep[1], self.args.timeout, "qr")
        try:
            conn.read_response()
            out = []
            self.cmd(conn, 'LOGIN "%s" "%s"' % (self.user, PW), out)
            self.cmd(conn, "ENABLE QRESYNC", out)
            self.seen_hms = self.seen_uv = None
            out = []
            known = ""
            if self.cache is None:
                self.cmd(conn, "EXAMINE INBOX", out)
            else:
                if self.cache and self.rng.random() < 0.5:
                    known = " " + uidset_str(self.cache)
                self.cmd(conn, "EXAMINE INBOX (QRESYNC (%d %d%s))" %
                         (self.uidvalidity, self.hms, known), out)
            got, gone = self.fetches(out)
            if self.seen_hms is None or self.seen_uv is None:
                raise Protocol("EXAMINE without HIGHESTMODSEQ/UIDVALIDITY")
            if known:
                # changes are reported for known UIDs only (RFC 7162
                # 3.2.5): new ones are fetched as a client would
                out2 = []
                self.cmd(conn, "UID FETCH %d:* (UID FLAGS MODSEQ)" %
                         (max(self.cache) + 1), out2)
                more, _ = self.fetches(out2)
                got.update((u, v) for u, v in more.items()
                           if u > max(self.cache))
            rebuilt = None
            if self.cache is not None and self.seen_uv == self.uidvalidity:
                rebuilt = dict(self.cache)
                for u in gone:
                    rebuilt.pop(u, None)
                rebuilt.update(got)
            hms = self.seen_hms
            out = []
            self.cmd(conn, "UID FETCH 1:* (UID FLAGS MODSEQ)", out)
            full, _ = self.fetches(out)
            self.w.ops["resync"] += 1
            if rebuilt is not None:
                self.compare(rebuilt, full, len(gone), len(got))
            if self.cache is not None:
                for u, (_, ms) in full.items():
                    if ms == 1 and self.cache.get(u, (0, 1))[1] > 1:
                        # 0 from the store, shown as 1: a modseq it
                        # lost counts as changed (docs/imap.md)
                        self.w.ops["modseq-lost"] += 1
                    elif u in self.cache and ms < self.cache[u][1]:
                        self.w.violation("modseq-regressed",
                                         "UID %d MODSEQ %d after %d" %
                                         (u, ms, self.cache[u][1]))
            self.cache = full
            self.uidvalidity = self.seen_uv
            self.hms = hms
            conn.send(b"z LOGOUT\r\n")
        finally:
            conn.close()

    def compare(self, rebuilt, full, ngone, ngot):
        if rebuilt == full:
            return
        a, b = set(rebuilt), set(full)
        if a != b:
            self.w.violation("resync-differs",
                             "UIDs: only rebuilt %s, only full %s "
                             "(%d vanished, %d fetched)" %
                             (sorted(a - b)[:5], sorted(b - a)[:5],
                              ngone, ngot))
            return
        for u in sorted(a):
            if rebuilt[u] != full[u]:
                self.w.violation("resync-differs",
                                 "UID %d rebuilt %s/%d, full %s/%d" %
                                 (u, sorted(rebuilt[u][0]), rebuilt[u][1],
                                  sorted(full[u][0]), full[u][1]))
                return


# ---- driver --------------------------------------------------------------

def guarded(c, fn):
    """A protocol failure is a finding, then the client starts over."""
    try:
        return fn()
    except (Protocol, OSError) as e:
        c.w.violation("protocol", "c%d: %s [%s]" % (c.cid, e, c.ctx))
        if c.conn is not None:
            c.conn.close()
        c.conn = None
        c.mbox = None
        c.map = []
        return None


def run(args, endpoints, user):
    w = World(args.verbose)
    clients = [Client(i, w, endpoints, user, args.seed, args)
               for i in range(args.clients)]
    barrier = threading.Barrier(args.clients + 1)
    results = {}
    phase = {"end": 0.0, "final": False}

    def worker(c):
        try:
            while True:
                barrier.wait()
                if phase["final"]:
                    return
                while time.monotonic() < phase["end"]:
                    guarded(c, c.step)
                    w.ops[c.cid] += 1
                barrier.wait()
                # quiet: every client stopped; cross-process watches
                # need their second
                barrier.wait()
                r = guarded(c, c.checkpoint)
                if r is not None:
                    results[c.cid] = r
                barrier.wait()
        except threading.BrokenBarrierError:
            pass
        except Exception as e:  # noqa: BLE001 - report, don't hang
            w.violation("protocol", "c%d: %r [%s]" % (c.cid, e, c.ctx))
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(c,), daemon=True)
               for c in clients]
    for t in threads:
        t.start()
    # setup: one client creates Other
    setup = Client(999, w, endpoints, user, args.seed, args)
    setup.connect()
    setup.command("CREATE Other")
    setup.logout()
    resync = Resync(w, endpoints, user, args.seed, args) \
        if args.qresync else None
    start = time.monotonic()
    end = start + args.seconds
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                break
            phase["end"] = min(end, now + args.checkpoint)
            barrier.wait()
            barrier.wait()  # ops done
            time.sleep(args.quiet)
            results.clear()
            if resync is not None:
                try:
                    resync.round()
                except (Protocol, OSError) as e:
                    w.violation("protocol", "resync: %s" % e)
            barrier.wait()  # checkpoint runs
            barrier.wait()
            compare(w, results)
        phase["final"] = True
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(args.timeout + 5)
    for c in clients:
        if c.conn is not None:
            try:
                c.logout()
            except Exception:  # noqa: BLE001
                pass
    return w, time.monotonic() - start


def compare(w, results):
    maps = list(results.items())
    if not maps:
        return
    base_cid, (base, bflags) = maps[0]
    for cid, (m, mflags) in maps[1:]:
        if m == base and mflags != bflags:
            diff = [u for u in m if mflags.get(u) != bflags.get(u)]
            w.violation("checkpoint-disagree",
                        "flags differ: uid %d c%d %s c%d %s" % (
                            diff[0], base_cid, sorted(bflags[diff[0]] or []),
                            cid, sorted(mflags[diff[0]] or [])))
        if m != base:
            sa, sb = set(base), set(m)
            w.violation("checkpoint-disagree",
                        "c%d has %d msgs, c%d has %d; only in c%d: %s; "
                        "only in c%d: %s" % (
                            base_cid, len(base), cid, len(m), base_cid,
                            sorted(sa - sb)[:5], cid, sorted(sb - sa)[:5]))


def report(w, elapsed, args, out):
    total = sum(v for k, v in w.ops.items() if isinstance(k, int))
    print("imap_check: seed %d, %d clients, %d daemon(s), %.1f s, %d ops "
          "(%.0f ops/s)" % (args.seed, args.clients, args.daemons, elapsed,
                            total, total / max(elapsed, 0.001)), file=out)
    if args.qresync:
        print("imap_check: %d QRESYNC resyncs checked, %d modseqs the "
              "store lost" % (w.ops["resync"], w.ops["modseq-lost"]),
              file=out)
    if w.ops.get("login-unavailable"):
        print("imap_check: LOGIN answered NO [UNAVAILABLE] %d times "
              "(retried)" % w.ops["login-unavailable"], file=out)
    if not w.viol:
        print("imap_check: no violations", file=out)
        return 0
    for cls, n in w.viol.items():
        print("VIOLATION %-22s %6d" % (cls, n), file=out)
        for ex in w.examples[cls]:
            print("    e.g. %s" % ex, file=out)
    return 1


def start_daemons(args):
    import rmail_interop
    from rmail_interop import free_port

    ports = [free_port() for _ in range(args.daemons)]
    first = rmail_interop.Daemon("rmimap-check-", ["mod_imap"], {
        "imap": {"listen": ["127.0.0.1:%d" % ports[0]],
                 "imaps_listen": [],
                 "allow_cleartext_login_loopback": True}})
    daemons = [first]
    user = first.add_user("check@%s" % DOM, PW)
    for i in range(1, args.daemons):
        d = rmail_interop.Daemon("rmimap-check%d-" % i, ["mod_imap"], {
            "mail_root": first.root,
            "imap": {"listen": ["127.0.0.1:%d" % ports[i]],
                     "imaps_listen": [],
                     "allow_cleartext_login_loopback": True}})
        daemons.append(d)
    for d, p in zip(daemons, ports):
        d.start(p)
    return daemons, [("127.0.0.1", p) for p in ports], user


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--daemons", type=int, default=1)
    ap.add_argument("--checkpoint", type=float, default=2.5,
                    help="seconds of load between checkpoints")
    ap.add_argument("--quiet", type=float, default=0.0,
                    help="pause before a checkpoint (cross-process watch)")
    ap.add_argument("--max-messages", type=int, default=40)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--no-idle", dest="idle", action="store_false")
    ap.add_argument("--no-logout", dest="logout", action="store_false")
    ap.add_argument("--qresync", action="store_true",
                    help="half the clients with QRESYNC, and a client "
                    "resyncing with SELECT (QRESYNC) at every checkpoint")
    ap.add_argument("--connect", help="host:port of a running daemon "
                    "with user check@example.test / check-pw")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--trace", metavar="FILE",
                    help="write every line sent and received here")
    ap.add_argument("--out", help="also write the report here")
    ap.add_argument("--regress", metavar="FILE",
                    help="run every line of FILE (seed clients seconds "
                    "[daemons]) in turn: the regression seeds")
    args = ap.parse_args(argv)
    if args.regress:
        rc = 0
        with open(args.regress) as f:
            for line in f:
                line = line.split("#", 1)[0].split()
                if not line:
                    continue
                argv2 = ["--seed", line[0], "--clients", line[1],
                         "--seconds", line[2]]
                if len(line) > 3:
                    argv2 += ["--daemons", line[3], "--quiet", "1.2"]
                if len(line) > 4 and line[4] == "qresync":
                    argv2 += ["--qresync", "--checkpoint", "1"]
                if args.out:
                    argv2 += ["--out", args.out]
                rc |= main(argv2)
        return rc
    global TRACE
    if args.trace:
        TRACE = open(args.trace, "w", buffering=1 << 20)
    daemons = []
    if args.connect:
        h, p = args.connect.rsplit(":", 1)
        endpoints, user = [(h, int(p))], "check@%s" % DOM
    else:
        daemons, endpoints, user = start_daemons(args)
    try:
        w, elapsed = run(args, endpoints, user)
    finally:
        for d in reversed(daemons):
            d.stop()
    rc = report(w, elapsed, args, sys.stdout)
    if args.out:
        with open(args.out, "a") as f:
            report(w, elapsed, args, f)
    return rc


if __name__ == "__main__":
    sys.exit(main())
