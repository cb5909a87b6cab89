#!/usr/bin/env python3
"""The container image's runtime stage, proven without a container daemon.

There is no Docker daemon in CI, so this test builds the runtime stage of deploy/Dockerfile the long
way: it debootstraps a minimal Debian 12 root (the base of debian:bookworm-slim) from the mirror apt
uses here, runs that stage's own RUN lines in it with its ARG values (so the package list is the
Dockerfile's, read from it), copies in the built livegate and www/ as its COPY lines say, then runs
the ENTRYPOINT and CMD in a chroot as the USER, with a config file where a volume would mount it and
LIVEGATE_* variables as `docker run -e` would set them. ffmpeg publishes from outside over loopback;
the playlist and a segment are fetched and checked, and the HEALTHCHECK command is run both while
livegate serves and after it stopped. The package list must be exactly the packages of the libraries
livegate links (or already in the base).

Needs root (chroot, mount). Run without it, it exits with 77, which CTest reports as skipped.
The debootstrapped base is cached (a tarball under --cache, by default /var/cache/livegate-image-test,
by mirror and debootstrap version, for a week) and so are the packages apt downloads; --no-cache
measures a cold run.
"""
import argparse
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK_PARENT = "/var/tmp"
# The root lives in memory: dpkg writing some 15,000 files, and deleting them, took half of a run on
# disk. It needs about 400 MB; this is only the most it may take.
ROOT_TMPFS_SIZE = "2g"
ROOT_PREFIX = "livegate-rootfs-"
BASE_MAX_AGE_S = 7 * 86400  # a cached base older than this is rebuilt, so updates come in


def log(msg):
    print(f"[rootfs {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def run(args, **kw):
    kw.setdefault("check", True)
    return subprocess.run(args, stdin=subprocess.DEVNULL, **kw)


# --- reading the Dockerfile -------------------------------------------------------------------------

class Stage:
    def __init__(self, base, name):
        self.base = base
        self.name = name
        self.steps = []  # (instruction, argument text), in order
        self.build_workdir = None  # the build stage's WORKDIR, where its COPY . . put the repository


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) with continuation lines joined and comment lines dropped, as Docker does."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    if pending:
        raise ValueError("Dockerfile ends inside a continued line")
    return out


def runtime_stage(dockerfile):
    """The last stage, knowing where the stage named `build` holds the repository."""
    stages = []
    for word, rest in dockerfile_instructions(read_text(dockerfile)):
        if word == "FROM":
            words = rest.split()
            stages.append(Stage(words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        elif not stages:
            raise ValueError(f"{word} before the first FROM")
        else:
            stages[-1].steps.append((word, rest))
    build = next((s for s in stages if s.name == "build"), None)
    if build is None or len(stages) < 2 or stages[-1] is build:
        raise ValueError("expected a stage `AS build` and a runtime stage after it")
    # The build stage must be WORKDIR DIR then COPY . . for its paths to be the repository's.
    workdirs = [rest for word, rest in build.steps if word == "WORKDIR"]
    if len(workdirs) != 1 or ("COPY", ". .") not in build.steps:
        raise ValueError("the build stage must have one WORKDIR and COPY . .")
    stages[-1].build_workdir = workdirs[0]
    return stages[-1]


def parse_assignments(text):
    """NAME=value pairs of an ARG or ENV line, with shell-style quoting."""
    pairs = {}
    for word in shlex.split(text):
        name, eq, value = word.partition("=")
        if not eq:
            raise ValueError(f"ARG/ENV without a value is not supported here: {text}")
        pairs[name] = value
    return pairs


def exec_form(text, what):
    value = json.loads(text)
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise ValueError(f"{what} must be in exec (JSON array) form: {text}")
    return value


# --- the package mirror apt uses ----------------------------------------------------------------

def apt_sources():
    """[(uri, suite, components)] of the enabled `deb` entries of this machine's apt sources."""
    entries = []
    one_line = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    for path in one_line:
        if not os.path.exists(path):
            continue
        for line in read_text(path).splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], words[2], words[3:]))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", read_text(path)):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0].isspace() and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
                continue
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    entries.append((uri, suite, fields.get("components", "").split()))
    return entries


