#!/usr/bin/env python3
"""Cold first IMAP SELECT of a big mailbox (issue 22), end to end.

On a mail root made by `view_bench gen` (user bench@example.com,
password "bench"), per round: start the daemon, log in, drop the page
cache (as root: echo 3 > /proc/sys/vm/drop_caches), then time
`SELECT <mbox>` (until its tagged OK) and the daemon's CPU time for it
(all its threads, /proc/PID/task/*/schedstat),
then SELECT it again in the same session `--again` times (re-SELECT).
Prints the p50/min/max of each.  Cleartext on loopback.

  bench/imap_coldselect.py --rmail build/rmail --modules build/modules \\
      --root /tmp/vb --mbox Big --rounds 5
"""
import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cmd(sock, f, tag, line):
    sock.sendall(("%s %s\r\n" % (tag, line)).encode())
    out = []
    while True:
        ln = f.readline()
        if not ln:
            raise RuntimeError("EOF after " + line)
        out.append(ln)
        if ln.startswith(tag.encode() + b" "):
            if not ln.startswith(tag.encode() + b" OK"):
                raise RuntimeError(ln.decode(errors="replace"))
            return out


def cpu_of(pid):
    """seconds on a CPU of all of pid's threads (schedstat: ns)"""
    t = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as fh:
                t += int(fh.read().split()[0])
        except OSError:
            pass
    return t / 1e9


def one_round(a, port, cfg):
    d = subprocess.Popen([a.rmail, "-c", cfg, "serve"],
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("daemon not listening")
        f = s.makefile("rb")
        f.readline()
        cmd(s, f, "a", "LOGIN bench@example.com bench")
        with open("/proc/sys/vm/drop_caches", "w") as dc:
            os.sync()
            dc.write("3\n")
        # all of the daemon's processes (a master and a worker)
        pids = [d.pid] + [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(d.pid)], capture_output=True,
            text=True).stdout.split()]
        c0 = sum(cpu_of(p) for p in pids)
        t0 = time.perf_counter()
        r = cmd(s, f, "b", "SELECT " + a.mbox)
        cold = (time.perf_counter() - t0) * 1000
        cpu = (sum(cpu_of(p) for p in pids) - c0) * 1000
        exists = [x for x in r if x.endswith(b"EXISTS\r\n")]
        again = []
        for i in range(a.again):
            t0 = time.perf_counter()
            cmd(s, f, "c%d" % i, "SELECT " + a.mbox)
            again.append((time.perf_counter() - t0) * 1000)
        cmd(s, f, "z", "LOGOUT")
        s.close()
        return cold, cpu, statistics.median(again), exists[0].decode().strip()
    finally:
        d.terminate()
        d.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rmail", required=True)
    ap.add_argument("--modules", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--mbox", default="Big")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--again", type=int, default=50)
    a = ap.parse_args()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="imap-coldselect-")
    cfg = os.path.join(tmp, "config.json")
    with open(cfg, "w") as fh:
        fh.write("""{
  "hostname": "mail.example.test",
  "mail_root": "%s",
  "module_dir": "%s",
  "modules": ["mod_shardstore", "mod_imap"],
  "processes": 1,
  "imap": {"listen": ["127.0.0.1:%d"], "imaps_listen": [],
           "allow_cleartext_login_loopback": true},
  "index": {"enabled": false}
}
""" % (a.root, a.modules, port))
    res = [one_round(a, port, cfg) for _ in range(a.rounds)]
    for i, name in enumerate(["cold first SELECT", "daemon CPU of it",
                              "re-SELECT p50"]):
        v = sorted(r[i] for r in res)
        print("%s: p50 %.2f ms (min %.2f, max %.2f; %d rounds)" %
              (name, statistics.median(v), v[0], v[-1], len(v)))
    print(res[0][3])


if __name__ == "__main__":
    main()
