#!/usr/bin/env python3
"""Three daemons on one mail root under mixed IMAP/SMTP load (issue 13).

N rmail daemons (default 3) share one mail root.  Client threads, each
talking to a daemon picked at random per connection, run for --seconds:

  * SMTP: one message per transaction to a random local user;
  * IMAP: APPEND (some with keywords), UID STORE +FLAGS keywords,
    UID COPY, UID MOVE and UID EXPUNGE on random messages of a few shared
    mailboxes, so that processes race on the same messages.

Every message carries a unique token in its Subject.  The model counts,
per token, only what the server acknowledged:

  created   APPEND OK, SMTP 250 after DATA
  copies    UID COPY OK: one per COPYUID source UID
  moves     UID MOVE: one per COPYUID entry (never changes the count)
  removed   UID EXPUNGE attempted (the count may drop by one)
  keywords  UID STORE: a keyword the untagged FETCH reply showed set

and unacknowledged attempts (NO, dropped connections) widen the range.
After the load and a quiet period the whole store is read through IMAP
and, per token, the number of copies must lie in
[created + copies - removed, created + copies + unsure]: below is a
loss, above a duplicate (a MOVE that copied twice).  Each acknowledged
keyword of a token that was never expunged nor copied must be on its
copy.  Then `rmail check-store` must be clean.

Run from the build directory (or set RMAIL_BIN, RMAIL_MODULE_DIR):

  python3 ../bench/multiproc_torture.py --seconds 180

The last line is the summary; exit status 0 when there were no losses,
no duplicates and check-store is clean.  Not run by ctest (minutes);
the short two-daemon variants are e2e_imap_procs and test_ss_kwmove.
"""
import argparse
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "interop"))
os.environ.setdefault("RMAIL_SOURCE_DIR", SRC)
os.environ.setdefault("RMAIL_BIN", os.path.abspath("rmail"))
os.environ.setdefault("RMAIL_MODULE_DIR", os.path.abspath("modules"))
import rmail_interop  # noqa: E402
from rmail_interop import free_port  # noqa: E402

DOM = "example.test"
PW = "pw-torture"
BOXES = ["INBOX", "A", "B"]
KEYWORDS = ["kw%d" % i for i in range(6)]


class Model:
    def __init__(self):
        self.lock = threading.Lock()
        self.created = {}
        self.copies = {}
        self.removed = {}
        self.unsure = {}
        self.kws = {}
        self.owner = {}
        self.moves = 0
        self.counts = {"append": 0, "smtp": 0, "store": 0, "copy": 0,
                       "move": 0, "expunge": 0, "no": 0, "errors": 0}

    def bump(self, d, tok, n=1):
        with self.lock:
            d[tok] = d.get(tok, 0) + n


def uidset(s):
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


class Imap:
    """A minimal client: tagged commands, literals, all lines kept."""

    def __init__(self, port, user):
        self.s = socket.create_connection(("127.0.0.1", port), 30)
        self.f = self.s.makefile("rb")
        self.n = 0
        self.f.readline()
        typ, _ = self.cmd('LOGIN "%s" "%s"' % (user, PW))
        if typ != "OK":
            raise OSError("login failed")

    def read_resp(self):
        line = self.f.readline()
        if not line:
            raise OSError("connection closed")
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        while m:
            lit = self.f.read(int(m.group(1)))
            rest = self.f.readline()
            line = line + lit + rest
            m = re.search(rb"\{(\d+)\}\r\n$", rest)
        return line.decode("utf-8", "replace")

    def cmd(self, text, literal=None):
        self.n += 1
        tag = "t%d" % self.n
        if literal is not None:
            self.s.sendall(("%s %s {%d}\r\n" % (tag, text, len(literal)))
                           .encode())
            line = self.read_resp()
            if not line.startswith("+"):
                return line.split(" ", 2)[1], [line]
            self.s.sendall(literal + b"\r\n")
        else:
            self.s.sendall(("%s %s\r\n" % (tag, text)).encode())
        lines = []
        while True:
            line = self.read_resp()
            lines.append(line)
            if line.startswith(tag + " "):
                return line.split(" ", 2)[1], lines

    def close(self):
        try:
            self.cmd("LOGOUT")
        except OSError:
            pass
        self.s.close()


def msg(tok):
    return ("From: t@%s\r\nTo: u@%s\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n"
            "\r\n%s\r\n" % (DOM, DOM, tok, tok, ("body %s " % tok) * 8))\
        .encode()


def fetch_map(c):
    """UID -> (token, flags) of the selected mailbox."""
    typ, lines = c.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS "
                       "(SUBJECT)])")
    out = {}
    if typ != "OK":
        return out
    for line in lines:
        m = re.search(r"UID (\d+)", line)
        t = re.search(r"Subject: (\S+)", line)
        f = re.search(r"FLAGS \(([^)]*)\)", line)
        if m and t:
            out[int(m.group(1))] = (t.group(1), set(f.group(1).split())
                                    if f else set())
    return out


