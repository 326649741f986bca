#!/usr/bin/env python3
"""Writes small valid seed inputs for the fuzz targets (standard library only).

    python3 fuzz/make_seeds.py OUT_DIR

creates OUT_DIR/<target>/<name> for every target in fuzz/fuzz_targets/.
The seeds are generated, never committed: scripts/fuzz.sh calls this before
every run. Every target also gets the seeds of related formats (a DOCX target
sees ODT and plain ZIP files too), which helps the fuzzer cross over.
"""

import base64
import io
import os
import struct
import sys
import zipfile
import zlib

# ---------------------------------------------------------------------------
# ZIP based: DOCX, ODT, plain ZIP


def zip_bytes(members, compression=zipfile.ZIP_DEFLATED):
    """members: list of (name, bytes) or (name, bytes, compression)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for m in members:
            name, data = m[0], m[1]
            comp = m[2] if len(m) > 2 else compression
            info = zipfile.ZipInfo(name, date_time=(2026, 6, 1, 12, 0, 0))
            info.compress_type = comp
            z.writestr(info, data)
    return buf.getvalue()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" ' \
    'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"'

DOCX_DOCUMENT = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document {W}><w:body>
<w:p><w:r><w:t>Bewerbung &amp; Terminwahl</w:t></w:r></w:p>
<w:p><w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="1"/></w14:checkbox></w:sdtPr>
<w:sdtContent><w:r><w:t>\u2612</w:t></w:r></w:sdtContent></w:sdt>
<w:r><w:t xml:space="preserve"> Mo., 29.06.2026, 9\u201313 Uhr</w:t></w:r></w:p>
<w:p><w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="0"/></w14:checkbox></w:sdtPr>
<w:sdtContent><w:r><w:t>\u2610</w:t></w:r></w:sdtContent></w:sdt>
<w:r><w:t xml:space="preserve"> Di., 30.06.2026</w:t></w:r></w:p>
<w:p><w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Kontrollk1"/>
<w:checkBox><w:sizeAuto/><w:default w:val="0"/><w:checked/></w:checkBox></w:ffData></w:fldChar></w:r>
<w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>
<w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t xml:space="preserve"> Mi., 1.7.</w:t></w:r></w:p>
<w:p><w:r><w:sym w:font="Wingdings" w:char="F078"/><w:t xml:space="preserve"> Ja  </w:t></w:r>
<w:r><w:t>\u2610 Nein</w:t></w:r><w:r><w:tab/><w:t>[x] 2./3.07.</w:t></w:r><w:r><w:br w:type="page"/></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>29.06.2026</w:t></w:r></w:p></w:tc>
<w:tc><w:p><w:r><w:t>X</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>30.06.2026</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>
<w:p><w:r><w:lastRenderedPageBreak/><w:t>&#x2612; &lt;ok&gt; &quot;</w:t></w:r></w:p>
<w:sectPr/></w:body></w:document>
"""

DOCX_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>
"""


def docx_rels(target):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="{target}"/>
</Relationships>
"""


DOCX_APP = """<?xml version="1.0" encoding="UTF-8"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Pages>2</Pages></Properties>
"""


def docx_seeds():
    base = [
        ("[Content_Types].xml", DOCX_CONTENT_TYPES),
        ("_rels/.rels", docx_rels("word/document.xml")),
        ("docProps/app.xml", DOCX_APP),
    ]
    return {
        "form.docx": zip_bytes(base + [("word/document.xml", DOCX_DOCUMENT)]),
        "stored.docx": zip_bytes(
            base + [("word/document.xml", DOCX_DOCUMENT)], zipfile.ZIP_STORED
        ),
        # Main part found through _rels/.rels only.
        "renamed.docx": zip_bytes(
            [
                ("[Content_Types].xml", DOCX_CONTENT_TYPES),
                ("_rels/.rels", docx_rels("/word/document2.xml")),
                ("word/document2.xml", DOCX_DOCUMENT),
            ]
        ),
        "empty-body.docx": zip_bytes(
            base
            + [("word/document.xml", f'<w:document {W}><w:body/></w:document>')]
        ),
    }


