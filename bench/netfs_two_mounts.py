#!/usr/bin/env python3
"""Two-mount run of a shared mail root on a network filesystem.

Two rmail daemons, each with its mail root on a different mount of the
same network volume (two NFS mounts with `nosharecache`, two GlusterFS
FUSE mounts, two CephFS mounts — ideally on two hosts, see
docs/operations.md), and a count of what one side loses of the other's
work:

  1. `rmail user add` through mount A (no-replace renames);
  2. CREATE races: both daemons create the same N mailbox names at once,
     exactly one must win each;
  3. APPEND from both daemons into one INBOX at once (M each): every
     acknowledged message must be visible through both, with unique UIDs;
  4. change-log records: one append record per message (lost O_APPEND
     records would show here);
  5. IDLE in A, APPEND through B, K rounds: all seen, latency median/max;
  6. `rmail check-store` clean.

Usage (from a build tree; the mounts must already exist):

  bench/netfs_two_mounts.py --rmail build/rmail --modules build/modules \\
      --mount-a /mnt/gv-a/rmail-bench --mount-b /mnt/gv-b/rmail-bench

--mount-a and --mount-b are the same directory seen through the two
mounts (it is created).  Without a network filesystem the script still
runs against one local directory given twice; with
LD_PRELOAD=build/tests/support/librmtest_netfs_shim.so,
RMAIL_SHIM_NOREPLACE=1 and RMAIL_SHIM_FSTYPE=nfs it exercises the
fallbacks (not the caches).  Exit status 0 when nothing was lost.  Not
run by ctest: it needs real mounts to mean anything.
"""
import argparse
import imaplib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER, PW = "bench@example.test", "pw-bench"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    def __init__(self, args, name, root):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="rmail-netfs-%s-" % name)
        self.port = free_port()
        self.config = os.path.join(self.dir, "config.json")
        conf = {
            "hostname": "%s.example.test" % name,
            "mail_root": root,
            "module_dir": args.modules,
            "modules": ["mod_shardstore", "mod_imap"],
            "tls": {"cert_file": os.path.join(SRC, "tests/certs/cert.pem"),
                    "key_file": os.path.join(SRC, "tests/certs/key.pem")},
            "imap": {"listen": ["127.0.0.1:%d" % self.port],
                     "imaps_listen": [],
                     "allow_cleartext_login_loopback": True},
            "shardstore": {"poll_interval": args.poll},
            "shutdown_timeout": 5,
        }
        with open(self.config, "w") as f:
            json.dump(conf, f)
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = None

    def rmail(self, *argv, stdin=None):
        return subprocess.run([self.args.rmail, "-c", self.config] +
                              list(argv), input=stdin, text=True,
                              capture_output=True)

    def start(self):
        self.proc = subprocess.Popen(
            [self.args.rmail, "-c", self.config, "serve"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2)\
                    .close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.log.seek(0)
        sys.exit("daemon did not start:\n" + self.log.read())

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def imap(self):
        c = imaplib.IMAP4("127.0.0.1", self.port)
        c.login(USER, PW)
        return c

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


def create_race(a, b, n):
    ca, cb = a.imap(), b.imap()
    wins = {}
    lock = threading.Lock()

    def run(c, side):
        for i in range(n):
            typ, _ = c.create("race%d" % i)
            with lock:
                wins.setdefault(i, []).append((side, typ))

    ts = [threading.Thread(target=run, args=(ca, "a")),
          threading.Thread(target=run, args=(cb, "b"))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    bad = [i for i, r in wins.items()
           if sum(1 for _, t in r if t == "OK") != 1]
    ca.logout()
    cb.logout()
    return bad


MSG = ("From: a@example.test\r\nSubject: %s\r\n\r\nbody %s\r\n")


def append_race(a, b, m):
    acked = {"a": [], "b": []}

    def run(d, side):
        c = d.imap()
        for i in range(m):
            typ, data = c.append("INBOX", None, None,
                                 (MSG % (side, i)).encode())
            if typ == "OK":
                uid = re.search(rb"APPENDUID \d+ (\d+)", data[0])
                acked[side].append(int(uid.group(1)) if uid else 0)
        c.logout()

    ts = [threading.Thread(target=run, args=(a, "a")),
          threading.Thread(target=run, args=(b, "b"))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    uids = acked["a"] + acked["b"]
    seen = {}
    for d, side in ((a, "a"), (b, "b")):
        c = d.imap()
        c.select("INBOX", readonly=True)
        typ, data = c.uid("SEARCH", "ALL")
        seen[side] = set(int(x) for x in data[0].split())
        c.logout()
    missing = {s: len(set(uids) - seen[s]) for s in seen}
    return len(uids), len(set(uids)), missing


def log_records(root):
    base = os.path.join(root, "domains", "example.test", "users", "bench",
                        "mail", "INBOX", "changes")
    with open(base, "rb") as f:
        data = f.read()
    n = 0
    for off in range(0, len(data) - len(data) % 16, 16):
        rec = data[off:off + 16]
        if rec[0] == 1 and rec[1] == 1:
            n += 1
    return n


def idle_rounds(a, b, k, timeout):
    ca = a.imap()
    ca.select("INBOX")
    cb = b.imap()
    lat, missed = [], 0
    for i in range(k):
        tag = ca._new_tag()
        ca.send(tag + b" IDLE\r\n")
        ca.readline()  # "+ idling"
        t0 = time.monotonic()
        cb.append("INBOX", None, None, (MSG % ("idle", i)).encode())
        ca.sock.settimeout(timeout)
        try:
            while True:
                line = ca.readline()
                if b"EXISTS" in line:
                    lat.append(time.monotonic() - t0)
                    break
        except socket.timeout:
            missed += 1
        ca.sock.settimeout(None)
        ca.send(b"DONE\r\n")
        while not ca.readline().startswith(tag):
            pass
    ca.logout()
    cb.logout()
    return lat, missed


def parse_seconds(s):
    m = re.fullmatch(r"([\d.]+)(ms|s|m)?", s)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "ms" else v * 60 \
        if m.group(2) == "m" else v


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rmail", default=os.path.join(SRC, "build/rmail"))
    p.add_argument("--modules", default=os.path.join(SRC, "build/modules"))
    p.add_argument("--mount-a", required=True)
    p.add_argument("--mount-b", required=True)
    p.add_argument("--creates", type=int, default=50)
    p.add_argument("--appends", type=int, default=200)
    p.add_argument("--idle", type=int, default=20)
    p.add_argument("--poll", default="1s")
    args = p.parse_args()
    args.poll_seconds = parse_seconds(args.poll)
    for d in (args.mount_a, args.mount_b):
        os.makedirs(d, exist_ok=True)
    a = Daemon(args, "a", args.mount_a)
    b = Daemon(args, "b", args.mount_b)
    lost = 0
    try:
        r = a.rmail("user", "add", USER, "--password-stdin",
                    stdin=PW + "\n")
        print("user add through A: exit %d %s" % (r.returncode,
                                                  r.stderr.strip()))
        lost += r.returncode != 0
        a.start()
        b.start()
        bad = create_race(a, b, args.creates)
        print("create races: %d names, %d without exactly one winner"
              % (args.creates, len(bad)))
        lost += len(bad)
        n, unique, missing = append_race(a, b, args.appends)
        print("appends: %d acknowledged, %d unique UIDs, not seen through"
              " A: %d, through B: %d" % (n, unique, missing["a"],
                                         missing["b"]))
        lost += (n - unique) + missing["a"] + missing["b"]
        recs = log_records(args.mount_a)
        print("change log: %d append records for %d appends" % (recs, n))
        lost += max(0, n - recs)
        lat, missed = idle_rounds(a, b, args.idle, args.poll_seconds * 4 + 2)
        if lat:
            print("IDLE A <- APPEND B: %d/%d seen, median %.2f s, max %.2f s"
                  % (len(lat), args.idle, statistics.median(lat),
                     max(lat)))
        lost += missed
        r = a.rmail("check-store")
        print("check-store: exit %d %s" % (r.returncode,
                                           r.stdout.strip().splitlines()[-1]
                                           if r.stdout.strip() else ""))
        lost += r.returncode != 0
    finally:
        a.stop()
        b.stop()
    for d in (a, b):
        for line in d.stderr().splitlines():
            if "network filesystem" in line or "NOREPLACE" in line \
                    or "mail root" in line:
                print("log:", line)
    print("losses: %d" % lost)
    sys.exit(1 if lost else 0)