class Load:
    def __init__(self, args, model, imap_ports, smtp_ports, users):
        self.a = args
        self.m = model
        self.imap_ports = imap_ports
        self.smtp_ports = smtp_ports
        self.users = users
        self.stop = threading.Event()
        self.seq = 0
        self.seq_lock = threading.Lock()

    def token(self, kind):
        with self.seq_lock:
            self.seq += 1
            return "%s%06d" % (kind, self.seq)

    def smtp_worker(self, rnd):
        while not self.stop.is_set():
            try:
                self.smtp_session(rnd)
            except OSError:
                self.m.counts["errors"] += 1
                time.sleep(0.05)

    def smtp_session(self, rnd):
        s = socket.create_connection(
            ("127.0.0.1", rnd.choice(self.smtp_ports)), 30)
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline().decode()
                if not line:
                    raise OSError("closed")
                if line[3:4] != "-":
                    return line

        reply()
        s.sendall(b"EHLO torture.test\r\n")
        reply()
        for _ in range(20):
            if self.stop.is_set():
                break
            tok = self.token("S")
            user = rnd.choice(self.users)
            s.sendall(("MAIL FROM:<t@%s>\r\n" % DOM).encode())
            if not reply().startswith("250"):
                continue
            s.sendall(("RCPT TO:<%s>\r\n" % user).encode())
            if not reply().startswith("250"):
                s.sendall(b"RSET\r\n")
                reply()
                continue
            s.sendall(b"DATA\r\n")
            if not reply().startswith("354"):
                continue
            self.m.owner[tok] = user
            self.m.bump(self.m.unsure, tok)
            s.sendall(msg(tok) + b".\r\n")
            r = reply()
            if r.startswith("250"):
                self.m.bump(self.m.unsure, tok, -1)
                self.m.bump(self.m.created, tok)
                self.m.counts["smtp"] += 1
            elif r.startswith("5"):
                self.m.bump(self.m.unsure, tok, -1)
                self.m.counts["no"] += 1
            else:
                self.m.counts["no"] += 1
        s.sendall(b"QUIT\r\n")
        s.close()

    def imap_worker(self, rnd):
        while not self.stop.is_set():
            try:
                user = rnd.choice(self.users)
                c = Imap(rnd.choice(self.imap_ports), user)
                for _ in range(rnd.randint(10, 40)):
                    if self.stop.is_set():
                        break
                    self.imap_op(c, user, rnd)
                c.close()
            except OSError:
                self.m.counts["errors"] += 1
                time.sleep(0.05)

    def imap_op(self, c, user, rnd):
        m = self.m
        box = rnd.choice(BOXES)
        r = rnd.random()
        if r < 0.3:
            tok = self.token("I")
            kws = rnd.sample(KEYWORDS, rnd.randint(0, 2))
            m.owner[tok] = user
            m.bump(m.unsure, tok)
            typ, _ = c.cmd('APPEND %s (%s)' % (box, " ".join(kws)), msg(tok))
            m.bump(m.unsure, tok, -1)
            if typ == "OK":
                m.bump(m.created, tok)
                with m.lock:
                    m.kws.setdefault(tok, set()).update(kws)
                m.counts["append"] += 1
            else:
                m.counts["no"] += 1
            return
        typ, _ = c.cmd("SELECT %s" % box)
        if typ != "OK":
            return
        have = fetch_map(c)
        if not have:
            return
        uids = rnd.sample(sorted(have), min(len(have), rnd.randint(1, 4)))
        us = ",".join(str(u) for u in uids)
        other = rnd.choice([b for b in BOXES if b != box])
        if r < 0.55:
            kw = rnd.choice(KEYWORDS)
            typ, lines = c.cmd("UID STORE %s +FLAGS (%s)" % (us, kw))
            for line in lines:
                u = re.search(r"UID (\d+)", line)
                f = re.search(r"FLAGS \(([^)]*)\)", line)
                if u and f and kw in f.group(1).split() and \
                        int(u.group(1)) in have:
                    tok = have[int(u.group(1))][0]
                    with m.lock:
                        m.kws.setdefault(tok, set()).add(kw)
            m.counts["store"] += 1
        elif r < 0.7:
            for u in uids:
                m.bump(m.unsure, have[u][0])
            typ, lines = c.cmd("UID COPY %s %s" % (us, other))
            for u in uids:
                m.bump(m.unsure, have[u][0], -1)
            for src in self.copyuid(lines):
                m.bump(m.copies, have[src][0])
            m.counts["copy"] += 1
        elif r < 0.9:
            for u in uids:
                m.bump(m.unsure, have[u][0])
            typ, lines = c.cmd("UID MOVE %s %s" % (us, other))
            for u in uids:
                m.bump(m.unsure, have[u][0], -1)
            with m.lock:
                m.moves += len(self.copyuid(lines))
            m.counts["move"] += 1
        else:
            for u in uids:
                m.bump(m.removed, have[u][0])
            c.cmd("UID STORE %s +FLAGS.SILENT (\\Deleted)" % us)
            c.cmd("UID EXPUNGE %s" % us)
            m.counts["expunge"] += 1

    @staticmethod
    def copyuid(lines):
        src = []
        for line in lines:
            cu = re.search(r"\[COPYUID \d+ (\S+) (\S+)\]", line)
            if cu:
                src.extend(uidset(cu.group(1)))
        return src


