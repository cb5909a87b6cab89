"""Self-test for rtmp_client.py that needs no livegate. A scripted fake server on loopback sends the
header forms real servers rarely use: fmt 1/2/3, 3-byte chunk stream ids, extended timestamps on
continuation chunks, a server Set Chunk Size, window acknowledgements and pings. This checks the
client's reader and, by parsing what the client sends, its writer. Run: python3 rtmp_client_selftest.py"""
import os
import socket
import struct
import tempfile
import threading
import unittest

from rtmp_client import (AUDIO, SCRIPT, UNDEFINED, VIDEO, EcmaArray, RtmpError, RtmpPublisher, amf0_decode,
                         amf0_encode, publish_flv, read_flv_tags)


class FakeServer:
    """Accepts one client, does the server side of the simple handshake, then runs script(codec) on a
    thread. Exceptions raised in the script are raised again by join()."""

    def __init__(self, script):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script, self.error, self.c2_ok = script, None, None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(5)
            srv = RtmpPublisher.over_socket(conn, timeout=5)
            c0c1 = srv._read(1537)
            s1 = os.urandom(1536)
            conn.sendall(b"\x03" + s1 + c0c1[1:])
            self.c2_ok = srv._read(1536) == s1
            self.script(srv)
            conn.close()
        except BaseException as e:  # handed to the test thread by join()
            self.error = e

    def join(self):
        self.thread.join(10)
        self.listener.close()
        if self.error:
            raise self.error


def next_command(srv, seen):
    """The next command from the client. Any other messages are appended to `seen`."""
    while True:
        type_id, stream_id, ts, payload = srv.read_message()
        if type_id == 20:
            return amf0_decode(payload), stream_id
        seen.append((type_id, ts, payload))


