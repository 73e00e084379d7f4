#!/usr/bin/env python3
"""The chaos soak's checker (standard library only).

Reads every task id the load generator got a 201 for (submitted.jsonl),
fetches each task's whole record (GET /tasks/{id}) and counts:
  lost            never final (still QUEUED or RUNNING, or the record is gone)
  wrong           final with the wrong status, result or failure kind (a
                  cancelled task: as its cancel's answer says, cancels.jsonl)
  over_attempts   taken more often than the maximum attempts allow
  changed         final state differs from the first final state the load
                  generator read during the run (first_finals.jsonl)
and, apart from those, tasks FAILED as "lost" after exhausting their
attempts (legitimate: random kills hit them every time). Writes the counts
to summary.json and every counted task's record to bad.jsonl; exits 1 if
any of the four counts is not 0.
"""

import argparse
import http.client
import json
import queue
import sys
import threading
import time

from chaos_load import Api

FINAL = ("COMPLETED", "FAILED")


def read_jsonl(path):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    rows.append(json.loads(line))
    except FileNotFoundError:
        pass
    return rows


def fetch_records(url, ids, threads):
    """{id: record or None (404)}, retrying other answers and transport
    errors for up to a minute per id; exits (status 1) if any stays unread."""
    records, unreadable, todo, lock = {}, [], queue.Queue(), threading.Lock()
    for tid in ids:
        todo.put(tid)

    def work():
        api = Api(url, timeout=10.0)
        while not unreadable:  # one task unread for a minute: the platform is down, stop
            try:
                tid = todo.get_nowait()
            except queue.Empty:
                break
            give_up = time.time() + 60
            while True:
                try:
                    status, body = api.call("GET", f"/tasks/{tid}")
                    if status in (200, 404):
                        break
                except (OSError, http.client.HTTPException):
                    pass
                if time.time() > give_up:
                    status = None
                    break
                time.sleep(0.5)
            if status is None:
                with lock:
                    unreadable.append(tid)
                continue
            with lock:
                records[tid] = body if status == 200 else None
        api.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if unreadable:  # the platform is not answering: no verdict rather than a false one
        sys.exit(f"could not read {len(unreadable)} tasks (first: {unreadable[0]}): no verdict")
    return records


def cancel_outcome(record, code):
    """Whether a cancelled task ended as its cancel's answer says: 200 or
    202, FAILED `cancelled`; 409 (it had ended), COMPLETED; no answer (or
    another), either."""
    cancelled = record["status"] == "FAILED" and record.get("failure_kind") == "cancelled" \
        and record.get("result") == "cancelled"
    completed = record["status"] == "COMPLETED" and record.get("result") == "slept"
    if code in (200, 202):
        return cancelled
    if code == 409:
        return completed
    return cancelled or completed


