#!/usr/bin/env python3
"""yd-pipe against socat, and against the direct socket, in the same run.

    python3 bench/bench.py --only pipes     (or: python3 bench/bridges.py --bin target/release)

Streams: a source writes N bytes in 1 MiB (then 64 KiB) sends, shuts its write side, and
waits for the sink to close (which the sink does after reading everything);
the time is the source's, from connect to that close. Every path is tried
three times, the best kept. CPU is each process's own (user + system): the
bridge's from wait4 when it exits, the source's and the sink's from their
own getrusage at the end.

The machine has few cores and a bridge adds a third busy process to the
writer and the reader, so the report also says how many cores the three
kept busy, and from the endpoints' own CPU per GB, what a bridge may spend
per GB to reach the target at all (see bench/README.md, "Pipelines").
"""

import argparse
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

GIB = 1 << 30
# The endpoints' read and write size: bulk (the direct socket at its
# fastest), and a typical program's buffer.
BLOCKS = [1 << 20, 64 << 10]
SELF = os.path.abspath(__file__)


# -- the roles the benchmark starts as separate processes ---------------------

def socket_for(addr):
    """A socket for `unix:PATH` or `tcp:HOST:PORT`, and its address."""
    if addr.startswith("unix:"):
        return socket.socket(socket.AF_UNIX), addr[5:]
    host, port = addr[4:].rsplit(":", 1)
    return socket.socket(socket.AF_INET), (host, int(port))


def connect(addr):
    s, where = socket_for(addr)
    s.connect(where)
    return s


def listen(addr):
    s, where = socket_for(addr)
    if s.family == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(where)
    s.listen(1024)
    return s


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def role_sink(addr, block):
    """Read one connection to its end, `block` bytes at a time, then close it."""
    ls = listen(addr)
    print("ready", flush=True)
    c, _ = ls.accept()
    cpu = cpu_seconds()
    buf = memoryview(bytearray(block))
    n = 0
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        n += k
    c.close()
    print(n, cpu_seconds() - cpu, flush=True)


def role_source(addr, total, block):
    data = os.urandom(block)
    cpu = cpu_seconds()
    t = time.perf_counter()
    s = connect(addr)
    sent = 0
    while sent < total:
        s.sendall(data)
        sent += block
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print(time.perf_counter() - t, cpu_seconds() - cpu, flush=True)


def role_echo(addr):
    """Answer each connection's 1 KiB with 1 KiB, then close: one thread,
    non-blocking, so the target is never what limits the rate."""
    ls = listen(addr)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    got = {}
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is ls:
                while True:
                    try:
                        c, _ = ls.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    got[c] = 0
                    sel.register(c, selectors.EVENT_READ)
                continue
            c = key.fileobj
            try:
                data = c.recv(4096)
            except (BlockingIOError, ConnectionError):
                data = b""
            got[c] += len(data)
            if got[c] >= 1024 or not data:
                if data:
                    try:
                        c.send(b"y" * 1024)
                    except OSError:
                        pass
                sel.unregister(c)
                del got[c]
                c.close()


def role_short(addr, seconds):
    """Connections one after another: connect, 1 KiB each way, close."""
    out = b"x" * 1024
    n = 0
    t = time.perf_counter()
    end = t + seconds
    while time.perf_counter() < end:
        s = connect(addr)
        s.sendall(out)
        got = 0
        while got < 1024:
            k = len(s.recv(4096))
            if not k:
                raise SystemExit("short: the reply was cut")
            got += k
        s.close()
        n += 1
    print(n / (time.perf_counter() - t), flush=True)


# -- the benchmark ------------------------------------------------------------

def spawn(*args):
    return subprocess.Popen([sys.executable, SELF, "--role", *map(str, args)],
                            stdout=subprocess.PIPE, text=True)


def wait_socket(path, timeout=10.0):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > deadline:
            raise SystemExit(f"bench: {path} never appeared")
        time.sleep(0.005)


