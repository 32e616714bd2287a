#!/usr/bin/python3
"""kanald's command line: --help, --version, and config errors that name the
key and the file (no ZooKeeper needed)."""

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def kanald(*args, timeout=20):
    return h.run_cmd([h.kanald_bin()] + list(args), timeout=timeout, check=False)


def help_(tmp):
    p = kanald("--help")
    h.eq(p.returncode, 0, "--help exit status")
    out = (p.stdout + p.stderr).decode()
    h.expect("--config" in out and "--override" in out, "--help output:\n" + out)


def version(tmp):
    p = kanald("--version")
    h.eq(p.returncode, 0, "--version exit status")
    out = (p.stdout + p.stderr).decode()
    h.expect(re.search(r"\d+\.\d+\.\d+", out), "--version output has no version number:\n" + out)


def unknown_option(tmp):
    p = kanald("--no-such-option")
    h.expect(p.returncode not in (0, None) and p.returncode > 0, "exit status %s" % p.returncode)
    h.expect(b"--no-such-option" in p.stderr, "stderr does not name the option:\n%s" % p.stderr.decode())


def missing_config(tmp):
    path = os.path.join(tmp, "does-not-exist.properties")
    p = kanald("--config", path)
    h.expect(p.returncode > 0, "exit status %s" % p.returncode)
    h.expect(path.encode() in p.stderr, "stderr does not name the file:\n%s" % p.stderr.decode())


def bad_value(tmp):
    path = os.path.join(tmp, "bad.properties")
    with open(path, "w") as f:
        f.write("# a comment\nlisteners=PLAINTEXT://127.0.0.1:1\nbroker.id=not-a-number\n"
                "zookeeper.connect=127.0.0.1:1\nlog.dirs=%s\n" % tmp)
    p = kanald("--config", path)
    h.expect(p.returncode > 0, "exit status %s" % p.returncode)
    err = p.stderr.decode()
    h.expect("broker.id" in err, "stderr does not name the key:\n" + err)
    h.expect("bad.properties" in err, "stderr does not name the file:\n" + err)
    h.expect(re.search(r"bad\.properties:3\b", err) or "line 3" in err,
             "stderr does not name the line (3):\n" + err)


def bad_override(tmp):
    path = os.path.join(tmp, "ok.properties")
    with open(path, "w") as f:
        f.write("broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:1\nzookeeper.connect=127.0.0.1:1\n"
                "log.dirs=%s\n" % tmp)
    p = kanald("--config", path, "--override", "num.partitions=-5")
    h.expect(p.returncode > 0, "exit status %s" % p.returncode)
    h.expect(b"num.partitions" in p.stderr, "stderr does not name the key:\n%s" % p.stderr.decode())


def body(run):
    with tempfile.TemporaryDirectory(prefix="kanal-it-cli-") as tmp:
        run.case("kanald --help", help_, tmp)
        run.case("kanald --version", version, tmp)
        run.case("unknown option -> non-zero, named", unknown_option, tmp)
        run.case("missing config file -> non-zero, file named", missing_config, tmp)
        run.case("broker.id=not-a-number -> non-zero, key/file/line named", bad_value, tmp)
        run.case("--override num.partitions=-5 -> non-zero, key named", bad_override, tmp)


if __name__ == "__main__":
    h.main("cli", 60, body)
