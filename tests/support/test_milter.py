#!/usr/bin/env python3
"""A scripted milter (protocol 6) for rmail's tests, and a hostile one.

    test_milter.py PORTFILE LOGFILE [MODE]

Listens on 127.0.0.1 (an ephemeral port, written to PORTFILE), logs
each command it gets as one line to LOGFILE ("C host", "H helo",
"M <from> args", "R <rcpt>", "D stage name=value ...", "L name: value",
"E", "A", "Q", "K").

MODE "script" (the default) picks its answers from what it sees:
  connect from helo "reject.client"  -> REPLYCODE 554 at HELO
  MAIL FROM <tempfail@...>        -> TEMPFAIL
  RCPT TO <refused@...>           -> REPLYCODE 550 5.7.1 for that rcpt
  header X-Milter: reject         -> REPLYCODE 554 5.7.1 at end of data
  header X-Milter: edit           -> add/insert/change/delete headers,
                                     addrcpt/delrcpt from X-Add-Rcpt /
                                     X-Del-Rcpt, chgfrom from X-Chg-From
  header X-Milter: body           -> replace the body
  header X-Milter: quarantine     -> quarantine
  header X-Milter: discard        -> discard
  header X-Milter: tempfail       -> TEMPFAIL at end of data
Hostile modes, from the first reply on (after option negotiation):
  stall      never answers CONNECT
  stall-eom  answers everything but the end of message
  truncate   half a reply packet, then closes
  badlen     a packet whose length field is 0
  huge       a length field of 4 GiB
  garbage    an unknown reply command
  badcode    REPLYCODE "299 nonsense" at MAIL
  unasked    two replies to CONNECT
  optneg-short  a 5-byte option negotiation reply
"""
import os
import socket
import struct
import sys
import threading

PORTFILE, LOGFILE = sys.argv[1], sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "script"
LOG_LOCK = threading.Lock()


def log(line):
    with LOG_LOCK:
        with open(LOGFILE, "a", encoding="utf-8", errors="replace") as f:
            f.write(line + "\n")


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def strings(data):
    return [x.decode("utf-8", "replace") for x in data.split(b"\0")[:-1]]


class Conn:
    def __init__(self, s):
        self.s = s
        self.headers = []
        self.rcpts = []
        self.replies = 0

    def send(self, b):
        self.s.sendall(b)

    def reply(self, cmd, data=b""):
        self.replies += 1
        if MODE == "truncate":
            self.send(pkt(cmd, data)[:3])
            raise EOFError
        if MODE == "badlen":
            self.send(struct.pack(">I", 0) + b"c")
            return
        if MODE == "huge":
            self.send(struct.pack(">I", 0xFFFFFFFF) + b"c")
            return
        if MODE == "garbage":
            self.send(pkt(b"Z"))
            return
        self.send(pkt(cmd, data))

    def cont(self):
        self.reply(b"c")

    def code(self, text):
        self.reply(b"y", text.encode() + b"\0")

    def eom(self):
        h = {k.lower(): v.strip() for k, v in self.headers}
        what = h.get("x-milter", "")
        if MODE == "stall-eom":
            return
        if what == "reject":
            return self.code("554 5.7.1 Content refused by the test milter")
        if what == "tempfail":
            return self.reply(b"t")
        if what == "discard":
            return self.reply(b"d")
        if what == "quarantine":
            self.send(pkt(b"q", b"test quarantine\0"))
        if what == "edit":
            self.send(pkt(b"h", b"X-Milter-Added\0yes\0"))
            self.send(pkt(b"i", struct.pack(">I", 0) + b"X-First\0top\0"))
            self.send(pkt(b"m", struct.pack(">I", 1) +
                          b"Subject\0edited by milter\0"))
            self.send(pkt(b"m", struct.pack(">I", 1) + b"X-Delete-Me\0\0"))
            if "x-add-rcpt" in h:
                self.send(pkt(b"+", b"<" + h["x-add-rcpt"].encode() +
                              b">\0"))
            if "x-del-rcpt" in h:
                self.send(pkt(b"-", b"<" + h["x-del-rcpt"].encode() +
                              b">\0"))
            if "x-chg-from" in h:
                self.send(pkt(b"e", b"<" + h["x-chg-from"].encode() +
                              b">\0"))
        if what == "body":
            self.send(pkt(b"b", b"replaced by the milter\r\n"))
        self.reply(b"a")

    def run(self):
        while True:
            hdr = recv_exact(self.s, 4)
            (n,) = struct.unpack(">I", hdr)
            data = recv_exact(self.s, n)
            cmd, data = data[:1], data[1:]
            self.handle(cmd, data)

    def handle(self, cmd, data):
        if cmd == b"O":
            log("O %d %x %x" % struct.unpack(">III", data[:12]))
            if MODE == "optneg-short":
                self.send(pkt(b"O", b"\0\0\0\6"))
                return
            # version 6, every action, no protocol flags but SKIP
            self.send(pkt(b"O", struct.pack(">III", 6, 0x1FF, 0x400)))
            return
        if cmd == b"D":
            parts = strings(data[1:])
            pairs = " ".join("%s=%s" % (parts[i], parts[i + 1])
                             for i in range(0, len(parts) - 1, 2))
            log("D %s %s" % (data[:1].decode(), pairs))
            return
        if cmd == b"A":
            log("A")
            self.headers = []
            self.rcpts = []
            return
        if cmd in (b"Q",):
            log("Q")
            raise EOFError
        if cmd == b"K":
            log("K")
            self.headers = []
            return
        if cmd == b"C":
            host = data.split(b"\0")[0].decode()
            rest = data[len(host) + 1:]
            fam = rest[:1].decode()
            port = struct.unpack(">H", rest[1:3])[0] if fam in "46" else 0
            addr = rest[3:].split(b"\0")[0].decode()
            log("C %s %s %d %s" % (host, fam, port, addr))
            if MODE == "stall":
                return
            if MODE == "unasked":
                self.send(pkt(b"c") + pkt(b"c"))
                return
            return self.cont()
        if cmd == b"H":
            helo = strings(data)[0]
            log("H %s" % helo)
            if helo == "reject.client":
                return self.code("554 5.7.1 Go away")
            return self.cont()
        if cmd == b"M":
            args = strings(data)
            log("M %s" % " ".join(args))
            if MODE == "badcode":
                return self.code("299 nonsense")
            if args[0].startswith("<tempfail@"):
                return self.reply(b"t")
            return self.cont()
        if cmd == b"R":
            args = strings(data)
            log("R %s" % " ".join(args))
            if args[0].startswith("<refused@"):
                return self.code("550 5.7.1 Recipient refused by milter")
            self.rcpts.append(args[0])
            return self.cont()
        if cmd == b"T":
            log("T")
            return self.cont()
        if cmd == b"L":
            name, value = strings(data)
            log("L %s: %s" % (name, value))
            self.headers.append((name, value))
            return self.cont()
        if cmd == b"N":
            log("N")
            return self.cont()
        if cmd == b"B":
            log("B %d" % len(data))
            return self.cont()
        if cmd == b"E":
            log("E")
            self.eom()
            self.headers = []
            return
        log("? %r" % cmd)


def serve(s):
    c = Conn(s)
    try:
        c.run()
    except (EOFError, OSError):
        pass
    finally:
        s.close()


def main():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = PORTFILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, PORTFILE)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    main()
