#!/usr/bin/env python3
"""Read a ZK reader (or the Hadir simulator) with pyzk and print what it holds as JSON.

Used by drivers/tests/pyzk_cross.rs and the zk-bench binary to cross-check the
simulator against an independent client. Needs `pip install pyzk==0.9`.

    python pyzk_check.py --port 4370 [--host 127.0.0.1] [--key 12] [--udp] [--summary]
        [--save-template UID:FID:HEX]

`--save-template` writes one fingerprint template for the user in slot UID with pyzk's
save_user_template (after everything was read).
"""
import argparse
import json
import sys
import time

from zk import ZK
from zk.finger import Finger


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", type=int, default=0, help="numeric comm key")
    ap.add_argument("--udp", action="store_true", help="force UDP")
    ap.add_argument("--timeout", type=int, default=5)
    ap.add_argument("--summary", action="store_true",
                    help="print counts and timings only (for benchmarks)")
    ap.add_argument("--save-template", metavar="UID:FID:HEX",
                    help="save this template for the user in slot UID")
    args = ap.parse_args()

    zk = ZK(args.host, port=args.port, timeout=args.timeout, password=args.key,
            force_udp=args.udp, ommit_ping=True)
    conn = zk.connect()
    try:
        conn.disable_device()
        serial = conn.get_serialnumber()
        firmware = conn.get_firmware_version()
        t0 = time.perf_counter()
        users = conn.get_users()
        t1 = time.perf_counter()
        attendance = conn.get_attendance()
        t2 = time.perf_counter()
        templates = conn.get_templates()
        t3 = time.perf_counter()
        if args.save_template:
            uid, fid, data = args.save_template.split(":")
            user = next(u for u in users if u.uid == int(uid))
            finger = Finger(int(uid), int(fid), 1, bytes.fromhex(data))
            conn.save_user_template(user, [finger])
        conn.enable_device()
    finally:
        conn.disconnect()

    out = {
        "serial": serial,
        "firmware": firmware,
        "transport": "udp" if args.udp else "tcp",
        "user_count": len(users),
        "record_count": len(attendance),
        "template_count": len(templates),
        "users_seconds": t1 - t0,
        "attendance_seconds": t2 - t1,
        "templates_seconds": t3 - t2,
    }
    if not args.summary:
        out["users"] = [
            {
                "uid": u.uid,
                "name": u.name,
                "privilege": u.privilege,
                "password": u.password,
                "group_id": u.group_id,
                "user_id": u.user_id,
                "card": u.card,
            }
            for u in users
        ]
        out["attendance"] = [
            {
                "uid": int(a.uid),
                "user_id": str(a.user_id),
                "timestamp": a.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                "status": a.status,
                "punch": a.punch,
            }
            for a in attendance
        ]
        out["templates"] = [
            {
                "uid": t.uid,
                "fid": t.fid,
                "valid": t.valid,
                "template": t.template.hex(),
            }
            for t in templates
        ]
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
