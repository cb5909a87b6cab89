#!/usr/bin/env python3
"""The glass-to-glass probe's camera: raw 640x360 yuv420p frames at 30 fps on stdout, each stamped, as it is
"captured" (written), with the wall clock in milliseconds (mod 2^32) as 32 black and white blocks across the
top 80 rows (two rows of 16 blocks, most significant bit first). Pipe it into ffmpeg -f rawvideo.
Usage: clock_source.py [SECONDS]"""
import sys
import time

W, H, FPS = 640, 360, 30
BLOCK = W // 16  # 40 x 40 luma pixels per bit
BLACK, WHITE, GREY = b"\x10", b"\xeb", b"\x80"


def frame(stamp_ms):
    bits = [(stamp_ms >> (31 - i)) & 1 for i in range(32)]
    rows = [b"".join((WHITE if b else BLACK) * BLOCK for b in bits[r * 16:(r + 1) * 16]) for r in range(2)]
    band = rows[0] * BLOCK + rows[1] * BLOCK
    # A moving bar below the band, so the encoder has some motion to code.
    x = (stamp_ms // 10) % (W - 40)
    bar_row = GREY * x + WHITE * 40 + GREY * (W - 40 - x)
    luma = band + bar_row * (H - 2 * BLOCK)
    return luma + GREY * (W * H // 2)  # U and V: neutral


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3600
    out = sys.stdout.buffer
    start = time.monotonic()
    for i in range(int(seconds * FPS)):
        due = start + i / FPS
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            out.write(frame(time.time_ns() // 1_000_000 & 0xFFFFFFFF))
            out.flush()
        except BrokenPipeError:
            return


if __name__ == "__main__":
    main()
