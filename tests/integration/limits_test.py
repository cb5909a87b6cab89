"""Each RTMP limit that guards the server as a whole, set low and crossed: the offending connection or
publish is refused with a log line naming the limit, and honest clients carry on."""
import socket
import time
import unittest

import harness
import rtmp_client


def closed_by_server(sock, within):
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class Limits(unittest.TestCase):
    def test_max_connections_and_per_ip(self):
        lg = harness.Livegate(config={"rtmp": {"max_connections": 6, "max_connections_per_ip": 3}})
        socks = []
        try:
            socks = [socket.create_connection(("127.0.0.1", lg.rtmp_port)) for _ in range(3)]
            time.sleep(0.2)
            fourth = socket.create_connection(("127.0.0.1", lg.rtmp_port))
            self.assertTrue(closed_by_server(fourth, 2), "a 4th connection from one address is closed")
            fourth.close()
            self.assertIn("limit max_connections_per_ip (3)", lg.log_text())
            for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.3"):
                s = socket.socket()
                s.bind((ip, 0))
                s.connect(("127.0.0.1", lg.rtmp_port))
                socks.append(s)
            time.sleep(0.2)
            extra = socket.socket()
            extra.bind(("127.0.0.4", 0))
            extra.connect(("127.0.0.1", lg.rtmp_port))
            self.assertTrue(closed_by_server(extra, 2), "a 7th connection in all is closed")
            extra.close()
            self.assertIn("limit max_connections (6)", lg.log_text())
            for s in socks:
                s.close()
            time.sleep(0.3)
            p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", "after")
            p.connect()
            self.assertEqual(p.publish(), "NetStream.Publish.Start", "room again once they are gone")
            p.close()
        finally:
            for s in socks:
                s.close()
            self.assertEqual(lg.stop(), 0)

    def test_max_streams(self):
        lg = harness.Livegate(config={"rtmp": {"max_streams": 2}})
        publishers, codes = [], []
        try:
            for key in ("one", "two", "three"):
                p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", key)
                publishers.append(p)
                p.connect()
                codes.append(p.publish())
            self.assertEqual(codes, ["NetStream.Publish.Start"] * 2 + ["NetStream.Publish.BadName"])
            self.assertIn("limit max_streams (2)", lg.log_text())
        finally:
            for p in publishers:
                p.close()
            self.assertEqual(lg.stop(), 0)

    def test_max_buffered_bytes(self):
        lg = harness.Livegate(config={"rtmp": {"max_buffered_bytes": 65536}})
        try:
            p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", "hoard")
            p.connect()
            self.assertEqual(p.publish(), "NetStream.Publish.Start")
            # Start 1 MiB video messages on 20 chunk streams (4 KiB each, 80 KiB in all), never finish them.
            for csid in range(10, 30):
                header = bytes([csid]) + (0).to_bytes(3, "big") + (1 << 20).to_bytes(3, "big") + b"\x09" + \
                    (1).to_bytes(4, "little")
                p.send_raw(header + b"\x17" + b"\x00" * 4095)
            self.assertTrue(closed_by_server(p.sock, 3), "a connection holding more than 64 KiB is closed")
            p.close()
            self.assertIn("limit max_buffered_bytes (65536)", lg.log_text())
            self.assertEqual(lg.get("/healthz")[0], 200)
        finally:
            self.assertEqual(lg.stop(), 0)


if __name__ == "__main__":
    harness.main()
