"""A small RTMP publisher written for livegate's integration tests, using only the standard library.

The tests need a client that does exactly what they ask, including things that real encoders never
do: timestamps near 2^32 ms, odd chunk sizes, and raw bytes that break the protocol. FFmpeg and
GStreamer cannot be set up to do these. The library has:

  RtmpPublisher   handshake, chunk writer and reader, the connect/createStream/publish commands, media
                  messages, plus send_raw/recv_some/sock for hostile tests
  read_flv_tags   reads an FLV file's tags
  publish_flv     publishes an FLV file, with an optional timestamp offset, looping and pacing
  CLI             python3 rtmp_client.py --host H --port P --app A --key K --file F.flv
                  [--ts-offset-ms N] [--realtime] [--loops N] [--speed X] [--chunk-size N]
                  On success it exits 0. Line 1 of stdout is the publish status code and line 2 a JSON
                  summary. On failure it exits 1 and writes the error to stderr. When the server
                  refuses the publish, the status code (e.g. NetStream.Publish.BadName) is still on stdout.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

TS_MOD = 1 << 32
EXTENDED = 0xFFFFFF
AUDIO, VIDEO, SCRIPT = 8, 9, 18


class RtmpError(Exception):
    """A failed RTMP exchange. `code` holds the server's info code (e.g. NetStream.Publish.BadName), if any."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------- AMF0

class EcmaArray(dict):
    """A dict that AMF0-encodes as an ECMA array (marker 8). onMetaData uses this type, not a plain object."""


class _Undefined:
    def __repr__(self):
        return "UNDEFINED"


UNDEFINED = _Undefined()


def amf0_encode(*values):
    out = bytearray()
    for v in values:
        if v is None:
            out += b"\x05"
        elif v is UNDEFINED:
            out += b"\x06"
        elif isinstance(v, bool):  # checked before int: bool is a subclass of int
            out += bytes([1, int(v)])
        elif isinstance(v, (int, float)):
            out += struct.pack(">Bd", 0, float(v))
        elif isinstance(v, (str, bytes)):  # bytes: sent as they are, UTF-8 or not (hostile clients)
            b = v.encode() if isinstance(v, str) else v
            out += (struct.pack(">BH", 2, len(b)) if len(b) <= 0xFFFF else struct.pack(">BI", 12, len(b))) + b
        elif isinstance(v, dict):
            out += struct.pack(">BI", 8, len(v)) if isinstance(v, EcmaArray) else b"\x03"
            for k, item in v.items():
                out += struct.pack(">H", len(k.encode())) + k.encode() + amf0_encode(item)
            out += b"\x00\x00\x09"
        elif isinstance(v, (list, tuple)):
            out += struct.pack(">BI", 10, len(v)) + amf0_encode(*v)
        else:
            raise TypeError(f"cannot AMF0-encode {type(v).__name__}")
    return bytes(out)