class SelfTest(unittest.TestCase):
    def test_amf0_round_trip(self):
        values = [1.5, True, False, "héllo", "x" * 70000, None, UNDEFINED, {"a": 1.0, "b": {"c": "d"}},
                  EcmaArray(width=640.0, stereo=False), [1.0, "two", None]]
        decoded = amf0_decode(amf0_encode(*values))
        self.assertEqual(decoded, values)
        self.assertIsInstance(decoded[8], EcmaArray)
        self.assertEqual(amf0_encode("x" * 70000)[0], 12, "long string marker")
        self.assertEqual(amf0_decode(b"\x0b" + struct.pack(">d", 1e12) + b"\x00\x00"), [1e12], "date")
        with self.assertRaises(RtmpError):
            amf0_decode(b"\x02\x00\x05ab")

    def test_flv_reader(self):
        def tag(t, ts, body):
            return bytes([t]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") + \
                bytes([ts >> 24]) + b"\0\0\0" + body

        tags = [tag(SCRIPT, 0, amf0_encode("onMetaData", EcmaArray(width=1.0))), tag(VIDEO, 0x01000005, b"v"),
                tag(AUDIO, 7, b"aa")]
        data = b"FLV\x01\x05\0\0\0\x09"
        for t in tags:
            data += struct.pack(">I", 0) + t
        data += struct.pack(">I", len(tags[-1])) + b"\x09\x00"  # a truncated tag at the end is dropped
        with tempfile.NamedTemporaryFile(suffix=".flv", delete=False) as f:
            f.write(data)
        try:
            self.assertEqual(list(read_flv_tags(f.name)), [(VIDEO, 0x01000005, b"v"), (AUDIO, 7, b"aa")])
            self.assertEqual([t[0] for t in read_flv_tags(f.name, include_script=True)], [SCRIPT, VIDEO, AUDIO])
        finally:
            os.unlink(f.name)

    def test_session_with_unusual_headers(self):
        seen, result = [], {}

        def script(srv):
            cmd, _ = next_command(srv, seen)
            assert cmd[0] == "connect" and cmd[1] == 1 and cmd[2]["app"] == "live", cmd
            assert srv.in_chunk_size == 100, "client's Set Chunk Size arrived first"
            srv.send_message(2, 5, 0, 0, struct.pack(">I", 1000))  # window: the client must ack
            srv.set_chunk_size(50)
            # 3-byte csid, extended timestamp, 50-byte chunks: every continuation repeats the timestamp.
            srv.send_message(300, 20, 0, 0x1234567, amf0_encode(
                "_result", 1, {"fmsVer": "fake"}, {"code": "NetConnection.Connect.Success", "pad": "x" * 1500}))
            names = []
            while "createStream" not in names:
                cmd, _ = next_command(srv, seen)
                names.append(cmd[0])
            assert names == ["releaseStream", "FCPublish", "createStream"], names
            srv.send_message(3, 20, 0, 0, amf0_encode("onBWDone", 0, None))
            body = amf0_encode("_result", cmd[1], None, 1.0)  # fmt 1 on csid 3: delta, length, type
            srv.send_raw(b"\x43" + (10).to_bytes(3, "big") + len(body).to_bytes(3, "big") + b"\x14" + body)
            srv.send_message(2, 4, 0, 0, b"\x00\x06" + b"PING")
            cmd, sid = next_command(srv, seen)
            assert cmd[0] == "publish" and cmd[3:] == ["k", "live"] and sid == 1, (cmd, sid)
            # Two equal-length onStatus messages: a fmt 0 one, then a fmt 3 header starting a new message.
            other = amf0_encode("onStatus", 0, None, {"code": "NetStream.Other.Aaaa"})
            ok = amf0_encode("onStatus", 0, None, {"code": "NetStream.Publish.Ok"})
            assert len(other) == len(ok)
            srv.send_message(5, 20, 1, 0, other)
            srv.send_raw(b"".join(b"\xc5" + ok[i:i + 50] for i in range(0, len(ok), 50)))
            result["media"] = []
            while len(result["media"]) < 3:  # the ping response may arrive in between
                type_id, stream_id, ts, payload = m = srv.read_message()
                if type_id in (AUDIO, VIDEO, SCRIPT):
                    result["media"].append(m)
                else:
                    seen.append((type_id, ts, payload))
            result["tail"] = [next_command(srv, seen)[0] for _ in range(2)]

        server = FakeServer(script)
        c = RtmpPublisher("127.0.0.1", server.port, "live", "k", timeout=5, chunk_size=100)
        c.connect()
        self.assertEqual(c.in_chunk_size, 50)
        self.assertEqual(c.window_ack_size, 1000)
        self.assertEqual(c.publish(), "NetStream.Publish.Ok")
        self.assertEqual(c.stream_id, 1)
        c.send_metadata({"width": 640.0})
        c.send_tag(VIDEO, 0x1000007, b"V" * 250)  # extended timestamp over three 100-byte chunks
        c.send_tag(AUDIO, 2 ** 32 + 10, b"A" * 3)  # taken mod 2^32
        c.unpublish()
        server.join()
        c.close()
        self.assertTrue(server.c2_ok, "C2 echoes S1")
        meta, video, audio = result["media"]
        self.assertEqual((meta[0], amf0_decode(meta[3])[:2]), (SCRIPT, ["@setDataFrame", "onMetaData"]))
        self.assertEqual(video, (VIDEO, 1, 0x1000007, b"V" * 250))
        self.assertEqual(audio, (AUDIO, 1, 10, b"AAA"))
        (fcunpublish, _, _, key), (delete, _, _, sid) = result["tail"]
        self.assertEqual((fcunpublish, key, delete, sid), ("FCUnpublish", "k", "deleteStream", 1.0))
        acks = [struct.unpack(">I", p)[0] for t, _, p in seen if t == 3]
        self.assertTrue(acks and acks[0] >= 1000, f"acknowledgement sent: {acks}")
        self.assertIn((4, 0, b"\x00\x07PING"), seen, "ping answered")

    def test_connect_error_and_refused_publish(self):
        def script(srv):
            cmd, _ = next_command(srv, [])
            srv.send_message(3, 20, 0, 0, amf0_encode("_error", cmd[1], None,
                                                      {"code": "NetConnection.Connect.Rejected"}))

        server = FakeServer(script)
        with RtmpPublisher("127.0.0.1", server.port, "live", "k", timeout=5) as c:
            with self.assertRaises(RtmpError) as e:
                c.connect()
            self.assertEqual(e.exception.code, "NetConnection.Connect.Rejected")
            server.join()
            self.assertEqual(c.recv_some(1), b"", "peer closed")

        def refuse(srv):
            srv.send_message(3, 20, 0, 0, amf0_encode("_result", 1, None, {"code": "NetConnection.Connect.Success"}))
            while True:
                cmd, _ = next_command(srv, [])
                if cmd[0] == "createStream":
                    srv.send_message(3, 20, 0, 0, amf0_encode("_result", cmd[1], None, 1.0))
                if cmd[0] == "publish":
                    srv.send_message(5, 20, 1, 0, amf0_encode("onStatus", 0, None,
                                                              {"code": "NetStream.Publish.BadName"}))
                    return

        server = FakeServer(refuse)
        with tempfile.NamedTemporaryFile(suffix=".flv") as f:
            f.write(b"FLV\x01\x05\0\0\0\x09" + b"\0\0\0\0" + b"\x09\0\0\x01\0\0\0\0\0\0\0" + b"\x17")
            f.flush()
            with self.assertRaises(RtmpError) as e:
                publish_flv(f.name, "127.0.0.1", server.port, "live", "k", timeout=5)
        self.assertEqual(e.exception.code, "NetStream.Publish.BadName")
        server.join()

    def test_recv_some_timeout(self):
        def drain(srv):
            while srv.recv_some(5):  # until the client closes
                pass

        server = FakeServer(drain)
        c = RtmpPublisher("127.0.0.1", server.port, "live", "k", timeout=5)
        self.assertIsNone(c.recv_some(0.2))
        c.close()
        server.join()


if __name__ == "__main__":
    unittest.main()
