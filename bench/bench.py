#!/usr/bin/env python3
"""yodawg's supervision benchmarks, each against the peers in the same run.

    make bench            (or: python3 bench/bench.py --bin target/release)

Every number is measured here, now, for yodawg and for runit / s6 /
daemontools on the same service dirs, and printed with the ratio
yodawg/peer (below 1.0 is better for yodawg). Run as root on an otherwise
idle machine; it takes about two minutes.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import bridges  # bench/bridges.py: yd-pipe against socat

SERVICES = 200


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def smaps(pid):
    """(private KiB, PSS KiB, private dirty KiB) of a process."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                vals[parts[0][:-1]] = int(parts[1])
    return vals["Private_Clean"] + vals["Private_Dirty"], vals["Pss"], vals["Private_Dirty"]


def cpu_and_wakeups(pid):
    """(CPU seconds, voluntary context switches) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    with open(f"/proc/{pid}/status") as f:
        ctx = next(int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches"))
    return ticks / os.sysconf("SC_CLK_TCK"), ctx


def wait_for(what, cond, timeout=30.0, step=0.0002):
    deadline = time.monotonic() + timeout
    while True:
        r = cond()
        if r:
            return r
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(step)


def write_service(path, run, down=False, notification_fd=None):
    os.makedirs(path)
    with open(f"{path}/run", "w") as f:
        f.write("#!/bin/sh\n" + run + "\n")
    os.chmod(f"{path}/run", 0o755)
    if down:
        open(f"{path}/down", "w").close()
    if notification_fd:
        with open(f"{path}/notification-fd", "w") as f:
            f.write(f"{notification_fd}\n")


class Suite:
    """One supervision suite: how to scan a dir, and its supervisor's name."""

    def __init__(self, name, scanner, supervisor, rescan=None):
        self.name, self.scanner, self.supervisor, self.rescan = name, scanner, supervisor, rescan


def suites(bin_dir):
    return [
        Suite("yodawg", [f"{bin_dir}/yd-svscan"], "yd-supervise"),
        Suite("runit", ["runsvdir", "-P"], "runsv"),
        Suite("s6", ["s6-svscan"], "s6-supervise", rescan=["s6-svscanctl", "-a"]),
    ]


def start_scanner(suite, scan):
    env = dict(os.environ, PATH=os.environ["PATH"])
    return subprocess.Popen(suite.scanner + [scan], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)


