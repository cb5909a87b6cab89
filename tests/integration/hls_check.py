"""Checks of HLS output used by the integration tests: an RFC 8216 playlist parser and rule checker
that remembers what earlier polls showed, and MPEG-TS checks done with ffprobe and by reading packets."""
import json
import re
import subprocess

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


class Playlist:
    def __init__(self, text):
        self.text = text
        self.lines = text.split("\n")
        self.target = None
        self.media_sequence = None
        self.discontinuity_sequence = None
        self.version = None
        self.ended = False
        self.segments = []  # dicts: uri, duration, duration_text, pdt, discontinuity, seq, map (or None)
        self._parse()

    def _parse(self):
        assert self.lines[0] == "#EXTM3U", "first line must be #EXTM3U"
        assert self.text.endswith("\n"), "a playlist ends with a line break"
        pending = {}
        current_map = None  # EXT-X-MAP applies to the segments after it, until the next one
        for line in self.lines[1:]:
            if not line:
                continue
            if line.startswith("#EXT-X-VERSION:"):
                self.version = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-TARGETDURATION:"):
                self.target = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                self.media_sequence = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
                self.discontinuity_sequence = int(line.split(":", 1)[1])
            elif line == "#EXT-X-DISCONTINUITY":
                pending["discontinuity"] = True
            elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                pending["pdt"] = line.split(":", 1)[1]
            elif line.startswith("#EXTINF:"):
                value = line.split(":", 1)[1]
                assert value.endswith(","), f"EXTINF without its comma: {line}"
                pending["duration_text"] = value[:-1]
                pending["duration"] = float(value[:-1])
            elif line.startswith("#EXT-X-MAP:"):
                m = re.fullmatch(r'#EXT-X-MAP:URI="([^"]+)"', line)
                assert m, f"EXT-X-MAP without a URI: {line}"
                current_map = m.group(1)
            elif line == "#EXT-X-ENDLIST":
                self.ended = True
            elif line.startswith("#"):
                raise AssertionError(f"unexpected tag {line}")
            else:
                assert "duration" in pending, f"URI without EXTINF: {line}"
                pending["uri"] = line
                pending.setdefault("discontinuity", False)
                pending["map"] = current_map
                pending["seq"] = self.media_sequence + len(self.segments)
                self.segments.append(pending)
                pending = {}
        assert not pending, "tags after the last URI"


class PlaylistRules:
    """Checks each poll against RFC 8216 and against what earlier polls showed."""

    def __init__(self):
        self.target = None
        self.last_media_sequence = None
        self.last_disc_sequence = None
        self.uri_seq = {}       # uri -> media sequence number, must never change
        self.uri_disc = {}      # uri -> discontinuity flag
        self.uri_duration = {}  # uri -> EXTINF seconds
        self.discontinuities_seen = set()
        self.polls = 0

    def check(self, text):
        p = Playlist(text)
        self.polls += 1
        assert p.version is not None and p.version >= 3
        assert p.target is not None and p.media_sequence is not None and p.discontinuity_sequence is not None
        if self.target is None:
            self.target = p.target
        assert p.target == self.target, f"TARGETDURATION changed {self.target} -> {p.target}"
        if self.last_media_sequence is not None:
            assert p.media_sequence >= self.last_media_sequence, "MEDIA-SEQUENCE went back"
            assert p.discontinuity_sequence >= self.last_disc_sequence, "DISCONTINUITY-SEQUENCE went back"
            removed = [u for u, s in self.uri_seq.items() if self.last_media_sequence <= s < p.media_sequence]
            removed_disc = sum(1 for u in removed if self.uri_disc[u])
            assert p.discontinuity_sequence - self.last_disc_sequence == removed_disc, \
                "DISCONTINUITY-SEQUENCE must count the discontinuities that left the playlist"
        self.last_media_sequence = p.media_sequence
        self.last_disc_sequence = p.discontinuity_sequence
        for s in p.segments:
            assert re.fullmatch(r"\d+\.\d{3}", s["duration_text"]), f"EXTINF needs three decimals: {s['duration_text']}"
            # Rounded half up, the stricter reading of RFC 8216 4.3.3.1.
            assert int(s["duration"] + 0.5) <= p.target, f"EXTINF {s['duration']} rounds above TARGETDURATION {p.target}"
            assert s["duration"] > 0
            assert "pdt" in s, "every segment has EXT-X-PROGRAM-DATE-TIME"
            assert "/" not in s["uri"] and ":" not in s["uri"], f"segment URIs are relative: {s['uri']}"
            if s["uri"] in self.uri_seq:
                assert self.uri_seq[s["uri"]] == s["seq"], f"{s['uri']} changed its sequence number"
                assert self.uri_disc[s["uri"]] == s["discontinuity"]
            self.uri_seq[s["uri"]] = s["seq"]
            self.uri_disc[s["uri"]] = s["discontinuity"]
            if s["discontinuity"]:
                self.discontinuities_seen.add(s["uri"])
            self.uri_duration[s["uri"]] = s["duration"]
        seqs = sorted(self.uri_seq.values())
        assert len(set(seqs)) == len(seqs), "two URIs share a sequence number"
        return p

    def check_joins(self, joins):
        """One EXT-X-DISCONTINUITY per join (reconnect or switch of publisher) over every poll so far,
        none for anything else."""
        assert len(self.discontinuities_seen) == joins, \
            f"{len(self.discontinuities_seen)} discontinuities for {joins} joins: {sorted(self.discontinuities_seen)}"