def final_state(port, users):
    found = {}
    flags = {}
    for user in users:
        c = Imap(port, user)
        for box in BOXES:
            c.cmd("SELECT %s" % box)
            for uid, (tok, fl) in fetch_map(c).items():
                found[tok] = found.get(tok, 0) + 1
                flags.setdefault(tok, []).append(fl)
        c.close()
    return found, flags


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--daemons", type=int, default=3)
    ap.add_argument("--users", type=int, default=2)
    ap.add_argument("--imap-clients", type=int, default=6)
    ap.add_argument("--smtp-clients", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quiet", type=float, default=5,
                    help="seconds after the load for queued deliveries")
    ap.add_argument("--keep", action="store_true",
                    help="keep the mail root and logs")
    args = ap.parse_args()

    iports = [free_port() for _ in range(args.daemons)]
    sports = [free_port() for _ in range(args.daemons)]

    def conf(i, root=None):
        c = {"imap": {"listen": ["127.0.0.1:%d" % iports[i]],
                      "imaps_listen": [],
                      "allow_cleartext_login_loopback": True},
             "smtp": {"listen": ["127.0.0.1:%d" % sports[i]],
                      "submission_listen": [], "smtps_listen": []},
             "delivery": {"retry_initial": "1s", "retry_max": "2s"}}
        if root:
            c["mail_root"] = root
        return c

    mods = ["mod_smtp", "mod_imap"]
    daemons = [rmail_interop.Daemon("rmtorture0-", mods, conf(0))]
    users = [daemons[0].add_user("u%d@%s" % (i, DOM), PW)
             for i in range(args.users)]
    root = daemons[0].root
    for i in range(1, args.daemons):
        daemons.append(rmail_interop.Daemon("rmtorture%d-" % i, mods,
                                            conf(i, root)))
    model = Model()
    failures = []
    try:
        for d, p in zip(daemons, iports):
            d.start(p)
        for user in users:
            c = Imap(iports[0], user)
            for b in BOXES[1:]:
                c.cmd("CREATE %s" % b)
            c.close()
        load = Load(args, model, iports, sports, users)
        threads = []
        for i in range(args.imap_clients):
            threads.append(threading.Thread(
                target=load.imap_worker,
                args=(random.Random(args.seed * 1000 + i),)))
        for i in range(args.smtp_clients):
            threads.append(threading.Thread(
                target=load.smtp_worker,
                args=(random.Random(args.seed * 1000 + 500 + i),)))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        load.stop.set()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - t0
        time.sleep(args.quiet)
        found, flags = final_state(iports[-1], users)
        losses = dups = kwlost = kwchecked = 0
        toks = set(model.created) | set(model.unsure) | set(found)
        for tok in toks:
            base = model.created.get(tok, 0) + model.copies.get(tok, 0)
            lo = base - model.removed.get(tok, 0)
            hi = base + model.unsure.get(tok, 0)
            n = found.get(tok, 0)
            if n < lo:
                losses += lo - n
                failures.append("lost %s: %d of [%d, %d]" % (tok, n, lo, hi))
            elif n > hi:
                dups += n - hi
                failures.append("duplicate %s: %d of [%d, %d]"
                                % (tok, n, lo, hi))
            if model.removed.get(tok) or model.copies.get(tok) or \
                    model.unsure.get(tok) or not n:
                continue
            for kw in model.kws.get(tok, ()):
                kwchecked += 1
                if not any(kw in f for f in flags[tok]):
                    kwlost += 1
                    failures.append("keyword %s lost on %s" % (kw, tok))
        r = subprocess.run([daemons[0].bin, "-c", daemons[0].config,
                            "check-store"], capture_output=True, text=True)
        check = r.returncode
        if check:
            failures.append("check-store: " + r.stdout + r.stderr)
        for f in failures[:30]:
            print(f)
        c = model.counts
        print("ops: %d APPEND, %d SMTP, %d STORE, %d COPY, %d MOVE, "
              "%d EXPUNGE, %d refused, %d connection errors in %.0f s "
              "(%d daemons)" % (c["append"], c["smtp"], c["store"],
                                c["copy"], c["move"], c["expunge"],
                                c["no"], c["errors"], elapsed,
                                args.daemons))
        print("messages %d, keywords %d, moves %d checked; losses %d, "
              "duplicates %d, keywords lost %d; check-store %s"
              % (sum(found.values()), kwchecked, model.moves, losses, dups,
                 kwlost, "clean" if check == 0 else "exit %d" % check))
    finally:
        for d in reversed(daemons):
            if args.keep:
                d.proc.terminate()
                d.proc.wait(10)
                print("kept", d.dir)
            else:
                d.stop()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