def apt_proxy():
    out = run(["apt-config", "shell", "P", "Acquire::http::Proxy"], capture_output=True, text=True,
              check=False).stdout
    m = re.match(r"P='(.*)'", out.strip())
    return m.group(1) if m else ""


# --- mounts and clean-up ------------------------------------------------------------------------

def mounts_under(path):
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), point)
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def kill_processes_in(path):
    """Kills what still runs chrooted under `path`: only this test puts processes there (e.g. apt, when
    a run was killed in the middle of a RUN line)."""
    for _ in range(50):
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                root = os.readlink(f"/proc/{pid}/root")
            except OSError:
                continue
            if root == path or root.startswith(path + "/"):
                found.append(int(pid))
        if not found:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    raise RuntimeError(f"processes in {path} do not end")


def remove_root(work):
    """Ends what runs in `work`, unmounts everything under it and deletes it; never deletes through a
    mount that stayed."""
    root = os.path.realpath(work)
    kill_processes_in(root)
    for point in mounts_under(root):
        if run(["umount", point], check=False, stderr=subprocess.DEVNULL).returncode != 0:
            run(["umount", "-l", point], check=False)
    left = mounts_under(root)
    if left:
        raise RuntimeError(f"still mounted, not deleting {root}: {left}")
    run(["rm", "-rf", "--one-file-system", root])


def remove_stale_roots():
    """Roots of runs that were killed before their clean-up (e.g. by a CTest timeout)."""
    for work in glob.glob(os.path.join(WORK_PARENT, ROOT_PREFIX + "*")):
        try:
            pid = int(read_text(os.path.join(work, "owner.pid")))
            os.kill(pid, 0)
            continue  # its run is alive
        except (OSError, ValueError):
            pass
        log(f"removing the root of an earlier run: {work}")
        remove_root(work)


# --- building the root --------------------------------------------------------------------------

def base_root(root, suite, mirror, cache, proxy):
    """A minbase root of `suite` in `root` (an empty folder), as debian:SUITE-slim starts from; from the
    cache if fresh."""
    version = run(["dpkg-query", "-W", "-f=${Version}", "debootstrap"], capture_output=True,
                  text=True).stdout
    key = hashlib.sha256(f"{suite} {mirror} minbase {version}".encode()).hexdigest()[:16]
    tarball = os.path.join(cache, f"base-{suite}-{key}.tar") if cache else None
    if tarball and os.path.exists(tarball) and time.time() - os.path.getmtime(tarball) < BASE_MAX_AGE_S:
        log(f"base from cache {tarball}")
        run(["tar", "-xpf", tarball, "--numeric-owner", "-C", root])
        return
    env = dict(os.environ, http_proxy=proxy) if proxy else None
    args = ["debootstrap", "--variant=minbase"]
    if cache:
        os.makedirs(os.path.join(cache, "debs"), exist_ok=True)
        args.append("--cache-dir=" + os.path.join(cache, "debs"))
    log(f"debootstrap {suite} from {mirror}")
    # dpkg without an fsync per file, as in the Debian images.
    os.makedirs(os.path.join(root, "etc/dpkg/dpkg.cfg.d"), exist_ok=True)
    with open(os.path.join(root, "etc/dpkg/dpkg.cfg.d/unsafe-io"), "w") as f:
        f.write("force-unsafe-io\n")
    run(args + [suite, root, mirror], env=env, stdout=subprocess.DEVNULL)
    # debootstrap mounts /proc and /sys in the root while it works; what it left must not go in the tarball.
    for point in mounts_under(os.path.realpath(root)):
        if point != os.path.realpath(root):
            run(["umount", point])
    if tarball:
        partial = tarball + f".{os.getpid()}"
        run(["tar", "-cpf", partial, "--numeric-owner", "-C", root, "."])
        os.replace(partial, tarball)
        for old in glob.glob(os.path.join(cache, f"base-{suite}-*.tar")):
            if old != tarball:
                os.remove(old)


