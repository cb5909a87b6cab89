#!/usr/bin/env python3
"""livegate against nginx-rtmp, side by side on loopback: ingest CPU/RSS/real time/latency per stream count,
HTTP throughput with wrk, and 1,000 simulated players. Writes results.json and renders RESULTS.md and
cpu_rss.png beside this file. Python standard library only. See README.md here for the parts and options."""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
GOP_S = 2.0  # the generated media's keyframe interval, and both servers' target segment duration
PARTS = ("ingest", "packaging", "http", "players", "ll_players", "latency")
SERVERS = ("livegate", "nginx")

# Every wait below is bounded by one of these.
READY_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- processes we start, and only those


class Proc:
    """A child process with its output in a log file; stopped by its own pid only."""

    def __init__(self, name, args, log_dir, env=None):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM):
        """Signals the process and waits for it; stop_s is how long it took to exit (None: it had to be killed,
        or it was gone already)."""
        self.stop_s = None
        if self.alive():
            t0 = time.monotonic()
            self.proc.send_signal(sig)
            if self.wait(STOP_TIMEOUT_S) is None:
                log(f"{self.name} ({self.pid}) did not stop on {sig.name}; killing it")
                self.proc.kill()
                self.proc.wait()
            else:
                self.stop_s = time.monotonic() - t0
        self.log.close()
        return self.proc.returncode

    def tail(self, n=15):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")


def children(pid):
    """Direct children of pid, from /proc (nginx's worker and cache manager)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def cpu_ticks(pids, which=(11, 12)):
    """Sum of utime (index 11 after the command name: field 14 of stat) and/or stime (12: field 15)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(fields[i]) for i in which)
        except OSError:
            pass
    return total


