#!/usr/bin/env python3
"""A minimal IdentityRisk client in Python, written from PROTOCOL.md and Proto/ alone.

It proves the protocol needs nothing Swift-specific: the message classes come from
Google's protobuf runtime, generated at start-up from Proto/identity_risk_event.proto
with grpcio-tools' bundled protoc (pip install protobuf grpcio-tools).

    python3 clients/python/irisk_client.py [--socket PATH] [--hex]

(--socket defaults to IRISK_SOCKET, else iriskd's default: /run/identityrisk/iriskd.sock
as root, else $XDG_RUNTIME_DIR/identityrisk/iriskd.sock.)

creates the seed's example event, reads it back with Get and List, checks every field,
sends the seed body as written (an unknown enum number for riskLevel) and checks the
refusal, updates its status with the etag it read, sees a stale etag refused, deletes it
and sees it gone, and exits 0 only if all of that held. --hex prints the bytes of the
create, update and delete exchanges, as in PROTOCOL.md's examples.
"""
import argparse
import importlib
import os
import socket
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "Proto"))


def load_messages():
    from grpc_tools import protoc  # bundled protoc

    out = tempfile.mkdtemp(prefix="irisk-py-")
    status = protoc.main(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", os.path.join(PROTO_DIR, "identity_risk_event.proto")])
    if status != 0:
        raise SystemExit("protoc failed")
    sys.path.insert(0, out)
    return importlib.import_module("identity_risk_event_pb2")


class Connection:
    MAGIC = b"IRSK"
    VERSION = 1

    def __init__(self, path, pb, trace=False):
        self.pb = pb
        self.trace = trace
        self.traced_calls = {1, 6, 8}  # create, update, delete
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        preface = self.MAGIC + struct.pack(">HH", self.VERSION, 0)
        self._send(preface, "client preface")
        reply = self._recv_exact(8)
        if reply[:4] != self.MAGIC:
            raise SystemExit(f"not an IdentityRisk server: {reply!r}")
        version = struct.unpack(">H", reply[4:6])[0]
        if self.trace:
            print(f"server preface ({len(reply)} bytes): {reply.hex(' ')}")
        if version != self.VERSION:
            raise SystemExit(f"server speaks protocol version {version}, this client {self.VERSION}")

    def _send(self, data, what):
        if self.trace:
            print(f"{what} ({len(data)} bytes): {data.hex(' ')}")
        self.sock.sendall(data)

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise SystemExit("server closed the connection")
            data += chunk
        return data

    def call(self, request):
        payload = request.SerializeToString()
        traced = self.trace and request.call_id in self.traced_calls
        frame = struct.pack(">I", len(payload)) + payload
        if traced:
            print(f"request frame, call {request.call_id} ({len(frame)} bytes): {frame.hex(' ')}")
        self.sock.sendall(frame)
        header = self._recv_exact(4)
        (length,) = struct.unpack(">I", header)
        body = self._recv_exact(length)
        if traced:
            print(f"response frame ({4 + length} bytes): {(header + body).hex(' ')}")
        response = self.pb.Response()
        response.ParseFromString(body)
        if response.call_id != request.call_id:
            raise SystemExit(f"answer for call {response.call_id}, expected {request.call_id}")
        return response


def seed_event(pb, event_id):
    def dto(unix_seconds, ticks, offset_minutes):
        return pb.DateTimeOffset(unix_seconds=unix_seconds, ticks=ticks, offset_minutes=offset_minutes, fraction_digits=7)

    return pb.IdentityRiskEvent(
        id=event_id,
        user_display_name="User Display Name value",
        user_principal_name="User Principal Name value",
        risk_event_date_time=dto(1483218060, 7804275, 180),  # 2017-01-01T00:01:00.7804275+03:00
        risk_event_type="Risk Event Type value",
        risk_level=pb.RISK_LEVEL_HIGH,
        risk_event_status=pb.RISK_EVENT_STATUS_ACTIVE,
        closed_date_time=dto(1483218090, 8768135, 180),  # 2017-01-01T00:01:30.8768135+03:00
        user_id="User Id value",
    )


def default_socket():
    """iriskd's default socket (README "Configuration file and environment")."""
    if os.environ.get("IRISK_SOCKET"):
        return os.environ["IRISK_SOCKET"]
    if os.getuid() == 0:
        return "/run/identityrisk/iriskd.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not runtime.startswith("/"):
        return None  # argparse: --socket is then required in practice
    return runtime.rstrip("/") + "/identityrisk/iriskd.sock"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", default=default_socket())
    parser.add_argument("--id", default="9953902a-902a-4953-aa90-53992a905399")
    parser.add_argument("--hex", action="store_true")
    args = parser.parse_args()
    pb = load_messages()
    conn = Connection(args.socket, pb, trace=args.hex)
    failures = []

    def check(condition, what):
        if not condition:
            failures.append(what)

    sent = seed_event(pb, args.id)
    r = conn.call(pb.Request(call_id=1, timeout_ms=5000, create=pb.CreateRequest(event=sent)))
    check(r.status.code == pb.STATUS_CODE_OK, f"create: {r.status}")
    stored = r.create.event
    for field in ("id", "user_display_name", "user_principal_name", "risk_event_date_time", "risk_event_type",
                  "risk_level", "risk_event_status", "closed_date_time", "user_id"):
        check(getattr(stored, field) == getattr(sent, field), f"create echoed {field}")
    check(stored.HasField("created_date_time"), "created_date_time is set")

    r = conn.call(pb.Request(call_id=2, get=pb.GetRequest(id=args.id)))
    check(r.status.code == pb.STATUS_CODE_OK and r.get.event == stored, "get returns the stored record")

    r = conn.call(pb.Request(call_id=3, list=pb.ListRequest(filter=f"id eq '{args.id}'", top=10)))
    check(r.status.code == pb.STATUS_CODE_OK and list(r.list.events) == [stored], "list finds it")

    bad = seed_event(pb, "")
    bad.risk_level = 99  # the seed's "String": not a member
    r = conn.call(pb.Request(call_id=4, create=pb.CreateRequest(event=bad)))
    check(r.status.code == pb.STATUS_CODE_INVALID_ARGUMENT and r.status.target == "riskLevel", f"unknown enum refused: {r.status}")

    r = conn.call(pb.Request(call_id=5, get=pb.GetRequest(id="does-not-exist")))
    check(r.status.code == pb.STATUS_CODE_NOT_FOUND, "get of a missing id is NOT_FOUND")

    # Update (PROTOCOL.md §5): name the properties in update_mask, values in event, the etag in if_match.
    check(stored.version == 1, f"a new record has version 1, got {stored.version}")
    closed = pb.DateTimeOffset(unix_seconds=1483344000, utc_designator=True)  # 2017-01-02T08:00:00Z
    change = pb.IdentityRiskEvent(risk_event_status=pb.RISK_EVENT_STATUS_DISMISSED_AS_FALSE_POSITIVE, closed_date_time=closed)
    r = conn.call(pb.Request(call_id=6, timeout_ms=5000, update=pb.UpdateRequest(
        id=args.id, update_mask=["riskEventStatus", "closedDateTime"], event=change, if_match=stored.version)))
    check(r.status.code == pb.STATUS_CODE_OK, f"update: {r.status}")
    updated = r.update.event
    check(updated.version == 2, "the update moved the version to 2")
    check(updated.risk_event_status == pb.RISK_EVENT_STATUS_DISMISSED_AS_FALSE_POSITIVE, "the status changed")
    check(updated.closed_date_time == closed, "closedDateTime changed exactly")
    for field in ("id", "user_display_name", "user_principal_name", "risk_event_date_time", "risk_event_type",
                  "risk_level", "created_date_time", "user_id"):
        check(getattr(updated, field) == getattr(stored, field), f"update kept {field}")

    r = conn.call(pb.Request(call_id=7, update=pb.UpdateRequest(
        id=args.id, update_mask=["riskLevel"], event=pb.IdentityRiskEvent(risk_level=pb.RISK_LEVEL_LOW), if_match=1)))
    check(r.status.code == pb.STATUS_CODE_FAILED_PRECONDITION, f"a stale if_match is FAILED_PRECONDITION: {r.status}")

    r = conn.call(pb.Request(call_id=8, timeout_ms=5000, delete=pb.DeleteRequest(id=args.id, if_match=2)))
    check(r.status.code == pb.STATUS_CODE_OK and r.delete.deleted_version == 2, f"delete: {r.status}")
    r = conn.call(pb.Request(call_id=9, get=pb.GetRequest(id=args.id)))
    check(r.status.code == pb.STATUS_CODE_NOT_FOUND, "a deleted record is NOT_FOUND")
    r = conn.call(pb.Request(call_id=10, delete=pb.DeleteRequest(id=args.id)))
    check(r.status.code == pb.STATUS_CODE_NOT_FOUND, "a second delete is NOT_FOUND")

    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(f"ok: created, read back, listed, updated and deleted {args.id}; invalid enum, missing id and stale etag refused as specified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
