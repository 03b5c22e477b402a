#!/usr/bin/env python3
"""Submit a WebAssembly job to a Vcity node, follow it on the event stream, and fetch each task's
output from the node that ran it, checked against the commitment on the ledger.

    python3 examples/submit_job.py --api http://127.0.0.1:8710 --key ~/.vcity/keys/bob.json \\
        --module hashchain.wasm --input "500 seed"

Prints one JSON object: the job id, its final task states, and each task's output (text where
it is UTF-8, hex otherwise). docs/job-spec.md describes the fields of a job."""

import argparse
import json
import sys
import time
from decimal import Decimal

from vcity_sdk import Client, Key

USD_DECIMALS = 6
DONE = ("settled", "failed", "cancelled")


def usd_units(text):
    return int(Decimal(text) * 10**USD_DECIMALS)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", default="http://127.0.0.1:8710", help="the node's API")
    parser.add_argument("--key", required=True, help="the payer's key file (vcity keys)")
    parser.add_argument("--module", required=True, help="a wasm32-wasip1 module")
    parser.add_argument("--input", default="", help="the task's standard input")
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--max-cu", default="0.01", help="most CU one task may use")
    parser.add_argument("--max-price-per-cu", default="0.1", help="most USD paid per CU")
    parser.add_argument("--timeout-s", type=float, default=120.0)
    args = parser.parse_args()

    client = Client(args.api)
    key = Key.from_file(args.key)
    with open(args.module, "rb") as handle:
        module = client.put_blob(handle.read())
    message = {
        "type": "submit_job",
        "workload": {"module_hash": module["address"], "input": list(args.input.encode())},
        "tasks": args.tasks,
        "requirements": {"gpu_model": None, "gpu_count": 0, "min_vram_mib": 0, "region": None, "max_duration_s": 600},
        "max_cu_ppm_per_task": int(Decimal(args.max_cu) * 10**6),
        "max_price_per_cu_usd": str(usd_units(args.max_price_per_cu)),
        "billing": {"model": "pay_as_you_go"},
    }
    view = client.send_and_wait(key, [message])
    submitted = next(event for event in view["receipt"]["events"] if event["type"] == "job_submitted")
    job_id = submitted["job_id"]
    print(f"job {job_id} submitted in block {view['receipt']['height']}", file=sys.stderr)

    # Each committed block ends with a "block" item: look at the job then.
    deadline = time.monotonic() + args.timeout_s
    job = client.job(job_id)
    if not all(task["state"]["state"] in DONE for task in job["tasks"]):
        for event, _, data in client.events(from_height=view["receipt"]["height"], timeout_s=args.timeout_s):
            if event == "event" and data["event"].get("job_id") == job_id:
                print(f"block {data['height']}: {data['event']['type']}", file=sys.stderr)
            if event == "block":
                job = client.job(job_id)
                if all(task["state"]["state"] in DONE for task in job["tasks"]):
                    break
            if time.monotonic() > deadline:
                sys.exit(f"job {job_id} did not finish in {args.timeout_s} s")

    tasks = []
    for index, task in enumerate(job["tasks"]):
        entry = {"task": index, "state": task["state"]["state"]}
        if task["state"]["state"] == "settled":
            commitment, output = client.task_output(key, job_id, index)
            entry["exit"] = commitment["exit"]["exit"]
            try:
                entry["output"] = output.decode("utf-8")
            except UnicodeDecodeError:
                entry["output_hex"] = output.hex()
        tasks.append(entry)
    print(json.dumps({"job_id": job_id, "tasks": tasks}))


if __name__ == "__main__":
    main()