def thread_schedstat(pids):
    """{tid: (ns on a CPU, ns runnable but waiting for one)} from /proc/PID/task/TID/schedstat."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    run, wait = f.read().split()[:2]
                out[tid] = (int(run), int(wait))
            except (OSError, ValueError):
                pass
    return out


class RunQueueWindow:
    """How long the busiest thread of a set of processes waited for a CPU while runnable, as % of the window.
    On a shared 2-core machine this tells a server that is slow from a server that is starved."""

    def __init__(self, pids_fn):
        self.pids_fn = pids_fn

    def start(self):
        self.t0 = time.monotonic()
        self.s0 = thread_schedstat(self.pids_fn())
        return self

    def stop(self):
        dt_ns = (time.monotonic() - self.t0) * 1e9
        s1 = thread_schedstat(self.pids_fn())
        busiest = max(s1, key=lambda t: s1[t][0] - self.s0.get(t, (0, 0))[0], default=None)
        if busiest is None or dt_ns <= 0:
            return {}
        run = s1[busiest][0] - self.s0.get(busiest, (0, 0))[0]
        wait = s1[busiest][1] - self.s0.get(busiest, (0, 0))[1]
        return {"busiest_thread_cpu_pct": 100 * run / dt_ns, "busiest_thread_wait_pct": 100 * wait / dt_ns}


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KIB
        except OSError:
            pass
    return total


class CpuWindow:
    """CPU of a set of processes between start() and stop(), as % of one core (user + system, or one of them)."""

    def __init__(self, pids_fn, which=(11, 12)):
        self.pids_fn = pids_fn
        self.which = which

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = cpu_ticks(self.pids_fn(), self.which)
        return self

    def stop(self):
        dt = time.monotonic() - self.t0
        return 100.0 * (cpu_ticks(self.pids_fn(), self.which) - self.c0) / CLK_TCK / dt if dt > 0 else 0.0


# ---------------------------------------------------------------- environment


def ensure_packages(no_install):
    """nginx with the RTMP module, wrk, gnuplot (for the chart) and ffmpeg, from Debian, if missing."""
    need = []
    if not os.path.exists("/usr/lib/nginx/modules/ngx_rtmp_module.so"):
        need.append("libnginx-mod-rtmp")
    if not shutil.which("nginx"):
        need.append("nginx")
    for tool, pkg in (("wrk", "wrk"), ("gnuplot", "gnuplot-nox"), ("ffmpeg", "ffmpeg"), ("perf", "linux-perf")):
        if not shutil.which(tool):
            need.append(pkg)
    if not need:
        return
    if no_install:
        sys.exit(f"bench: missing packages {need} and --no-install given")
    log(f"installing {' '.join(need)} with apt")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need], check=True, env=env)


def make_media(cache):
    """60 s of 1280x720 30 fps H.264 main with B-frames, GOP 2 s, ~3 Mbit/s, AAC 128 kbit/s 48 kHz, in FLV.
    Noise keeps x264 from undershooting the bitrate on the synthetic picture. Made once per cache dir."""
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, "media-720p30-3mbps-60s.flv")
    if os.path.exists(path):
        return path
    log(f"generating test media into {path}")
    tmp = path + ".part"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "60",
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "2",
         "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
         "-b:v", "3000k", "-maxrate", "3300k", "-bufsize", "6000k", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-f", "flv", tmp],
        check=True)
    os.rename(tmp, path)
    return path


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
    rtmp_mod = first_line(["dpkg-query", "-W", "-f", "${Version}", "libnginx-mod-rtmp"])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "debian": debian,
        "nginx": first_line(["nginx", "-v"]),
        "nginx_rtmp_module": rtmp_mod,
        "wrk": first_line(["wrk", "-v"]),
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- servers


class Livegate:
    name = "livegate"

    def __init__(self, binary, work, hls_dir="", packaging=None):
        self.rtmp_port, self.http_port = free_port(), free_port()
        self.packaging = packaging
        # /metrics is on the admin listener. Set through the environment, which builds older than the
        # admin listener ignore (they serve /metrics on the HTTP port): the same script measures both.
        self.admin_port = free_port()
        config = {
            "log_level": "warn",
            # Limits raised for 500 publishers from one address; everything else is the default.
            "rtmp": {"max_connections": 2000, "max_connections_per_ip": 2000, "max_streams": 2000},
            "hls": {"dir": hls_dir, **({"packaging": packaging} if packaging else {})},
        }
        path = os.path.join(work, f"livegate-{self.rtmp_port}.json")
        with open(path, "w") as f:
            json.dump(config, f)
        self.proc = Proc(f"livegate-{self.rtmp_port}", [binary, "--config", path, "--bind", "127.0.0.1",
                                                          "--rtmp-port", str(self.rtmp_port),
                                                          "--http-port", str(self.http_port)], work,
                         env={**os.environ, "LIVEGATE_API_PORT": str(self.admin_port),
                              # 1,000 simulated players and wrk all come from 127.0.0.1
                              "LIVEGATE_HTTP_MAX_CONNECTIONS_PER_IP": "100000", "LIVEGATE_HTTP_DRAIN_MS": "0"})
        self.pid = self.proc.pid
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError("livegate exited:\n" + self.proc.tail())
            try:
                if http_get(self.http_port, "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("livegate did not become ready")

    rtmp_app = "live"

    def pids(self):
        return [self.pid]

    def playlist_path(self, key):
        # The TS playlist, or the CMAF one when that is the only packaging: both list the same segments.
        return f"/live/{key}/{'ll.m3u8' if self.packaging == ['cmaf'] else 'index.m3u8'}"

    def stop(self):
        return self.proc.stop()


NGINX_RTMP_CONF = """load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
user root;
worker_processes {workers};
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp_port};
    chunk_size 4096;
    application live {{
      live on;
      hls on;
      hls_path {work}/hls;
      hls_nested on;
      hls_fragment 2s;
      hls_playlist_length 12s;
    }}
  }}
}}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000;
  client_body_temp_path {work}/tmp;
  proxy_temp_path {work}/tmp;
  fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp;
  scgi_temp_path {work}/tmp;
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
  server {{
    listen 127.0.0.1:{http_port};
    root {root};
    location / {{ add_header Cache-Control max-age=1; }}
  }}
}}
"""


class Nginx:
    """nginx in the foreground (master + one worker) in its own temp dir: nginx-rtmp with HLS on 2 s fragments
    (files under hls/KEY/), and an HTTP server on `root` (its own hls/ by default, served as /hls/...)."""
    name = "nginx"
    rtmp_app = "live"

    def __init__(self, work, root=None, workers=1):
        self.work = os.path.join(work, f"nginx-{free_port()}")
        os.makedirs(os.path.join(self.work, "hls"))
        os.makedirs(os.path.join(self.work, "tmp"))
        self.rtmp_port, self.http_port = free_port(), free_port()
        # /metrics is on the admin listener. Set through the environment, which builds older than the
        # admin listener ignore (they serve /metrics on the HTTP port): the same script measures both.
        self.admin_port = free_port()
        self.hls_dir = os.path.join(self.work, "hls")
        conf = os.path.join(self.work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_RTMP_CONF.format(work=self.work, rtmp_port=self.rtmp_port, http_port=self.http_port,
                                           root=root or self.work, workers=workers))
        self.proc = Proc(os.path.basename(self.work),
                         ["nginx", "-p", self.work, "-c", conf, "-e", os.path.join(self.work, "error.log")], work)
        self.pid = self.proc.pid
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError("nginx exited:\n" + open(os.path.join(self.work, "error.log")).read()[-2000:])
            if children(self.pid) and port_open(self.rtmp_port):
                return
            time.sleep(0.05)
        raise RuntimeError("nginx did not become ready")

    def pids(self):
        return [self.pid] + children(self.pid)

    def playlist_file(self, key):
        return os.path.join(self.hls_dir, key, "index.m3u8")

    def playlist_path(self, key):
        return f"/hls/{key}/index.m3u8"

    def stop(self):
        return self.proc.stop(signal.SIGQUIT)  # graceful: the master stops its workers


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_get(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# ---------------------------------------------------------------- playlists


def parse_m3u8(text):
    """(media sequence, [(duration, uri)]) or None for something that is not a media playlist."""
    if not text.startswith("#EXTM3U"):
        return None
    seq, segs, dur = 0, [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            seq = int(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            dur = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#"):
            segs.append((dur, line))
            dur = None
    return seq, segs


class PlaylistReader:
    """Reads live playlists the way the bench measures each server: livegate over one keep-alive HTTP
    connection, nginx-rtmp from its files on disk (its HTTP side plays no part in when a segment is listed)."""

    def __init__(self, server):
        self.server = server
        self.conn = None

    def read(self, key):
        if isinstance(self.server, Nginx):
            try:
                with open(self.server.playlist_file(key)) as f:
                    return parse_m3u8(f.read())
            except OSError:
                return None
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=5)
                self.conn.request("GET", self.server.playlist_path(key))
                r = self.conn.getresponse()
                body = r.read()
                return parse_m3u8(body.decode(errors="replace")) if r.status == 200 else None
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
        return None

    def close(self):
        if self.conn:
            self.conn.close()


def produced(reader, keys):
    """Segments each stream has produced so far (media sequence + listed), None where unreadable."""
    out = {}
    for k in keys:
        p = reader.read(k)
        out[k] = p[0] + len(p[1]) if p else None
    return out


# ---------------------------------------------------------------- ingest


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(-(-q * len(v) // 1)) - 1))]


def poll_latency(server, keys, seconds, interval_s):
    """Polls the sampled streams' playlists every interval_s; returns ({key: {seq: (first seen wall ms, EXTINF)}}
    for segments that appeared during the poll (those already listed at the first read are not counted), the
    mean time one round over every sampled stream really took, in ms)."""
    reader = PlaylistReader(server)
    seen = {k: None for k in keys}
    appeared = {k: {} for k in keys}
    end = time.monotonic() + seconds
    next_round = started = time.monotonic()
    rounds = 0
    while time.monotonic() < end:
        rounds += 1
        for k in keys:
            p = reader.read(k)
            now_ms = time.time() * 1000
            if not p:
                continue
            seq, segs = p
            top = seq + len(segs)
            if seen[k] is not None:
                for s in range(max(seen[k], seq), top):
                    appeared[k][s] = (now_ms, segs[s - seq][0])
            seen[k] = top if seen[k] is None else max(seen[k], top)
        # A late round starts the next at once instead of bunching up to catch up.
        next_round = max(next_round + interval_s, time.monotonic())
        time.sleep(max(0.0, next_round - time.monotonic()))
    reader.close()
    return appeared, (time.monotonic() - started) * 1000 / max(1, rounds)


def read_keyframes(path):
    """{stream index: {keyframe index: (media ts ms, wall ms when handed to the socket)}}"""
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                out.setdefault(int(parts[0]), {})[int(parts[1])] = (int(parts[2]), float(parts[3]))
    return out


def latencies(appeared, keyframes, key_index):
    """Segment s (counting from 0, one GOP each) is closed by keyframe s + 1: latency is from that keyframe
    leaving the generator to the segment first seen listed. A segment whose EXTINF is not one GOP would
    break that mapping; those are counted as mismatches instead of measured."""
    values, mismatches = [], 0
    for key, segs in appeared.items():
        kfs = keyframes.get(key_index[key], {})
        for seq, (seen_ms, extinf) in segs.items():
            kf = kfs.get(seq + 1)
            if kf is None or extinf is None or abs(extinf - GOP_S) > 0.1 or kf[0] != round((seq + 1) * GOP_S * 1000):
                mismatches += 1
                continue
            values.append(seen_ms - kf[1])
    return values, mismatches


def segment_bytes(server, key):
    """Mean size of the segments listed for `key`, read the way a viewer would."""
    p = PlaylistReader(server).read(key)
    if not p:
        return None
    if isinstance(server, Nginx):
        d = os.path.dirname(server.playlist_file(key))
        sizes = [os.path.getsize(os.path.join(d, uri)) for _, uri in p[1] if os.path.exists(os.path.join(d, uri))]
    else:
        sizes = []
        for _, uri in p[1]:
            status, body = http_get(server.http_port, f"/live/{key}/{uri}")
            if status == 200:
                sizes.append(len(body))
    return statistics.mean(sizes) if sizes else None


def held_bytes(server):
    """What the server keeps of its HLS output: livegate's segments in memory (livegate_hls_bytes_held),
    nginx-rtmp's files under its hls path (in the page cache, so outside its RSS)."""
    if isinstance(server, Nginx):
        total = 0
        for root, _, files in os.walk(server.hls_dir):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except OSError:  # removed by nginx while walking
                    pass
        return total
    status, body = metrics_page(server)
    for line in body.decode().splitlines() if status == 200 else []:
        if line.startswith("livegate_hls_bytes_held "):
            return float(line.split()[1])
    return None


