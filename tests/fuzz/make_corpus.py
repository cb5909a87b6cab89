#!/usr/bin/env python3
"""Regenerates the libFuzzer seed corpora in tests/fuzz/corpus/ from real captures.

FLV tag bodies, SPS NAL units and onMetaData come from files that ffmpeg encodes (libx264, aac,
libmp3lame); handshake and chunk-stream bytes are what real publishers (ffmpeg, GStreamer rtmp2sink,
GStreamer's librtmp rtmpsink) send to a real livegate, recorded by a TCP proxy between them. Timeline and
playlist seeds are the timestamps and keyframe intervals of those files, in the byte formats the
fuzz_timeline / fuzz_playlist targets read (described at the top of their .cpp files).

  python3 tests/fuzz/make_corpus.py --livegate build/livegate [--out tests/fuzz/corpus]

Needs ffmpeg and, for the GStreamer captures, gst-launch-1.0 (skipped when absent). Existing files in
the output folders are replaced; nothing else is touched.
"""
import argparse
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

MAX_FILE = 60 * 1024  # every corpus file stays below 64 KiB
HANDSHAKE = 1 + 1536 + 1536


# ---------------------------------------------------------------- media files

def ffmpeg(out, *args):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, out], check=True, timeout=300)
    return out


def make_media(tmp):
    """A few short FLV files that differ in what their parsers see (profiles, sizes, audio codecs)."""
    v = lambda size, rate: ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    a = lambda rate: ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}"]
    media = {}
    media["aac"] = ffmpeg(os.path.join(tmp, "aac.flv"), *v("320x240", 30), *a(48000), "-t", "2",
                          "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
                          "-profile:v", "high", "-bf", "2", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
                          "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", "-b:a", "96k", "-f", "flv")
    media["mp3"] = ffmpeg(os.path.join(tmp, "mp3.flv"), *v("176x144", 25), *a(44100), "-t", "1",
                          "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
                          "-profile:v", "baseline", "-g", "25", "-pix_fmt", "yuv420p",
                          "-c:a", "libmp3lame", "-ac", "1", "-b:a", "64k", "-f", "flv")
    media["mp3_22k"] = ffmpeg(os.path.join(tmp, "mp3_22k.flv"), *a(22050), "-t", "0.5", "-c:a", "libmp3lame",
                              "-ac", "2", "-b:a", "32k", "-f", "flv")
    media["aac_mono_44k"] = ffmpeg(os.path.join(tmp, "aac_mono_44k.flv"), *a(44100), "-t", "0.5", "-c:a", "aac",
                                   "-ac", "1", "-f", "flv")
    # SPS variety: cropping (1080 is not a multiple of 16), odd sizes, 4:4:4, 10-bit, scaling matrices,
    # fractional frame rates.
    sps_variants = [
        ("main_1080", "1920x1080", "30000/1001", ["-profile:v", "main", "-pix_fmt", "yuv420p"]),
        ("high_odd", "322x242", "25", ["-profile:v", "high", "-pix_fmt", "yuv420p"]),
        ("high444", "320x240", "60", ["-profile:v", "high444", "-pix_fmt", "yuv444p"]),
        ("high10", "320x240", "24000/1001", ["-profile:v", "high10", "-pix_fmt", "yuv420p10le"]),
        ("cqm", "640x360", "50", ["-profile:v", "high", "-pix_fmt", "yuv420p", "-x264-params", "cqm=jvt"]),
        ("interlaced", "720x576", "25", ["-profile:v", "high", "-pix_fmt", "yuv420p", "-flags", "+ildct"]),
        ("high422", "320x240", "30", ["-profile:v", "high422", "-pix_fmt", "yuv422p"]),
    ]
    for name, size, rate, extra in sps_variants:
        try:
            media["sps_" + name] = ffmpeg(os.path.join(tmp, name + ".flv"), *v(size, rate), "-frames:v", "2",
                                          "-c:v", "libx264", "-preset", "ultrafast", *extra, "-f", "flv")
        except subprocess.CalledProcessError:
            print(f"note: this ffmpeg cannot encode the {name} variant, skipped", file=sys.stderr)
    return media


