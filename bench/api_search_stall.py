#!/usr/bin/env python3
"""api_search_stall: does the API search stall the event loop?

Starts rmail (mod_shardstore + mod_exchange, index off, one process) on a
mail root that `view_bench gen --dir ROOT --n 100000 --cap 1024` filled
(user bench@example.com, password "bench", folder Big), then for SECS
seconds runs N clients searching the folder without pause (field=from,
q=@, limit=1: one message read each, so what a search costs is what the
loop does for it) beside one client timing GET /api/folders, and prints
searches/s, their p50/p99 and the GET's p50/p99/max (docs/api.md).

    api_search_stall.py RMAIL_BIN MODULE_DIR ROOT [SECS [N]]
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rmail, mods, root = sys.argv[1:4]
    secs = float(sys.argv[4]) if len(sys.argv) > 4 else 5
    nsearch = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    work = tempfile.mkdtemp(prefix="api-search-stall-")
    cfg = os.path.join(work, "config.json")
    with open(cfg, "w") as f:
        json.dump({"hostname": "mail.example.test", "mail_root": root,
                   "module_dir": os.path.abspath(mods),
                   "modules": ["mod_shardstore", "mod_exchange"],
                   "log_level": "warning", "processes": 1,
                   "index": {"enabled": False},
                   "exchange_api": {"listen": ["127.0.0.1:%d" % port],
                                    "tls_listen": []}}, f)
    d = subprocess.Popen([rmail, "-c", cfg, "serve"],
                         stdout=subprocess.DEVNULL)
    try:
        run(port, secs, nsearch)
    finally:
        d.terminate()
        d.wait()


def run(port, secs, nsearch):
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.connect()
            break
        except OSError:
            time.sleep(0.1)
    c.request("POST", "/api/login",
              json.dumps({"username": "bench@example.com",
                          "password": "bench"}),
              {"Content-Type": "application/json"})
    hdr = {"Authorization": "Bearer " +
           json.loads(c.getresponse().read())["token"]}

    def get(conn, path):
        conn.request("GET", path, headers=hdr)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit("%s: %d %s" % (path, r.status, body[:200]))

    search = "/api/folders/Big/search?q=%40&field=from&limit=1"
    get(c, "/api/folders/Big/messages?page=1&per_page=1")  # the view
    stop = time.time() + secs
    lat_s, lat_g = [], []

    def searcher():
        cc = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.time() < stop:
            t = time.perf_counter()
            get(cc, search)
            lat_s.append(time.perf_counter() - t)

    def getter():
        cc = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.time() < stop:
            t = time.perf_counter()
            get(cc, "/api/folders")
            lat_g.append(time.perf_counter() - t)
            time.sleep(0.002)

    th = [threading.Thread(target=searcher) for _ in range(nsearch)]
    th.append(threading.Thread(target=getter))
    for t in th:
        t.start()
    for t in th:
        t.join()

    def q(v, p):
        v = sorted(v)
        return v[min(len(v) - 1, int(len(v) * p))] * 1e3 if v else 0.0

    print("%d searchers: %.0f searches/s p50 %.2f p99 %.2f ms | "
          "GET /api/folders p50 %.2f p99 %.2f max %.2f ms" %
          (nsearch, len(lat_s) / secs, q(lat_s, .5), q(lat_s, .99),
           q(lat_g, .5), q(lat_g, .99), max(lat_g) * 1e3))


if __name__ == "__main__":
    main()
