"""The command line contract: --help, --version, errors with exit code 2, and clean exit on signals."""
import json
import os
import signal
import time
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

    def test_playlists_end_and_http_drains_before_exit(self):
        """SIGTERM: the playlist gets EXT-X-ENDLIST at once, HTTP serves it and its last segment for
        http.drain_ms, then livegate exits 0. A second signal ends the drain early."""
        drain_s = 8  # long enough for the checks below to be done inside it on a slow build
        for second_signal in (False, True):
            lg = harness.Livegate(config={"http": {"drain_ms": drain_s * 1000}})
            media = harness.test_media(6, 320, 240, 30, gop_s=1)
            proc = harness.ffmpeg_publish(media, lg.rtmp_url("drain"), realtime=True, loop=True)
            try:
                lg.wait_for(lambda: lg.get("/live/drain/index.m3u8")[1].count(b"#EXTINF") >= 2, 30, "segments")
                started = time.monotonic()
                lg.proc.send_signal(signal.SIGTERM)
                body = lg.wait_for(lambda: (lambda b: b if b.endswith(b"#EXT-X-ENDLIST\n") else None)(
                    lg.get("/live/drain/index.m3u8")[1]), drain_s, "EXT-X-ENDLIST during the drain")
                last = [l for l in body.decode().splitlines() if l.endswith(".ts")][-1]
                status, segment = lg.get(f"/live/drain/{last}")
                self.assertEqual(status, 200, "the last segment is served during the drain")
                self.assertGreater(len(segment), 0)
                self.assertIsNone(lg.proc.poll(), "livegate exited before the drain ended")
                if second_signal:
                    lg.proc.send_signal(signal.SIGINT)
                self.assertEqual(lg.proc.wait(drain_s + harness.WAIT_S), 0)
                took = time.monotonic() - started
                print(f"\nexit {took:.2f} s after SIGTERM (drain {drain_s} s, second signal: {second_signal})")
                if second_signal:
                    self.assertLess(took, drain_s - 2, "the second signal did not end the drain")
                else:
                    self.assertGreaterEqual(took, drain_s - 0.1)
            finally:
                proc.kill()
                proc.wait()
                lg.stop()

    def test_the_readme_defaults_are_a_valid_config(self):
        """The README's configuration block is what livegate accepts, and its table names every key."""
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
            readme = f.read()
        section = readme[readme.index("## Configuration"):]
        block = section[section.index("```json") + 7:section.index("```", section.index("```json") + 7)]
        defaults = json.loads(block)
        def flatten(obj, prefix=""):  # groups nest: {"hls": {"ll": {"part_target_ms": 333}}}
            for k, v in obj.items():
                yield from flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]
        keys = list(flatten(defaults))
        table = "\n".join(line for line in section.splitlines() if line.startswith("| `"))
        for key in keys:
            self.assertIn(f"`{key}`", table, f"{key} is not in the README's table")
        path = os.path.join(harness.WORK, "readme-defaults.json")
        defaults["rtmp_port"] = defaults["http_port"] = 0
        defaults["api"]["port"] = 0
        with open(path, "w") as f:
            json.dump(defaults, f)
        lg = harness.Livegate("--config", path)
        self.assertEqual(lg.stop(), 0)

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