def metrics_page(server):
    """livegate's /metrics: from the admin listener, or the HTTP port of a build that has none."""
    try:
        return http_get(server.admin_port, "/metrics")
    except OSError:
        return http_get(server.http_port, "/metrics")


def histogram(server, name):
    """A livegate histogram from /metrics: {"buckets": {le: cumulative count}, "sum": s, "count": n}; None
    for nginx."""
    if isinstance(server, Nginx):
        return None
    status, body = metrics_page(server)
    h = {"buckets": {}, "sum": 0.0, "count": 0}
    for line in body.decode().splitlines() if status == 200 else []:
        if line.startswith(name + '_bucket{le="'):
            le = line.split('"')[1]
            h["buckets"][float("inf") if le == "+Inf" else float(le)] = int(float(line.split()[1]))
        elif line.startswith(name + "_sum "):
            h["sum"] = float(line.split()[1])
        elif line.startswith(name + "_count "):
            h["count"] = int(float(line.split()[1]))
    return h


def loop_lag(server):
    return histogram(server, "livegate_loop_lag_seconds")


def histogram_quantiles(a, b, qs=(0.5, 0.9, 0.99)):
    """Between two histogram() readings: the observations and, per quantile q, the upper bound of the bucket
    it falls in (None: past the last finite bound)."""
    total = b["count"] - a["count"]
    out = {"count": total, "mean_s": (b["sum"] - a["sum"]) / total if total else None}
    for q in qs:
        le = min((le for le, n in b["buckets"].items() if n - a["buckets"].get(le, 0) >= q * total), default=None)
        out[f"p{round(q * 100)}_le_s"] = None if le is None or le == float("inf") else le
    return out


def lag_between(a, b):
    """The loop lag between two loop_lag() readings: total seconds late, probes, and the worst lag's bucket
    (the smallest upper bound every probe in between stayed under)."""
    if a is None or b is None:
        return None
    probes = b["count"] - a["count"]
    worst = min((le for le in b["buckets"] if b["buckets"][le] - a["buckets"].get(le, 0) == probes),
                default=None)
    return {"late_s": b["sum"] - a["sum"], "probes": probes,
            "worst_le_s": None if worst is None or worst == float("inf") else worst}


