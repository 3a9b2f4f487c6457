"""Private redis-server and rspamd for the tests: loopback, ephemeral
ports, everything (config, data, logs, sockets) in one temporary
directory.  rspamd runs its controller, a normal worker and a proxy
worker in milter mode; the network checks (RBL/SURBL, fuzzy, DNS-based
ones) are off or fail at once against a dead loopback resolver: the
machine is offline.  Bayes statistics live in the private Redis.

A missing rspamd or redis-server raises: the test fails, it never
skips (scripts/deps.sh installs them).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
PASSWORD = "learn-pw-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, deadline, what):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s not listening on %d" % (what, port))


LOCAL_D = {
    "worker-controller.inc": 'bind_socket = "127.0.0.1:{controller}";\n'
                             'password = "{password}";\n'
                             'enable_password = "{password}";\n'
                             'secure_ip = [];\ncount = 1;\n',
    "worker-normal.inc": 'bind_socket = "127.0.0.1:{normal}";\ncount = 1;\n',
    "worker-proxy.inc": 'bind_socket = "127.0.0.1:{proxy}";\n'
                        'milter = yes;\ncount = 1;\ntimeout = 30s;\n'
                        'upstream "local" {{\n  default = yes;\n'
                        '  self_scan = yes;\n}}\n',
    "worker-fuzzy.inc": "enabled = false;\ncount = -1;\n",
    "options.inc": 'dns {{\n  nameserver = ["127.0.0.1:{dns}"];\n'
                   '  timeout = 0.5s;\n  retransmits = 1;\n}}\n'
                   'disable_hyperscan = true;\n'
                   # GTUBE and its per-action variants are matched only
                   # with this on
                   'enable_test_patterns = true;\n'
                   # the public suffix list takes rspamd 20 s to compile:
                   # a few suffixes are all a test needs
                   'url_tld = "{dir}/tld.dat";\n',
    "logging.inc": 'type = "file";\nfilename = "{dir}/rspamd.log";\n'
                   'level = "info";\n',
    "redis.conf": 'servers = "127.0.0.1:{redis}";\n',
    "classifier-bayes.conf": 'servers = "127.0.0.1:{redis}";\n'
                             'backend = "redis";\nmin_learns = 1;\n'
                             'min_tokens = 5;\n',
    # rspamd's headers on every message, loopback clients included
    "milter_headers.conf": 'use = ["x-spamd-result", "x-rspamd-server",'
                           ' "x-rspamd-queue-id"];\n'
                           'skip_local = false;\n'
                           'skip_authenticated = false;\n',
    "rbl.conf": "enabled = false;\n",
    "surbl.conf": "enabled = false;\n",
    "fuzzy_check.conf": "enabled = false;\n",
    "phishing.conf": "enabled = false;\n",
    "asn.conf": "enabled = false;\n",
    "url_redirector.conf": "enabled = false;\n",
    "emails.conf": "enabled = false;\n",
    "neural.conf": "enabled = false;\n",
    "replies.conf": "enabled = false;\n",
    "history_redis.conf": "enabled = false;\n",
    "greylist.conf": "enabled = false;\n",
    "ratelimit.conf": "enabled = false;\n",
}


class Rspamd:
    """Start with start(); controller, normal and proxy ports are
    attributes.  stop() kills rspamd only (a restart keeps Redis);
    close() ends everything and removes the directory."""

    def __init__(self, prefix="rmail-rspamd-"):
        for tool in (RSPAMD, REDIS):
            if not os.access(tool, os.X_OK):
                raise RuntimeError(tool + " missing: run scripts/deps.sh")
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.controller = free_port()
        self.normal = free_port()
        self.proxy = free_port()
        self.redis = free_port()
        # a port nobody listens on: every DNS question fails at once
        self.dns = free_port()
        self.password = PASSWORD
        self.redis_proc = None
        self.proc = None
        local = os.path.join(self.dir, "local.d")
        os.mkdir(local)
        for sub in ("db", "run"):
            os.mkdir(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "tld.dat"), "w") as f:
            f.write("com\nnet\norg\ntest\nexample\n")
        for name, text in LOCAL_D.items():
            with open(os.path.join(local, name), "w") as f:
                f.write(text.format(**self.__dict__))
        self.start_redis()

    def start_redis(self):
        self.redis_log = open(os.path.join(self.dir, "redis.log"), "w")
        self.redis_proc = subprocess.Popen(
            [REDIS, "--bind", "127.0.0.1", "--port", str(self.redis),
             "--dir", self.dir, "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=self.redis_log, stderr=subprocess.STDOUT)
        wait_port(self.redis, self.redis_proc, time.monotonic() + 20,
                  "redis-server")

    def start(self, timeout=60):
        argv = [RSPAMD, "-f", "-c", "/etc/rspamd/rspamd.conf",
                "--var=LOCAL_CONFDIR=" + self.dir,
                "--var=DBDIR=" + os.path.join(self.dir, "db"),
                "--var=RUNDIR=" + os.path.join(self.dir, "run"),
                "--var=LOGDIR=" + self.dir,
                "-p", os.path.join(self.dir, "run", "rspamd.pid")]
        if os.getuid() == 0:
            argv.append("--insecure")
        self.out = open(os.path.join(self.dir, "rspamd.out"), "a")
        self.proc = subprocess.Popen(argv, stdout=self.out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        for port in (self.controller, self.normal, self.proxy):
            wait_port(port, self.proc, deadline, "rspamd")

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, 15)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        self.proc = None
        self.out.close()

    def close(self):
        self.stop()
        if self.redis_proc is not None:
            self.redis_proc.terminate()
            self.redis_proc.wait(10)
            self.redis_log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(os.path.join(self.dir, "rspamd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stat(self):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/stat" % self.controller,
            headers={"Password": self.password})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)

    def learned(self):
        """(spam, ham) learns in the Bayes statfiles"""
        spam = ham = 0
        for sf in self.stat().get("statfiles", []):
            if sf.get("symbol") == "BAYES_SPAM":
                spam += sf.get("revision", 0)
            elif sf.get("symbol") == "BAYES_HAM":
                ham += sf.get("revision", 0)
        return spam, ham
