"""gRPC benchmark: concurrent clients sending gate and lineage requests to `mlstore serve`.

The store holds ``--days`` daily runs of the pipeline of ``bench_core.py`` (ExampleGen →
Examples → Transform → TransformGraph → Trainer (previous Model as base_model) → Model →
Evaluator → ModelEvaluation (20 metrics × 10 slices) → Gate → ModelBlessing), built
with the Store API and cached under ``--cache`` between runs. A real ``mlstore serve``
subprocess serves it; ``--clients`` client threads spread over ``--procs`` processes
alternate EvaluateGate (a random day's model against the latest blessed baseline) and
GetLineage (full upstream lineage, no depth limit, of a random day's model) for
``--seconds``, after one warm-up call (the server loads its lineage cache on first
use). Reports throughput, p50/p99 per kind, errors, mean lineage size.

Two loads: closed loop (default; each client sends its next request as soon as the
last is answered, which measures saturation: latency is then mostly queueing behind
the other 49) and open loop (``--rate``: the clients together send that many requests
a second on a fixed schedule, and latency counts from when a request was due, so a
stall is charged to every request queued behind it).

    python benchmarks/bench_grpc.py --days 10000 --seconds 30 --clients 50
    python benchmarks/bench_grpc.py --days 10000 --seconds 30 --clients 50 --rate 100
    python benchmarks/bench_grpc.py --days 50 --seconds 3 --clients 4      # smoke run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from bench_core import log_day_mlstore  # noqa: E402

GATE_SPEC = """\
version: 1
metrics:
  - name: auc_roc
    lower_bound: 0.0
    change: {direction: higher_is_better, absolute: -0.5}
    slices: [overall, {feature: carrier}]
    upper_bound: 1.0