def prepare_like_the_base_image(root, sources, proxy):
    """What the Debian image has that a debootstrapped root lacks, as far as a RUN line notices."""
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
        for uri, suite, components in sources:
            f.write(f"deb {uri} {suite} {' '.join(components)}\n")
    if proxy:
        with open(os.path.join(root, "etc/apt/apt.conf.d/90proxy"), "w") as f:
            f.write(f'Acquire::http::Proxy "{proxy}";\n')
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    # Like the image: no daemon is started by a package's scripts (here it would start on the host).
    policy = os.path.join(root, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)


def build_stage_path(src, workdir, livegate):
    """Where a build-stage path is on this machine: the repo, with its build/ being livegate's build dir."""
    rel = os.path.relpath(src, workdir)
    if rel.startswith(".."):
        raise ValueError(f"COPY --from=build source outside {workdir}: {src}")
    if rel == "build" or rel.startswith("build/"):
        return os.path.join(os.path.dirname(livegate), os.path.relpath(rel, "build"))
    return os.path.join(REPO, rel)


def copy_from_build(arguments, workdir, root, livegate):
    """COPY --from=build SRC... DEST, for files and globs (DEST a folder, ending in /)."""
    words = arguments.split()
    if not words or words[0] != "--from=build" or len(words) < 3:
        raise ValueError(f"only COPY --from=build SRC... DEST is supported: {arguments}")
    *sources, dest = words[1:]
    if not dest.endswith("/"):
        raise ValueError(f"COPY destination must be a folder ending in /: {dest}")
    target = os.path.join(root, dest.lstrip("/"))
    os.makedirs(target, exist_ok=True)
    for src in sources:
        matches = sorted(glob.glob(build_stage_path(src, workdir, livegate)))
        if not matches:
            raise FileNotFoundError(f"COPY source matches nothing here: {src}")
        for path in matches:
            if not os.path.isfile(path):
                raise ValueError(f"COPY of folders is not supported here: {src}")
            shutil.copy(path, target)
            os.chmod(os.path.join(target, os.path.basename(path)), 0o755 if os.access(path, os.X_OK) else 0o644)


def apply_runtime_stage(stage, root, livegate, cache):
    """Runs the stage's instructions in the root; returns what `docker run` would use."""
    image = {"args": {}, "env": {}, "user": "0:0", "expose": [], "healthcheck": None,
             "entrypoint": [], "cmd": []}
    for word, rest in stage.steps:
        if word == "ARG":
            image["args"].update(parse_assignments(rest))
        elif word == "ENV":
            image["env"].update(parse_assignments(rest))
        elif word == "RUN":
            log("RUN " + (rest if len(rest) < 100 else rest[:97] + "..."))
            env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                   **image["args"], **image["env"]}
            archives = os.path.join(root, "var/cache/apt/archives")
            with contextlib.ExitStack() as mounted:
                if cache:
                    # Packages downloaded once are kept outside the root for the next run.
                    os.makedirs(os.path.join(cache, "archives", "partial"), exist_ok=True)
                    run(["mount", "--bind", os.path.join(cache, "archives"), archives])
                    mounted.callback(run, ["umount", archives])
                run(["chroot", root, "/bin/sh", "-c", rest], env=env, stdout=subprocess.DEVNULL)
        elif word == "COPY":
            copy_from_build(rest, stage.build_workdir, root, livegate)
        elif word == "USER":
            image["user"] = rest
        elif word == "EXPOSE":
            image["expose"] += rest.split()
        elif word == "HEALTHCHECK":
            head, sep, cmd = rest.partition("CMD ")
            if not sep:
                raise ValueError("HEALTHCHECK needs CMD")
            image["healthcheck"] = exec_form(cmd, "HEALTHCHECK CMD")
        elif word == "ENTRYPOINT":
            image["entrypoint"] = exec_form(rest, "ENTRYPOINT")
        elif word == "CMD":
            image["cmd"] = exec_form(rest, "CMD")
        else:
            raise ValueError(f"rootfs_test.py does not know the Dockerfile instruction {word}; teach it")
    return image


