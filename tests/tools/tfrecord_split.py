#!/usr/bin/env python3
"""Splits a TFRecord file into one payload file per record, checking every masked CRC-32C with the
crc32c module (an implementation independent of lab's). Prints the record count; exits 1 on a bad
CRC or a truncated record."""
import struct
import sys

import crc32c


def masked(data):
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def main(path, out_dir):
    data = open(path, "rb").read()
    pos, count = 0, 0
    while pos < len(data):
        if pos + 12 > len(data):
            sys.exit(f"record {count}: truncated header")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked(header) != length_crc:
            sys.exit(f"record {count}: bad length CRC")
        payload = data[pos + 12:pos + 12 + length]
        if len(payload) != length or pos + 16 + length > len(data):
            sys.exit(f"record {count}: truncated payload")
        (payload_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if masked(payload) != payload_crc:
            sys.exit(f"record {count}: bad payload CRC")
        with open(f"{out_dir}/{count:05d}.pb", "wb") as out:
            out.write(payload)
        pos += 16 + length
        count += 1
    print(count)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