"""


def build_store(directory: Path, days: int) -> None:
    """Logs ``days`` daily runs into a fresh store at ``directory`` (marker file when done)."""
    import mlstore  # noqa: PLC0415

    marker = directory / "BENCH_COMPLETE"
    if marker.exists():
        return
    if directory.exists():
        raise SystemExit(f"{directory} holds an unfinished store; delete it and rerun")
    store = mlstore.open(str(directory))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "blob.txt").write_text("bench")
        blob = store.blobs.publish(Path(tmp) / "blob.txt")
    prev, start = None, time.perf_counter()
    for day in range(1, days + 1):
        prev = log_day_mlstore(store, blob, day, prev)
        if day % 500 == 0:
            print(f"  built {day}/{days} days ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    marker.write_text(json.dumps({"days": days}))
    store.close()


def start_server(directory: Path, args) -> tuple[subprocess.Popen, int]:
    exe = Path(sys.executable).with_name("mlstore")
    command = [str(exe), "serve", "--store", str(directory), "--port", "0", "--workers", str(args.workers),
               "--lineage-slots", str(args.lineage_slots)]
    if args.processes:
        command += ["--processes", str(args.processes)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening on"):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def warm_up(target: str, models: list[int], processes: int) -> None:
    """Lineage calls before timing: each server process loads its lineage cache on first use.

    Every new channel is a new connection, which the kernel hands to any of the
    processes sharing the port (SO_REUSEPORT); a few per process reach each of them.
    """
    from mlstore.v1 import lineage_service_pb2 as l, lineage_service_pb2_grpc as lg  # noqa: PLC0415

    for _ in range(4 * processes):
        options = [("grpc.max_receive_message_length", 256 << 20), ("grpc.use_local_subchannel_pool", 1)]
        with grpc.insecure_channel(target, options=options) as channel:
            lg.LineageServiceStub(channel).GetLineage(l.GetLineageRequest(start=[f"artifact:{models[-1]}"]),
                                                      timeout=120)


def _client_loop(target: str, models: list[int], window: tuple[float, float], seed: int, out: list,
                 interval: float = 0.0, phase: float = 0.0) -> None:
    from mlstore.v1 import gate_service_pb2 as g, gate_service_pb2_grpc as gg  # noqa: PLC0415
    from mlstore.v1 import lineage_service_pb2 as l, lineage_service_pb2_grpc as lg  # noqa: PLC0415

    rng = random.Random(seed)
    # A local subchannel pool gives each client its own connection, as separate client
    # processes would have (gRPC otherwise shares one per process and target); the kernel
    # spreads connections over the server processes.
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 256 << 20),
                                                     ("grpc.use_local_subchannel_pool", 1)])
    gates, lineage = gg.GateServiceStub(channel), lg.LineageServiceStub(channel)
    start, deadline = window
    time.sleep(max(0.0, start - time.time()))  # every client starts together, after the processes are up
    i = 0
    clock = time.perf_counter() - time.time()  # time.time() -> perf_counter()
    while time.time() < deadline:
        model = rng.choice(models)
        kind = "gate" if i % 2 == 0 else "lineage"
        if interval:
            # Open loop at a fixed rate: latency counts from when the request was due, so a
            # slow answer also delays (and is charged to) the requests queued behind it.
            due = start + phase + i * interval
            if due >= deadline:
                break
            time.sleep(max(0.0, due - time.time()))
            t0 = due + clock
        else:
            t0 = time.perf_counter()
        try:
            if kind == "gate":
                gates.EvaluateGate(g.EvaluateGateRequest(spec_yaml=GATE_SPEC, candidate=f"artifact:{model}"),
                                   timeout=30)
                size = 0
            else:
                size = len(lineage.GetLineage(l.GetLineageRequest(start=[f"artifact:{model}"]), timeout=30).graph.node_ids)
            out.append((kind, time.perf_counter() - t0, None, size))
        except grpc.RpcError as e:
            out.append((kind, time.perf_counter() - t0, f"{e.code().name}: {e.details()}", 0))
        i += 1
    channel.close()


def _client_process(target, models, window, phases, seed, queue, interval) -> None:
    """Runs one client thread per phase (its offset in the open-loop schedule)."""
    results: list = []
    pool = [threading.Thread(target=_client_loop, args=(target, models, window, seed * 1000 + k, results, interval,
                                                        phase))
            for k, phase in enumerate(phases)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put(results)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) >= 2 else values[0] * 1000


def run(args) -> dict:
    directory = Path(args.cache).expanduser() / f"grpc-days{args.days}"
    t0 = time.perf_counter()
    build_store(directory, args.days)
    build_s = time.perf_counter() - t0
    import mlstore  # noqa: PLC0415

    with mlstore.open(str(directory)) as store:
        models = [a.id for a in store.artifacts(type="Model")]
    proc, port = start_server(directory, args)
    try:
        warm_up(f"127.0.0.1:{port}", models, args.processes or os.cpu_count() or 1)
        start = time.time() + 10.0  # spawned client processes import gRPC first
        window = (start, start + args.seconds)
        context = mp.get_context("spawn")  # no fork: this process already ran gRPC (warm-up), which fork can hang
        queue = context.Queue()
        # Open loop (--rate): each client sends every clients/rate seconds, the clients
        # evenly staggered; closed loop: each sends its next request when answered.
        interval = args.clients / args.rate if args.rate else 0.0
        phases = [[j / args.rate if args.rate else 0.0 for j in range(i, args.clients, args.procs)]
                  for i in range(args.procs)]
        procs = [context.Process(target=_client_process,
                                 args=(f"127.0.0.1:{port}", models, window, p, i, queue, interval))
                 for i, p in enumerate(phases) if p]
        for p in procs:
            p.start()
        results = [r for _ in procs for r in queue.get()]
        for p in procs:
            p.join()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    report = {"days": args.days, "models": len(models), "clients": args.clients, "seconds": args.seconds,
              "offered_rps": args.rate or "closed loop (each client sends when answered)",
              "server_processes": args.processes or os.cpu_count(), "lineage_slots": args.lineage_slots,
              "cpus": os.cpu_count(),
              "store_build_s": round(build_s, 1), "requests": len(results),
              "throughput_rps": round(len(results) / args.seconds, 1)}
    for kind in ("gate", "lineage"):
        ok = [r for r in results if r[0] == kind and r[2] is None]
        failed = [r for r in results if r[0] == kind and r[2] is not None]
        report[kind] = {
            "requests": len(ok) + len(failed), "errors": len(failed),
            "first_error": failed[0][2] if failed else None,
            "p50_ms": round(_pct([r[1] for r in ok], 50), 1) if ok else None,
            "p99_ms": round(_pct([r[1] for r in ok], 99), 1) if ok else None,
            "mean_nodes": round(statistics.mean(r[3] for r in ok)) if ok and kind == "lineage" else None,
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--procs", type=int, default=5, help="client processes the clients are spread over")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop: requests per second from all clients together (default: closed loop)")
    parser.add_argument("--workers", type=int, default=64, help="server RPC threads per process")
    parser.add_argument("--processes", type=int, default=None, help="server processes (default: serve's, the CPUs)")
    parser.add_argument("--lineage-slots", type=int, default=1, help="lineage queries at once per server process")
    parser.add_argument("--cache", default=os.environ.get("MLSTORE_BENCH_CACHE", "~/.cache/mlstore-bench"))
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