def amf0_decode(data):
    """Decodes every value in `data`. Raises RtmpError if the data is truncated or has an unknown marker."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise RtmpError("AMF0: truncated")
        pos += n
        return data[pos - n:pos]

    def key():
        return take(struct.unpack(">H", take(2))[0]).decode(errors="replace")

    def props(d):
        while True:
            k = key()
            if k == "" and data[pos:pos + 1] == b"\x09":
                take(1)
                return d
            d[k] = value()

    def ecma():
        take(4)  # the count is only a hint. The end marker is what ends the array.
        return props(EcmaArray())

    readers = {
        0: lambda: struct.unpack(">d", take(8))[0], 1: lambda: take(1)[0] != 0, 2: key,
        3: lambda: props({}), 5: lambda: None, 6: lambda: UNDEFINED, 8: ecma,
        10: lambda: [value() for _ in range(struct.unpack(">I", take(4))[0])],
        11: lambda: struct.unpack(">dxx", take(10))[0],  # date: ms since epoch, then an unused time zone
        12: lambda: take(struct.unpack(">I", take(4))[0]).decode(errors="replace")}

    def value():
        m = take(1)[0]
        if m not in readers:
            raise RtmpError(f"AMF0: unsupported marker {m}")
        return readers[m]()

    values = []
    while pos < len(data):
        values.append(value())
    return values


# ---------------------------------------------------------------------------------------------- RTMP

class _InChunkStream:
    """Header state for one incoming chunk stream id, which later fmt 1-3 headers inherit."""

    def __init__(self):
        self.ts = self.delta = self.length = self.type_id = self.stream_id = 0
        self.ext = False
        self.buf = bytearray()
        self.seen = False


class RtmpPublisher:
    def __init__(self, host, port, app, key, timeout=10, chunk_size=4096):
        self._setup(socket.create_connection((host, port), timeout=timeout), host, port, app, key, timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._handshake()
        if chunk_size is not None:
            self.set_chunk_size(chunk_size)

    @classmethod
    def over_socket(cls, sock, timeout=10):
        """Chunk codec on a socket that has already done the handshake. The self-test's fake server uses it."""
        self = cls.__new__(cls)
        self._setup(sock, "", 0, "", "", timeout)
        return self

    def _setup(self, sock, host, port, app, key, timeout):
        self.sock, self.host, self.port, self.app, self.key, self.timeout = sock, host, port, app, key, timeout
        self._rbuf = bytearray()
        self._in = {}
        self.in_chunk_size = self.out_chunk_size = 128  # both directions start at 128 (RTMP 1.0 5.4.1)
        self.window_ack_size = self.peer_bandwidth = None
        self.bytes_in = self._acked = 0
        self.commands = []  # every command received, decoded, for tests that want to look at them
        self.stream_id = None
        self._txn = 1

    # ---- raw IO
    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_some(self, timeout):
        """Returns unparsed bytes: first whatever is buffered, else one recv(). Returns b"" if the peer
        closed the connection, or None if nothing arrived within `timeout`."""
        if self._rbuf:
            data, self._rbuf = bytes(self._rbuf), bytearray()
            return data
        if not select.select([self.sock], [], [], timeout)[0]:
            return None
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""

    def _read(self, n):
        while len(self._rbuf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise RtmpError("connection closed by server")
            self._rbuf += data
            self.bytes_in += len(data)
            # Tell the server how much we have received once a window's worth has arrived (RTMP 1.0 5.4.3).
            if self.window_ack_size and self.bytes_in - self._acked >= self.window_ack_size:
                self._acked = self.bytes_in
                self.send_message(2, 3, 0, 0, struct.pack(">I", self.bytes_in % TS_MOD))
        data = bytes(self._rbuf[:n])
        del self._rbuf[:n]
        return data

    def _handshake(self):
        c1 = struct.pack(">II", int(time.time() * 1000) % TS_MOD, 0) + os.urandom(1528)
        self.sock.sendall(b"\x03" + c1)
        s0s1 = self._read(1 + 1536)
        if s0s1[0] != 3:
            raise RtmpError(f"handshake: server version {s0s1[0]}, expected 3")
        self._read(1536)  # S2 should echo C1. Real clients do not check that, so neither do we.
        self.sock.sendall(s0s1[1:])  # C2 echoes S1
        self.bytes_in = self._acked = 0

    # ---- chunk writer
    @staticmethod
    def _basic_header(fmt, csid):
        if csid < 64:
            return bytes([fmt << 6 | csid])
        if csid < 320:
            return bytes([fmt << 6, csid - 64])
        return bytes([fmt << 6 | 1, (csid - 64) & 0xFF, (csid - 64) >> 8])

    def send_message(self, csid, type_id, stream_id, timestamp, payload):
        """Sends one message with a fmt 0 header. Its continuation chunks are fmt 3."""
        ts = timestamp % TS_MOD
        ext = struct.pack(">I", ts) if ts >= EXTENDED else b""
        out = bytearray(self._basic_header(0, csid))
        out += min(ts, EXTENDED).to_bytes(3, "big") + len(payload).to_bytes(3, "big")
        out += bytes([type_id]) + struct.pack("<I", stream_id) + ext
        cont = self._basic_header(3, csid) + ext  # extended ts repeated on fmt 3, as ffmpeg/librtmp expect
        for off in range(0, max(len(payload), 1), self.out_chunk_size):
            if off:
                out += cont
            out += payload[off:off + self.out_chunk_size]
        self.sock.sendall(out)

    def set_chunk_size(self, size):
        self.send_message(2, 1, 0, 0, struct.pack(">I", size & 0x7FFFFFFF))
        self.out_chunk_size = size

    # ---- chunk reader
    def read_message(self):
        """Reads chunks until a message is complete, then returns (type_id, stream_id, timestamp, payload)."""
        while True:
            b = self._read(1)[0]
            fmt, csid = b >> 6, b & 0x3F
            if csid == 0:
                csid = 64 + self._read(1)[0]
            elif csid == 1:
                lo, hi = self._read(2)
                csid = 64 + lo + 256 * hi
            st = self._in.setdefault(csid, _InChunkStream())
            starting = not st.buf
            if fmt < 3:
                h = self._read((11, 7, 3)[fmt])
                field = int.from_bytes(h[0:3], "big")
                if fmt < 2:
                    st.length, st.type_id = int.from_bytes(h[3:6], "big"), h[6]
                if fmt == 0:
                    st.stream_id = struct.unpack("<I", h[7:11])[0]
                st.ext = field == EXTENDED
                if st.ext:
                    field = struct.unpack(">I", self._read(4))[0]
                st.delta = 0 if fmt == 0 else field
                st.ts = field if fmt == 0 else (st.ts + field) % TS_MOD
                st.seen = True
            else:
                if not st.seen:
                    raise RtmpError(f"fmt 3 chunk on csid {csid} with no previous header")
                if st.ext:
                    self._read(4)  # the repeated extended timestamp
                if starting:
                    st.ts = (st.ts + st.delta) % TS_MOD
            st.buf += self._read(min(self.in_chunk_size, st.length - len(st.buf)))
            if len(st.buf) >= st.length:
                payload, st.buf = bytes(st.buf), bytearray()
                if self._control(st.type_id, payload):
                    continue
                return st.type_id, st.stream_id, st.ts, payload

    def _control(self, type_id, p):
        """Handles protocol control and user control messages. Returns True if the message was consumed."""
        if type_id == 1 and len(p) >= 4:
            self.in_chunk_size = max(1, struct.unpack(">I", p[:4])[0] & 0x7FFFFFFF)  # 0 would never progress
        elif type_id == 2 and len(p) >= 4:  # abort: drop the partial message on that chunk stream
            self._in.get(struct.unpack(">I", p[:4])[0], _InChunkStream()).buf = bytearray()
        elif type_id == 5 and len(p) >= 4:
            self.window_ack_size = struct.unpack(">I", p[:4])[0]
        elif type_id == 6 and len(p) >= 4:
            self.peer_bandwidth = struct.unpack(">I", p[:4])[0]
        elif type_id == 4 and len(p) >= 6 and p[:2] == b"\x00\x06":  # PingRequest -> PingResponse
            self.send_message(2, 4, 0, 0, b"\x00\x07" + p[2:6])
        else:  # acknowledgements (type 3) are returned as well, so the fake server can see them
            return False
        return True

    # ---- commands
    def _command(self, name, *args, stream_id=0, csid=3, txn=None, cmd_obj=None):
        """Sends name, transaction id, command object (null except for connect), then the arguments."""
        if txn is None:
            self._txn += 1
            txn = self._txn
        self.send_message(csid, 20, stream_id, 0, amf0_encode(name, txn, cmd_obj, *args))
        return txn

    def _wait_command(self, match):
        """Reads messages until a command matches `match(values)`. Protocol control messages and other
        commands are handled or recorded on the way."""
        deadline = time.monotonic() + self.timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                type_id, _, _, payload = self.read_message()
            except socket.timeout:
                raise RtmpError("timed out waiting for the server's reply") from None
            finally:
                self.sock.settimeout(self.timeout)
            if type_id == 17:  # an AMF3 command: a format byte, then AMF0 values
                payload = payload[1:]
            elif type_id != 20:
                continue
            values = amf0_decode(payload)
            self.commands.append(values)
            if values and match(values):
                return values

    @staticmethod
    def _info_code(values):
        info = values[3] if len(values) > 3 else None
        return info.get("code") if isinstance(info, dict) else None

    def _wait_result(self, txn, what):
        v = self._wait_command(lambda v: v[0] in ("_result", "_error") and len(v) > 1 and v[1] == txn)
        if v[0] == "_error":
            code = self._info_code(v)
            raise RtmpError(f"{what} failed: {code or v}", code)
        return v

    def connect(self, tc_url=None, flash_ver="FMLE/3.0 (compatible; livegate-test)"):
        tc_url = tc_url or f"rtmp://{self.host}:{self.port}/{self.app}"
        self._command("connect", txn=1, cmd_obj={
            "app": self.app, "type": "nonprivate", "flashVer": flash_ver, "tcUrl": tc_url,
            "fpad": False, "capabilities": 15.0, "audioCodecs": 3191.0, "videoCodecs": 252.0,
            "videoFunction": 1.0})
        return self._wait_result(1, "connect")

    def create_stream(self):
        v = self._wait_result(self._command("createStream"), "createStream")
        if len(v) < 4 or not isinstance(v[3], float):
            raise RtmpError(f"createStream: no stream id in {v}")
        self.stream_id = int(v[3])
        return self.stream_id

    def publish(self, kind="live"):
        """Sends the FMLE sequence, then returns the code of the first NetStream.Publish* onStatus."""
        self._command("releaseStream", self.key)
        self._command("FCPublish", self.key)
        self.create_stream()
        self._command("publish", self.key, kind, stream_id=self.stream_id, csid=8, txn=0)
        v = self._wait_command(lambda v: v[0] == "onStatus" and
                               str(self._info_code(v) or "").startswith("NetStream.Publish"))
        return self._info_code(v)

    def send_metadata(self, metadata):
        self.send_message(5, SCRIPT, self.stream_id or 0, 0,
                          amf0_encode("@setDataFrame", "onMetaData", EcmaArray(metadata)))

    def send_tag(self, tag_type, timestamp_ms, body):
        """Sends an FLV tag body as an audio (csid 4), video (csid 6) or data (csid 5) message."""
        csid = {AUDIO: 4, VIDEO: 6}.get(tag_type, 5)
        self.send_message(csid, tag_type, self.stream_id or 0, timestamp_ms % TS_MOD, body)

    def unpublish(self):
        self._command("FCUnpublish", self.key)
        if self.stream_id is not None:
            self._command("deleteStream", float(self.stream_id))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------------------------------------- FLV

def read_flv_tags(path, include_script=False):
    """Yields (tag_type, timestamp_ms, body) for each tag in an FLV file. Script tags (type 18, e.g.
    onMetaData) are skipped unless include_script is set. A truncated last tag is dropped."""
    with open(path, "rb") as f:
        header = f.read(9)
        if len(header) < 9 or header[:3] != b"FLV":
            raise ValueError(f"{path}: not an FLV file")
        f.seek(struct.unpack(">I", header[5:9])[0])
        while True:
            th = f.read(4 + 11)[4:]  # PreviousTagSize, then the tag header
            if len(th) < 11:
                return
            tag_type, size = th[0] & 0x1F, int.from_bytes(th[1:4], "big")
            ts = int.from_bytes(th[4:7], "big") | th[7] << 24  # th[7] holds bits 24-31
            body = f.read(size)
            if len(body) < size:
                return
            if tag_type != SCRIPT or include_script:
                yield tag_type, ts, body


def publish_flv(path, host, port, app, key, ts_offset_ms=0, realtime=False, loops=1, speed=1.0,
                chunk_size=4096, timeout=10):
    """Publishes the file's onMetaData and its audio/video tags, then unpublishes. A timestamp sent is
    (ts + ts_offset_ms + loop * duration) mod 2^32. Raises RtmpError if the publish is refused."""
    tags = list(read_flv_tags(path, include_script=True))
    media = [t for t in tags if t[0] in (AUDIO, VIDEO)]
    if not media:
        raise ValueError(f"{path}: no audio or video tags")
    first = min(t[1] for t in media)
    video_ts = [t[1] for t in media if t[0] == VIDEO]
    # Each loop starts one frame interval after the previous loop's last tag, so timestamps keep increasing.
    step = video_ts[-1] - video_ts[-2] if len(video_ts) > 1 and video_ts[-1] > video_ts[-2] else 33
    duration = max(t[1] for t in media) - first + step
    summary = {"status": None, "stream_id": None, "tags": {"audio": 0, "video": 0}, "first_ts": None,
               "last_ts": None}
    with RtmpPublisher(host, port, app, key, timeout=timeout, chunk_size=chunk_size) as c:
        c.connect()
        summary["status"] = code = c.publish()
        if code != "NetStream.Publish.Start":
            raise RtmpError(f"publish refused: {code}", code)
        summary["stream_id"] = c.stream_id
        for tag_type, _, body in tags:
            if tag_type == SCRIPT:
                values = amf0_decode(body)
                if len(values) > 1 and values[0] == "onMetaData" and isinstance(values[1], dict):
                    c.send_metadata(values[1])
        start = time.monotonic()
        for loop in range(loops):
            for tag_type, ts, body in media:
                if realtime:  # due at the tag's time since the first tag, scaled by speed
                    delay = start + (ts - first + loop * duration) / 1000.0 / speed - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                out_ts = (ts + ts_offset_ms + loop * duration) % TS_MOD
                c.send_tag(tag_type, out_ts, body)
                summary["tags"]["audio" if tag_type == AUDIO else "video"] += 1
                if summary["first_ts"] is None:
                    summary["first_ts"] = out_ts
                summary["last_ts"] = out_ts
        c.unpublish()
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description="Publish an FLV file over RTMP (livegate integration tests).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1935)
    p.add_argument("--app", default="live")
    p.add_argument("--key", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--ts-offset-ms", type=int, default=0)
    p.add_argument("--realtime", action="store_true")
    p.add_argument("--loops", type=int, default=1)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--chunk-size", type=int, default=4096)
    p.add_argument("--timeout", type=float, default=10)
    a = p.parse_args(argv)
    try:
        s = publish_flv(a.file, a.host, a.port, a.app, a.key, a.ts_offset_ms, a.realtime, a.loops,
                        a.speed, a.chunk_size, a.timeout)
    except (RtmpError, OSError, ValueError) as e:
        if isinstance(e, RtmpError) and e.code:
            print(e.code, flush=True)
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(s["status"])
    print(json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
