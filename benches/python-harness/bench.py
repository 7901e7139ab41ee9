#!/usr/bin/env python3
"""The reference harness of Python Buildbot (WORKLOADS.md), adapted to run W1-W6 against this
project's binaries: `buildbot` (master, TOML master.cfg) and `buildslave` (worker, msgpack over
WebSocket). Only the master/worker setup differs from the original; the REST calls, the
workloads and the measurements are unchanged.

Every run creates a fresh master base directory (SQLite DB) and fresh local workers under
--base (default /tmp/bbbench), starts them, runs one workload, measures, and tears everything
down again. Only processes this script started are stopped (by `buildbot stop`, or by the PID
found in the twistd.pid file of a base directory this script created).

Usage (after `cargo build --release -p buildbot-cli -p buildbot-slave-cli`; --bin-dir points at
the directory holding `buildbot` and `buildslave`):
    python3 bench.py w1 --protocol pb --runs 3
    python3 bench.py w1 --protocol msgpack --runs 3
    python3 bench.py w2 --runs 3
    python3 bench.py w3
    python3 bench.py w4 --many 100
    python3 bench.py w5
    python3 bench.py w6 --runs 3
    python3 bench.py all          # everything above, in that order

Each run prints a human-readable report and appends one JSON line to results/<workload>.jsonl;
the raw console output of a run can be kept with `| tee results/<name>.txt` (run_all.sh does).
The workloads themselves are described tool-neutrally in WORKLOADS.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.environ.get("BENCH_RESULTS", "/tmp/bbbench-rust-results")  # shared/ is read-only

WWW_PORT = 18010
WORKER_PORT = 19989
CLK_TCK = os.sysconf("SC_CLK_TCK")
POLL_S = 0.25  # completion poll interval (--poll)

# our master speaks msgpack_experimental_v7 only ("pb" is kept as an alias so that the original
# command lines still work)
PROTOCOLS = {"pb": "msgpack", "msgpack": "msgpack"}

# W3 log generator: 524288 lines of exactly 100 bytes (8-digit zero-padded line number,
# a space, 90 characters from a rotating window over a 64-character alphabet, '\n')
# = 52,428,800 bytes = 50 MiB on stdout.
LOG_LINES = 524288
LOG_LINE_BYTES = 100
LOG_SCRIPT = (
    "import sys\n"
    "a='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/'*3\n"
    "w=sys.stdout.write\n"
    f"for i in range({LOG_LINES}):\n"
    "    k=i%64\n"
    "    w('%08d %s\\n' % (i, a[k:k+90]))\n"
)


# --------------------------------------------------------------------------- helpers

def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def proc_status(pid: int) -> dict:
    """VmRSS / VmHWM in KiB and CPU seconds (utime+stime) of one process."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out["cpu_s"] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    except FileNotFoundError:
        pass
    return out


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def read_pid(basedir: str) -> int | None:
    p = os.path.join(basedir, "twistd.pid")
    try:
        with open(p) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def port_open(port: int) -> bool:
    s = socket.socket()
    s.settimeout(0.2)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_ports_free(timeout: float = 30) -> None:
    t = time.time() + timeout
    while port_open(WWW_PORT) or port_open(WORKER_PORT):
        if time.time() > t:
            raise RuntimeError(f"ports {WWW_PORT}/{WORKER_PORT} still in use")
        time.sleep(0.2)


def api_get(path: str, timeout: float = 30):
    with urllib.request.urlopen(f"http://127.0.0.1:{WWW_PORT}/api/v2/{path}", timeout=timeout) as r:
        return json.loads(r.read())


