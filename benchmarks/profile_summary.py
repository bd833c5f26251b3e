#!/usr/bin/env python3
"""Self time per operator in a trace written by `lab bench RECIPE --trace FILE`, largest first.

Usage: profile_summary.py TRACE.json [--top N]
Self time is an event's duration minus that of the events nested inside it on the same thread, so
each microsecond is counted once, under the innermost operator that spent it.
"""
import argparse
import collections
import json


def self_times(events):
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
    by_thread = collections.defaultdict(list)
    for e in spans:
        by_thread[(e.get("pid"), e.get("tid"))].append(e)
    totals = collections.Counter()
    counts = collections.Counter()
    for thread_events in by_thread.values():
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, name, child_time]
        def close(frame):
            end, name, dur, child = frame
            totals[name] += dur - child
            counts[name] += 1
            if stack:
                stack[-1][3] += dur
        for e in thread_events:
            while stack and stack[-1][0] <= e["ts"]:
                close(stack.pop())
            stack.append([e["ts"] + e["dur"], e["name"], e["dur"], 0.0])
        while stack:
            close(stack.pop())
    return totals, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with open(args.trace) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    totals, counts = self_times(events)
    whole = sum(totals.values())
    print(f"{'operator':<40} {'calls':>6} {'self ms':>10} {'share':>7}")
    for name, us in totals.most_common(args.top):
        print(f"{name:<40} {counts[name]:>6} {us / 1e3:>10.1f} {100 * us / whole:>6.1f}%")
    print(f"{'(all operators)':<40} {sum(counts.values()):>6} {whole / 1e3:>10.1f}")


if __name__ == "__main__":
    main()
