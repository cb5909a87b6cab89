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


def heap_vm_flags(pid):
    """The VmFlags of the process's brk heap, from /proc/PID/smaps."""
    with open(f"/proc/{pid}/smaps") as f:
        in_heap = False
        for line in f:
            if line.rstrip().endswith("[heap]"):
                in_heap = True
            elif in_heap and line.startswith("VmFlags:"):
                return line.split()[1:]
    return []


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

    def test_heap_asks_for_huge_pages_once(self):
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            if "[madvise]" not in f.read():
                self.skipTest("transparent huge pages are not in madvise mode here; livegate leaves them alone")
        if harness.sanitized():
            self.skipTest("AddressSanitizer's allocator replaces glibc's, whose tunable this is")
        # (GLIBC_TUNABLES given, huge pages expected). The operator's own tunables are kept; an explicit
        # hugetlb=0 is respected.
        cases = [(None, True), ("glibc.malloc.arena_max=4", True), ("glibc.malloc.hugetlb=0", False)]
        for given, huge in cases:
            with self.subTest(given=given):
                env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
                if given is not None:
                    env["GLIBC_TUNABLES"] = given
                lg = harness.Livegate(env=env)
                try:
                    # The exec keeps the pid, so the process started is the one serving. glibc asked the
                    # kernel for huge pages on its heap when the heap's mapping carries "hg" (MADV_HUGEPAGE).
                    self.assertEqual("hg" in heap_vm_flags(lg.proc.pid), huge)
                    with open(f"/proc/{lg.proc.pid}/environ", "rb") as f:
                        environ = f.read()
                    if given is not None:
                        self.assertIn(b"GLIBC_TUNABLES=" + given.encode(), environ)
                finally:
                    self.assertEqual(lg.stop(), 0)

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