def run_ingest_point(args, kind, n, work, media, perf, packaging=None):
    """One server at one stream count: fresh server, N publishers, then the CPU window, the keep-up check and
    the latency window (in that order, so the latency poll's own HTTP load stays out of the CPU figure).
    `packaging`: livegate's hls.packaging, its default when None."""
    server = Livegate(args.livegate, work, packaging=packaging) if kind == "livegate" else Nginx(work)
    idle_rss = rss_kib(server.pids())
    prefix = f"n{n}s"
    keys = [f"{prefix}{i}" for i in range(n)]
    kf_path = os.path.join(work, f"kf-{kind}-{n}.txt")
    report_path = os.path.join(work, f"loadgen-{kind}-{n}.json")
    warmup = args.warmup_s
    total = warmup + args.window_s + args.latency_s + (args.perf_s if perf else 0) + 8
    gen = Proc(f"loadgen-{kind}-{n}", [args.loadgen, "--url", f"rtmp://127.0.0.1:{server.rtmp_port}/live",
                                       "--flv", media, "--streams", str(n), "--key-prefix", prefix,
                                       "--duration-s", str(total), "--measure-after-s", str(warmup),
                                       "--tick-ms", str(args.tick_ms), "--keyframes", kf_path,
                                       "--report", report_path], work)
    result = {"n": n}
    try:
        # The warm-up is measured too: while the windows fill, every segment is fresh memory.
        warm_cpu, warm_lag = CpuWindow(server.pids).start(), loop_lag(server)
        time.sleep(warmup)
        result["warmup_cpu_pct"] = warm_cpu.stop()
        result["warmup_loop_lag"] = lag_between(warm_lag, loop_lag(server))
        reader = PlaylistReader(server)
        before = produced(reader, keys)
        t_before = time.monotonic()
        srv_cpu, gen_cpu = CpuWindow(server.pids).start(), CpuWindow(lambda: [gen.pid]).start()
        gen_sys = CpuWindow(lambda: [gen.pid], which=(12,)).start()
        srv_rq, gen_rq = RunQueueWindow(server.pids).start(), RunQueueWindow(lambda: [gen.pid]).start()
        rss_samples = []
        end = time.monotonic() + args.window_s
        while time.monotonic() < end:
            rss_samples.append(rss_kib(server.pids()))
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        result["cpu_pct"] = srv_cpu.stop()
        result["loadgen_cpu_pct"] = gen_cpu.stop()
        result["loadgen_sys_pct"] = gen_sys.stop()
        result["server_runqueue"] = srv_rq.stop()
        result["loadgen_runqueue"] = gen_rq.stop()
        result["loadavg"] = loadavg()
        result["rss_mib"] = rss_samples[-1] / 1024
        result["rss_max_mib"] = max(rss_samples) / 1024
        result["idle_rss_mib"] = idle_rss / 1024
        held = held_bytes(server)
        result["held_mib"] = held / 2**20 if held is not None else None
        after = produced(reader, keys)
        elapsed = time.monotonic() - t_before
        reader.close()
        # On schedule: each stream listed about one segment per GOP during the window (one of slack for phase).
        expected = int(elapsed / GOP_S) - 1
        behind = [k for k in keys if before[k] is None or after[k] is None or after[k] - before[k] < expected]
        result["streams_on_schedule"] = n - len(behind)
        result["segments_expected_per_stream"] = expected
        result["segment_bytes"] = segment_bytes(server, keys[0])

        sample = sorted(set(keys[int(i * n / min(n, args.sample))] for i in range(min(n, args.sample))))
        appeared, result["poll_round_ms"] = poll_latency(server, sample, args.latency_s, args.poll_ms / 1000)
        result["latency_streams"] = len(sample)
        if perf:
            result["perf"] = profile(args, server.pid, work, kind, n)
    finally:
        gen.stop(signal.SIGTERM)
        alive = server.proc.alive()
        # After the generator, as an operator's restart would follow the encoders: the exit is timed on its own.
        result["exit_code"] = server.stop()
        result["stop_s"] = server.proc.stop_s
    with open(report_path) as f:
        rep = json.load(f)
    result["loadgen_kept_real_time"] = rep["streams_kept_real_time"]
    result["loadgen_failed"] = sum(1 for s in rep["streams"] if s["state"] != "streaming")
    result["loadgen_max_lag_ms"] = max(s["max_lag_ms"] for s in rep["streams"])
    errors = sorted({s["error"] for s in rep["streams"] if s["error"]})
    result["loadgen_errors"] = errors[:5]
    values, mismatches = latencies(appeared, read_keyframes(kf_path), {k: int(k[len(prefix):]) for k in keys})
    result["latency_samples"] = len(values)
    result["latency_mismatches"] = mismatches
    result["latency_p50_ms"] = percentile(values, 0.50)
    result["latency_p99_ms"] = percentile(values, 0.99)
    result["latency_max_ms"] = max(values) if values else None
    result["server_survived"] = alive
    result["kept_up"] = (alive and result["streams_on_schedule"] == n and result["loadgen_kept_real_time"] == n)
    return result


