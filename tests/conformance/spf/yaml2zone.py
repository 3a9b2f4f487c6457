#!/usr/bin/env python3
"""yaml2zone.py SUITE.yml OUTDIR: the openspf suite as C reads it.

Writes OUTDIR/NN.zone per scenario (the zone-file format of the test
DNS server, described in zone_cache.h) and
OUTDIR/tests.json, one object per test: scenario, zone, name, helo,
host, mailfrom, results (a list: any passes), explanation (optional).

The suite's zone data is read the way its own driver (pyspf's
testspf.py) reads it, so the answers are the ones the expected results
were written against:
- an SPF (type 99) record is also served as TXT unless the name lists a
  TXT of its own (or `TXT: NONE`);
- `TIMEOUT` in a name's list: a type with a record before it answers
  those records, every other type never answers (`NAME TYPE TIMEOUT`;
  `NAME TIMEOUT` when no type answers);
- `TYPE: NONE` is an empty answer (NOERROR, no records).
"""
import json
import os
import sys

import yaml

QTYPES = ["A", "AAAA", "MX", "PTR", "TXT", "SPF"]


def esc_name(name):
    out = []
    for b in name.encode("utf-8"):
        ch = chr(b)
        if b <= 0x20 or b >= 0x7F or ch in '\\"#':
            out.append("\\%03d" % b)
        else:
            out.append(ch)
    return "".join(out)


def esc_string(s):
    out = ['"']
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif b < 0x20 or b >= 0x7F:
            out.append("\\%03d" % b)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def rdata(t, v):
    if t in ("TXT", "SPF"):
        strings = [v] if isinstance(v, str) else list(v)
        if not strings:
            strings = [""]  # no strings at all: one empty one
        return " ".join(esc_string(s) for s in strings)
    if t == "MX":
        pref, host = v
        return "%d %s" % (int(pref), esc_name(host) if host else ".")
    if t in ("PTR", "CNAME"):
        return esc_name(v)
    return str(v)


def name_lines(name, entries):
    """pyspf's getrdata() then DNSLookup(), written out per type."""
    gen = True
    generated = []
    rd = []  # (type, value) in order, "TIMEOUT" as (None, None)
    none = set()
    for m in entries:
        if isinstance(m, str):
            rd.append((None, None))
            continue
        for t, v in m.items():
            if t == "TXT":
                gen = False
            elif t == "SPF" and gen:
                generated.append(("TXT", v))
            if v == "NONE":
                none.add(t)
            else:
                rd.append((t, v))
    if gen:
        rd.extend(generated)
    cut = next((i for i, (t, _) in enumerate(rd) if t is None), None)
    answered = rd if cut is None else rd[:cut]
    n = esc_name(name)
    lines = ["%s %s %s" % (n, t, rdata(t, v)) for t, v in answered]
    have = {t for t, _ in answered}
    if cut is None:
        for t in sorted(none - have):
            lines.append("%s %s NONE" % (n, t))
    else:
        if not have:
            lines.append("%s TIMEOUT" % n)
        else:
            for t in QTYPES:
                if t not in have and "CNAME" not in have:
                    lines.append("%s %s TIMEOUT" % (n, t))
    return lines


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(src, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    tests = []
    for i, doc in enumerate(docs):
        zone = "%02d.zone" % i
        with open(os.path.join(out, zone), "w", encoding="ascii") as z:
            z.write("# %s (rfc7208-tests.yml scenario %d)\n"
                    % (doc["description"], i))
            for name, entries in doc.get("zonedata", {}).items():
                for line in name_lines(name, entries):
                    z.write(line + "\n")
        for tname, t in doc["tests"].items():
            res = t["result"]
            e = {
                "scenario": doc["description"],
                "zone": zone,
                "name": tname,
                "helo": t.get("helo", ""),
                "host": t["host"],
                "mailfrom": t.get("mailfrom", ""),
                "results": res if isinstance(res, list) else [res],
            }
            if "explanation" in t:
                e["explanation"] = t["explanation"]
            tests.append(e)
    with open(os.path.join(out, "tests.json"), "w", encoding="ascii") as f:
        json.dump(tests, f, indent=1)
    print("%d scenarios, %d tests" % (len(docs), len(tests)))


if __name__ == "__main__":
    main()