ODT_MIMETYPE = "application/vnd.oasis.opendocument.text"

ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:form="urn:oasis:names:tc:opendocument:xmlns:form:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">
<office:body><office:text>
<office:forms><form:form form:name="Standard">
<form:checkbox form:name="Termin1" form:id="control1" xml:id="control1" form:current-state="checked" form:label="Mo., 29.06.2026"/>
<form:checkbox form:name="Termin2" form:id="control2" xml:id="control2" form:state="unchecked"/>
<form:checkbox form:name="Termin3" form:id="control3" form:state="checked"/>
</form:form></office:forms>
<text:h text:outline-level="1">Terminwahl</text:h>
<text:p><draw:control draw:control="control1"/> erster Termin</text:p>
<text:p><draw:control draw:control="control2"/> Di., 30.06.2026<text:tab/>vormittags</text:p>
<text:p>\u2612 Mi., 1.7.<text:s text:c="3"/>\u2610 Do., 2.7.<text:line-break/>[x] ja</text:p>
<text:p><text:soft-page-break/>Seite 2 &amp; Ende &#x2611;</text:p>
<table:table><table:table-row><table:table-cell><text:p>29.06.2026</text:p></table:table-cell>
<table:table-cell><text:p>X</text:p></table:table-cell></table:table-row></table:table>
<text:list><text:list-item><text:p>( ) Nein</text:p></text:list-item></text:list>
</office:text></office:body></office:document-content>
"""

ODT_META = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:meta>
<meta:document-statistic meta:page-count="2" meta:paragraph-count="6"/></office:meta></office:document-meta>
"""

ODT_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def odt_seeds():
    return {
        "form.odt": zip_bytes(
            [
                ("mimetype", ODT_MIMETYPE, zipfile.ZIP_STORED),
                ("META-INF/manifest.xml", ODT_MANIFEST),
                ("content.xml", ODT_CONTENT),
                ("meta.xml", ODT_META),
            ]
        ),
        "no-meta.odt": zip_bytes(
            [
                ("mimetype", ODT_MIMETYPE, zipfile.ZIP_STORED),
                ("content.xml", ODT_CONTENT),
            ]
        ),
    }


def zip_seeds(docx, odt):
    inner = zip_bytes([("innen/antwort.txt", "\u2612 29.06.2026\n")])
    return {
        "mixed.zip": zip_bytes(
            [
                ("unterlagen/", b""),
                ("unterlagen/antwort.txt", "Ja \u2612  Nein \u2610\n29.06. passt\n"),
                ("unterlagen/lebenslauf.docx", docx["form.docx"], zipfile.ZIP_STORED),
                ("unterlagen/termine.odt", odt["form.odt"], zipfile.ZIP_STORED),
                ("innen.zip", inner, zipfile.ZIP_STORED),
                ("../boese.txt", b"x"),
                ("C:\\evil.txt", b"y"),
            ]
        ),
        "one.zip": zip_bytes([("a.txt", b"a" * 64)]),
        "empty.zip": zip_bytes([]),
    }


# ---------------------------------------------------------------------------
# PDF