def profile(args, pid, work, kind, n):
    """perf record -g on the server for perf_s; the top self-time symbols and who calls the hottest ones.
    DWARF call graphs, because libc and a RelWithDebInfo build keep no frame pointers (with -g alone every
    memmove shows no caller); at 250 Hz with 8 KiB of stack per sample the data stays a few dozen MB."""
    data = os.path.join(work, f"perf-{kind}-{n}.data")
    log(f"perf record -g -p {pid} for {args.perf_s} s")
    rec = subprocess.run(["perf", "record", "-F", "250", "--call-graph", "dwarf,8192", "-p", str(pid), "-o", data,
                          "--", "sleep", str(args.perf_s)], capture_output=True, text=True)
    if rec.returncode != 0:
        return {"error": rec.stderr.strip()[-300:]}
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio",
                          "--percent-limit", "0.3", "-g", "none"], capture_output=True, text=True)
    rows = []
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if m:
            # perf pads the symbol column and may append empty srcline columns ("-      -").
            symbol = re.sub(r"(\s+-)+\s*$", "", m.group(3)).strip()
            rows.append({"self_pct": float(m.group(1)), "dso": m.group(2), "symbol": symbol})
    # Who calls the three hottest symbols: a memmove alone does not say which copy to remove.
    callers = {}
    for row in rows[:3]:
        cg = subprocess.run(["perf", "report", "-i", data, "--no-children", "--no-inline", "--max-stack", "6",
                             "--stdio", "--symbols",
                             row["symbol"], "-g", "caller,2,callee,function,percent", "--percent-limit", "1"],
                            capture_output=True, text=True)
        lines = [ln.rstrip() for ln in cg.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
        callers[row["symbol"]] = lines[:60]
    log(f"perf data kept in {data}")
    return {"seconds": args.perf_s, "n": n, "top": rows[:15], "callers": callers}


def representative(tries):
    """One ingest point from its repeated runs: the run with the median CPU, with every run's CPU beside it;
    kept up only if every run kept up."""
    if len(tries) == 1:
        return tries[0]
    measured = sorted((r for r in tries if "cpu_pct" in r), key=lambda r: r["cpu_pct"])
    if not measured:
        return tries[0]
    rep = dict(measured[len(measured) // 2])
    rep["cpu_pct_runs"] = [r.get("cpu_pct") for r in tries]
    rep["kept_up"] = all(r.get("kept_up") for r in tries)
    perf = next((r["perf"] for r in tries if r.get("perf")), None)
    if perf:
        rep["perf"] = perf
    return rep


def part_ingest(args, work, media, results):
    """The sweep over N, the servers taking turns at each N (the machine's speed drifts over minutes), each N
    of args.repeat_ns run args.repeat times. A server that fell behind at some N is not run at larger N."""
    part = results.setdefault("ingest", {"runs": {}})
    part["meta"] = meta(args, "ingest")
    runs = {kind: {} for kind in args.servers}
    part["runs"].update(runs)
    part["repeat_ns"] = sorted(args.repeat_ns) if args.repeat > 1 else []
    behind = set()
    for n in args.ns:
        tries = {kind: [] for kind in args.servers}
        for rep in range(args.repeat if n in args.repeat_ns else 1):
            for kind in args.servers:
                if kind in behind or (tries[kind] and "error" in tries[kind][-1]):
                    continue
                perf = kind == "livegate" and n == args.perf_n and args.perf_s > 0 and rep == 0
                log(f"ingest: {kind} N={n} run {rep + 1} (load {loadavg()})")
                try:
                    r = run_ingest_point(args, kind, n, work, media, perf)
                except (RuntimeError, OSError, ValueError, KeyError) as e:
                    log(f"  {kind} N={n} failed: {e}")
                    tries[kind].append({"n": n, "error": str(e)[-500:], "kept_up": False})
                    continue
                tries[kind].append(r)
                log(f"  cpu {r['cpu_pct']:.1f}% rss {r['rss_mib']:.0f} MiB loadgen {r['loadgen_cpu_pct']:.1f}% "
                    f"on schedule {r['streams_on_schedule']}/{n} real time {r['loadgen_kept_real_time']}/{n} "
                    f"latency p50 {r['latency_p50_ms']} p99 {r['latency_p99_ms']} ms")
        for kind, rs in tries.items():
            if rs:
                runs[kind][str(n)] = representative(rs)
                if not runs[kind][str(n)]["kept_up"]:
                    log(f"  {kind} fell behind real time at N={n}: stopping its sweep here")
                    behind.add(kind)
        save(args, results)
    lg = runs.get("livegate", {})
    if lg and args.perf_s > 0 and not any(r.get("perf") for r in lg.values()):
        held = [int(n) for n, r in lg.items() if r["kept_up"]]
        if held:
            n = max(held)
            log(f"ingest: livegate perf run at N={n}, the largest it held")
            r = run_ingest_point(args, "livegate", n, work, media, True)
            lg[str(n)]["perf"] = r.get("perf")
            save(args, results)


PACKAGINGS = {"ts": ["ts"], "cmaf": ["cmaf"], "both": ["ts", "cmaf"]}


def part_packaging(args, work, media, results):
    """What each packaging costs: livegate at N = args.packaging_n publishers with hls.packaging ts, cmaf and
    both (the default), and nginx-rtmp beside them, taking turns, args.packaging_repeat rounds (median)."""
    part = results.setdefault("packaging", {})
    part["meta"] = meta(args, "packaging")
    n = args.packaging_n
    order = [("livegate", name) for name in PACKAGINGS] + ([("nginx", None)] if "nginx" in args.servers else [])
    tries = {}
    for rnd in range(args.packaging_repeat):
        for kind, name in order:
            label = f"livegate {name}" if name else "nginx-rtmp"
            log(f"packaging: {label} N={n} round {rnd + 1} (load {loadavg()})")
            r = run_ingest_point(args, kind, n, work, media, False, PACKAGINGS[name] if name else None)
            tries.setdefault(label, []).append(r)
            log(f"  cpu {r['cpu_pct']:.1f}% rss {r['rss_mib']:.0f} MiB, on schedule {r['streams_on_schedule']}/{n}")
    part["n"] = n
    part["results"] = {label: representative(rs) for label, rs in tries.items()}
    save(args, results)


# ---------------------------------------------------------------- HTTP


def wrk(url, seconds, connections):
    """One wrk run; its own CPU is measured too, since a client near 100 % of a core caps what it can show."""
    p = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    client = CpuWindow(lambda: [p.pid]).start()
    time.sleep(max(0.0, seconds - 0.5))  # wrk's own figures cover its whole run; this samples all but its exit
    client_cpu = client.stop()
    out = p.communicate(timeout=seconds + 30)[0]

    def num(pattern, unit_scale=None):
        m = re.search(pattern, out)
        if not m:
            return None
        v = float(m.group(1))
        if unit_scale:
            v *= unit_scale.get(m.group(2), 1)
        return v

    lat = {"us": 0.001, "ms": 1, "s": 1000}
    size = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return {
        "requests_per_s": num(r"Requests/sec:\s+([\d.]+)"),
        "mib_per_s": num(r"Transfer/sec:\s+([\d.]+)(\w+)", size),
        "p50_ms": num(r"\s50%\s+([\d.]+)(\w+)", lat),
        "p99_ms": num(r"\s99%\s+([\d.]+)(\w+)", lat),
        "errors": errors,
        "wrk_cpu_pct": client_cpu,
        "raw": out.strip().splitlines()[-12:],
    }


def median_run(runs):
    """The figures of several wrk runs of one server and URL: the median of each, errors summed."""
    out = {"runs": [{k: v for k, v in r.items() if k != "raw"} for r in runs]}
    for key in ("requests_per_s", "mib_per_s", "p50_ms", "p99_ms", "wrk_cpu_pct", "server_cpu_pct"):
        out[key] = percentile([r[key] for r in runs if r.get(key) is not None], 0.5)
    out["errors"] = sum(r["errors"] for r in runs)
    # Server CPU time per answered request (µs), each run on its own, then the median.
    out["server_us_per_request"] = percentile([r["server_cpu_pct"] * 1e4 / r["requests_per_s"] for r in runs
                                               if r.get("requests_per_s") and r.get("server_cpu_pct") is not None], 0.5)
    out["raw"] = runs[-1].get("raw")
    out["path"] = runs[-1].get("path")
    return out


def newest_segment(port, playlist):
    status, body = http_get(port, playlist)
    p = parse_m3u8(body.decode(errors="replace")) if status == 200 else None
    if not p or not p[1]:
        raise RuntimeError(f"no segment listed in {playlist}")
    return playlist.rsplit("/", 1)[0] + "/" + p[1][-1][1]


def part_http(args, work, media, results):
    """wrk on one live playlist and one segment: livegate from memory, then nginx static on livegate's hls.dir
    mirror (the same bytes), both while livegate ingests the same publishers. The servers take turns for
    wrk_rounds rounds and each figure is the median: one run each swung by a third between runs here."""
    part = results.setdefault("http", {})
    part["meta"] = meta(args, "http")
    mirror = os.path.join(work, "lg-mirror")
    os.makedirs(mirror, exist_ok=True)
    lg = Livegate(args.livegate, work, hls_dir=mirror)
    n = args.http_streams
    duration = args.warmup_s + 4 * args.wrk_rounds * (args.wrk_s + 3) + 20
    gen = Proc("loadgen-http", [args.loadgen, "--url", f"rtmp://127.0.0.1:{lg.rtmp_port}/live", "--flv", media,
                                "--streams", str(n), "--key-prefix", "h", "--duration-s", str(duration)], work)
    ngx = None
    out = part.setdefault("results", {})
    try:
        time.sleep(args.warmup_s)
        playlist = "/live/h0/index.m3u8"
        targets = [("livegate", lg)]
        if "nginx" in args.servers:
            # As nginx is run to serve files: a worker per core (livegate has as many HTTP loops by default).
            ngx = Nginx(work, root=mirror, workers=os.cpu_count())
            targets.append(("nginx", ngx))
        targets = [(k, s) for k, s in targets if k in args.servers]
        runs = {kind: {"playlist": [], "segment": []} for kind, _ in targets}
        for rnd in range(args.wrk_rounds):
            for kind, server in targets:
                for what in ("playlist", "segment"):
                    # The newest segment each time: it stays servable for the window and grace, not all rounds.
                    path = playlist if what == "playlist" else newest_segment(lg.http_port, playlist)
                    url = f"http://127.0.0.1:{server.http_port}{path}"
                    cpu = CpuWindow(server.pids).start()
                    log(f"http: round {rnd + 1}/{args.wrk_rounds} wrk {kind} {what} {url}")
                    r = wrk(url, args.wrk_s, args.wrk_connections)
                    r["server_cpu_pct"] = cpu.stop()
                    r["path"] = path
                    runs[kind][what].append(r)
        for kind, server in targets:
            res = {what: median_run(runs[kind][what]) for what in ("playlist", "segment")}
            status, body = http_get(server.http_port, playlist)
            res["playlist_bytes"] = len(body)
            out[kind] = res
    finally:
        gen.stop()
        if ngx:
            ngx.stop()
        lg.stop()
    part["publishers"] = n
    part["nginx_workers"] = os.cpu_count()
    save(args, results)


# ---------------------------------------------------------------- players


def part_players(args, work, media, results):
    """1,000 simulated hls.js-like players over a set of live streams, each server ingesting them itself:
    livegate serving its own playlists, nginx-rtmp serving its HLS files through its own HTTP server."""
    part = results.setdefault("players", {})
    part["meta"] = meta(args, "players")
    out = part.setdefault("results", {})
    for kind in args.servers:
        server = Livegate(args.livegate, work) if kind == "livegate" else Nginx(work)
        n = args.player_streams
        gen = Proc(f"loadgen-players-{kind}", [args.loadgen, "--url", f"rtmp://127.0.0.1:{server.rtmp_port}/live",
                                               "--flv", media, "--streams", str(n), "--key-prefix", "p",
                                               "--duration-s", str(args.warmup_s + args.players_s + 15)], work)
        try:
            time.sleep(args.warmup_s)
            template = server.playlist_path("p{}")
            report = os.path.join(work, f"players-{kind}.json")
            log(f"players: {args.players} players on {n} {kind} streams for {args.players_s} s")
            pl = Proc(f"players-{kind}", [args.players_bin, "--port", str(server.http_port), "--path-template",
                                          template, "--streams", str(n), "--players", str(args.players),
                                          "--ramp-s", "2", "--warmup-s", "6", "--duration-s", str(args.players_s),
                                          "--report", report], work)
            time.sleep(6)  # the players' own warm-up: CPU is taken over their measured window
            srv_cpu, pl_cpu = CpuWindow(server.pids).start(), CpuWindow(lambda: [pl.pid]).start()
            srv_rq = RunQueueWindow(server.pids).start()
            # Read before the players exit: a reaped process has no /proc entry left to read.
            time.sleep(max(1, args.players_s - 6 - 1))
            res = {"server_cpu_pct": srv_cpu.stop(), "players_cpu_pct": pl_cpu.stop(),
                   "server_wait_pct": srv_rq.stop().get("busiest_thread_wait_pct"),
                   "server_rss_mib": rss_kib(server.pids()) / 1024}
            if pl.wait(30) is None:
                raise RuntimeError("the player simulator did not finish")
            pl.stop()
            with open(report) as f:
                res.update(json.load(f))
            out[kind] = res
        finally:
            gen.stop()
            server.stop()
    part["streams"] = args.player_streams
    part["players"] = args.players
    save(args, results)


def part_ll_players(args, work, media, results):
    """1,000 simulated LL-HLS viewers (blocking reload, delta updates, hinted parts) on one livegate stream,
    beside as many TS viewers of the same stream on livegate and on nginx-rtmp, each in a fresh server.
    livegate's own histogram times each held request from the part's publication to its answer leaving."""
    part = results.setdefault("ll_players", {})
    part["meta"] = meta(args, "ll_players")
    out = part.setdefault("results", {})
    runs = [("livegate", "ll"), ("livegate", "ts"), ("nginx", "ts")]
    for kind, mode in [r for r in runs if r[0] in args.servers]:
        server = Livegate(args.livegate, work) if kind == "livegate" else Nginx(work)
        gen = Proc(f"loadgen-ll-{kind}-{mode}", [args.loadgen, "--url", f"rtmp://127.0.0.1:{server.rtmp_port}/live",
                                                 "--flv", media, "--streams", "1", "--key-prefix", "p",
                                                 "--duration-s", str(args.warmup_s + args.players_s + 15)], work)
        try:
            time.sleep(args.warmup_s)
            template = server.playlist_path("p{}")
            if mode == "ll":
                template = template.replace("index.m3u8", "ll.m3u8")
            report = os.path.join(work, f"ll-players-{kind}-{mode}.json")
            log(f"ll_players: {args.players} {mode} viewers of one {kind} stream for {args.players_s} s")
            pl = Proc(f"players-{kind}-{mode}", [args.players_bin, "--mode", mode, "--port", str(server.http_port),
                                                 "--path-template", template, "--streams", "1",
                                                 "--players", str(args.players), "--ramp-s", "2", "--warmup-s", "6",
                                                 "--duration-s", str(args.players_s), "--report", report], work)
            time.sleep(6)
            held_before = histogram(server, "livegate_http_held_answer_seconds")
            srv_cpu, pl_cpu = CpuWindow(server.pids).start(), CpuWindow(lambda: [pl.pid]).start()
            time.sleep(max(1, args.players_s - 6 - 1))
            res = {"server_cpu_pct": srv_cpu.stop(), "players_cpu_pct": pl_cpu.stop(),
                   "server_rss_mib": rss_kib(server.pids()) / 1024}
            held_after = histogram(server, "livegate_http_held_answer_seconds")
            if held_before and held_after:
                res["held_answer"] = histogram_quantiles(held_before, held_after)
            if pl.wait(30) is None:
                raise RuntimeError("the player simulator did not finish")
            pl.stop()
            with open(report) as f:
                res.update(json.load(f))
            out[f"{kind}-{mode}"] = res
        finally:
            gen.stop()
            server.stop()
    part["players"] = args.players
    ll = out.get("livegate-ll")
    if ll and ll.get("parts_seen") and ll.get("players_answered"):
        # The kernel's floor for the same fan-out: each viewer's bytes per part, handed to as many loopback
        # sockets at once by a bare write() loop, with another process reading them.
        part_bytes = ll["part_mbit_s"] * 1e6 / 8 * ll["window_s"] / (ll["parts_seen"] * ll["players_answered"])
        report = os.path.join(work, "fanout-floor.json")
        log(f"ll_players: kernel floor, {args.players} sockets x {part_bytes / 1024:.0f} KiB per burst")
        floor = Proc("fanout-floor", [args.fanout_floor, "--viewers", str(args.players), "--bytes",
                                      str(int(part_bytes)), "--bursts", "30", "--report", report], work)
        if floor.wait(120) is None:
            floor.stop()
            raise RuntimeError("fanout_floor did not finish")
        with open(report) as f:
            part["floor"] = json.load(f)
    save(args, results)


def part_latency(args, work, results):
    """Glass to glass: one encoder (tests/bench/latency/clock_source.py stamping the wall clock into each
    frame, x264 with a 2 s GOP) publishing to livegate and nginx-rtmp at once; headless Chromium plays, one
    after the other, livegate's LL-HLS master.m3u8, livegate's TS index.m3u8 and nginx-rtmp's index.m3u8
    with the player page's hls.js configuration, and reads the stamp of every frame it shows."""
    part = results.setdefault("latency", {})
    part["meta"] = meta(args, "latency")
    out = part.setdefault("results", {})
    servers = {kind: (Livegate(args.livegate, work) if kind == "livegate" else Nginx(work)) for kind in args.servers}
    urls = [f"rtmp://127.0.0.1:{srv.rtmp_port}/{srv.rtmp_app}/probe" for srv in servers.values()]
    probes = len(servers) + ("livegate" in servers)
    seconds = 20 + probes * (args.latency_watch_s + 20)
    camera_log = open(os.path.join(work, "latency-camera.log"), "wb")
    camera = subprocess.Popen([sys.executable, os.path.join(HERE, "latency", "clock_source.py"), str(seconds)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=camera_log)
    encoder_log = open(os.path.join(work, "latency-encoder.log"), "wb")
    encoder = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "640x360",
         "-framerate", "30", "-i", "-", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
         "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-b:v", "1500k", "-c:a", "aac", "-b:a", "128k",
         "-flags", "+global_header", "-f", "tee", "|".join(f"[f=flv:onfail=ignore]{u}" for u in urls)],
        stdin=camera.stdout, stdout=encoder_log, stderr=encoder_log)
    camera.stdout.close()  # the encoder holds the pipe now
    hls_js = os.path.join(REPO, "www", "node_modules", "hls.js", "dist", "hls.min.js")
    try:
        time.sleep(10)  # three 2 s segments listed everywhere
        plan = []
        if "livegate" in servers:
            lg = servers["livegate"]
            plan += [("livegate LL-HLS master.m3u8", lg, "/live/probe/master.m3u8"),
                     ("livegate TS index.m3u8", lg, "/live/probe/index.m3u8")]
        if "nginx" in servers:
            plan.append(("nginx-rtmp index.m3u8", servers["nginx"], servers["nginx"].playlist_path("probe")))
        for label, srv, path in plan:
            log(f"latency: {label} for {args.latency_watch_s} s")
            origin = f"http://127.0.0.1:{srv.http_port}"
            run = subprocess.run(["node", os.path.join(HERE, "latency", "probe.mjs"), origin + "/healthz",
                                  origin + path, hls_js, str(args.latency_watch_s)],
                                 capture_output=True, text=True, timeout=args.latency_watch_s + 120)
            r = json.loads(run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else {"failure": run.stderr[-500:]}
            lat = sorted(r.get("latencies", []))
            out[label] = {"failure": r.get("failure"), "frames": len(lat), "undecoded": r.get("undecoded"),
                          "median_ms": percentile(lat, 0.5) if lat else None,
                          "p90_ms": percentile(lat, 0.9) if lat else None,
                          "min_ms": lat[0] if lat else None, "max_ms": lat[-1] if lat else None,
                          # the last 30 s alone: after hls.js has settled at its target distance
                          "late_median_ms": percentile(sorted(r.get("latencies", [])[-30 * 30:]), 0.5) if lat else None,
                          "stalls": len(r.get("stalls", [])), "stalled_ms": sum(r.get("stalls", [])),
                          "first_frame_ms": (r["firstFrameMs"] - r["openedMs"]) if r.get("firstFrameMs") else None,
                          "errors": r.get("errors", [])}
            log(f"latency: {label}: {out[label]}")
    finally:
        for proc in (encoder, camera):  # by their own pids
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        camera_log.close()
        encoder_log.close()
        for srv in servers.values():
            srv.stop()
    part["watch_s"] = args.latency_watch_s
    with open(os.path.join(REPO, "www", "node_modules", "hls.js", "package.json")) as f:
        part["hls_js"] = json.load(f)["version"]
    save(args, results)


# ---------------------------------------------------------------- results


def shown_command():
    """The command line as run, shell-quoted, with paths outside the repository cut to <path>/NAME: the report
    describes the project, not this machine's directories."""
    shown = []
    for a in sys.argv[1:]:
        if os.path.isabs(a):
            rel = os.path.relpath(a, REPO)
            a = rel if not rel.startswith("..") else f"<path>/{os.path.basename(a)}"
        shown.append(a)
    return shlex.join(["tests/bench/bench.py"] + shown)


def meta(args, part):
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_before": loadavg(),
        "command": shown_command(),
        "machine": machine(),
        "livegate": args.livegate_label,
        "params": {k: getattr(args, k) for k in ("warmup_s", "window_s", "latency_s", "poll_ms", "sample", "tick_ms",
                                                 "perf_s", "wrk_s", "wrk_connections", "wrk_rounds", "players_s",
                                                 "repeat")},
    }


def save(args, results):
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    render(args, results)


def render(args, results):
    import render_results  # beside this file: Markdown and the chart from results.json
    render_results.render(results, args.out, args.chart)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"),
                    help="CMake build configured with -DLIVEGATE_BENCH=ON (default: build-bench)")
    ap.add_argument("--livegate", help="livegate binary (default: BUILD/livegate)")
    ap.add_argument("--livegate-label", help="what livegate is, for the report (default: git describe)")
    ap.add_argument("--loadgen", help="default: BUILD/tests/bench/loadgen")
    ap.add_argument("--players-bin", help="default: BUILD/tests/bench/players")
    ap.add_argument("--fanout-floor", help="default: BUILD/tests/bench/fanout_floor")
    ap.add_argument("--only", default=",".join(PARTS), help="comma list of: " + ", ".join(PARTS))
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma list of: " + ", ".join(SERVERS))
    ap.add_argument("--ns", default="1,20,50,100,200,500", help="publisher counts for the ingest sweep")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each server at the --repeat-ns points")
    ap.add_argument("--repeat-ns", default="50,200", help="publisher counts run --repeat times (the CPU targets)")
    ap.add_argument("--warmup-s", type=int, default=30,
                    help="from starting the publishers to measuring: the window and grace take 26 s to fill")
    ap.add_argument("--window-s", type=int, default=20, help="CPU/RSS window")
    ap.add_argument("--latency-s", type=int, default=14, help="latency poll window")
    ap.add_argument("--poll-ms", type=int, default=10, help="latency poll interval per sampled stream")
    ap.add_argument("--sample", type=int, default=12, help="streams sampled for latency")
    ap.add_argument("--tick-ms", type=int, default=20, help="the generator's pacing tick")
    ap.add_argument("--perf-n", type=int, default=200, help="N at which livegate is profiled")
    ap.add_argument("--perf-s", type=int, default=15, help="perf record duration; 0 disables")
    ap.add_argument("--http-streams", type=int, default=20, help="publishers during the wrk runs")
    ap.add_argument("--wrk-s", type=int, default=10)
    ap.add_argument("--wrk-connections", type=int, default=50)
    ap.add_argument("--wrk-rounds", type=int, default=3, help="wrk runs per server and URL, taking turns")
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--player-streams", type=int, default=20)
    ap.add_argument("--players-s", type=int, default=30, help="player run, 6 s warm-up included")
    ap.add_argument("--packaging-n", type=int, default=100, help="publishers for the packaging cost part")
    ap.add_argument("--packaging-repeat", type=int, default=3, help="rounds of the packaging part (median)")
    ap.add_argument("--latency-watch-s", type=int, default=60, help="glass-to-glass: seconds watched per playlist")
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "livegate-bench"))
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--chart", default=os.path.join(HERE, "cpu_rss.png"))
    ap.add_argument("--no-install", action="store_true", help="fail instead of apt-get installing what is missing")
    ap.add_argument("--render-only", action="store_true", help="re-render RESULTS.md and the chart from results.json")
    args = ap.parse_args()

    args.only = [p for p in args.only.split(",") if p]
    args.servers = [s for s in args.servers.split(",") if s]
    if any(p not in PARTS for p in args.only) or any(s not in SERVERS for s in args.servers):
        ap.error("unknown part or server")
    args.ns = [int(x) for x in args.ns.split(",")]
    args.repeat_ns = {int(x) for x in args.repeat_ns.split(",") if x}
    args.livegate = args.livegate or os.path.join(args.build_dir, "livegate")
    args.loadgen = args.loadgen or os.path.join(args.build_dir, "tests", "bench", "loadgen")
    args.players_bin = args.players_bin or os.path.join(args.build_dir, "tests", "bench", "players")
    args.fanout_floor = args.fanout_floor or os.path.join(args.build_dir, "tests", "bench", "fanout_floor")
    if not args.livegate_label:
        args.livegate_label = first_line(["git", "-C", REPO, "describe", "--always", "--dirty"])
    for path in (args.results, args.out, args.chart):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    results = {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            results = json.load(f)
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True  # no __pycache__ beside the sources
    if args.render_only:
        render(args, results)
        return
    for b in (args.livegate, args.loadgen, args.players_bin, args.fanout_floor):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench: {b} not found; build with -DLIVEGATE_BENCH=ON (see tests/bench/README.md)")

    # 500 publishers plus 1,000 players need more descriptors than the usual 1,024; children inherit this.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    ensure_packages(args.no_install)
    media = make_media(args.cache)
    work = tempfile.mkdtemp(prefix="livegate-bench-")
    os.chmod(work, 0o755)
    log(f"work dir {work}, load average {loadavg()}")
    started = time.monotonic()
    try:
        if "ingest" in args.only:
            part_ingest(args, work, media, results)
        if "packaging" in args.only:
            part_packaging(args, work, media, results)
        if "http" in args.only:
            part_http(args, work, media, results)
        if "players" in args.only:
            part_players(args, work, media, results)
        if "ll_players" in args.only:
            part_ll_players(args, work, media, results)
        if "latency" in args.only:
            part_latency(args, work, results)
    finally:
        log(f"done in {(time.monotonic() - started) / 60:.1f} min; logs in {work}")
    save(args, results)


if __name__ == "__main__":
    main()
