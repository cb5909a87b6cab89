"""The command line contract: --help, --version, errors with exit code 2, and clean exit on signals."""
import json
import os
import signal
import subprocess
import unittest

import harness


def run(*args):
    return subprocess.run([harness.LIVEGATE, *args], capture_output=True, text=True, timeout=10,
                          stdin=subprocess.DEVNULL)


class Cli(unittest.TestCase):
    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--config", "--bind", "--rtmp-port", "--http-port", "--log-level", "--version"):
            self.assertIn(flag, r.stdout)
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^livegate \d+\.\d+\.\d+")

    def test_errors_name_the_problem_and_exit_2(self):
        cases = [(["--no-such-flag"], "--no-such-flag"),
                 (["--rtmp-port", "99999"], "rtmp_port"),
                 (["--http-port", "abc"], "abc"),
                 (["--log-level", "chatty"], "log_level"),
                 (["--config", "/nonexistent.json"], "/nonexistent.json")]
        path = os.path.join(harness.WORK, "bad.json")
        with open(path, "w") as f:
            json.dump({"rtmp": {"max_conections": 3}}, f)
        cases.append((["--config", path], "rtmp.max_conections"))
        for args, needle in cases:
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, "one line")

    def test_sigterm_and_sigint_exit_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name):
                lg = harness.Livegate()
                self.assertEqual(lg.stop(sig), 0)
                self.assertIn("stopped", lg.log_text())

    def test_port_in_use_is_reported(self):
        lg = harness.Livegate()
        try:
            r = run("--bind", "127.0.0.1", "--rtmp-port", str(lg.rtmp_port), "--http-port", str(harness.free_port()))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(str(lg.rtmp_port), r.stderr)
        finally:
            lg.stop()


if __name__ == "__main__":
    harness.main()
