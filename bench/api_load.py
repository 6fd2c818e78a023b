"""Closed-loop load generator for bench/api: WORKERS processes, each with
one keep-alive HTTP/1.1 connection, replaying requests signed by botocore's
SigV4Auth before the clock starts. Prints one CSV row (after the given
prefix): seconds, requests, errors, rps, p50_ms, p99_ms, max_ms. Any answer
other than 200 counts as an error, and errors fail the run."""

import argparse
import http.client
import multiprocessing
import sys
import time
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed_requests(args):
    """(method, path, headers) for each request the workers cycle through."""
    credentials = Credentials(args.key_id, args.secret)
    if args.operation == "ListBackupVaults":
        paths = ["/backup-vaults/"]
    else:
        paths = [f"/backup-vaults/bench-{i:04d}" for i in range(args.vaults)]
    out = []
    for path in paths:
        request = AWSRequest(method="GET", url=args.url + path, data=b"")
        SigV4Auth(credentials, "backup", args.region).add_auth(request)
        out.append(("GET", path, dict(request.headers.items())))
    return out


def worker(args, requests, start_at, results):
    parsed = urlparse(args.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    latencies = []
    errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = time.perf_counter() + args.seconds
    idx = 0
    while True:
        method, path, headers = requests[idx % len(requests)]
        idx += 1
        began = time.perf_counter()
        if began >= end:
            break
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 200:
            errors += 1
            if errors == 1:
                print(f"{args.operation}: {response.status} {body[:300]!r}", file=sys.stderr)
    conn.close()
    results.put((latencies, errors))


def main():
    parser = argparse.ArgumentParser()
    for name in ["url", "region", "key-id", "secret", "operation", "csv-prefix"]:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--vaults", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    requests = signed_requests(args)
    results = multiprocessing.Queue()
    start_at = time.time() + 1.0
    procs = [multiprocessing.Process(target=worker, args=(args, requests, start_at, results))
             for _ in range(args.workers)]
    for p in procs:
        p.start()
    latencies, errors = [], 0
    for _ in procs:
        lat, err = results.get()
        latencies.extend(lat)
        errors += err
    for p in procs:
        p.join()
    latencies.sort()
    n = len(latencies)

    def pct(q):
        return latencies[min(n - 1, int(q * n))] * 1000 if n else float("nan")

    rps = n / args.seconds
    print(f"{args.csv_prefix},{args.seconds:g},{n},{errors},{rps:.0f},{pct(0.50):.2f},{pct(0.99):.2f},"
          f"{(latencies[-1] * 1000 if n else float('nan')):.2f}")
    if errors:
        sys.exit(f"{errors} requests were not answered 200")


if __name__ == "__main__":
    main()