def verdict(row, record, max_attempts, cancel_code=None):
    """The problems of one task (a subset of lost, wrong, over_attempts), and
    whether it is a legitimate exhausted-attempts failure."""
    if record is None or record.get("status") not in FINAL:
        return ["lost"], False
    problems, exhausted = [], False
    status, result, kind = record["status"], record.get("result"), record.get("failure_kind")
    attempts = record.get("attempts", 0)
    if attempts > max_attempts:
        problems.append("over_attempts")
    if status == "FAILED" and kind == "lost":
        # Only right when every allowed attempt was really taken.
        exhausted = attempts == max_attempts and result == f"worker lost {max_attempts} times"
        if not exhausted:
            problems.append("wrong")
        return problems, exhausted
    expected = {
        "add": status == "COMPLETED" and result == row["expect"],
        "fib": status == "COMPLETED" and result == row["expect"],
        "sleep": status == "COMPLETED" and result == row["expect"],
        "trap": status == "FAILED" and kind == "trap",
        "timeout": status == "FAILED" and kind == "timeout"
        and isinstance(result, str) and result.startswith("timed out after"),
        "cancel": row["kind"] == "cancel" and cancel_outcome(record, cancel_code),
    }[row["kind"]]
    # Every ended task was taken at least once, except one cancelled while
    # still queued (it never starts: attempts 0, no started_at).
    if not expected or (attempts < 1 and kind != "cancelled"):
        problems.append("wrong")
    return problems, exhausted


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True, help="the load generator's directory")
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--threads", type=int, default=4)
    args = p.parse_args()

    submitted = read_jsonl(f"{args.out}/submitted.jsonl")
    if not submitted:
        sys.exit(f"no task ids in {args.out}/submitted.jsonl: nothing to check")
    cancel_codes = {row["id"]: row["code"] for row in read_jsonl(f"{args.out}/cancels.jsonl")}
    first = {}
    for row in read_jsonl(f"{args.out}/first_finals.jsonl"):
        first.setdefault(row["id"], row)
    ids = [row["id"] for row in submitted]
    if len(set(ids)) != len(ids):
        print(f"duplicate task ids among the 201s: {len(ids) - len(set(ids))}")
    started = time.time()
    records = fetch_records(args.url, ids, args.threads)

    counts = {"submitted": len(submitted), "lost": 0, "wrong": 0, "over_attempts": 0, "changed": 0,
              "lost_after_all_attempts": 0}
    by_kind, attempts_seen = {}, {}
    with open(f"{args.out}/bad.jsonl", "w", encoding="utf-8") as bad:
        for row in submitted:
            record = records.get(row["id"])
            problems, exhausted = verdict(row, record, args.max_attempts, cancel_codes.get(row["id"]))
            seen = first.get(row["id"])
            if seen is not None and record is not None and \
                    (seen["status"], seen["result"]) != (record.get("status"), record.get("result")):
                problems.append("changed")
            for problem in problems:
                counts[problem] += 1
            if exhausted:
                counts["lost_after_all_attempts"] += 1
            if record is not None:
                n = record.get("attempts", 0)
                attempts_seen[n] = attempts_seen.get(n, 0) + 1
            k = by_kind.setdefault(row["kind"], {"tasks": 0, "ok": 0})
            k["tasks"] += 1
            k["ok"] += not problems and not exhausted
            if problems or exhausted:
                bad.write(json.dumps({"problems": problems, "exhausted": exhausted, "submitted": row,
                                      "cancel_answer": cancel_codes.get(row["id"]),
                                      "first_final": seen, "record": record}) + "\n")
    counts["read_during_run"] = sum(1 for tid in ids if tid in first)
    # How long tasks took to be seen final (the watcher reads once a second):
    # kills show up here as stalls, not as counts.
    waits = sorted(first[row["id"]]["t"] - row["t"] for row in submitted if row["id"] in first)
    pct = lambda q: round(waits[min(len(waits) - 1, int(q * len(waits)))], 1) if waits else None  # noqa: E731
    answers = {}
    for row in submitted:
        if row["kind"] == "cancel":
            code = str(cancel_codes.get(row["id"], "none"))
            answers[code] = answers.get(code, 0) + 1
    summary = {"counts": counts, "by_kind": by_kind, "cancel_answers": answers,
               "attempts": {str(k): v for k, v in sorted(attempts_seen.items())},
               "seconds_to_final": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
               "check_seconds": round(time.time() - started, 1)}
    with open(f"{args.out}/summary.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    print(f"checked {len(ids)} tasks in {summary['check_seconds']} s "
          f"({counts['read_during_run']} of them also read final during the run)")
    print(f"by kind: {json.dumps(by_kind)}")
    print(f"attempts taken: {summary['attempts']}")
    print(f"cancel answers (200/202: cancelled, 409: had ended, None: no answer): {answers}")
    print(f"seconds from the 201 to the first read final state (read once a second): "
          f"{summary['seconds_to_final']}")
    print(f"lost {counts['lost']}, wrong {counts['wrong']}, over_attempts {counts['over_attempts']}, "
          f"changed {counts['changed']}; failed after all {args.max_attempts} attempts were lost "
          f"(legitimate): {counts['lost_after_all_attempts']}")
    sys.exit(1 if any(counts[k] for k in ("lost", "wrong", "over_attempts", "changed")) else 0)


if __name__ == "__main__":
    main()