def stop(proc):
    """SIGTERM and reap: the process's own CPU seconds."""
    # Not Popen.poll(): it would reap the process and lose its rusage. A
    # process that already exited is a zombie until wait4: kill is harmless.
    os.kill(proc.pid, signal.SIGTERM)
    _, _, ru = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return ru.ru_utime + ru.ru_stime


def bridges(bin_dir, listen_path, target):
    """Each bridge under test: (name, argv). socat listens without `fork`
    for streams (one connection, served by the listening process itself)."""
    socat_target = "UNIX-CONNECT:" + target[5:] if target.startswith("unix:") \
        else "TCP:" + target[4:]
    return [
        ("yd-pipe", [f"{bin_dir}/yd-pipe", listen_path, target]),
        ("socat", ["socat", f"UNIX-LISTEN:{listen_path}", socat_target]),
        ("socat -b 262144", ["socat", "-b", "262144", f"UNIX-LISTEN:{listen_path}", socat_target]),
    ]


class Run:
    """One stream: GB/s, and each process's CPU seconds per GB (`bridge`
    is None with no bridge)."""

    def __init__(self, rate, source, bridge, sink):
        self.rate, self.source, self.bridge, self.sink = rate, source, bridge, sink

    def cores_busy(self):
        """How many cores the three processes kept busy on average."""
        return (self.source + (self.bridge or 0.0) + self.sink) * self.rate


def stream(root, bin_dir, kind, total, block, tries=3):
    """The best Run of each way of moving `total` bytes, the endpoints
    reading and writing `block` bytes at a time."""
    results = {}
    gb = total / 1e9
    port = free_port()
    target = f"unix:{root}/sink" if kind == "unix" else f"tcp:127.0.0.1:{port}"
    ways = [("direct", None)] + bridges(bin_dir, f"{root}/bridge", target)
    for name, argv in ways:
        best = None
        for _ in range(tries):
            for p in [f"{root}/sink", f"{root}/bridge"]:
                if os.path.exists(p):
                    os.unlink(p)
            sink = spawn("sink", target, block)
            sink.stdout.readline()
            bridge = None
            entry = target
            if argv:
                bridge = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
                wait_socket(f"{root}/bridge")
                entry = f"unix:{root}/bridge"
            source = spawn("source", entry, total, block)
            seconds, source_cpu = map(float, source.stdout.readline().split())
            source.wait()
            got, sink_cpu = sink.stdout.readline().split()
            sink.wait()
            if int(got) != total:
                raise SystemExit(f"bench: {name}: {got} bytes arrived of {total}")
            bridge_cpu = stop(bridge) / gb if bridge else None
            run = Run(gb / seconds, source_cpu / gb, bridge_cpu, float(sink_cpu) / gb)
            if best is None or run.rate > best.rate:
                best = run
        results[name] = best
    return results


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def short_connections(root, bin_dir, seconds=5.0):
    target = f"unix:{root}/echo"
    echo = spawn("echo", target)
    echo.stdout.readline()
    rates = {}
    ways = [
        ("yd-pipe", [f"{bin_dir}/yd-pipe", f"{root}/short", target]),
        ("socat", ["socat", f"UNIX-LISTEN:{root}/short,fork", f"UNIX-CONNECT:{root}/echo"]),
    ]
    for name, argv in ways:
        if os.path.exists(f"{root}/short"):
            os.unlink(f"{root}/short")
        bridge = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        wait_socket(f"{root}/short")
        client = spawn("short", f"unix:{root}/short", seconds)
        rates[name] = float(client.stdout.readline())
        client.wait()
        stop(bridge)
    stop(echo)
    return rates