def ffprobe_json(path, *args):
    r = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, path], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, json.loads(r.stdout or "{}"), r.stderr


def check_segment(path, expect_video=True, expect_audio=True):
    """ffprobe reads the segment without errors, finds the expected streams, and (for video) the first
    frame is a keyframe. Returns the probe of its packets."""
    # Read as MPEG-TS, which a segment is by contract: a segment of one audio frame (the last one of a
    # stream may be that short) is too little for ffprobe's guess, which takes it for MPEG-PS.
    code, probe, err = ffprobe_json(path, "-f", "mpegts", "-show_streams", "-show_packets")
    assert code == 0 and not err.strip(), f"ffprobe errors on {path}: {err}"
    types = sorted(s["codec_type"] for s in probe["streams"])
    expected = sorted((["video"] if expect_video else []) + (["audio"] if expect_audio else []))
    assert types == expected, f"{path}: streams {types}, expected {expected}"
    if expect_video:
        video_index = next(s["index"] for s in probe["streams"] if s["codec_type"] == "video")
        first = next(p for p in probe["packets"] if p["stream_index"] == video_index)
        assert "K" in first["flags"], f"{path} does not start with a keyframe"
        code, frames, err = ffprobe_json(path, "-f", "mpegts", "-select_streams", "v", "-show_frames",
                                         "-read_intervals", "%+#1")
        assert frames["frames"][0]["pict_type"] == "I" and frames["frames"][0]["key_frame"] == 1
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) % 188 == 0 and all(data[i] == 0x47 for i in range(0, len(data), 188)), "TS packet framing"
    return probe


def decode_errors(path_or_url):
    """Decodes everything; returns ffmpeg's error output (empty when clean)."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path_or_url, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stderr.strip()


def continuity_errors(data):
    """MPEG-TS continuity counters per PID, across the given bytes (segments joined in order)."""
    last = {}
    errors = []
    for i in range(0, len(data) - 187, 188):
        pkt = data[i:i + 188]
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        afc = (pkt[3] >> 4) & 3
        cc = pkt[3] & 0x0F
        if pid == 0x1FFF or not (afc & 1):
            continue
        discontinuity = afc & 2 and pkt[4] > 0 and pkt[5] & 0x80
        if pid in last and not discontinuity and cc != (last[pid] + 1) % 16:
            errors.append(f"pid {pid} at packet {i // 188}: cc {cc} after {last[pid]}")
        last[pid] = cc
    return errors