def force(builder: str, scheduler: str = "force", conn: http.client.HTTPConnection | None = None):
    body = json.dumps({"jsonrpc": "2.0", "method": "force", "id": 1,
                       "params": {"builderNames": [builder]}}).encode()
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", WWW_PORT, timeout=60)
    conn.request("POST", f"/api/v2/forceschedulers/{scheduler}", body,
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if own:
        conn.close()
    if r.status != 200:
        raise RuntimeError(f"force failed: HTTP {r.status} {data[:300]!r}")
    res = json.loads(data)
    if "error" in res:
        raise RuntimeError(f"force failed: {res['error']}")
    return res["result"]  # [buildsetid, {builderid: brid}]


def count_complete_builds() -> int:
    """Progress poll: number of complete builds. (Buildbot 4.3's meta.total is the page size
    when limit= is given, so the whole id list is fetched; ~6 ms of master CPU at 200 builds.)"""
    d = api_get("builds?complete=true&field=buildid&field=complete")
    return len(d["builds"])


def build_results() -> tuple[int, int]:
    """(number of complete builds, number with results == SUCCESS)."""
    d = api_get("builds?complete=true&field=buildid&field=results&field=complete")
    builds = d["builds"]
    return len(builds), sum(1 for b in builds if b["results"] == 0)


def connected_workers() -> int:
    d = api_get("workers?field=name&field=connected_to")
    return sum(1 for w in d["workers"] if w["connected_to"])


def median_range(xs):
    xs = list(xs)
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def save(workload: str, record: dict) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    record = {"workload": workload, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}
    with open(os.path.join(RESULTS, f"{workload}.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")
    print("RESULT " + json.dumps(record), flush=True)


# --------------------------------------------------------------------------- master / workers

MASTER_CFG = '''# generated by bench.py (TOML master.cfg of this project)
title = "bench"
buildbotURL = "http://127.0.0.1:{www_port}/"
collapseRequests = false
logCompressionMethod = "gz"

[db]
db_url = "sqlite:///state.sqlite"

[protocols.{protocol}]
port = {worker_port}

[www]
port = {www_port}

{workers}
{builders}
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = {builder_names}
'''


def toml_list(xs) -> str:
    return json.dumps(list(xs))



class Master:
    def __init__(self, args, name: str, *, protocol: str = "pb", workers=("w0",),
                 builders=("b0",), command=("true",), max_builds=1):
        self.args = args
        self.basedir = os.path.join(args.base, name, "master")
        self.protocol = PROTOCOLS[protocol]
        self.workers = list(workers)
        self.builders = list(builders)
        self.command = list(command)
        self.max_builds = max_builds
        self.pid: int | None = None

    def bin(self, name: str) -> str:
        return os.path.join(self.args.bin_dir, name)

    def create(self) -> None:
        shutil.rmtree(os.path.dirname(self.basedir), ignore_errors=True)
        os.makedirs(os.path.dirname(self.basedir))
        # create-master also creates the SQLite schema (upgrade-master); not part of any timing.
        subprocess.run([self.bin("buildbot"), "create-master", "-q", self.basedir], check=True)
        with open(os.path.join(self.basedir, "master.cfg"), "w") as f:
            workers = "".join(
                f'[[workers]]\nname = "{n}"\npassword = "pass"\nmax_builds = {self.max_builds}\n\n'
                for n in self.workers)
            builders = "".join(
                f'[[builders]]\nname = "{b}"\nworkernames = {toml_list(self.workers)}\n'
                f'[[builders.steps]]\ntype = "ShellCommand"\nname = "cmd"\n'
                f'command = {toml_list(self.command)}\n\n'
                for b in self.builders)
            f.write(MASTER_CFG.format(www_port=WWW_PORT, worker_port=WORKER_PORT,
                                      protocol=self.protocol, workers=workers,
                                      builders=builders,
                                      builder_names=toml_list(self.builders)))

    def start_async(self) -> subprocess.Popen:
        wait_ports_free()
        return subprocess.Popen([self.bin("buildbot"), "start", self.basedir],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self, timeout: float = 120) -> float:
        t0 = time.perf_counter()
        p = self.start_async()
        out, _ = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"buildbot start failed:\n{out.decode(errors='replace')[-3000:]}")
        self.wait_api(timeout)
        self.pid = read_pid(self.basedir)
        return time.perf_counter() - t0

    def wait_api(self, timeout: float = 120) -> None:
        t = time.time() + timeout
        while True:
            try:
                api_get("builders", timeout=5)
                return
            except Exception:
                if time.time() > t:
                    raise
                time.sleep(0.05)

    def stats(self) -> dict:
        pid = self.pid or read_pid(self.basedir)
        return proc_status(pid) if pid else {}

    def stop(self) -> None:
        pid = self.pid or read_pid(self.basedir)
        if pid and pid_alive(pid):
            subprocess.run([self.bin("buildbot"), "stop", self.basedir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
            t = time.time() + 30
            while pid_alive(pid) and time.time() < t:
                time.sleep(0.1)
            if pid_alive(pid):  # the PID of the master this script started
                os.kill(pid, signal.SIGKILL)
        self.pid = None

    def db_path(self) -> str:
        return os.path.join(self.basedir, "state.sqlite")


class Workers:
    """N buildbot-worker processes on 127.0.0.1, each in its own base directory."""

    def __init__(self, args, name: str, names, protocol: str = "pb"):
        self.args = args
        self.root = os.path.join(args.base, name, "workers")
        self.names = list(names)
        self.protocol = PROTOCOLS[protocol]
        self.pids: dict[str, int] = {}

    def dir(self, n: str) -> str:
        return os.path.join(self.root, n)

    def create(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        bs = os.path.join(self.args.bin_dir, "buildslave")
        for n in self.names:
            subprocess.run([bs, "create-slave", "-q", "--relocatable", self.dir(n),
                            f"127.0.0.1:{WORKER_PORT}", n, "pass"], check=True)

    def start(self, wait: bool = True, timeout: float = 300) -> float:
        t0 = time.perf_counter()
        bw = os.path.join(self.args.bin_dir, "buildslave")
        # `buildslave start` daemonizes and writes twistd.pid, like buildbot-worker
        procs = [subprocess.Popen([bw, "start", self.dir(n)], stdout=subprocess.DEVNULL)
                 for n in self.names]
        for p in procs:
            p.wait()
        for n in self.names:
            t = time.time() + 30
            while (pid := read_pid(self.dir(n))) is None and time.time() < t:
                time.sleep(0.05)
            if pid is None:
                raise RuntimeError(f"worker {n} did not write twistd.pid")
            self.pids[n] = pid
        if wait:
            t = time.time() + timeout
            while connected_workers() < len(self.names):
                if time.time() > t:
                    raise RuntimeError(f"only {connected_workers()}/{len(self.names)} workers connected")
                time.sleep(0.1)
        return time.perf_counter() - t0

    def stats(self) -> list[dict]:
        return [proc_status(p) for p in self.pids.values()]

    def stop(self) -> None:
        for pid in self.pids.values():  # PIDs of the worker daemons this script started
            if pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
        t = time.time() + 30
        while any(pid_alive(p) for p in self.pids.values()) and time.time() < t:
            time.sleep(0.1)
        for pid in self.pids.values():
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.pids.clear()


class Env:
    """A master plus its workers; torn down on exit."""

    def __init__(self, args, name, *, protocol="pb", nworkers=1, builders=("b0",),
                 command=("true",), max_builds=1):
        names = [f"w{i}" for i in range(nworkers)]
        self.master = Master(args, name, protocol=protocol, workers=names, builders=builders,
                             command=command, max_builds=max_builds)
        self.workers = Workers(args, name, names, protocol=protocol)

    def __enter__(self):
        self.master.create()
        self.workers.create()
        return self

    def __exit__(self, *exc):
        self.workers.stop()
        self.master.stop()


def db_size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal", path + "-journal", path + "-shm")
               if os.path.exists(p))


# --------------------------------------------------------------------------- workloads

def run_builds(n: int, builder: str = "b0", timeout: float = 1800) -> dict:
    """Submit n force builds back to back (each POST waits for its response), then poll
    until n builds are complete. Times are from the first POST."""
    conn = http.client.HTTPConnection("127.0.0.1", WWW_PORT, timeout=60)
    t0 = time.perf_counter()
    for _ in range(n):
        force(builder, conn=conn)
    t_sub = time.perf_counter() - t0
    conn.close()
    deadline = time.time() + timeout
    polls = 0
    while True:
        done = count_complete_builds()
        polls += 1
        if done >= n:
            break
        if time.time() > deadline:
            raise RuntimeError(f"timeout: {done}/{n} builds complete")
        time.sleep(POLL_S)
    wall = time.perf_counter() - t0
    done, ok = build_results()
    return {"builds": n, "complete": done, "successful": ok, "submit_s": round(t_sub, 3),
            "wall_s": round(wall, 3), "builds_per_s": round(n / wall, 3), "polls": polls,
            "poll_interval_s": POLL_S}


def w_builds(args, workload: str, protocol: str, nworkers: int, command, nbuilds: int) -> dict:
    with Env(args, workload, protocol=protocol, nworkers=nworkers, command=command) as env:
        env.master.start()
        env.workers.start()
        time.sleep(1)
        before = env.master.stats()
        wbefore = sum(w["cpu_s"] for w in env.workers.stats())
        r = run_builds(nbuilds)
        after = env.master.stats()
        wstats = env.workers.stats()
        r.update(protocol=protocol, workers=nworkers, command=command,
                 master_cpu_s=round(after["cpu_s"] - before["cpu_s"], 2),
                 workers_cpu_s=round(sum(w["cpu_s"] for w in wstats) - wbefore, 2),
                 master_rss_kib=after["VmRSS"], master_hwm_kib=after["VmHWM"],
                 worker_rss_kib=[w.get("VmRSS") for w in wstats],
                 db_bytes=db_size(env.master.db_path()))
        if r["successful"] != nbuilds:
            r["note"] = f"only {r['successful']} of {nbuilds} builds succeeded"
        return r


def w1(args):
    for i in range(args.runs):
        log(f"W1 throughput protocol={args.protocol} run {i + 1}/{args.runs}")
        r = w_builds(args, "w1", args.protocol, 1, ["true"], args.builds)
        print(f"  {r['builds']} builds in {r['wall_s']} s = {r['builds_per_s']} builds/s "
              f"(submit {r['submit_s']} s, master CPU {r['master_cpu_s']} s)")
        save("w1", {"run": i + 1, **r})


def w2(args):
    for i in range(args.runs):
        log(f"W2 parallel protocol={args.protocol} run {i + 1}/{args.runs}")
        r = w_builds(args, "w2", args.protocol, 4, ["sleep", "0.05"], args.builds)
        print(f"  {r['builds']} builds in {r['wall_s']} s = {r['builds_per_s']} builds/s "
              f"(submit {r['submit_s']} s, master CPU {r['master_cpu_s']} s)")
        save("w2", {"run": i + 1, **r})


def w3(args):
    cmd = ["python3", "-c", LOG_SCRIPT]
    # reference: the command alone, output to a pipe that is drained
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True).stdout
    t_alone = time.perf_counter() - t0
    assert len(out) == LOG_LINES * LOG_LINE_BYTES, len(out)
    mib = len(out) / 2**20
    log(f"W3 logs: command alone prints {len(out)} bytes in {t_alone:.3f} s")
    with Env(args, "w3", protocol=args.protocol, nworkers=1, command=cmd) as env:
        env.master.start()
        env.workers.start()
        time.sleep(1)
        runs = []
        for i in range(args.log_builds):
            before = env.master.stats()
            wbefore = env.workers.stats()[0]["cpu_s"]
            t0 = time.perf_counter()
            force("b0")
            while count_complete_builds() < i + 1:
                time.sleep(POLL_S)
            wall = time.perf_counter() - t0
            after = env.master.stats()
            runs.append({"wall_s": round(wall, 3), "mib_per_s": round(mib / wall, 2),
                         "master_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
                         "worker_cpu_s": round(env.workers.stats()[0]["cpu_s"] - wbefore, 2)})
            log(f"  build {i + 1}: {mib:.0f} MiB in {wall:.2f} s = {mib / wall:.2f} MiB/s")
        builds = api_get("builds?field=buildid&field=results")["builds"]
        lines = []
        for b in builds:
            for s in api_get(f"builds/{b['buildid']}/steps")["steps"]:
                for lg in api_get(f"steps/{s['stepid']}/logs")["logs"]:
                    if lg["name"] == "stdio":
                        lines.append(lg["num_lines"])
        st = env.master.stats()
        env.workers.stop()
        env.master.stop()
        dbp = env.master.db_path()
        con = sqlite3.connect(dbp)
        stored, chunks = con.execute(
            "select sum(length(content)), count(*) from logchunks").fetchone()
        comp = dict(con.execute("select compressed, count(*) from logchunks group by compressed"))
        con.close()
        r = {"protocol": args.protocol, "log_bytes_per_build": len(out),
             "command_alone_s": round(t_alone, 3), "builds": runs,
             "median_mib_per_s": statistics.median(x["mib_per_s"] for x in runs),
             "results": [b["results"] for b in builds], "stdio_num_lines": lines,
             "db_bytes": db_size(dbp), "logchunk_rows": chunks, "logchunk_content_bytes": stored,
             "logchunks_by_compression": comp, "master_rss_kib": st.get("VmRSS"),
             "master_hwm_kib": st.get("VmHWM")}
        print(f"  DB size after {len(runs)} builds: {r['db_bytes'] / 2**20:.1f} MiB, "
              f"master VmHWM {r['master_hwm_kib'] / 1024:.0f} MiB, stdio lines {lines}")
        save("w3", r)


def w4(args):
    log("W4 idle memory: 1 builder, 1 worker")
    with Env(args, "w4a", protocol=args.protocol, nworkers=1) as env:
        env.master.start()
        m0 = env.master.stats()
        env.workers.start()
        time.sleep(args.settle)
        m1 = env.master.stats()
        wst = env.workers.stats()[0]
        r1 = {"workers": 1, "master_before_workers": m0, "master": m1, "worker": wst}
        print(f"  master VmRSS {m1['VmRSS'] / 1024:.1f} MiB (HWM {m1['VmHWM'] / 1024:.1f}; "
              f"anonymous {m1.get('RssAnon', 0) / 1024:.1f}, file-backed {m1.get('RssFile', 0) / 1024:.1f}); "
              f"worker VmRSS {wst['VmRSS'] / 1024:.1f} MiB")
    n = args.many
    log(f"W4 idle memory: 1 builder, {n} workers")
    with Env(args, "w4b", protocol=args.protocol, nworkers=n) as env:
        env.master.start()
        m0 = env.master.stats()
        t_conn = env.workers.start(timeout=600)
        time.sleep(args.settle)
        m1 = env.master.stats()
        wst = env.workers.stats()
        rss = [w["VmRSS"] for w in wst]
        rn = {"workers": n, "master_before_workers": m0, "master": m1,
              "workers_connect_s": round(t_conn, 1),
              "worker_rss_kib": median_range(rss), "workers_rss_sum_kib": sum(rss)}
        print(f"  {n} workers connected in {t_conn:.1f} s; master VmRSS "
              f"{m0['VmRSS'] / 1024:.1f} -> {m1['VmRSS'] / 1024:.1f} MiB (HWM {m1['VmHWM'] / 1024:.1f}); "
              f"worker median {statistics.median(rss) / 1024:.1f} MiB")
    save("w4", {"protocol": args.protocol, "one": r1, "many": rn, "settle_s": args.settle})


def w5(args):
    log(f"W5 API: populate with {args.builds} builds (W1 workload)")
    with Env(args, "w5", protocol=args.protocol, nworkers=1) as env:
        env.master.start()
        env.workers.start()
        pop = run_builds(args.builds)
        path = "/api/v2/builds?limit=50&order=-buildid"
        total = api_get("builds?field=buildid")["builds"]
        # sanity: the response has 50 builds
        body = api_get(path[len('/api/v2/'):])
        assert len(body["builds"]) == min(50, len(total)), len(body["builds"])
        resp_bytes = len(json.dumps(body))
        res = {"protocol": args.protocol, "builds_in_db": len(total), "populate": pop,
               "path": path, "response_bytes_approx": resp_bytes}
        # Twisted (26.10) as used by Buildbot 4.3 now and then never answers a request sent on
        # a kept-alive connection (the server logs nothing and times the client out after 60 s).
        # Such a request is abandoned after STALL_S, counted as a stall, and sent again on a new
        # connection; its latency is that of the successful retry, and the time lost waiting is
        # reported separately (req_per_s excludes it, req_per_s_incl_stalls does not).
        STALL_S = 2.0
        for mode in ("keepalive", "new_connection"):
            lat = []
            stalls, stall_s = 0, 0.0
            conn = http.client.HTTPConnection("127.0.0.1", WWW_PORT, timeout=STALL_S)
            t0 = time.perf_counter()
            for _ in range(200):
                while True:
                    if mode == "new_connection":
                        conn = http.client.HTTPConnection("127.0.0.1", WWW_PORT, timeout=STALL_S)
                    t = time.perf_counter()
                    try:
                        conn.request("GET", path)
                        r = conn.getresponse()
                        r.read()
                        break
                    except (TimeoutError, ConnectionError, http.client.HTTPException):
                        stalls += 1
                        stall_s += time.perf_counter() - t
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", WWW_PORT, timeout=STALL_S)
                assert r.status == 200
                lat.append(time.perf_counter() - t)
                if mode == "new_connection":
                    conn.close()
            total_s = time.perf_counter() - t0
            conn.close()
            lat.sort()
            res[mode] = {"requests": 200, "total_s": round(total_s, 3),
                         "stalls": stalls, "stall_wait_s": round(stall_s, 3),
                         "req_per_s": round(200 / (total_s - stall_s), 1),
                         "req_per_s_incl_stalls": round(200 / total_s, 1),
                         "median_ms": round(statistics.median(lat) * 1000, 2),
                         "p90_ms": round(lat[179] * 1000, 2), "p99_ms": round(lat[197] * 1000, 2),
                         "min_ms": round(lat[0] * 1000, 2), "max_ms": round(lat[-1] * 1000, 2)}
            print(f"  sequential ({mode}): median {res[mode]['median_ms']} ms, "
                  f"{res[mode]['req_per_s']} req/s, {stalls} stalled request(s)")
        wrk = shutil.which("wrk")
        if wrk:
            out = subprocess.run([wrk, "-t1", "-c4", "-d10s", "--latency",
                                  f"http://127.0.0.1:{WWW_PORT}{path}"],
                                 capture_output=True, text=True).stdout
            print("  wrk -t1 -c4 -d10s --latency:\n" + "\n".join("    " + l for l in out.splitlines()))
            res["wrk_output"] = out
            for line in out.splitlines():
                if line.startswith("Requests/sec:"):
                    res["wrk_req_per_s"] = float(line.split()[1])
        else:
            res["wrk_output"] = "wrk not installed"
        st = env.master.stats()
        res["master_rss_kib"], res["master_hwm_kib"] = st["VmRSS"], st["VmHWM"]
        save("w5", res)


def w6_one(args, nbuilders: int, cold: bool, master: Master) -> dict:
    if cold:
        master.create()
    t0 = time.perf_counter()
    p = master.start_async()
    t_port = t_api = t_cmd = None
    deadline = time.time() + 300
    while (t_port is None or t_api is None or t_cmd is None) and time.time() < deadline:
        now = time.perf_counter() - t0
        if t_cmd is None and p.poll() is not None:
            t_cmd = now
        if t_port is None and port_open(WORKER_PORT):
            t_port = now
        if t_api is None:
            try:
                d = api_get("builders?field=builderid", timeout=5)
                if len(d["builders"]) == nbuilders:
                    t_api = time.perf_counter() - t0
            except Exception:
                pass
        time.sleep(0.02)
    out = p.stdout.read().decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"buildbot start failed: {out[-2000:]}")
    master.pid = read_pid(master.basedir)
    time.sleep(1)
    st = master.stats()
    master.stop()
    return {"builders": nbuilders, "cold": cold, "buildbot_start_returned_s": round(t_cmd, 3),
            "worker_port_open_s": round(t_port, 3), "rest_api_ready_s": round(t_api, 3),
            "master_rss_kib": st.get("VmRSS"), "master_hwm_kib": st.get("VmHWM")}


def w6(args):
    for nb in (1, args.builders):
        builders = [f"b{i}" for i in range(nb)]
        for i in range(args.runs):
            m = Master(args, f"w6-{nb}", protocol=args.protocol, workers=["w0"], builders=builders)
            for cold in (True, False):
                log(f"W6 startup builders={nb} {'fresh DB' if cold else 'restart'} run {i + 1}")
                r = w6_one(args, nb, cold, m)
                print(f"  worker port open {r['worker_port_open_s']} s, REST API with {nb} builders "
                      f"{r['rest_api_ready_s']} s, `buildbot start` returned {r['buildbot_start_returned_s']} s")
                save("w6", {"run": i + 1, "protocol": args.protocol, **r})


def main():
    global POLL_S
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=["w1", "w2", "w3", "w4", "w5", "w6", "all"])
    ap.add_argument("--bin-dir", default=os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "target", "release"),
        help="directory holding our release `buildbot` and `buildslave`")
    ap.add_argument("--base", default="/tmp/bbbench-rust")
    ap.add_argument("--protocol", choices=list(PROTOCOLS), default="msgpack")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--builds", type=int, default=200)
    ap.add_argument("--log-builds", type=int, default=3)
    ap.add_argument("--many", type=int, default=100, help="W4: number of workers")
    ap.add_argument("--settle", type=float, default=10, help="W4: seconds idle before measuring")
    ap.add_argument("--builders", type=int, default=500, help="W6: large builder count")
    ap.add_argument("--poll", type=float, default=POLL_S, help="completion poll interval, s")
    args = ap.parse_args()
    POLL_S = args.poll
    for b in ("buildbot", "buildslave"):
        if not os.path.exists(os.path.join(args.bin_dir, b)):
            sys.exit(f"no {b} in {args.bin_dir}: cargo build --release -p buildbot-cli "
                     "-p buildbot-slave-cli (or pass --bin-dir)")
    todo = {"w1": [w1], "w2": [w2], "w3": [w3], "w4": [w4], "w5": [w5], "w6": [w6]}
    if args.workload == "all":
        for name in ("w1", "w2", "w3", "w4", "w5", "w6"):
            globals()[name](args)
    else:
        for fn in todo[args.workload]:
            fn(args)


if __name__ == "__main__":
    main()
