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
        self.segments = []  # dicts: uri, duration, duration_text, pdt, discontinuity, seq, map (or None), parts
        # LL-HLS (RFC 8216bis): attribute dicts, the open segment's parts (after the last URI) and the rest.
        self.server_control = None
        self.part_target = None
        self.open_parts = []  # dicts: uri, duration, independent
        self.preload_hint = None
        self.skipped = 0
        self.rendition_reports = []
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
            elif line.startswith("#EXT-X-SERVER-CONTROL:"):
                self.server_control = attributes(line)
            elif line.startswith("#EXT-X-PART-INF:"):
                self.part_target = float(attributes(line)["PART-TARGET"])
            elif line.startswith("#EXT-X-PART:"):
                a = attributes(line)
                pending.setdefault("parts", []).append({"uri": a["URI"], "duration": float(a["DURATION"]),
                                                        "independent": a.get("INDEPENDENT") == "YES"})
            elif line.startswith("#EXT-X-PRELOAD-HINT:"):
                a = attributes(line)
                assert a["TYPE"] == "PART" and self.preload_hint is None, f"one part hint only: {line}"
                self.preload_hint = a["URI"]
            elif line.startswith("#EXT-X-SKIP:"):
                self.skipped = int(attributes(line)["SKIPPED-SEGMENTS"])
            elif line.startswith("#EXT-X-RENDITION-REPORT:"):
                self.rendition_reports.append(attributes(line))
            elif line.startswith("#"):
                raise AssertionError(f"unexpected tag {line}")
            else:
                assert "duration" in pending, f"URI without EXTINF: {line}"
                pending["uri"] = line
                pending.setdefault("discontinuity", False)
                pending["map"] = current_map
                pending["seq"] = self.media_sequence + self.skipped + len(self.segments)
                pending.setdefault("parts", [])
                self.segments.append(pending)
                pending = {}
        self.open_parts = pending.pop("parts", [])
        assert not pending, "tags after the last URI"


def top_level_boxes(data):
    """The types of an ISO BMFF file's top-level boxes, in order; asserts they fill it exactly."""
    types, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        assert size >= 8 and at + size <= len(data), f"box at {at} of size {size} in {len(data)} bytes"
        types.append(data[at + 4:at + 8].decode("latin-1"))
        at += size
    return types


def attributes(line):
    """The attribute list of a tag line: NAME=value or NAME="quoted value", comma-separated."""
    out = {}
    for m in re.finditer(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]):
        out[m.group(1)] = m.group(2).strip('"')
    return out


def check_low_latency(p, part_target_ms=333):
    """The LL-HLS rules of RFC 8216bis a live ll.m3u8 must keep (4.4.3.7, 4.4.3.8, 4.4.4.9, 6.2.2)."""
    assert p.server_control is not None and p.part_target is not None, "LL-HLS tags missing"
    sc = p.server_control
    assert sc["CAN-BLOCK-RELOAD"] == "YES"
    assert abs(p.part_target - part_target_ms / 1000) < 1e-9
    assert float(sc["PART-HOLD-BACK"]) >= 3 * p.part_target - 1e-6
    assert float(sc["HOLD-BACK"]) >= 3 * p.target
    assert float(sc["CAN-SKIP-UNTIL"]) >= 6 * p.target
    with_parts = [s for s in p.segments if s["parts"]]
    if with_parts:  # parts are listed for a run of the newest segments
        assert p.segments[-len(with_parts):] == with_parts, "parts listed for an older segment only"
    for s in p.segments:
        parts = s["parts"]
        if parts:
            assert abs(sum(x["duration"] for x in parts) - s["duration"]) < 0.002 * len(parts), \
                f"{s['uri']}: parts add up to {sum(x['duration'] for x in parts)}, EXTINF {s['duration']}"
            assert parts[0]["independent"], f"{s['uri']}: its first part does not start with a keyframe"
            stem = s["uri"][:-len(".m4s")]
            assert [x["uri"] for x in parts] == [f"{stem}.{i}.m4s" for i in range(len(parts))]
    for x in [x for s in p.segments for x in s["parts"]] + p.open_parts:
        assert 0 < x["duration"] <= p.part_target + 1e-9, f"part {x['uri']} is {x['duration']} s"
    if not p.ended:
        assert p.preload_hint, "a live LL-HLS playlist hints its next part"


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
