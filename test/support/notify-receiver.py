#!/usr/bin/python3
"""Stands in for systemd's notification socket in tests: binds an AF_UNIX datagram socket, prints every sd_notify
message on one line (fields joined by '|') with a monotonic timestamp, and closes file descriptors passed with
BARRIER=1 so `systemd-notify` sees the barrier complete (sd_notify_barrier(3))."""
import array, os, socket, sys, time

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("listening", flush=True)
fd_size = array.array("i").itemsize
while True:
    msg, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(16 * fd_size))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - (len(data) % fd_size)])
            for fd in fds:
                os.close(fd)
    print("%.3f %s" % (time.monotonic(), msg.decode().replace("\n", "|")), flush=True)
