#!/usr/bin/env python3
# Writes a small, hand-built EVTX file (fuzz/seeds/ingest_file/sysmon.evtx), used as a seed of
# the ingest_file fuzz target and by an ingest test, because no EVTX sample with a licence we
# can use is at hand. Standard library only; the output is the same bytes on every run.
#
#   python3 fuzz/seed-evtx.py OUT_PATH
#
# The file is one 4096-byte file header and one 65536-byte chunk holding three records:
# Sysmon 1 (process create), Sysmon 3 (network connection) and Security 4624 (logon), all
# from ws01.corp.example. Each record is laid out the way Windows writes one: a fragment
# header, then a template instance whose definition follows inline (an <Event> with its
# System and EventData, names inline, element starts with a dependency ID), then the typed
# substitution values (strings, UInt8/16/32/64, HexInt64, FILETIME, GUID, SID). Not a plain
# element stream: outside a template definition the evtx crate reads element starts without
# a DependencyId and python-evtx (the cross-check) always reads one, so only the template
# form reads the same in both; typed values also render in JSON as Windows' own do. The chunk's
# string and template tables are left zeroed: readers find names and templates inline.
# All sizes and CRC32s are filled in, so the evtx crate reads it with validate_checksums(true).
import struct
import sys
import uuid
import zlib

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
RECORD_HEADER_SIZE = 24

# BinXML tokens (MS-EVEN6 2.2.3.1) and value types (2.2.4.1).
EOF, OPEN_START, CLOSE_START, CLOSE_EMPTY, END_ELEMENT = 0x00, 0x01, 0x02, 0x03, 0x04
VALUE, ATTRIBUTE, TEMPLATE_INSTANCE, SUBSTITUTION, FRAGMENT_HEADER = 0x05, 0x06, 0x0C, 0x0D, 0x0F
MORE_BITS = 0x40  # element start: has attributes; attribute: another one follows
STRING, UINT8, UINT16, UINT32, UINT64 = 0x01, 0x04, 0x06, 0x08, 0x0A
GUID, FILETIME, SID, HEXINT64 = 0x0F, 0x11, 0x13, 0x15

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
COMPUTER = "ws01.corp.example"
# 2024-03-01T10:00:00Z as a FILETIME: 100 ns ticks since 1601-01-01.
BASE_FILETIME = (1709287200 + 11644473600) * 10_000_000


def utf16(s):
    return s.encode("utf-16-le")


def name_hash(s):
    # The low 16 bits of the name's hash: h = h * 65599 + code unit, over its UTF-16 units.
    h = 0
    for (unit,) in struct.iter_unpack("<H", utf16(s)):
        h = (h * 65599 + unit) & 0xFFFFFFFF
    return h & 0xFFFF


# Values: (type, bytes). Strings carry no NUL, as Windows writes them.
def string(s):
    return (STRING, utf16(s))


def packed(kind, fmt):
    """A writer of one fixed-size value type: (type, little-endian bytes)."""
    return lambda v: (kind, struct.pack(fmt, v))


u8 = packed(UINT8, "<B")
u16 = packed(UINT16, "<H")
u32 = packed(UINT32, "<I")
u64 = packed(UINT64, "<Q")
hex64 = packed(HEXINT64, "<Q")
filetime = packed(FILETIME, "<Q")


def guid(s):
    return (GUID, uuid.UUID(s).bytes_le)


def sid(s):
    parts = s.split("-")
    assert parts[0] == "S"
    subs = [int(p) for p in parts[3:]]
    body = struct.pack("<BB", int(parts[1]), len(subs)) + int(parts[2]).to_bytes(6, "big")
    return (SID, body + b"".join(struct.pack("<I", v) for v in subs))


# A template element: (name, [(attribute name, text or Sub)], [children]), where a child is
# another element or a Sub; text is a literal string in the template.
class Sub:
    def __init__(self, value):
        self.value = value  # (type, bytes)