def pdf_bytes(objects, compress=False):
    """objects: list of (dict_source, stream_bytes_or_None), numbered from 1.
    Object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, (dict_src, stream) in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode()
        if stream is None:
            out += dict_src.encode("latin-1") + b"\n"
        else:
            data = stream
            extra = ""
            if compress:
                data = zlib.compress(stream)
                extra = " /Filter /FlateDecode"
            out += f"<< {dict_src} /Length {len(data)}{extra} >>\nstream\n".encode("latin-1")
            out += data + b"\nendstream\n"
        out += b"endobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


PDF_CONTENT = (
    b"BT /F1 12 Tf 72 770 Td (Terminwahl) Tj 0 -20 Td (Mo., 29.06.2026  X) Tj "
    b"0 -20 Td [(Di., 30.06.) -250 (2026)] TJ T* (\\(x\\) Mi., 1.7.) ' ET"
)

PDF_FORM_OBJECTS = [
    # 1 catalog
    ("<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R >>", None),
    # 2 pages
    ("<< /Type /Pages /Kids [3 0 R 11 0 R] /Count 2 >>", None),
    # 3 page
    (
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R "
        "/Annots [7 0 R 8 0 R 12 0 R 13 0 R] >>",
        None,
    ),
    # 4 font
    ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", None),
    # 5 content
    ("", PDF_CONTENT),
    # 6 acroform
    ("<< /Fields [7 0 R 9 0 R 14 0 R] /NeedAppearances true >>", None),
    # 7 text field (merged field + widget)
    (
        "<< /Type /Annot /Subtype /Widget /FT /Tx /T (Name) /TU (Vor- und Nachname) "
        "/V (Erika Mustermann) /Rect [72 600 300 620] /P 3 0 R >>",
        None,
    ),
    # 8 checkbox widget, kid of 9
    (
        "<< /Type /Annot /Subtype /Widget /Parent 9 0 R /AS /Ja "
        "/AP << /N << /Ja 10 0 R /Off 10 0 R >> >> /Rect [72 560 84 572] /P 3 0 R >>",
        None,
    ),
    # 9 checkbox field
    ("<< /FT /Btn /T (Termin1) /TU (Mo., 29.06.2026) /V /Ja /Kids [8 0 R] >>", None),
    # 10 appearance
    ("/BBox [0 0 12 12] /Subtype /Form /Type /XObject", b"0 0 m 12 12 l S"),
    # 11 second page, shares the content
    (
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents [5 0 R] >>",
        None,
    ),
    # 12, 13 radio widgets, kids of 14
    (
        "<< /Type /Annot /Subtype /Widget /Parent 14 0 R /AS /Off "
        "/AP << /N << /Vormittag 10 0 R /Off 10 0 R >> >> /Rect [72 500 84 512] >>",
        None,
    ),
    (
        "<< /Type /Annot /Subtype /Widget /Parent 14 0 R /AS /Nachmittag "
        "/AP << /N << /Nachmittag 10 0 R /Off 10 0 R >> >> /Rect [72 480 84 492] >>",
        None,
    ),
    # 14 radio group (Ff bit 16 = radio)
    ("<< /FT /Btn /Ff 32768 /T (Zeit) /V /Nachmittag /Kids [12 0 R 13 0 R] >>", None),
]


def pdf_seeds():
    minimal = [
        ("<< /Type /Catalog /Pages 2 0 R >>", None),
        ("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", None),
        (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] "
            "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            None,
        ),
        ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", None),
        ("", b"BT /F1 10 Tf 10 10 Td (\\2612 Ja) Tj ET"),
    ]
    return {
        "form.pdf": pdf_bytes(PDF_FORM_OBJECTS),
        "form-flate.pdf": pdf_bytes(PDF_FORM_OBJECTS, compress=True),
        "minimal.pdf": pdf_bytes(minimal),
    }


# ---------------------------------------------------------------------------
# TNEF (MS-OXTNEF)

TNEF_SIGNATURE = struct.pack("<I", 0x223E9F78)


def tnef_attr(level, attr_id, data):
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", checksum)


def pad4(b):
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def prop_var(ptype, pid, value):
    return struct.pack("<HHII", ptype, pid, 1, len(value)) + pad4(value)


def prop_long(pid, value):
    return struct.pack("<HHI", 0x0003, pid, value)


def tnef_bytes(files):
    out = TNEF_SIGNATURE + struct.pack("<H", 0x0001)
    # attTnefVersion, attOemCodepage, attMessageClass
    out += tnef_attr(0x01, 0x00089006, struct.pack("<I", 0x00010000))
    out += tnef_attr(0x01, 0x00069007, struct.pack("<II", 1252, 0))
    out += tnef_attr(0x01, 0x00078008, b"IPM.Microsoft Mail.Note\0")
    # attMsgProps: one string property and one named property
    msg_props = struct.pack("<I", 2)
    msg_props += prop_var(0x001E, 0x0037, b"Bewerbung\0")
    msg_props += struct.pack("<HH", 0x0003, 0x8001) + b"G" * 16 + struct.pack("<II", 0, 7)
    msg_props += struct.pack("<I", 42)
    out += tnef_attr(0x01, 0x00069003, msg_props)
    for name, mime, data in files:
        out += tnef_attr(0x02, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        out += tnef_attr(0x02, 0x00018010, name.encode("cp1252", "replace")[:12] + b"\0")
        out += tnef_attr(0x02, 0x0006800F, data)
        props = struct.pack("<I", 3)
        props += prop_var(0x001F, 0x3707, (name + "\0").encode("utf-16-le"))
        props += prop_var(0x001E, 0x370E, mime.encode() + b"\0")
        props += prop_long(0x3705, 1)
        out += tnef_attr(0x02, 0x00069005, props)
    return out


def tnef_seeds(pdf, docx):
    return {
        "winmail.dat": tnef_bytes(
            [
                ("Antwort Termine.pdf", "application/pdf", pdf["minimal.pdf"]),
                ("Lebenslauf.docx",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 docx["form.docx"]),
                ("notiz.txt", "text/plain", "\u2612 29.06.\n".encode()),
            ]
        ),
        "empty.dat": tnef_bytes([]),
    }


# ---------------------------------------------------------------------------
# Text (glyphs + dates); the first three bytes choose an interview day.

TEXTS = [
    "Wir k\u00f6nnen am 29.06. und am 1.7. vormittags",
    "Montag, 29. Juni passt leider nicht, Dienstag geht",
    "29.06.2026 | X\n30.06.2026 |\n01.07.2026 | ja",
    "\u2612 Mo., 29.06.2026, 9\u201313 Uhr\n\u2610 Di., 30.06.2026\n[x] Mi., 1.7.\n( ) Do.",
    "Ja \u2612  Nein \u2610\nam 29./30.06. nicht nur vormittags, kein Problem",
    "Termin 2026-06-29 (Mo) um 11.05 Uhr, Az. 0211/29.06.26, 29.06.2026.1, 31.06.",
    "x 29. Juni 2026\nMo., den 29.06. \u2713\n30.06 \u2714\nam Dienstag leider nicht",
]


def text_seeds():
    prefix = bytes([126, 5, 28])  # 2026, June, 29th
    return {f"text{i}.txt": prefix + t.encode() for i, t in enumerate(TEXTS)}


# ---------------------------------------------------------------------------
# Mail


def b64(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def part(ctype, name, data):
    return (
        f"Content-Type: {ctype}; name=\"{name}\"\r\n"
        f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(data) + "\r\n"
    )


def mail(body, parts, boundary="XyZ"):
    head = (
        "From: Erika Mustermann <erika@example.org>\r\n"
        "To: bewerbung@example.com\r\n"
        "Subject: =?utf-8?q?Antwort_Termine_=E2=98=92?=\r\n"
        "Date: Mon, 01 Jun 2026 10:00:00 +0200\r\n"
        "Message-ID: <seed@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if not parts:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
    s = head + f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
    s += f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
    s += "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n"
    for p in parts:
        s += f"--{boundary}\r\n" + p
    s += f"--{boundary}--\r\n"
    return s.encode()


def mail_seeds(pdf, docx, odt, zips, tnef):
    body = "Hallo,\r\nam 29.06. kann ich, am 30.06. leider nicht.\r\n\u2612 1.7.\r\n"
    inner = mail("weitergeleitet: 29.06. passt", [part("application/pdf", "a.pdf", pdf["minimal.pdf"])], "inner")
    forwarded = (
        "Content-Type: message/rfc822\r\n"
        "Content-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n"
        + inner.decode() + "\r\n"
    )
    return {
        "plain.eml": mail(body, []),
        "all.eml": mail(
            body,
            [
                part("application/pdf", "Termine.pdf", pdf["form.pdf"]),
                part("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                     "Lebenslauf.docx", docx["form.docx"]),
                part("application/vnd.oasis.opendocument.text", "termine.odt", odt["form.odt"]),
                part("application/zip", "unterlagen.zip", zips["mixed.zip"]),
                part("application/ms-tnef", "winmail.dat", tnef["winmail.dat"]),
                part("text/plain", "notiz.txt", "Ja \u2612 Nein \u2610".encode()),
                part("image/jpeg", "scan.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 32),
            ],
        ),
        "forwarded.eml": mail(body, [forwarded]),
    }


# ---------------------------------------------------------------------------


def bounce_seeds():
    dsn = (
        "From: MAILER-DAEMON@mx.stadt.test\r\nTo: projekt@ews.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; a@stadt.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <x.postbote@ews.test>\r\n\r\n--B--\r\n"
    )
    qmail = (
        "From: MAILER-DAEMON@stadt.test\r\nSubject: failure notice\r\n\r\n"
        "Hi. This is the qmail-send program at stadt.test.\r\n<a@stadt.test>:\r\nSorry, no mailbox here.\r\n"
        "--- Below this line is a copy of the message.\r\n\r\nMessage-ID: <y.postbote@ews.test>\r\n"
    )
    return {"dsn.eml": dsn, "qmail.eml": qmail}


def staff_seeds():
    command = (
        "From: Leitung <leitung@ews.test>\r\nSubject: Befehl\r\n"
        "Authentication-Results: mx.ews.test; dkim=pass (ok) header.d=ews.test; spf=pass smtp.mailfrom=ews.test\r\n\r\n"
        "ZUSAGE EWS7-0003 2 PERSONEN\r\nVERSCHIEBEN EWS7-0001 30.06.2026 10:00\r\nBESTÄTIGEN MODUL 3\r\n"
        "Kennwort: geheim\r\n-- \r\nGruß\r\n"
    )
    csv = "Kommune;Name;E-Mail;Rolle\r\n\"Stadt A\";\"Muster, Erika\";erika@a.test;Teilnehmende\r\n"
    return {"command.eml": command, "roster.csv": csv, "cp1252.csv": b"kommune,name,email\nD\xfcren,J\xfcrgen,j@d.test\n"}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    docx = docx_seeds()
    odt = odt_seeds()
    zips = zip_seeds(docx, odt)
    pdf = pdf_seeds()
    tnef = tnef_seeds(pdf, docx)
    text = text_seeds()
    mails = mail_seeds(pdf, docx, odt, zips, tnef)
    containers = {**docx, **odt, **zips}
    corpora = {
        "pdf": pdf,
        "docx": {**containers},
        "odt": {**containers},
        "zip": {**containers},
        "tnef": tnef,
        "text": text,
        "mail": {**mails, **tnef},
        "bounce": {**mails, **bounce_seeds()},
        "staff": staff_seeds(),
        "ics": {"plain": "Modul 1\x01Kennenlernen, Grundlagen; Rollen\nZeile 2\x01DJH\x01Erika Muster\x0130"},
    }
    for target, files in corpora.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            if isinstance(data, str):
                data = data.encode()
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    total = sum(len(f) for f in corpora.values())
    print(f"wrote {total} seeds for {len(corpora)} targets to {out}")


if __name__ == "__main__":
    main()