def installed_packages(root):
    q = run(["chroot", root, "dpkg-query", "-W", "-f=${Package} ${Status}\n"], capture_output=True, text=True)
    return {l.split()[0] for l in q.stdout.splitlines() if l.endswith("install ok installed")}


def library_packages(root, binary, host_binary):
    """The packages of the root that hold the libraries the binary links directly (readelf -d)."""
    dynamic = run(["readelf", "-d", host_binary], capture_output=True, text=True).stdout
    sonames = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dynamic)
    ldd = run(["chroot", root, "ldd", binary], capture_output=True, text=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    packages = set()
    for soname in sonames:
        check(soname in paths and paths[soname] != "not", f"{soname} is not in the image:\n{ldd}")
        # Bookworm's dpkg knows a file by the path its package ships, /lib or /usr/lib (merged /usr).
        pattern = "*" + re.sub(r"^/usr", "", paths[soname])
        q = run(["chroot", root, "dpkg-query", "-S", pattern], capture_output=True, text=True, check=False)
        owners = {o.split(":")[0] for line in q.stdout.splitlines() for o in line.split(": ")[0].split(", ")}
        check(owners, f"no package holds {paths[soname]}")
        packages |= owners
    return packages


def resolve_user(root, spec):
    """uid, gid and home of USER (name or uid, optionally :group), looked up in the root's files."""
    user, _, group = spec.partition(":")
    passwd = [line.split(":") for line in read_text(os.path.join(root, "etc/passwd")).splitlines()
              if line.count(":") == 6]
    entry = next((p for p in passwd if p[0] == user or p[2] == user), None)
    if entry is None:
        raise AssertionError(f"USER {spec}: no such user in the image's /etc/passwd")
    gid = entry[3]
    if group:
        groups = [line.split(":") for line in read_text(os.path.join(root, "etc/group")).splitlines()
                  if line.count(":") == 3]
        g = next((g for g in groups if g[0] == group or g[2] == group), None)
        if g is None:
            raise AssertionError(f"USER {spec}: no such group in the image's /etc/group")
        gid = g[2]
    return int(entry[2]), int(gid), entry[5]


# --- the container, run -------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def in_container(root, env, argv, uid, gid):
    """argv in the root as the image's user with exactly the container's environment, like `docker exec`."""
    return ["env", "-i", *[f"{k}={v}" for k, v in env.items()],
            "chroot", f"--userspec={uid}:{gid}", f"--groups={gid}", root, *argv]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def exercise(root, image, work):
    check("1935" in image["expose"] and "8080" in image["expose"], f"EXPOSE lists {image['expose']}")
    check(image["healthcheck"] is not None, "the image has a HEALTHCHECK")
    uid, gid, home = resolve_user(root, image["user"])
    check(uid != 0 and gid != 0, f"USER {image['user']} is not root")

    # Every library livegate loads, directly or not, is in the image.
    ldd = run(["chroot", root, "ldd", image["entrypoint"][0]], capture_output=True, text=True).stdout
    check("not found" not in ldd, "libraries missing in the image:\n" + ldd)

    # `-v config.json:/etc/livegate/config.json` and `-e LIVEGATE_...`: the file sets a 1 s target and
    # a disk folder; the environment overrides its HTTP port and binds to loopback only (a chroot
    # shares the host's network).
    config_arg = image["cmd"][image["cmd"].index("--config") + 1]
    rtmp_port, http_port, file_http_port = free_port(), free_port(), free_port()
    with open(os.path.join(root, config_arg.lstrip("/")), "w") as f:
        json.dump({"http_port": file_http_port, "hls": {"target_duration_s": 1, "dir": home + "/hls"}}, f)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home,
           **image["env"], "LIVEGATE_BIND": "127.0.0.1", "LIVEGATE_RTMP_PORT": str(rtmp_port),
           "LIVEGATE_HTTP_PORT": str(http_port)}

    log_path = os.path.join(work, "livegate.log")
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(in_container(root, env, image["entrypoint"] + image["cmd"], uid, gid),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    livegate_log = lambda: read_text(log_path)[-4000:]
    publisher = None
    try:
        deadline = time.time() + 15
        while True:
            check(proc.poll() is None, f"livegate exited with {proc.returncode}:\n{livegate_log()}")
            try:
                if http_get(http_port, "/healthz")[0] == 200:
                    break
            except OSError:
                check(time.time() < deadline, "livegate did not answer /healthz:\n" + livegate_log())
                time.sleep(0.1)

        status = read_text(f"/proc/{proc.pid}/status")
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
        gids = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
        check(set(uids) == {str(uid)} and set(gids) == {str(gid)}, f"livegate runs as {uids}/{gids}")
        check(os.readlink(f"/proc/{proc.pid}/root") == os.path.realpath(root), "livegate runs in the root")

        health = in_container(root, env, image["healthcheck"], uid, gid)
        r = run(health, capture_output=True, text=True, check=False, timeout=10)
        check(r.returncode == 0, f"HEALTHCHECK failed while livegate serves: {r.returncode} {r.stderr}")

        # The page and hls.js come from the COPY'd www/, found without configuration (livegate looks
        # in /usr/share/livegate/www) and complete (livegate names each file it lacks at start).
        check("player file missing" not in livegate_log(), "a page file is not in the image:\n" + livegate_log())
        for path, file in (("/", "index.html"), ("/hls.min.js", "node_modules/hls.js/dist/hls.min.js")):
            code, _, body = http_get(http_port, path)
            with open(os.path.join(root, "usr/share/livegate/www", file), "rb") as f:
                check(code == 200 and body == f.read(), f"GET {path}: {code}, {len(body)} bytes")

        key = "imagetest"
        publisher = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-re",
             "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
             "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-f", "flv", f"rtmp://127.0.0.1:{rtmp_port}/live/{key}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while True:
            code, headers, body = http_get(http_port, f"/live/{key}/index.m3u8")
            playlist = body.decode(errors="replace")
            segments = [l for l in playlist.splitlines() if l and not l.startswith("#")]
            if code == 200 and len(segments) >= 2:
                break
            check(time.time() < deadline, f"no playlist with 2 segments: {code}\n{playlist}\n{livegate_log()}")
            time.sleep(0.2)
        check(playlist.startswith("#EXTM3U"), playlist)
        check("#EXT-X-TARGETDURATION:1\n" in playlist, "the mounted config's 1 s target is used:\n" + playlist)
        check(headers.get("Content-Type") == "application/vnd.apple.mpegurl", str(headers))
        code, headers, ts = http_get(http_port, f"/live/{key}/{segments[0]}")
        check(code == 200 and headers.get("Content-Type") == "video/mp2t", f"segment: {code} {headers}")
        check(len(ts) > 188 and len(ts) % 188 == 0 and ts[0] == 0x47 and ts[188] == 0x47,
              f"segment is not MPEG-TS: {len(ts)} bytes")
        log(f"playlist with {len(segments)} segments; {segments[0]} is {len(ts)} bytes")

        check(publisher.wait(timeout=30) == 0, "ffmpeg: " + publisher.stderr.read().decode(errors="replace"))
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=15) == 0, f"livegate exit code {proc.returncode}:\n{livegate_log()}")

        # hls.dir under the user's writable home: written as that user, ended on SIGTERM.
        on_disk = os.path.join(root, home.lstrip("/"), "hls/live", key, "index.m3u8")
        check(os.path.exists(on_disk), f"{on_disk} not written:\n{livegate_log()}")
        check(os.stat(on_disk).st_uid == uid, "hls.dir files belong to the image's user")
        check(read_text(on_disk).rstrip().endswith("#EXT-X-ENDLIST"), "the playlist on disk has ENDLIST")

        r = run(health, capture_output=True, text=True, check=False, timeout=10)
        check(r.returncode != 0, "HEALTHCHECK passes with livegate stopped")
    finally:
        for p in (publisher, proc):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--livegate", required=True, help="the built binary (the build stage's build/livegate)")
    parser.add_argument("--dockerfile", default=os.path.join(REPO, "deploy", "Dockerfile"))
    parser.add_argument("--cache", default=os.environ.get("LIVEGATE_IMAGE_TEST_CACHE",
                                                          "/var/cache/livegate-image-test"))
    parser.add_argument("--no-cache", action="store_true", help="neither use nor fill the cache (a cold run)")
    args = parser.parse_args()
    livegate = os.path.abspath(args.livegate)
    cache = None if args.no_cache else args.cache

    if os.geteuid() != 0:
        print("SKIP: the image test needs root (debootstrap, chroot, mount); run it as root", flush=True)
        return SKIP
    for tool in ("debootstrap", "chroot", "ffmpeg"):
        if shutil.which(tool) is None:
            print(f"FAIL: {tool} is missing; deploy/install-deps.sh test installs it", flush=True)
            return 1

    stage = runtime_stage(args.dockerfile)
    m = re.fullmatch(r"debian:(\w+)-slim", stage.base)
    if not m:
        print(f"FAIL: the runtime stage's base {stage.base} is not debian:SUITE-slim", flush=True)
        return 1
    suite = m.group(1)
    sources = [s for s in apt_sources() if s[1] == suite or s[1].startswith(suite + "-")]
    mirror = next((uri for uri, s, _ in sources if s == suite), None)
    if mirror is None:
        print(f"FAIL: apt has no source for {suite} on this machine", flush=True)
        return 1
    proxy = apt_proxy()

    # A signal (Ctrl-C, a CTest timeout's SIGTERM) still unmounts and deletes the root.
    def interrupted(signum, frame):
        raise SystemExit(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    started = time.time()
    if cache:
        # One run at a time uses the cache (apt locks its package folder; the base is rewritten).
        os.makedirs(cache, exist_ok=True)
        lock = open(os.path.join(cache, "lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
    remove_stale_roots()
    work = tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=WORK_PARENT)
    with open(os.path.join(work, "owner.pid"), "w") as f:
        f.write(str(os.getpid()))
    root = os.path.join(work, "root")
    os.makedirs(root)
    try:
        mounted = run(["mount", "-t", "tmpfs", "-o", f"size={ROOT_TMPFS_SIZE},mode=0755", "livegate-rootfs", root],
                      check=False, capture_output=True, text=True)
        check(mounted.returncode == 0, "cannot mount (root without CAP_SYS_ADMIN, e.g. in an unprivileged "
              "container?): " + mounted.stderr.strip())
        base_root(root, suite, mirror, cache, proxy)
        base_packages = installed_packages(root)
        log(f"base of {len(base_packages)} packages ready after {time.time() - started:.0f} s")
        prepare_like_the_base_image(root, sources, proxy)
        # What a container has: /proc (livegate finds its page through /proc/self/exe) and its own
        # pseudo-terminals (apt logs through one).
        run(["mount", "-t", "proc", "proc", os.path.join(root, "proc")])
        run(["mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620", "devpts",
             os.path.join(root, "dev/pts")])
        image = apply_runtime_stage(stage, root, livegate, cache)
        packages = image["args"].get("RUNTIME_PACKAGES", "").split()
        check(packages, "the runtime stage has ARG RUNTIME_PACKAGES")
        installed = installed_packages(root)
        check(set(packages) <= installed, f"not installed: {sorted(set(packages) - installed)}")
        log(f"image root ready after {time.time() - started:.0f} s: {len(installed)} packages, "
            f"{len(installed - base_packages)} more than the base")
        # The list is the libraries livegate links, no more and no less (those of the base may be left out).
        needed = library_packages(root, image["entrypoint"][0], livegate)
        check(set(packages) <= needed, f"RUNTIME_PACKAGES not linked by livegate: {sorted(set(packages) - needed)}")
        check(needed - set(packages) <= base_packages,
              f"linked by livegate, not in RUNTIME_PACKAGES: {sorted(needed - set(packages) - base_packages)}")
        exercise(root, image, work)
    except AssertionError as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        remove_root(work)
    log(f"PASS in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
