"""mod_exchange against third-party HTTP clients: curl and urllib.

Starts its own daemon (mod_shardstore + mod_exchange) on an ephemeral
loopback port with users made by `rmail user add`.  Needs RMAIL_BIN,
RMAIL_MODULE_DIR and RMAIL_SOURCE_DIR (set by ctest).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

DOM = "example.test"
ALICE = "alice@" + DOM
BOB = "bob@" + DOM
PW = "interop-pw"
ORIGIN = "https://app.example.test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self):
        self.bin = os.environ["RMAIL_BIN"]
        self.dir = tempfile.mkdtemp(prefix="rmex-interop-")
        self.root = os.path.join(self.dir, "mail")
        os.mkdir(self.root)
        self.port = free_port()
        conf = {
            "hostname": "mail.example.test",
            "mail_root": self.root,
            "module_dir": os.environ["RMAIL_MODULE_DIR"],
            "modules": ["mod_shardstore", "mod_exchange"],
            "shutdown_timeout": 5,
            "exchange_api": {
                "listen": ["127.0.0.1:%d" % self.port],
                "tls_listen": [],
                "cors_origins": [ORIGIN],
            },
        }
        self.config = os.path.join(self.dir, "config.json")
        with open(self.config, "w") as f:
            json.dump(conf, f)
        self.rmail("user", "add", ALICE, "--password-stdin", "--admin",
                   stdin=PW + "\n")
        self.rmail("user", "add", BOB, "--password-stdin", stdin=PW + "\n")
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = subprocess.Popen([self.bin, "-c", self.config, "serve"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        self.base = "http://127.0.0.1:%d" % self.port
        self.wait_port()

    def rmail(self, *args, stdin=None):
        subprocess.run([self.bin, "-c", self.config] + list(args),
                       input=stdin, text=True, check=True,
                       capture_output=True)

    def wait_port(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited: " + self.stderr())
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("daemon not listening")

    def stderr(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        err = self.stderr()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc, err


def curl(*args):
    """(status, headers text, body text) of one curl transfer"""
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "-D", "-",
                          "-o", "-"] + list(args),
                         capture_output=True, check=True, timeout=20)
    raw = out.stdout.decode("utf-8", "replace")
    head, _, body = raw.partition("\r\n\r\n")
    status = int(head.split("\r\n")[0].split()[1])
    return status, head, body


class Api:
    """a small urllib client keeping the bearer token"""

    def __init__(self, base):
        self.base = base
        self.token = None

    def call(self, method, path, body=None, ctype="application/json"):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", ctype)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, method, path, body=None, ctype="application/json"):
        st, hd, raw = self.call(method, path, body, ctype)
        return st, json.loads(raw)

    def login(self, user):
        st, j = self.json("POST", "/api/login",
                          {"username": user, "password": PW})
        assert st == 200, (st, j)
        self.token = j["token"]
        return j


class ExchangeInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()

    @classmethod
    def tearDownClass(cls):
        rc, err = cls.d.stop()
        # a sanitizer build reports errors and leaks on stderr
        for bad in ("ERROR: AddressSanitizer", "runtime error",
                    "ERROR: LeakSanitizer"):
            if bad in err:
                raise AssertionError("daemon stderr:\n" + err)

    def curl_token(self, user=ALICE):
        st, _, body = curl("-H", "Content-Type: application/json",
                           "--data-binary",
                           json.dumps({"username": user, "password": PW}),
                           self.d.base + "/api/login")
        self.assertEqual(st, 200, body)
        return json.loads(body)

    # ---- curl

    def test_curl_login(self):
        j = self.curl_token()
        self.assertEqual(j["token_type"], "Bearer")
        self.assertGreater(j["expires_in"], 0)
        self.assertEqual(j["token"].count("."), 2)
        st, _, body = curl("-H", "Content-Type: application/json",
                           "--data-binary",
                           json.dumps({"username": ALICE,
                                       "password": "wrong"}),
                           self.d.base + "/api/login")
        self.assertEqual(st, 401)
        self.assertIn("error", json.loads(body))

    def test_curl_folders_and_messages(self):
        tok = self.curl_token()["token"]
        st, head, body = curl("-H", "Authorization: Bearer " + tok,
                              self.d.base + "/api/folders")
        self.assertEqual(st, 200, body)
        self.assertIn("application/json", head.lower())
        names = [f["name"] for f in json.loads(body)["folders"]]
        self.assertIn("INBOX", names)
        st, _, body = curl("-H", "Authorization: Bearer " + tok,
                           self.d.base +
                           "/api/folders/INBOX/messages?page=1&per_page=5")
        self.assertEqual(st, 200, body)
        j = json.loads(body)
        self.assertEqual(j["page"], 1)
        self.assertEqual(j["per_page"], 5)
        self.assertIsInstance(j["messages"], list)
        self.assertLessEqual(len(j["messages"]), 5)

    def test_curl_cors_preflight(self):
        st, head, _ = curl("-X", "OPTIONS", "-H", "Origin: " + ORIGIN,
                           "-H", "Access-Control-Request-Method: GET",
                           "-H", "Access-Control-Request-Headers: "
                           "authorization",
                           self.d.base + "/api/folders")
        self.assertIn(st, (200, 204))
        low = head.lower()
        self.assertIn("access-control-allow-origin: " + ORIGIN, low)
        self.assertIn("access-control-allow-methods", low)
        st, head, _ = curl("-X", "OPTIONS", "-H", "Origin: https://evil.test",
                           "-H", "Access-Control-Request-Method: GET",
                           self.d.base + "/api/folders")
        self.assertNotIn("access-control-allow-origin", head.lower())

    def test_curl_bad_token(self):
        tok = self.curl_token()["token"]
        bad = tok[:-2] + ("AA" if not tok.endswith("AA") else "BB")
        for t in (bad, "not-a-jwt", ""):
            st, head, body = curl("-H", "Authorization: Bearer " + t,
                                  self.d.base + "/api/folders")
            self.assertEqual(st, 401, t)
            self.assertIn("www-authenticate: bearer", head.lower())
            self.assertIn("error", json.loads(body))
        st, _, _ = curl(self.d.base + "/api/folders")
        self.assertEqual(st, 401)

    # ---- urllib

    def test_urllib_append_list_fetch_flag(self):
        api = Api(self.d.base)
        j = api.login(ALICE)
        self.assertEqual(j["token_type"], "Bearer")
        marker = "urllib-%d" % time.monotonic_ns()
        raw = ("From: Bob <%s>\r\nTo: %s\r\nSubject: %s\r\n"
               "Message-ID: <%s@example.test>\r\n"
               "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n"
               "caf\u00e9 body %s\r\n" % (BOB, ALICE, marker, marker,
                                         marker)).encode()
        st, j = api.json("POST", "/api/folders/INBOX/messages", raw,
                         "message/rfc822")
        self.assertEqual(st, 201, j)
        uid = j["uid"]
        self.assertIsInstance(uid, int)

        st, j = api.json("GET", "/api/folders/INBOX/messages?per_page=50")
        self.assertEqual(st, 200, j)
        mine = [m for m in j["messages"] if m["uid"] == uid]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["subject"], marker)
        self.assertEqual(mine[0]["from"][0]["address"], BOB)
        uids = [m["uid"] for m in j["messages"]]
        self.assertEqual(uids, sorted(uids, reverse=True))

        st, j = api.json("GET", "/api/folders/INBOX/messages/%d" % uid)
        self.assertEqual(st, 200, j)
        self.assertEqual(j["subject"], marker)
        self.assertEqual(j["message_id"], "<%s@example.test>" % marker)
        self.assertIn("caf\u00e9 body " + marker, j["text"])
        # "date" is the store's arrival time (internaldate), RFC 3339 UTC
        self.assertRegex(j["date"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        st, hd, body = api.call("GET", "/api/folders/INBOX/messages/%d"
                                "?format=raw" % uid)
        self.assertEqual(st, 200)
        self.assertIn("message/rfc822", hd.get("Content-Type"))
        self.assertEqual(body, raw)

        st, j = api.json("POST", "/api/folders/INBOX/messages/%d/flags"
                         % uid, {"add": ["\\Seen", "\\Flagged", "work"]})
        self.assertEqual(st, 200, j)
        self.assertEqual(set(j["flags"]), {"\\Seen", "\\Flagged", "work"})
        st, j = api.json("POST", "/api/folders/INBOX/messages/%d/flags"
                         % uid, {"remove": ["\\Flagged"]})
        self.assertEqual(st, 200, j)
        self.assertEqual(set(j["flags"]), {"\\Seen", "work"})
        st, j = api.json("GET", "/api/folders/INBOX/messages/%d" % uid)
        self.assertEqual(set(j["flags"]), {"\\Seen", "work"})

    def test_urllib_send_local(self):
        alice, bob = Api(self.d.base), Api(self.d.base)
        alice.login(ALICE)
        bob.login(BOB)
        marker = "sent-%d" % time.monotonic_ns()
        st, j = alice.json("POST", "/api/send",
                           {"to": [{"name": "Bob", "address": BOB}],
                            "subject": marker, "text": "hello " + marker})
        self.assertEqual(st, 200, j)
        self.assertEqual(j["sent"], [BOB])
        self.assertEqual(j["failed"], [])
        # local delivery happens before the reply
        st, j = bob.json("GET", "/api/folders/INBOX/messages")
        self.assertEqual(st, 200, j)
        got = [m for m in j["messages"] if m["subject"] == marker]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["from"][0]["address"], ALICE)
        st, j = bob.json("GET", "/api/folders/INBOX/messages/%d"
                         % got[0]["uid"])
        self.assertIn("hello " + marker, j["text"])
        self.assertIsNotNone(j["message_id"])

    def test_urllib_bad_json(self):
        api = Api(self.d.base)
        api.login(ALICE)
        st, j = api.json("POST", "/api/send",
                         b'{"to":["a@b.test"],"to":["c@d.test"]}')
        self.assertEqual(st, 400)
        self.assertIn("error", j)


if __name__ == "__main__":
    unittest.main()
