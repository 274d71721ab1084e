"""Parses ADMS push bodies with iclockhelper (an independent implementation) and prints JSON.

stdin: {"attlog": "<ATTLOG body>", "operlog": "<OPERLOG body>"}
stdout: {"attlog": [{pin, time, check_type, verify_code, work_code}],
         "users": [{pin, name, privileges, card, group}], "fingerprints": [{pin, fid, tmp}]}
"""
import json
import sys

from iclockhelper import AttendanceLog, OperationLog

req = json.load(sys.stdin)
att = AttendanceLog.from_str(req["attlog"])
op = OperationLog.from_str(req["operlog"])
out = {
    "attlog": [
        {
            "pin": t.pin,
            "time": t.server_datetime.strftime("%Y-%m-%d %H:%M:%S") if t.server_datetime else None,
            "check_type": t.check_type,
            "verify_code": t.verify_code,
            "work_code": t.work_code,
        }
        for t in att.transactions
        if t.pin
    ],
    "users": [
        {"pin": u.pin, "name": u.name, "privileges": u.privileges, "card": u.card, "group": u.group}
        for u in op.users
    ],
    "fingerprints": [{"pin": f.pin, "fid": f.fid, "tmp": f.tmp} for f in op.fingerprints],
}
json.dump(out, sys.stdout)