def stop_scanner(proc, scan):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    # runsvdir leaves runsv behind on TERM (by design); end every process under scan.
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/cwd").startswith(scan):
                    os.kill(int(p), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def supervisors_of(scanner_pid, suite):
    return [p for p in children(scanner_pid) if comm(p) == suite.supervisor]


def running_tree(suite, scan, n, run="exec sleep 100000", **kw):
    """Start a scanner over n services; wait until every service runs."""
    for i in range(n):
        write_service(f"{scan}/s{i:03}", run, **kw)
    proc = start_scanner(suite, scan)
    wait_for(f"{suite.name}: {n} services", lambda: sum(
        len(children(s)) for s in supervisors_of(proc.pid, suite)) >= n, timeout=120, step=0.05)
    return proc


def bench_memory(suite, root):
    scan = f"{root}/{suite.name}-mem"
    os.makedirs(scan)
    proc = running_tree(suite, scan, SERVICES)
    time.sleep(1.0)
    os.sync()  # freshly written binaries' page-cache pages would count as dirty
    sups = supervisors_of(proc.pid, suite)
    mem = [smaps(p) for p in sups]
    # The scanner is one process: its binary's text counts whole in its PSS,
    # so what it costs is its dirty pages (heap, stack, relocated data).
    scanner_dirty = smaps(proc.pid)[2]
    # Idle: CPU time and wake-ups of the whole tree (scanner + supervisors) over 10 s.
    tree = [proc.pid] + sups
    before = [cpu_and_wakeups(p) for p in tree]
    time.sleep(10.0)
    after = [cpu_and_wakeups(p) for p in tree]
    cpu = sum(a[0] - b[0] for a, b in zip(after, before))
    wakeups = sum(a[1] - b[1] for a, b in zip(after, before))
    stop_scanner(proc, scan)
    return {
        "private KiB per supervisor": statistics.mean(m[0] for m in mem),
        "PSS KiB per supervisor": statistics.mean(m[1] for m in mem),
        "scanner private dirty KiB": scanner_dirty,
        "idle CPU ms, 200 services, 10 s": cpu * 1000,
        "idle wake-ups, 200 services, 10 s": wakeups,
    }


def time_new_child(sup_pid, old, action, timeout=10.0):
    """ms from action() until sup_pid has a child not in old."""
    t0 = time.monotonic()
    action()
    wait_for("a new child", lambda: set(children(sup_pid)) - old, timeout=timeout, step=0.00005)
    return (time.monotonic() - t0) * 1000


def bench_latency(suite, root, readiness):
    """Restart after kill -9 of a service up over 1 s; `u` to up."""
    scan = f"{root}/{suite.name}-lat-{int(readiness)}"
    os.makedirs(scan)
    run = "echo >&3\nexec sleep 100000" if readiness else "exec sleep 100000"
    proc = running_tree(suite, scan, 1, run=run, notification_fd=3 if readiness else None)
    sup = supervisors_of(proc.pid, suite)[0]
    restarts = []
    for _ in range(5):
        time.sleep(1.3)
        kids = set(children(sup))
        victim = next(iter(kids))
        restarts.append(time_new_child(sup, kids, lambda: os.kill(victim, signal.SIGKILL)))
    result = {"restart ms after kill -9": statistics.median(restarts)}
    if not readiness:
        control = f"{scan}/s000/supervise/control"
        ups = []
        for _ in range(5):
            time.sleep(1.3)
            fd = os.open(control, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"d")
            wait_for("down", lambda: not children(sup), timeout=10)
            time.sleep(1.1)
            ups.append(time_new_child(sup, set(), lambda: os.write(fd, b"u")))
            os.close(fd)
        result["ms from u to up"] = statistics.median(ups)
    stop_scanner(proc, scan)
    return result


def bench_new_dir(suite, root):
    """ms from a service dir moved into the scan dir until its service runs."""
    scan = f"{root}/{suite.name}-new"
    os.makedirs(scan)
    proc = running_tree(suite, scan, 1)
    times = []
    for i in range(3):
        staged = f"{root}/{suite.name}-staged{i}"
        write_service(staged, "exec sleep 100000")
        def move():
            os.rename(staged, f"{scan}/new{i}")
            if suite.rescan:
                subprocess.run(suite.rescan + [scan], check=True)
        t0 = time.monotonic()
        move()
        def running():
            for s in supervisors_of(proc.pid, suite):
                try:
                    if os.readlink(f"/proc/{s}/cwd").endswith(f"/new{i}") and children(s):
                        return True
                except FileNotFoundError:
                    pass
            return False
        wait_for("new service running", running, timeout=15, step=0.0005)
        times.append((time.monotonic() - t0) * 1000)
    stop_scanner(proc, scan)
    return {"ms from new dir to service running": statistics.median(times)}


def bench_log(bin_dir, root, lines=1_000_000):
    src = f"{root}/lines"
    with open(src, "w") as f:
        for i in range(lines):
            f.write(f"a log line of a typical length, number {i:07d}\n")
    loggers = {
        "yodawg": lambda d: [f"{bin_dir}/yd-log", "-s", "1000000", "-n", "1000", d],
        "s6": lambda d: ["s6-log", "t", "s1000000", "n1000", d],
        "runit": lambda d: ["svlogd", "-tt", d],
    }
    out = {}
    for name, cmd in loggers.items():
        d = f"{root}/log-{name}"
        os.makedirs(d)
        if name == "runit":
            with open(f"{d}/config", "w") as f:
                f.write("s1000000\nn1000\n")
        best = None
        for _ in range(3):
            for e in os.listdir(d):
                if e != "config":
                    os.unlink(f"{d}/{e}")
            t0 = time.monotonic()
            with open(src, "rb") as inp:
                cat = subprocess.Popen(["cat"], stdin=inp, stdout=subprocess.PIPE)
                subprocess.run(cmd(d), stdin=cat.stdout, check=True)
                cat.wait()
            took = time.monotonic() - t0
            best = took if best is None else min(best, took)
        out[name] = {"log lines per second": lines / best}
    return out


def timed_sh(script, repeat=3):
    """Best wall time in seconds of `dash -c script`."""
    best = None
    for _ in range(repeat):
        t0 = time.monotonic()
        subprocess.run(["dash", "-c", script], check=True, stdout=subprocess.DEVNULL)
        took = time.monotonic() - t0
        best = took if best is None else min(best, took)
    return best


def bench_envdir(bin_dir, root, runs=1000):
    """µs per whole-process run of `TOOL DIR /bin/true`, over 1,000 runs."""
    d = f"{root}/envdir"
    os.makedirs(d)
    for i in range(10):
        with open(f"{d}/key{i}", "w") as f:
            f.write(f"value number {i}\n")
    loop = "i=0; while [ $i -lt %d ]; do %s; i=$((i+1)); done"
    tools = {"yodawg": f"{bin_dir}/yd-envdir", "s6": shutil.which("s6-envdir"), "daemontools": shutil.which("envdir")}
    out = {}
    for name, tool in tools.items():
        secs = timed_sh(loop % (runs, f"{tool} {d} /bin/true"))
        out[name] = {"µs per `envdir DIR true` run": secs / runs * 1e6}
    return out


def bench_config_get(root, lookups=10_000):
    """ms for 10,000 lookups in one dash script: the library against $(cat FILE)."""
    lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "sh", "yd-config.sh")
    home = f"{root}/cfg-home"
    os.makedirs(f"{home}/config")
    with open(f"{home}/config/redis.port", "w") as f:
        f.write("6379\n")
    env = f"HOME={home} YD_HOST_CONFIG={root}/no-host-config"
    loop = "i=0; while [ $i -lt %d ]; do %s; i=$((i+1)); done" % (lookups, "%s")
    ways = {
        "config_get -v (no fork)": f". {lib}; export {env}; " + loop % "config_get -v v redis.port",
        "$(config_get) (subshell)": f". {lib}; export {env}; " + loop % "v=$(config_get redis.port)",
        "$(cat FILE) by hand": loop % f"v=$(cat {home}/config/redis.port)",
    }
    return {way: timed_sh(script) * 1000 for way, script in ways.items()}


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def tenant_ready(sup_pid):
    """Is the tenant under supervisor sup_pid running its PID 1 and both sub-scanners?"""
    return sum(1 for p in tree(sup_pid) if comm(p) == "yd-svscan") == 3


