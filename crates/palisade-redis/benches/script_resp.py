"""Writes N `EVALSHA` admissions as RESP on stdout, for `redis-cli --pipe`,
to read a script's server time from `INFO commandstats` (docs/redis.md,
"Binary state and packed arguments"). redis-benchmark cannot send the
packed (binary) argument, hence this.

    python3 script_resp.py SHA N EVERY FORM > cmds.resp

EVERY 1: every dimension limited; FORM `packed` (this version's admit.lua:
one argument of little-endian doubles and the lease id) or `text` (the
decimal arguments of the admit.lua before 2026-12-04).
"""
import struct
import sys


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


sha, n, every, form = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
extra = [1e-6, 1e12, 300, 1e-6, 1e12, 200, 1e-6, 1e12] if every else []
if form == "packed":
    nums = [1e-6, 1e12, 1e-6, 1e12, 500, 1e6, 30000] + extra
    args = [struct.pack("<%dd" % len(nums), *nums), "lease"]
else:
    args = ["1e-6", "1e12", "1e-6", "1e12", "500", "1000000", "lease", "30000"]
    args += ["%g" % x for x in extra]
key = form + ("x" if every else "")
command = resp("EVALSHA", sha, "2", "b:{%s}:rate" % key, "b:{%s}:leases" % key, *args)
sys.stdout.buffer.write(command * n)
