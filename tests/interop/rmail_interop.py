"""What the interop suites share: a daemon of the real build on
ephemeral loopback ports, users made by `rmail user add`, and a TLS
context that accepts the fixture certificate.

Needs RMAIL_BIN, RMAIL_MODULE_DIR and RMAIL_SOURCE_DIR (set by ctest).
A suite imports it after putting tests/interop on sys.path.
"""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Daemon:
    """A mail root and config.json in a temporary directory: `modules`
    after mod_shardstore, the fixture certificate when `tls`, and the
    top-level keys of `extra`.  Nothing runs until start()."""

    def __init__(self, prefix, modules, extra, tls=True):
        self.bin = os.environ["RMAIL_BIN"]
        self.src = os.environ["RMAIL_SOURCE_DIR"]
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.root = os.path.join(self.dir, "mail")
        os.mkdir(self.root)
        self.cert = os.path.join(self.src, "tests/certs/cert.pem")
        conf = {
            "hostname": "mail.example.test",
            "mail_root": self.root,
            "module_dir": os.environ["RMAIL_MODULE_DIR"],
            "modules": ["mod_shardstore"] + list(modules),
            "shutdown_timeout": 5,
        }
        if tls:
            conf["tls"] = {
                "cert_file": self.cert,
                "key_file": os.path.join(self.src, "tests/certs/key.pem")}
        conf.update(extra)
        self.config = os.path.join(self.dir, "config.json")
        with open(self.config, "w") as f:
            json.dump(conf, f)
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = None

    def rmail(self, *args, stdin=None):
        """`rmail -c config ARGS`; raises when it fails."""
        subprocess.run([self.bin, "-c", self.config] + list(args),
                       input=stdin, text=True, check=True,
                       capture_output=True)

    def add_user(self, addr, password, admin=False):
        self.rmail("user", "add", addr, "--password-stdin",
                   *(["--admin"] if admin else []), stdin=password + "\n")
        return addr

    def start(self, port):
        """`rmail serve`, returning once `port` accepts connections."""
        self.proc = subprocess.Popen([self.bin, "-c", self.config, "serve"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        self.wait_port(port)

    def wait_port(self, port):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited: " + self.stderr())
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("daemon not listening")

    def stderr(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