def mkhome(bin_dir, root, *args):
    subprocess.run([f"{bin_dir}/yd-mkhome", "--root", root, *args], check=True, stdout=subprocess.DEVNULL)


def mem_available_kib():
    with open("/proc/meminfo") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:"))


def bench_tenants(bin_dir, root, first=50, total=200):
    """Tenant start against the unshare floor; memory per idle tenant over
    50; then 200 tenants made and started."""
    host = f"{root}/tenant-root"
    mkhome(bin_dir, host, "--setup")
    # "Per idle tenant without Docker": 200 Docker daemons would not fit here.
    with open(f"{host}/config/docker.enabled", "w") as f:
        f.write("no\n")
    tag = f"b{os.getpid() % 10000}x"
    names = [f"{tag}{i}" for i in range(total)]
    made = []
    scanner = None
    out = {}
    try:
        avail0 = mem_available_kib()
        t0 = time.monotonic()
        for n in names[:first]:
            mkhome(bin_dir, host, n)
            made.append(n)
        scanner = subprocess.Popen([f"{bin_dir}/yd-svscan", f"{host}/tenants"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sups = lambda: [p for p in children(scanner.pid) if comm(p) == "yd-supervise"]
        wait_for(f"{first} tenants up", lambda: len(sups()) == first and all(tenant_ready(p) for p in sups()), timeout=120, step=0.05)
        time.sleep(1.0)
        os.sync()
        per_tenant = [sum(smaps(p)[1] for p in tree(s)) for s in sups()]
        out["tenant: PSS KiB per idle tenant (all its processes, 50 running)"] = statistics.mean(per_tenant)
        out["tenant: processes per tenant"] = statistics.mean(len(tree(s)) for s in sups())
        out["tenant: MemAvailable drop KiB per tenant (50 made and running)"] = (avail0 - mem_available_kib()) / first

        # Start latency: from `u` on the tenant's control FIFO to PID 1 and both sub-scanners running.
        one = f"{host}/tenants/{names[0]}"
        sup = next(p for p in sups() if os.readlink(f"/proc/{p}/cwd") == one)
        starts = []
        for _ in range(10):
            fd = os.open(f"{one}/supervise/control", os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"d")
            wait_for("tenant down", lambda: not children(sup), timeout=30, step=0.001)
            time.sleep(1.1)
            t = time.monotonic()
            os.write(fd, b"u")
            wait_for("tenant up", lambda: tenant_ready(sup), timeout=30, step=0.00005)
            starts.append((time.monotonic() - t) * 1000)
            os.close(fd)
        out["tenant: ms from u to PID 1 and sub-scanners running"] = statistics.median(starts)
        floor = []
        for _ in range(10):
            t = time.monotonic()
            subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], check=True)
            floor.append((time.monotonic() - t) * 1000)
        out["floor: ms for unshare --pid --fork --mount-proc true"] = statistics.median(floor)

        for n in names[first:]:
            mkhome(bin_dir, host, n)
            made.append(n)
        wait_for(f"{total} tenants up", lambda: len(sups()) == total and all(tenant_ready(p) for p in sups()), timeout=300, step=0.05)
        out[f"{total} tenants: s to make and start"] = time.monotonic() - t0
        time.sleep(1.0)
        out[f"{total} tenants: PSS MiB, all their processes"] = sum(smaps(p)[1] for s in sups() for p in tree(s)) / 1024
        out[f"{total} tenants: MemAvailable drop MiB"] = (avail0 - mem_available_kib()) / 1024
    finally:
        if scanner:
            scanner.terminate()
            scanner.wait(timeout=300)
        for n in made:
            subprocess.run([f"{bin_dir}/yd-mkhome", "--root", host, "--remove", "--purge", n],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def tree_pss_kib(pid):
    """PSS of pid and its descendants; a process that ends meanwhile counts 0."""
    total = 0
    for p in tree(pid):
        try:
            total += smaps(p)[1]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def docker_pings(sock):
    """Does a Docker daemon answer GET /_ping on unix socket sock?"""
    import socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(1)
            c.connect(sock)
            c.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in c.recv(4096)
    except OSError:
        return False


def bench_docker(bin_dir, root, rounds=5):
    """Tenant start to Docker ready, and an idle tenant's memory with Docker,
    against the same rootless Docker started by hand for a plain user."""
    contrib = "/usr/share/docker.io/contrib"
    os.chmod(root, 0o755)  # mkdtemp's 0700 would keep the plain user out of its dirs
    tag = f"b{os.getpid() % 10000}"
    host = f"{root}/docker-root"
    mkhome(bin_dir, host, "--setup")
    tenant, plain = f"{tag}dk", f"ydbench{tag}"
    out = {}
    scanner = hand = None
    try:
        # By hand: a plain user with its own range, dockerd-rootless.sh as it.
        subprocess.run(["useradd", "--system", "--user-group", "--home-dir", f"{root}/plain-home", plain], check=True)
        subprocess.run(["usermod", "--add-subuids", "400000-465535", "--add-subgids", "400000-465535", plain], check=True)
        pw = next(l.split(":") for l in open("/etc/passwd") if l.startswith(plain + ":"))
        uid, gid = int(pw[2]), int(pw[3])
        runtime, data = f"/run/user/{uid}", f"{root}/plain-docker"
        for d in (runtime, data, f"{root}/plain-home"):
            os.makedirs(d, exist_ok=True)
            os.chown(d, uid, gid)
        env = {"HOME": f"{root}/plain-home", "USER": plain, "XDG_RUNTIME_DIR": runtime,
               "PATH": f"{contrib}:/usr/sbin:/usr/bin:/sbin:/bin"}
        hand_cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups",
                    f"{contrib}/dockerd-rootless.sh", "--storage-driver=overlay2", f"--data-root={data}"]
        hand_times = []
        for _ in range(rounds):
            t = time.monotonic()
            hand = subprocess.Popen(hand_cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            wait_for("docker by hand", lambda: docker_pings(f"{runtime}/docker.sock"), timeout=60, step=0.01)
            hand_times.append((time.monotonic() - t) * 1000)
            time.sleep(3)
            hand_pss = tree_pss_kib(hand.pid)
            os.killpg(hand.pid, signal.SIGTERM)
            hand.wait(timeout=60)
            hand = None
        out["by hand"] = {"ms to Docker ready": statistics.median(hand_times), "idle PSS MiB": hand_pss / 1024}

        # yodawg: the same Docker as a tenant's service.
        mkhome(bin_dir, host, tenant)
        scanner = subprocess.Popen([f"{bin_dir}/yd-svscan", f"{host}/tenants"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        svc_dir = f"{host}/tenants/{tenant}"
        wait_for("tenant supervised", lambda: os.path.exists(f"{svc_dir}/supervise/control"), timeout=30, step=0.01)
        sup = next(p for p in children(scanner.pid) if comm(p) == "yd-supervise")
        tuid = int(next(l.split(":") for l in open("/etc/passwd") if l.startswith(f"yd-{tenant}:"))[2])
        def tenant_sock():
            pid1 = [p for p in tree(sup) if comm(p) == "yd-svscan"]
            return f"/proc/{pid1[0]}/root/run/user/{tuid}/docker.sock" if pid1 else "/nonexistent"
        fd = os.open(f"{svc_dir}/supervise/control", os.O_WRONLY | os.O_NONBLOCK)
        yd_times = []
        for _ in range(rounds):
            os.write(fd, b"d")
            wait_for("tenant down", lambda: not children(sup), timeout=60, step=0.01)
            time.sleep(1.1)
            t = time.monotonic()
            os.write(fd, b"u")
            wait_for("tenant docker", lambda: docker_pings(tenant_sock()), timeout=60, step=0.01)
            yd_times.append((time.monotonic() - t) * 1000)
            time.sleep(3)
            yd_pss = tree_pss_kib(sup)
        os.close(fd)
        out["yodawg"] = {"ms to Docker ready": statistics.median(yd_times), "idle PSS MiB": yd_pss / 1024}
    finally:
        if hand:
            os.killpg(hand.pid, signal.SIGKILL)
        if scanner:
            scanner.terminate()
            scanner.wait(timeout=120)
        subprocess.run([f"{bin_dir}/yd-mkhome", "--root", host, "--remove", "--purge", tenant],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["pkill", "-9", "-u", plain], stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        subprocess.run(["userdel", plain], stderr=subprocess.DEVNULL)
        subprocess.run(["sed", "-i", f"/^{plain}:/d", "/etc/subuid", "/etc/subgid"])
        subprocess.run(["rm", "-rf", f"/run/user/{uid}"] if "uid" in dir() else ["true"])
    return out


def report(results, better_low):
    names = ["yodawg", "runit", "s6", "daemontools"]
    metrics = []
    for n in names:
        for k in results.get(n, {}):
            if k not in metrics:
                metrics.append(k)
    print(f"\n{'metric':44} " + " ".join(f"{n:>11}" for n in names) + "   yodawg/best peer")
    for m in metrics:
        vals = {n: results.get(n, {}).get(m) for n in names}
        cells = " ".join(f"{vals[n]:>11.2f}" if vals[n] is not None else f"{'-':>11}" for n in names)
        peers = [v for n, v in vals.items() if n != "yodawg" and v is not None]
        ratio = "-"
        if vals["yodawg"] is not None and peers:
            best = min(peers) if better_low(m) else max(peers)
            ratio = f"{vals['yodawg'] / best:.2f}" if best else "inf" if vals["yodawg"] else "1.00 (both 0)"
        print(f"{m:44} {cells}   {ratio}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release", help="dir with the yodawg programs")
    ap.add_argument("--only", choices=["supervision", "log", "config", "tenants", "docker", "pipes"], help="run one group")
    args = ap.parse_args()
    run = lambda group: args.only in (None, group)
    bin_dir = os.path.abspath(args.bin)
    for tool in ["runsvdir", "runsv", "s6-svscan", "s6-supervise", "s6-log", "svlogd", "s6-envdir", "envdir", "dash"]:
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} missing (make deps)")
    os.environ["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    root = tempfile.mkdtemp(prefix="yd-bench-")
    results = {}
    lookups = {}
    tenants = {}
    docker = {}
    try:
        for s in suites(bin_dir) if run("supervision") else []:
            r = results.setdefault(s.name, {})
            print(f"bench: {s.name}: memory and idle, {SERVICES} services...", file=sys.stderr)
            r.update(bench_memory(s, root))
            print(f"bench: {s.name}: latencies...", file=sys.stderr)
            r.update(bench_latency(s, root, readiness=False))
            ready = bench_latency(s, root, readiness=True)
            r["restart ms after kill -9, with readiness"] = ready["restart ms after kill -9"]
            r.update(bench_new_dir(s, root))
        if run("log"):
            print("bench: loggers, 1,000,000 lines...", file=sys.stderr)
            for name, r in bench_log(bin_dir, root).items():
                results.setdefault(name, {}).update(r)
        if run("config"):
            print("bench: envdir, 1,000 runs each; config_get, 10,000 lookups...", file=sys.stderr)
            for name, r in bench_envdir(bin_dir, root).items():
                results.setdefault(name, {}).update(r)
            lookups = bench_config_get(root)
        if run("tenants"):
            print("bench: tenants: 50, then 200, made and started...", file=sys.stderr)
            tenants = bench_tenants(bin_dir, root)
        if run("docker"):
            print("bench: rootless Docker, in a tenant and by hand...", file=sys.stderr)
            docker = bench_docker(bin_dir, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if run("pipes"):
        # Its own report: a stream benchmark against socat, not supervisors.
        bridges.run(bin_dir)
    if args.only == "pipes":
        return
    report(results, better_low=lambda m: "per second" not in m)
    print("\nrunit's columns are runsvdir/runsv/svlogd; s6's are s6-svscan/s6-supervise/s6-log/s6-envdir.")
    print("runsv has no readiness: its 'with readiness' row is the same service without it.")
    if "µs per `envdir DIR true` run" in results.get("s6", {}):
        ratio = results["yodawg"]["µs per `envdir DIR true` run"] / results["s6"]["µs per `envdir DIR true` run"]
        print(f"yd-envdir / s6-envdir: {ratio:.2f} (target: at most 1.2)")
    if tenants:
        print("\ntenants (no peer runs tenants; the floor is the kernel's own cost):")
        for k, v in tenants.items():
            print(f"  {k:66} {v:10.2f}")
        ratio = tenants["tenant: ms from u to PID 1 and sub-scanners running"] / tenants["floor: ms for unshare --pid --fork --mount-proc true"]
        print(f"  tenant start / floor: {ratio:.2f} (target: at most 10)")
        print(f"  PSS per idle tenant: {tenants['tenant: PSS KiB per idle tenant (all its processes, 50 running)'] / 1024:.2f} MiB (target: under 2)")
    if docker:
        print("\nrootless Docker: in a tenant against the same stack started by hand (dockerd-rootless.sh)")
        for k in ["ms to Docker ready", "idle PSS MiB"]:
            y, h = docker["yodawg"][k], docker["by hand"][k]
            print(f"  {k:20} yodawg {y:9.1f}   by hand {h:9.1f}   yodawg/by hand {y / h:.3f} (target: under 1.10)")
    if lookups:
        by_hand = lookups["$(cat FILE) by hand"]
        print("\n10,000 config lookups in one dash script:")
        for way, ms in lookups.items():
            print(f"  {way:28} {ms:9.1f} ms   {by_hand / ms:6.1f}x as fast as $(cat FILE)")


if __name__ == "__main__":
    main()
