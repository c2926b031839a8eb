#!/usr/bin/env python3
"""Builds the fuzz corpora from every JSON example in the seeds and the mock data.

Usage: seed_corpus.py SEEDS_DIR OUT_DIR

bus_message: each input line is one channel-selector byte (index into the 8
channels) then the message; every JSON object found in the seeds goes in once
per channel it could arrive on, and a few sequences (started, health, stopped). massive_frame and history_query get hand-written examples.
"""
import hashlib
import json
import pathlib
import sys

CHANNELS = [
    "tickstock:streaming:session_started",
    "tickstock:streaming:session_stopped",
    "tickstock:streaming:health",
    "tickstock:patterns:streaming",
    "tickstock:patterns:detected",
    "tickstock:indicators:streaming",
    "tickstock:alerts:indicators",
    "tickstock:alerts:critical",
]

TYPE_CHANNELS = {
    "streaming_session_started": [0],
    "streaming_session_stopped": [1],
    "streaming_health": [2],
    "streaming_pattern": [3, 4],
    "streaming_patterns_batch": [3, 4],
    "streaming_indicator": [5],
    "indicator_alert": [6],
    "critical_alert": [7],
}


def json_objects(text):
    """Every balanced {...} in `text` that parses as a JSON object."""
    found = []
    for start, char in enumerate(text):
        if char != "{":
            continue
        depth, in_string, escaped = 0, False, False
        for end in range(start, len(text)):
            c = text[end]
            if in_string:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    try:
                        value = json.loads(text[start : end + 1])
                    except ValueError:
                        break
                    if isinstance(value, dict):
                        found.append(value)
                    break
    return found


def write(directory, data):
    directory.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    (directory / name).write_bytes(data)


def main():
    seeds, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    sources = sorted(seeds.glob("*.txt")) + sorted(pathlib.Path("tests/mock_data").glob("*.jsonl"))
    count = 0
    by_channel = {}
    for source in sources:
        for obj in json_objects(source.read_text(errors="replace")):
            channels = TYPE_CHANNELS.get(obj.get("type"), range(len(CHANNELS)))
            payload = json.dumps(obj).encode()
            for index in channels:
                write(out / "bus_message", bytes([index]) + payload)
                count += 1
                by_channel.setdefault(index, payload)
    # One sequence through every channel in order, session start to stop.
    sequence = b"\n".join(bytes([i]) + by_channel[i] for i in sorted(by_channel) if i != 1)
    if 1 in by_channel:
        sequence += b"\n" + bytes([1]) + by_channel[1]
    write(out / "bus_message", sequence)
    frames = [
        '[{"ev":"status","status":"connected","message":"Connected Successfully"}]',
        '[{"ev":"status","status":"auth_success","message":"authenticated"}]',
        '[{"ev":"T","sym":"AAPL","p":227.41,"s":300,"t":1759850000123,"x":4,"i":"1","z":3,"c":[12],"q":5}]',
        '[{"ev":"Q","sym":"MSFT","bp":410.1,"ap":410.2,"bs":2,"as":3,"t":1759850000123}]',
        '[{"ev":"AM","sym":"BRK.B","o":1,"h":2,"l":0.5,"c":1.5,"v":1000,"av":5000,"vw":1.2,"a":1.1,"z":10,"s":1759850000000,"e":1759850060000}]',
        '[{"ev":"A","sym":"NVDA","o":1,"h":2,"l":0.5,"c":1.5,"v":10,"s":1759850000000,"e":1759850001000}]',
        '[{"ev":"status","status":"max_connections","message":"Maximum number of connections exceeded."}]',
    ]
    for frame in frames:
        write(out / "massive_frame", frame.encode())
    queries = [
        "/streaming/api/patterns/AAPL?hours=1&limit=10",
        "/streaming/api/indicators/MSFT?indicator=RSI_14&limit=5",
        "/streaming/api/alerts?hours=24&alert_type=RSI_OVERBOUGHT&limit=3",
        "/streaming/api/health/history?limit=1000",
        "/streaming/api/sessions",
        "/api/streaming/patterns/BRK.B?hours=0.5",
    ]
    for query in queries:
        write(out / "history_query", query.encode())
    print(f"seed_corpus: {count} bus messages, {len(frames)} frames, {len(queries)} queries")


main()
