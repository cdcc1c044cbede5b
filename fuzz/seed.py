#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into a directory (default fuzz/seeds/), from
proto/SPEC.md's worked examples and the testdata/ vectors. The corpus in the repository
started as these seeds, grew by `scripts/fuzz --keep` and was minimized with
`cargo +nightly fuzz cmin -s none -a TARGET`; to add the seeds again:
    python3 fuzz/seed.py && cp fuzz/seeds/TARGET/* fuzz/corpus/TARGET/
then minimize."""

import base64
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "seeds")
PAYLOAD_TYPE = "application/vnd.outcome-ledger.event.v1+json"
AUTHOR = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
KEY_B = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
ID_A = "1" * 64
ID_B = "2" * 64


def jcs(value):
    # RFC 8785 for these values (ASCII member names, integers only).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def spec_block(label):
    spec = open(os.path.join(ROOT, "proto", "SPEC.md"), encoding="utf-8").read()
    match = re.search(r"<!-- example:%s -->\n```\n(.*?)```" % re.escape(label), spec, re.S)
    return match.group(1)


BODIES = {
    "contract.registered": {
        "title": "Housing first", "currency": "GBP",
        "parties": [{"key": AUTHOR, "role": "commissioner", "name": "Council"},
                    {"key": KEY_B, "role": "provider", "name": "Provider Ltd"}],
        "outcomes": [{"id": "housed-12m", "name": "Housed 12 months", "price": 150000,
                      "cap_units": 40}],
        "cap": 6000000, "start": "2025-01-01", "end": "2027-12-31"},
    "contract.amended": {"prices": [{"outcome": "housed-12m", "price": 160000}],
                         "reason": "indexation"},
    "key.rotated": {"old": ID_A, "new": KEY_B},
    "key.revoked": {"key": ID_B, "reason": "laptop lost"},
    "claim.submitted": {
        "outcome": "housed-12m", "period": {"from": "2025-01-01", "to": "2025-12-31"},
        "quantity": 2, "participants": [ID_A, ID_B],
        "evidence": [{"sha256": ID_A, "media_type": "application/pdf",
                      "uri": "https://example.org/e/1"},
                     {"sha256": ID_B, "media_type": "text/csv"}]},
    "claim.verified": {"claim": ID_A, "quantity": 2},
    "claim.rejected": {"claim": ID_A, "reason": "no tenancy record"},
    "claim.disputed": {"claim": ID_A, "reason": "tenancy ended in month 11"},
    "dispute.resolved": {"dispute": ID_B, "decision": "adjusted", "quantity": 1},
    "feedback.recorded": {"claim": ID_A, "stance": "affirms", "text": "Support was\nconsistent."},
    "payment.made": {"lines": [{"claim": ID_A, "amount": 300000}], "total": 300000,
                     "currency": "GBP", "reference": "REM-0001"},
    "distribution.made": {"investor": ID_B, "amount": 100000, "currency": "GBP",
                          "reference": "D-1"},
    "contract.closed": {"reason": "term ended"},
}


def payloads():
    out = [spec_block("payload").rstrip("\n").encode()]
    for seq, (kind, body) in enumerate(BODIES.items()):
        out.append(jcs({"v": 1, "contract": "sib-2025-01", "seq": seq,
                        "prev": None if seq == 0 else ID_A, "kind": kind, "author": AUTHOR,
                        "at": "2025-03-01T09:30:00Z", "body": body}))
    return out


def envelope(payload, payload_type=PAYLOAD_TYPE, signers=1):
    signatures = [{"keyid": hashlib.sha256(bytes([i])).hexdigest(),
                   "sig": base64.b64encode(bytes([i]) * 64).decode()} for i in range(signers)]
    signatures.sort(key=lambda s: s["keyid"])
    return jcs({"payload": base64.b64encode(payload).decode(), "payloadType": payload_type,
                "signatures": signatures})


def envelopes():
    out = [spec_block("envelope").rstrip("\n").encode()]
    out += [envelope(p, signers=1 + i % 3) for i, p in enumerate(payloads())]
    dsse = json.load(open(os.path.join(ROOT, "testdata", "dsse_vectors.json")))
    out += [json.dumps(v["envelope"]).encode() for v in dsse["vectors"] if "envelope" in v]
    return out


def notes():
    vectors = json.load(open(os.path.join(ROOT, "testdata", "signed_note_vectors.json")))
    out = [spec_block("checkpoint-note"), spec_block("checkpoint-body"), spec_block("log-vkey")]
    for case in vectors["note_cases"] + vectors["parse_only_cases"]:
        for key in ("note_text", "expected_note", "note", "existing_note"):
            if isinstance(case.get(key), str):
                out.append(case[key])
        if "note_text_hex" in case:
            out.append(bytes.fromhex(case["note_text_hex"]))
    out += [case["body"] for case in vectors["checkpoint_body_cases"]]
    out += [case["vkey"] for case in vectors["vkey_parse_cases"]]
    out += [key["vkey"] for key in vectors["keys"]]
    return [n.encode() if isinstance(n, str) else n for n in out]


def bundles():
    note = spec_block("checkpoint-note")
    head = [{"type": "bundle", "version": 1, "origin": "example.org/outcome-ledger", "size": 1},
            {"type": "checkpoint", "note": note},
            {"type": "node", "vkey": spec_block("log-vkey").rstrip("\n")},
            {"type": "key", "keyid": hashlib.sha256(bytes.fromhex(AUTHOR)).hexdigest(),
             "key": AUTHOR}]
    lines = [json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() for line in head]
    event = b'{"type":"event","index":0,"envelope":' + spec_block("envelope").rstrip("\n").encode() + b"}"
    one = b"\n".join(lines + [event]) + b"\n"
    head[0]["size"] = 3
    head[0]["created_at"] = "2026-01-02T03:04:05Z"
    lines = [json.dumps(line, separators=(",", ":")).encode() for line in head[:2]]
    events = [b'{"type":"event","index":%d,"envelope":%s}' % (i, envelope(p))
              for i, p in enumerate(payloads()[:3])]
    three = b"\n".join(lines + events) + b"\n"
    return [one, three]


def queries():
    return [b"", b"from=0&limit=10", b"from=18446744073709551615", b"limit=0", b"limit=1001",
            b"index=3&size=7", b"from=1&to=8", b"cursor=5&limit=2",
            b"contract=sib-2025-01&party=" + AUTHOR.encode() + b"&role=provider",
            b"kind=claim.submitted&outcome=housed-12m",
            b"since=2025-01-01T00:00:00Z&until=2025-12-31T23:59:59Z", b"from=%31&x=1",
            b"limit=-1", b"from=1&from=2", b"size=+5&index=007"]


def paths():
    return [ID_A.encode(), AUTHOR.encode(), AUTHOR.upper().encode(), b"sib-2025-01", b"0",
            b"18446744073709551615", b"18446744073709551616", b"+5", b"007", b"-1", b""]


def main():
    targets = {"payload": payloads(), "envelope": envelopes(), "note": notes(),
               "bundle_line": bundles(), "http_query": queries(), "http_path": paths()}
    for target, inputs in targets.items():
        directory = os.path.join(OUT, target)
        os.makedirs(directory, exist_ok=True)
        for data in inputs:
            name = hashlib.sha1(data).hexdigest()
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(inputs)} seeds in {directory}")


main()