def flv_tags(path):
    """(type, timestamp ms, body) for every tag of an FLV file."""
    data = open(path, "rb").read()
    assert data[:3] == b"FLV", path
    pos = struct.unpack(">I", data[5:9])[0] + 4
    while pos + 11 <= len(data):
        ttype = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | data[pos + 7] << 24
        body = data[pos + 11:pos + 11 + size]
        yield ttype, ts, body
        pos += 11 + size + 4


def avcc_parameter_sets(avcc):
    """SPS and PPS NAL units from an AVCDecoderConfigurationRecord."""
    sps, pps = [], []
    n = avcc[5] & 0x1F
    pos = 6
    for _ in range(n):
        ln = int.from_bytes(avcc[pos:pos + 2], "big")
        sps.append(avcc[pos + 2:pos + 2 + ln])
        pos += 2 + ln
    n = avcc[pos]
    pos += 1
    for _ in range(n):
        ln = int.from_bytes(avcc[pos:pos + 2], "big")
        pps.append(avcc[pos + 2:pos + 2 + ln])
        pos += 2 + ln
    return sps, pps


def cts_of(body):
    v = int.from_bytes(body[2:5], "big")
    return v - (1 << 24) if v & 0x800000 else v


# ---------------------------------------------------------------- RTMP capture

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """Relays each accepted connection to livegate and records what the client sent."""

    def __init__(self, upstream_port, limit=512 * 1024):
        self.upstream = upstream_port
        self.limit = limit
        self.captures = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            rec = bytearray()
            self.captures.append(rec)
            threading.Thread(target=self._pump, args=(client, server, rec), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, src, dst, rec):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if rec is not None and len(rec) < self.limit:
                    rec += b[:self.limit - len(rec)]
                dst.sendall(b)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def capture_publishers(livegate, media):
    """Client-to-server bytes of each publisher, keyed by its name."""
    rtmp, http = free_port(), free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([livegate, "--bind", "127.0.0.1", "--rtmp-port", str(rtmp), "--http-port", str(http)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    out = {}
    try:
        deadline = time.time() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError("livegate did not start:\n" + log.read().decode(errors="replace"))
                time.sleep(0.1)
        publishers = {
            "ffmpeg": ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", media, "-c", "copy", "-f", "flv"],
        }
        gst = shutil.which("gst-launch-1.0")
        for name, sink in (("gst_rtmp2", "rtmp2sink location={url}"),
                           ("gst_librtmp", 'rtmpsink location="{url} live=1"')):
            if gst:
                publishers[name] = ("sh", "-c", "exec gst-launch-1.0 -q -e filesrc location=" + media +
                                    " ! flvdemux name=d flvmux name=m streamable=true ! " + sink +
                                    " d.video ! queue ! h264parse ! m.video d.audio ! queue ! aacparse ! m.audio")
        for name, cmd in publishers.items():
            proxy = Proxy(rtmp)
            url = f"rtmp://127.0.0.1:{proxy.port}/live/{name}?token=t"
            if cmd[0] == "sh":
                cmd = [cmd[0], cmd[1], cmd[2].replace("{url}", url)]
            else:
                cmd = cmd + [url]
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
            time.sleep(0.5)
            proxy.close()
            if r.returncode != 0 or not proxy.captures:
                print(f"note: publisher {name} failed ({r.returncode}): {r.stderr.decode(errors='replace')[-500:]}",
                      file=sys.stderr)
                continue
            out[name] = bytes(proxy.captures[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out


def rtmp_messages(stream, limit=200):
    """(type, payload) of the first messages of a client chunk stream (after the handshake): just enough
    of RTMP 1.0 5.3 to pull out the AMF0 commands, not a validating parser."""
    pos, chunk_size, state, msgs = 0, 128, {}, []
    while pos < len(stream) and len(msgs) < limit:
        b0 = stream[pos]
        fmt, csid = b0 >> 6, b0 & 0x3F
        pos += 1
        if csid == 0:
            csid, pos = 64 + stream[pos], pos + 1
        elif csid == 1:
            csid, pos = 64 + stream[pos] + 256 * stream[pos + 1], pos + 2
        st = state.setdefault(csid, {"len": 0, "type": 0, "ext": False, "buf": bytearray()})
        if fmt <= 2:
            ts = int.from_bytes(stream[pos:pos + 3], "big")
            st["ext"] = ts == 0xFFFFFF
        if fmt <= 1:
            st["len"] = int.from_bytes(stream[pos + 3:pos + 6], "big")
            st["type"] = stream[pos + 6]
        pos += (11, 7, 3, 0)[fmt]
        if st["ext"]:
            pos += 4
        take = min(chunk_size, st["len"] - len(st["buf"]))
        if pos + take > len(stream):
            break
        st["buf"] += stream[pos:pos + take]
        pos += take
        if len(st["buf"]) == st["len"]:
            payload = bytes(st["buf"])
            st["buf"] = bytearray()
            if st["type"] == 1:
                chunk_size = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            msgs.append((st["type"], payload))
    return msgs


# ---------------------------------------------------------------- seed formats of the targets

def timeline_record(track, ts_ms, cts_ms, rejoin=False, epoch=0):
    """fuzz_timeline: 8 bytes: flags (bit0 audio, bit1 rejoin first, bits 2-4 signed epoch), u32 ms, si24 cts."""
    flags = (1 if track == "audio" else 0) | (2 if rejoin else 0) | ((epoch & 7) << 2)
    return bytes([flags]) + struct.pack(">I", ts_ms & 0xFFFFFFFF) + (cts_ms & 0xFFFFFF).to_bytes(3, "big")


def playlist_record(duration_ms, discontinuity=False, clear=False, ended=False, pdt_jitter=0):
    """fuzz_playlist: 6 bytes: flags, u32 duration (mode 0: microseconds), s8 PDT jitter in ms."""
    flags = (1 if discontinuity else 0) | (2 if clear else 0) | (8 if ended else 0)
    return bytes([flags]) + struct.pack(">I", duration_ms * 1000) + struct.pack(">b", pdt_jitter)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--livegate", required=True, help="a built livegate binary, for the RTMP captures")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus"))
    args = ap.parse_args()

    corpus = {}

    def add(target, name, data):
        data = bytes(data)[:MAX_FILE]
        corpus.setdefault(target, {})
        if data not in corpus[target].values():
            corpus[target][name] = data

    with tempfile.TemporaryDirectory(prefix="livegate-corpus-") as tmp:
        media = make_media(tmp)

        for mname, path in media.items():
            tags = list(flv_tags(path))
            seen = set()
            video_ts = []
            for ttype, ts, body in tags:
                if ttype == 18:
                    if not mname.startswith("sps_"):  # those differ from the others only in numbers
                        add("amf0", f"{mname}_onmetadata", body)
                elif ttype == 9 and body:
                    video_ts.append((ts, cts_of(body), body[0] >> 4 == 1))
                    kind = {0: "avc_seq_header", 2: "avc_end_of_sequence"}.get(body[1] if len(body) > 1 else -1)
                    if kind is None:
                        kind = {1: "keyframe", 2: "inter"}.get(body[0] >> 4, "other")
                        if kind == "inter":
                            # With B-frames, P and B frames differ in their composition time offsets.
                            kind += "_cts0" if cts_of(body) == 0 else "_cts_offset"
                    if kind in seen:
                        continue
                    seen.add(kind)
                    if kind == "avc_seq_header":
                        sps, pps = avcc_parameter_sets(body[5:])
                        for i, s in enumerate(sps):
                            add("sps", f"{mname}_sps{i}", s)
                        if not mname.startswith("sps_"):
                            # The PPS is no SPS, but its bytes give the fuzzer a differently shaped NAL.
                            for i, p in enumerate(pps):
                                add("sps", f"{mname}_pps{i}", p)
                    if mname.startswith("sps_") and kind != "avc_seq_header":
                        continue
                    add("flv_tag", f"{mname}_{kind}", body)
                elif ttype == 8 and body:
                    fmt = body[0] >> 4
                    kind = ("aac_seq_header" if body[1] == 0 else "aac_frame") if fmt == 10 else f"audio{fmt}_frame"
                    if kind in seen:
                        continue
                    seen.add(kind)
                    add("flv_tag", f"{mname}_{kind}", body)
            if mname == "aac":
                # Timeline: the real interleaving of both tracks, then the same file published again
                # (rejoin), then a 32-bit wrap of the RTMP clock.
                recs = b"\x00"
                for ttype, ts, body in tags:
                    if ttype in (8, 9) and body:
                        recs += timeline_record("video" if ttype == 9 else "audio", ts,
                                                cts_of(body) if ttype == 9 else 0)
                add("timeline", "aac_interleaved", recs)
                second = b"".join(timeline_record("video" if t == 9 else "audio", ts, cts_of(b) if t == 9 else 0,
                                                  rejoin=(i == 0))
                                  for i, (t, ts, b) in enumerate(x for x in tags if x[0] in (8, 9) and x[2]))
                add("timeline", "aac_republish", recs + second)
                wrap = b"\x00" + b"".join(
                    timeline_record("video" if t == 9 else "audio", (0xFFFFFFFF - 1000 + ts) & 0xFFFFFFFF,
                                    cts_of(b) if t == 9 else 0, epoch=(1 if 0xFFFFFFFF - 1000 + ts > 0xFFFFFFFF else 0))
                    for t, ts, b in tags if t in (8, 9) and b)
                add("timeline", "aac_wrap", wrap)
                # Playlist: segments cut at the keyframes of the capture.
                keys = [ts for ts, _, key in video_ts if key]
                durs = [b - a for a, b in zip(keys, keys[1:])] + [video_ts[-1][0] - keys[-1] + 33]
                recs = b"".join(playlist_record(d) for d in durs * 4)
                add("playlist", "aac_gop_window3", bytes([3, 4, 2, 0]) + recs)
                recs2 = b"".join(playlist_record(d, discontinuity=(i % 5 == 3), ended=(i == 11))
                                 for i, d in enumerate(durs * 6))
                add("playlist", "aac_gop_discontinuity", bytes([5, 6, 2, 1]) + recs2)
                recs3 = b"".join(playlist_record(d, clear=(i == 4), pdt_jitter=(-3 if i % 2 else 7))
                                 for i, d in enumerate(durs * 4))
                add("playlist", "aac_gop_clear", bytes([2, 0, 1, 0]) + recs3)
            if mname == "mp3":
                recs = b"\x01"
                for ttype, ts, body in tags:
                    if ttype in (8, 9) and body:
                        recs += timeline_record("video" if ttype == 9 else "audio", ts,
                                                cts_of(body) if ttype == 9 else 0)
                add("timeline", "mp3_interleaved_cfg1", recs)
                audio_only = b"\x02" + b"".join(timeline_record("audio", ts, 0) for t, ts, b in tags if t == 8)
                add("timeline", "mp3_audio_only_cfg2", audio_only)

        captures = capture_publishers(os.path.abspath(args.livegate), media["aac"])
        for name, raw in captures.items():
            if len(raw) < HANDSHAKE:
                continue
            hs = raw[:HANDSHAKE + 512]  # some chunk bytes after C2, as clients send them in one segment
            # fuzz_handshake: 5 control bytes (pieces, two u16 split points), then the client bytes.
            add("handshake", f"{name}_1piece", b"\x00\x00\x00\x00\x00" + hs)
            add("handshake", f"{name}_c0c1_c2", b"\x01" + struct.pack(">HH", 1537, 0) + hs)
            add("handshake", f"{name}_3pieces", b"\x02" + struct.pack(">HH", 1, 2000) + hs)
            stream = raw[HANDSHAKE:]
            # fuzz_chunk_reader: 8 control bytes (flags, two u16 split points, three limit selectors).
            add("chunk_reader", f"{name}_commands", b"\x00" + bytes(7) + stream[:2048])
            add("chunk_reader", f"{name}_media_split", b"\x02" + struct.pack(">HH", 700, 3000) + bytes(3) +
                stream[:MAX_FILE - 8])
            add("chunk_reader", f"{name}_small_limits", b"\x05" + struct.pack(">HH", 300, 0) + bytes([3, 5, 3]) +
                stream[:16384])
            for i, (mtype, payload) in enumerate(rtmp_messages(stream)):
                if mtype in (18, 20) and payload:
                    add("amf0", f"{name}_msg{i:02d}_type{mtype}", payload)

    total = 0
    for target, files in sorted(corpus.items()):
        d = os.path.join(args.out, target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.remove(os.path.join(d, old))
        for name, data in sorted(files.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            total += len(data)
        print(f"{target}: {len(files)} files, {sum(map(len, files.values()))} bytes")
    print(f"total {total} bytes")
    assert total < 1024 * 1024, "the corpus must stay under 1 MiB"


if __name__ == "__main__":
    main()