def memory_kib(pid):
    """(private dirty, PSS): what one more instance costs (its text is
    shared with the other instances), and its share of everything."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    kib = lambda k: int(fields.get(k, "0 kB").split()[0])
    return kib("Private_Dirty"), kib("Pss")


def idle_memory(root, bin_dir):
    out = {}
    ways = [
        ("yd-pipe", [f"{bin_dir}/yd-pipe", f"{root}/idle", "unix:/nonexistent"]),
        ("socat", ["socat", f"UNIX-LISTEN:{root}/idle,fork", "UNIX-CONNECT:/nonexistent"]),
    ]
    for name, argv in ways:
        if os.path.exists(f"{root}/idle"):
            os.unlink(f"{root}/idle")
        p = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        wait_socket(f"{root}/idle")
        subprocess.run(["sync"])
        time.sleep(0.2)
        out[name] = memory_kib(p.pid)
        stop(p)
    return out


def run(bin_dir, total=4 * GIB):
    if not shutil.which("socat"):
        raise SystemExit("bench: socat missing (make deps)")
    root = tempfile.mkdtemp(prefix="yd-bench-pipes-")
    try:
        streams = {}
        for block in BLOCKS:
            print(f"bench: pipes: {total >> 30} GiB streams in {block >> 10} KiB blocks, "
                  "unix→unix then unix→tcp...", file=sys.stderr)
            streams[f"unix→unix, {block >> 10} KiB blocks"] = stream(root, bin_dir, "unix", total, block)
            streams[f"unix→tcp, {block >> 10} KiB blocks"] = stream(root, bin_dir, "tcp", total, block)
        print("bench: pipes: short connections, idle memory...", file=sys.stderr)
        short = short_connections(root, bin_dir)
        idle = idle_memory(root, bin_dir)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    cores = os.cpu_count()
    print(f"\nyd-pipe against socat: {total >> 30} GiB streams (best of 3), on {cores} cores")
    for kind, res in streams.items():
        direct, ours, best = res["direct"], res["yd-pipe"], res["socat -b 262144"]
        print(f"  {kind}{'':26}CPU s/GB: writer  bridge  reader   cores busy")
        for name, run in res.items():
            bridge = f"{run.bridge:6.3f}" if run.bridge is not None else "     -"
            print(f"    {name:16} {run.rate:5.2f} GB/s {run.rate / direct.rate:5.2f} of direct"
                  f"   {run.source:6.3f}  {bridge}  {run.sink:6.3f}   {run.cores_busy():5.2f}")
        print(f"    yd-pipe / socat's best: {ours.rate / best.rate:.2f} (target: at least 1.5); "
              f"of direct: {ours.rate / direct.rate:.2f} (target: at least 0.70)")
        print(f"    CPU per GB, socat / yd-pipe: default {res['socat'].bridge / ours.bridge:.1f}x, "
              f"-b 262144 {best.bridge / ours.bridge:.1f}x")
        # What the target leaves a bridge: all three processes share the
        # cores, and the bridge is one thread.
        goal = max(1.5 * best.rate, 0.7 * direct.rate)
        budget = min(cores / goal - ours.source - ours.sink, 1 / goal)
        print(f"    the target, {goal:.2f} GB/s, leaves a bridge {budget:.3f} CPU s/GB beside"
              f" these endpoints' {ours.source + ours.sink:.3f}; yd-pipe spends {ours.bridge:.3f},"
              f" a direct writer {direct.source:.3f} on its sends alone")
    print(f"  short connections per second (connect, 1 KiB each way, close; one client)")
    print(f"    yd-pipe {short['yd-pipe']:9.0f}   socat (fork) {short['socat']:9.0f}   "
          f"ratio {short['yd-pipe'] / short['socat']:.2f} (target: at least 1)")
    (yp, ypss), (sp, spss) = idle["yd-pipe"], idle["socat"]
    print(f"  idle listener: private dirty KiB yd-pipe {yp}  socat {sp}  ratio {yp / sp:.2f}; "
          f"PSS KiB {ypss} / {spss}  ratio {ypss / spss:.2f} (target: lower)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release")
    ap.add_argument("--gib", type=int, default=4)
    ap.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        role, *rest = args.role
        {"sink": lambda: role_sink(rest[0], int(rest[1])),
         "source": lambda: role_source(rest[0], int(rest[1]), int(rest[2])),
         "echo": lambda: role_echo(rest[0]),
         "short": lambda: role_short(rest[0], float(rest[1]))}[role]()
        return
    run(os.path.abspath(args.bin), args.gib * GIB)


if __name__ == "__main__":
    main()
