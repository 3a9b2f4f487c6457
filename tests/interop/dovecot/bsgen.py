"""Deterministic, varied MIME messages for the BODYSTRUCTURE comparison
with Dovecot: nested multipart/mixed, alternative and related,
message/rfc822, RFC 2231 parameters (charset'lang'value and
continuations), RFC 2047 encoded-words, odd and missing Content-Types,
base64 and quoted-printable, CRLF or LF, with or without a final line
ending.  gen(n, seed) always yields the same n messages (bytes).
"""
import base64
import quopri
import random

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet "
         "kilo lima mike november oscar papa quebec romeo sierra tango "
         "uniform victor whiskey xray yankee zulu").split()
UNAMES = ("résumé.pdf", "naïve café.txt", "日本語.doc", "Ünïcødé name.bin",
          "a b;c=d.txt", "€uro.xls", "плохо.zip")


def text(r, lines=None):
    n = lines if lines is not None else r.randint(0, 12)
    out = []
    for _ in range(n):
        out.append(" ".join(r.choice(WORDS) for _ in range(r.randint(0, 14))))
    return "\n".join(out) + ("\n" if n and r.random() < 0.8 else "")


def ew(r, s):
    """s as one or more RFC 2047 encoded-words"""
    b = s.encode("utf-8")
    if r.random() < 0.5:
        return "=?UTF-8?B?%s?=" % base64.b64encode(b).decode()
    q = "".join(chr(c) if (48 <= c < 123 and chr(c).isalnum()) else
                "=%02X" % c for c in b)
    return "=?utf-8?q?%s?=" % q


def rfc2231(r, name, value):
    """a parameter the RFC 2231 ways"""
    b = value.encode("utf-8")
    enc = "".join(chr(c) if (c < 128 and (chr(c).isalnum() or chr(c) in ".-_"))
                  else "%%%02X" % c for c in b)
    k = r.random()
    if k < 0.35:
        return "; %s*=UTF-8''%s" % (name, enc)
    if k < 0.5:
        return "; %s*=utf-8'en'%s" % (name, enc)
    if k < 0.75:
        # split into continuations, the first one encoded
        parts = [enc[i:i + 10] for i in range(0, len(enc), 10)] or [""]
        s = "; %s*0*=UTF-8''%s" % (name, parts[0])
        for i, p in enumerate(parts[1:], 1):
            s += ";\n\t%s*%d*=%s" % (name, i, p)
        return s
    # plain continuations of a long ASCII value
    v = "long-" + "-".join(r.choice(WORDS) for _ in range(8)) + ".dat"
    parts = [v[i:i + 12] for i in range(0, len(v), 12)]
    return "".join(";\n %s*%d=\"%s\"" % (name, i, p)
                   for i, p in enumerate(parts))


def fname_param(r, name):
    k = r.random()
    if k < 0.3:
        return '; %s="%s.%s"' % (name, r.choice(WORDS), r.choice(
            ("txt", "pdf", "png", "bin")))
    if k < 0.45:
        return '; %s="%s"' % (name, ew(r, r.choice(UNAMES)))
    if k < 0.55:
        return "; %s=%s.dat" % (name, r.choice(WORDS))
    return rfc2231(r, name, r.choice(UNAMES))


def encode_body(r, data, cte):
    if cte == "base64":
        b = base64.b64encode(data).decode()
        w = r.choice((76, 64, 72))
        return "\n".join(b[i:i + w] for i in range(0, len(b), w)) + "\n"
    if cte == "quoted-printable":
        return quopri.encodestring(data).decode("ascii")
    return data.decode("utf-8", "replace")


