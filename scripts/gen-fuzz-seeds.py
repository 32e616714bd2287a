#!/usr/bin/env python3
"""Write the seed corpus for the fuzz targets (tests/fuzz/corpus/*).

Seeds are well-formed frames (without the 4-byte size prefix) built with the
integration tests' wire helpers, so the fuzzer starts from inputs that reach
deep into each decoder. Deterministic: rerunning rewrites the same files."""
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "tests", "integration"))
import kafka_wire as kw  # noqa: E402

req_dir = os.path.join(root, "tests", "fuzz", "corpus", "request")
batch_dir = os.path.join(root, "tests", "fuzz", "corpus", "batch")
os.makedirs(req_dir, exist_ok=True)
os.makedirs(batch_dir, exist_ok=True)


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


batch = kw.record_batch([(b"k1", b"v1", [(b"h", b"x")]), (None, b"v2")], timestamp=1700000000000)
put(batch_dir, "two-records", batch)
put(batch_dir, "two-batches", batch + kw.record_batch([(b"k", b"v")], timestamp=1700000000001))
put(batch_dir, "magic1", kw.message_v1(b"k", b"v"))

seeds = {
    "api_versions_v0": kw.request_header(18, 0, 1) + b"",
    "api_versions_v3": kw.request_header(18, 3, 2, flexible=True) + kw.api_versions_v3_body(),
    "metadata_v1_all": kw.request_header(3, 1, 3) + kw.metadata_v1_body(None),
    "metadata_v1_one": kw.request_header(3, 1, 4) + kw.metadata_v1_body(["t"]),
    "produce_v3": kw.request_header(0, 3, 5) + kw.produce_v3_body("t", 0, batch),
    "fetch_v4": kw.request_header(1, 4, 6) + kw.fetch_v4_body("t", 0, 0),
    "list_offsets_v1": kw.request_header(2, 1, 7) + kw.list_offsets_v1_body("t", 0, -1),
}
for name, data in seeds.items():
    put(req_dir, name, data)
print("wrote %d request seeds and 3 batch seeds" % len(seeds))