class Writer:
    """Bytes written at a known chunk offset, so that inline names point at themselves."""

    def __init__(self, base):
        self.base = base
        self.buf = bytearray()

    def pos(self):
        return self.base + len(self.buf)

    def raw(self, b):
        self.buf += b

    def pack(self, fmt, *v):
        self.buf += struct.pack(fmt, *v)

    def patch_u32(self, at, v):
        i = at - self.base
        self.buf[i:i + 4] = struct.pack("<I", v)

    def name(self, s):
        # The name's offset, then the name itself at that offset: next string (none), hash,
        # length in characters, UTF-16LE, NUL.
        self.pack("<I", self.pos() + 4)
        self.pack("<IHH", 0, name_hash(s), len(utf16(s)) // 2)
        self.raw(utf16(s) + b"\0\0")

    def text(self, s):
        # A value text node: string type, u16 character count, UTF-16LE.
        self.pack("<BBH", VALUE, STRING, len(utf16(s)) // 2)
        self.raw(utf16(s))


def write_element(w, element, subs):
    """Write a template-definition element (with a dependency ID), collecting Sub values."""
    name, attrs, children = element
    w.pack("<B", OPEN_START | (MORE_BITS if attrs else 0))
    w.pack("<H", 0xFFFF)  # DependencyId: none
    size_at = w.pos()
    w.pack("<I", 0)  # data size, patched below
    w.name(name)
    if attrs:
        attrs_at = w.pos()
        w.pack("<I", 0)  # attribute list size, patched below
        for i, (attr, value) in enumerate(attrs):
            w.pack("<B", ATTRIBUTE | (MORE_BITS if i + 1 < len(attrs) else 0))
            w.name(attr)
            put_content(w, value, subs)
        w.patch_u32(attrs_at, w.pos() - attrs_at - 4)
    if children:
        w.pack("<B", CLOSE_START)
        for child in children:
            if isinstance(child, tuple):
                write_element(w, child, subs)
            else:
                put_content(w, child, subs)
        w.pack("<B", END_ELEMENT)
    else:
        w.pack("<B", CLOSE_EMPTY)
    w.patch_u32(size_at, w.pos() - size_at - 4)


def put_content(w, value, subs):
    if isinstance(value, Sub):
        value_type = value.value[0]
        w.pack("<BHB", SUBSTITUTION, len(subs), value_type)
        subs.append(value.value)
    else:
        w.text(value)


def event_tree(system, event_data):
    p = system
    sys_children = [
        ("Provider", [("Name", Sub(string(p["provider"]))), ("Guid", Sub(guid(p["provider_guid"])))], []),
        ("EventID", [], [Sub(u16(p["event_id"]))]),
        ("Version", [], [Sub(u8(p["version"]))]),
        ("Level", [], [Sub(u8(p["level"]))]),
        ("Task", [], [Sub(u16(p["task"]))]),
        ("Opcode", [], [Sub(u8(0))]),
        ("Keywords", [], [Sub(hex64(p["keywords"]))]),
        ("TimeCreated", [("SystemTime", Sub(filetime(p["time"])))], []),
        ("EventRecordID", [], [Sub(u64(p["record_id"]))]),
        ("Correlation", [], []),
        ("Execution", [("ProcessID", Sub(u32(p["pid"]))), ("ThreadID", Sub(u32(p["tid"])))], []),
        ("Channel", [], [Sub(string(p["channel"]))]),
        ("Computer", [], [Sub(string(COMPUTER))]),
        ("Security", [("UserID", Sub(sid(p["user_sid"])))] if p.get("user_sid") else [], []),
    ]
    data = [("Data", [("Name", name)], [Sub(value)]) for name, value in event_data]
    return ("Event", [("xmlns", EVENT_NS)], [("System", [], sys_children), ("EventData", [], data)])


def record_binxml(base, template_guid, tree):
    """A record's BinXML at chunk offset `base`: fragment header, template instance with its
    definition inline, then the substitution values."""
    w = Writer(base)
    w.raw(bytes([FRAGMENT_HEADER, 1, 1, 0]))
    guid_bytes = uuid.UUID(template_guid).bytes_le
    template_id = struct.unpack("<I", guid_bytes[:4])[0]
    w.pack("<BBI", TEMPLATE_INSTANCE, 0x01, template_id)
    definition_at = w.pos() + 4
    w.pack("<I", definition_at)
    # Template definition header: next template (none), GUID, body size; then the body.
    w.pack("<I", 0)
    w.raw(guid_bytes)
    size_at = w.pos()
    w.pack("<I", 0)
    body_start = w.pos()
    w.raw(bytes([FRAGMENT_HEADER, 1, 1, 0]))
    subs = []
    write_element(w, tree, subs)
    w.pack("<B", EOF)
    w.patch_u32(size_at, w.pos() - body_start)
    # Substitution array: count, descriptors (size, type, padding), values.
    w.pack("<I", len(subs))
    for value_type, data in subs:
        w.pack("<HBB", len(data), value_type, 0)
    for _, data in subs:
        w.raw(data)
    return bytes(w.buf)


PROCESS_GUID = "{11111111-2222-3333-4444-555555555555}"
PARENT_GUID = "{11111111-2222-3333-4444-666666666666}"
POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
SYSMON = {
    "provider": "Microsoft-Windows-Sysmon",
    "provider_guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
    "channel": "Microsoft-Windows-Sysmon/Operational",
    "version": 5,
    "level": 4,
    "keywords": 0x8000000000000000,
    "pid": 2100,
    "tid": 3012,
    "user_sid": "S-1-5-18",
}
SECURITY = {
    "provider": "Microsoft-Windows-Security-Auditing",
    "provider_guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}",
    "channel": "Security",
    "version": 2,
    "level": 0,
    "keywords": 0x8020000000000000,
    "pid": 700,
    "tid": 812,
}


def events():
    """(record ID, FILETIME, template GUID, tree) of each record."""
    out = []

    def add(base, template_guid, event_id, task, data):
        record_id = len(out) + 1
        time = BASE_FILETIME + (record_id - 1) * 5 * 10_000_000  # 5 s apart
        system = dict(base, event_id=event_id, task=task, time=time, record_id=record_id)
        out.append((record_id, time, template_guid, event_tree(system, data)))

    add(SYSMON, "{5eed0001-0000-4000-8000-000000000001}", 1, 1, [
        ("UtcTime", string("2024-03-01 10:00:00.000")),
        ("ProcessGuid", guid(PROCESS_GUID)),
        ("ProcessId", u32(4242)),
        ("Image", string(POWERSHELL)),
        ("CommandLine", string("powershell.exe -nop -w hidden -enc SQBFAFgA")),
        ("User", string("CORP\\alice")),
        ("ParentProcessGuid", guid(PARENT_GUID)),
        ("ParentImage", string(r"C:\Windows\explorer.exe")),
        ("ParentCommandLine", string(r"C:\Windows\Explorer.EXE")),
    ])
    add(SYSMON, "{5eed0003-0000-4000-8000-000000000003}", 3, 3, [
        ("UtcTime", string("2024-03-01 10:00:05.000")),
        ("ProcessGuid", guid(PROCESS_GUID)),
        ("ProcessId", u32(4242)),
        ("Image", string(POWERSHELL)),
        ("User", string("CORP\\alice")),
        ("Protocol", string("tcp")),
        ("SourceIp", string("10.0.0.5")),
        ("SourcePort", u16(49712)),
        ("DestinationIp", string("203.0.113.7")),
        ("DestinationHostname", string("c2.example.net")),
        ("DestinationPort", u16(443)),
    ])
    add(SECURITY, "{5eed4624-0000-4000-8000-000000004624}", 4624, 12544, [
        ("TargetUserName", string("alice")),
        ("TargetDomainName", string("CORP")),
        ("LogonType", u32(3)),
        ("IpAddress", string("10.0.0.9")),
    ])
    return out


def build():
    chunk = bytearray(CHUNK_SIZE)
    offset = CHUNK_HEADER_SIZE
    last_record = offset
    records = events()
    for record_id, time, template_guid, tree in records:
        binxml = record_binxml(offset + RECORD_HEADER_SIZE, template_guid, tree)
        size = RECORD_HEADER_SIZE + len(binxml) + 4
        size += -size % 8  # records are 8-byte aligned; the zero padding reads as EOF
        record = struct.pack("<4sIQQ", b"\x2a\x2a\x00\x00", size, record_id, time) + binxml
        record += bytes(size - 4 - len(record)) + struct.pack("<I", size)
        assert offset + len(record) <= CHUNK_SIZE
        chunk[offset:offset + size] = record
        last_record = offset
        offset += size
    free_space = offset

    first_id, last_id = records[0][0], records[-1][0]
    struct.pack_into("<8sQQQQIII", chunk, 0, b"ElfChnk\0",
                     first_id, last_id,  # first and last record numbers
                     first_id, last_id,  # first and last record IDs
                     128,  # header size
                     last_record,  # offset of the last record
                     free_space)  # free space offset
    struct.pack_into("<I", chunk, 52, zlib.crc32(chunk[CHUNK_HEADER_SIZE:free_space]))
    struct.pack_into("<I", chunk, 120, 0)  # flags
    # String table (128..384) and template table (384..512) stay zeroed.
    struct.pack_into("<I", chunk, 124, zlib.crc32(chunk[:120] + chunk[128:CHUNK_HEADER_SIZE]))

    header = bytearray(FILE_HEADER_SIZE)
    struct.pack_into("<8sQQQIHHHH", header, 0, b"ElfFile\0",
                     0,  # first (oldest) chunk number
                     0,  # last (current) chunk number
                     last_id + 1,  # next record ID
                     128,  # header size
                     1, 3,  # minor, major version: 3.1
                     FILE_HEADER_SIZE,  # header block size
                     1)  # chunk count
    struct.pack_into("<I", header, 120, 0)  # flags: clean
    struct.pack_into("<I", header, 124, zlib.crc32(header[:120]))
    return bytes(header) + bytes(chunk)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: seed-evtx.py OUT_PATH")
    with open(sys.argv[1], "wb") as f:
        f.write(build())


if __name__ == "__main__":
    main()