def leaf(r):
    k = r.random()
    hdr = []
    if k < 0.4:
        cs = r.choice(("us-ascii", "utf-8", "iso-8859-1", "UTF-8", None))
        sub = r.choice(("plain", "plain", "html", "enriched"))
        ct = "text/" + sub
        if cs:
            ct += "; charset=" + (cs if r.random() < 0.7 else '"%s"' % cs)
        if r.random() < 0.15:
            ct += "; format=flowed; delsp=yes"
        body = text(r)
        if sub == "html":
            body = "<html><body><p>" + body + "</p></body></html>\n"
        if cs and cs.lower() == "utf-8" and r.random() < 0.5:
            body += "ünïcödé äöü ✓\n"
        data = body.encode("utf-8")
        cte = r.choice((None, "7bit", "8bit", "quoted-printable",
                        "base64", "QUOTED-PRINTABLE"))
    elif k < 0.55:
        ct = r.choice(("application/octet-stream", "application/pdf",
                       "image/png", "APPLICATION/X-Foo", "audio/x-wav"))
        ct += fname_param(r, "name")
        data = bytes(r.getrandbits(8) for _ in range(r.randint(0, 300)))
        cte = "base64"
        hdr.append("Content-Disposition: attachment" +
                   fname_param(r, "filename"))
    elif k < 0.65:
        # odd or missing types
        ct = r.choice((None, "text", "text/", "foo/bar", "application",
                       "text/plain; charset=", "text/plain;",
                       "Text/Plain; CharSet=UTF-8 (comment)",
                       "text/plain; name*=''empty",
                       "text/plain; x=\"quoted \\\"q\\\"\"",
                       "text/plain; charset=us-ascii; charset=utf-8",
                       "image/jpeg; name=\"a\\\\b.jpg\""))
        data = text(r).encode()
        cte = r.choice((None, "7bit", "x-uuencode", "BASE64", "binary"))
        if cte in ("BASE64",):
            cte = "base64"
    elif k < 0.75:
        ct = "text/calendar; method=REQUEST; charset=UTF-8"
        data = b"BEGIN:VCALENDAR\nEND:VCALENDAR\n"
        cte = "7bit"
    elif k < 0.85:
        ct = "message/delivery-status"
        data = ("Reporting-MTA: dns; mx.example.test\n\n"
                "Final-Recipient: rfc822; x@example.test\n"
                "Action: failed\nStatus: 5.1.1\n").encode()
        cte = None
    else:
        ct = "application/pdf" + fname_param(r, "name")
        data = bytes(r.getrandbits(8) for _ in range(r.randint(1, 200)))
        cte = "base64"
        hdr.append("Content-Disposition: inline" +
                   fname_param(r, "filename") +
                   ('; size=%d' % len(data) if r.random() < 0.3 else ""))
    if ct is not None:
        hdr.insert(0, "Content-Type: " + ct)
    if cte is not None:
        hdr.append("Content-Transfer-Encoding: " + cte)
    if r.random() < 0.2:
        hdr.append("Content-ID: <%d.%s@example.test>" %
                   (r.randint(1, 9999), r.choice(WORDS)))
    if r.random() < 0.15:
        hdr.append("Content-Description: " +
                   (ew(r, r.choice(UNAMES)) if r.random() < 0.5
                    else " ".join(r.sample(WORDS, 3))))
    if r.random() < 0.1:
        hdr.append("Content-Language: " + r.choice(("en", "de, fr",
                                                    "en-US")))
    if r.random() < 0.05:
        hdr.append("Content-Location: http://example.test/%s" %
                   r.choice(WORDS))
    if r.random() < 0.05:
        hdr.append("Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==")
    enc = (cte or "7bit").lower()
    if enc not in ("base64", "quoted-printable"):
        enc = "8bit"
    return "\n".join(hdr) + "\n\n" + encode_body(r, data, enc)


def multipart(r, depth):
    sub = r.choice(("mixed", "mixed", "alternative", "related", "signed",
                    "MIXED", "report"))
    bnd = r.choice(("b", "=_", "----=_Part_"))
    bnd += "%d_%d" % (depth, r.randint(0, 10 ** 6))
    ct = "Content-Type: multipart/%s; boundary=" % sub
    ct += ('"%s"' % bnd) if r.random() < 0.6 else bnd.replace("=", "x")
    bnd = ct.split("boundary=")[1].strip('"')
    if sub == "related":
        ct += '; type="text/html"'
    if sub == "report":
        ct += "; report-type=delivery-status"
    n = r.randint(1, 4) if sub != "alternative" else r.randint(1, 3)
    parts = [body(r, depth + 1) for _ in range(n)]
    out = ct + "\n"
    if r.random() < 0.2:
        out += "Content-Disposition: inline\n"
    out += "\n"
    if r.random() < 0.3:
        out += "This is a multi-part message in MIME format.\n"
    for p in parts:
        out += "\n--%s\n%s" % (bnd, p) if not out.endswith("\n\n") or \
            r.random() < 0.5 else "--%s\n%s" % (bnd, p)
        if not out.endswith("\n"):
            out += "\n"
    out += "--%s--\n" % bnd
    if r.random() < 0.2:
        out += "epilogue " + r.choice(WORDS) + "\n"
    return out


def rfc822(r, depth):
    inner = message_text(r, depth + 1)
    h = "Content-Type: message/rfc822"
    if r.random() < 0.3:
        h += '; name="%s.eml"' % r.choice(WORDS)
    if r.random() < 0.3:
        h += "\nContent-Disposition: attachment"
    return h + "\n\n" + inner


def body(r, depth):
    k = r.random()
    if depth < 3 and k < 0.3:
        return multipart(r, depth)
    if depth < 3 and k < 0.4:
        return rfc822(r, depth)
    return leaf(r)


def top_headers(r, i):
    subj = " ".join(r.sample(WORDS, 3))
    if r.random() < 0.3:
        subj = ew(r, r.choice(UNAMES) + " " + subj)
    h = ["From: %s <a%d@example.test>" % (
        ew(r, "Ann Örtel") if r.random() < 0.3 else "Ann", i),
        "To: b@example.test",
        "Subject: " + subj,
        "Date: Mon, %d Nov 2026 10:%02d:00 +0000" % (1 + i % 28, i % 60),
        "Message-ID: <%d.%d@example.test>" % (i, r.randint(0, 10 ** 9))]
    if r.random() < 0.9:
        h.append("MIME-Version: 1.0")
    return "\n".join(h) + "\n"


def message_text(r, depth, i=0):
    return top_headers(r, i) + body(r, depth)


def gen(n, seed=2026):
    r = random.Random(seed)
    out = []
    for i in range(n):
        m = message_text(r, 0, i)
        if r.random() < 0.15:
            m = m.rstrip("\n")  # no final line ending
        if r.random() < 0.7:
            m = m.replace("\n", "\r\n")
        out.append(m.encode("utf-8"))
    return out


if __name__ == "__main__":
    import sys
    for m in gen(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        sys.stdout.write(m.decode() + "\n=====\n")
