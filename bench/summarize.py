#!/usr/bin/env python3
"""Collects the runs of bench/run.sh into summary.json and summary.md.

Usage: summarize.py OUT_DIR (holding one directory per backend).
"""

import json
import os
import platform
import re
import sys
from datetime import datetime, timezone

TARGETS = {
    "sqlite": {"submit_per_s": 10_000, "submit_p99_ms": 50},
    "postgres": {"submit_per_s": 3_000, "submit_p99_ms": 100},
}


def load(path):
    with open(path) as f:
        return json.load(f)


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def rss_after(directory):
    """The server's peak RSS (VmHWM, KiB) at the end of each run, from rss.log."""
    peaks = {}
    try:
        with open(os.path.join(directory, "rss.log")) as f:
            for line in f:
                m = re.match(r"(\S+) .*VmHWM:\s+(\d+) kB", line)
                if m:
                    peaks[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return peaks


def failures(run):
    return run["graphql_errors"] + run["non_200"] + run["socket_errors"]


def backend_summary(directory, backend):
    seed = load(os.path.join(directory, "seed.json"))
    seed.pop("organiser_token", None)
    tokens = seed["tokens"]
    runs = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json") or name == "seed.json":
            continue
        key = name[:-5]
        run = load(os.path.join(directory, name))
        offset = read_int(os.path.join(directory, key + ".offset"))
        if offset is not None:
            fresh = max(0, min(tokens - offset, run["requests"]))
            run["first_token"] = offset
            run["new_opinions"] = fresh
            run["changed_opinions"] = run["requests"] - fresh
        runs[key] = run
    out = {
        "seed": seed,
        "server_peak_rss_kib": read_int(os.path.join(directory, "server_peak_rss_kib")),
        "baseline_group_peak_rss_kib": read_int(
            os.path.join(directory, "baseline_group_peak_rss_kib")
        ),
        "baseline_per_request_peak_rss_kib": read_int(
            os.path.join(directory, "baseline_per_request_peak_rss_kib")
        ),
        "runs": runs,
        "ratios": {},
        "targets": {},
    }
    for key, run in runs.items():
        m = re.fullmatch(r"submit_c(\d+)", key)
        if not m:
            continue
        c = m.group(1)
        for mode in ("group", "per_request"):
            base = runs.get(f"baseline_{mode}_c{c}")
            if base and base["ok_per_s"] > 0:
                out["ratios"][f"yishi_over_baseline_{mode}_c{c}"] = round(
                    run["ok_per_s"] / base["ok_per_s"], 3
                )
    target = TARGETS.get(backend)
    top = runs.get("submit_c256")
    if target and top:
        out["targets"]["submit_c256"] = {
            "target_per_s": target["submit_per_s"],
            "target_p99_ms": target["submit_p99_ms"],
            "met": top["ok_per_s"] >= target["submit_per_s"]
            and top["p99_ms"] <= target["submit_p99_ms"]
            and failures(top) == 0,
        }
    ratio = out["ratios"].get("yishi_over_baseline_group_c256")
    if ratio is not None:
        out["targets"]["ratio_c256"] = {"target": 0.25, "met": ratio >= 0.25}
    alone = [r for k, r in runs.items() if re.fullmatch(r"login_alone_c\d+", k)]
    storms = [r for k, r in runs.items() if re.fullmatch(r"login(_alone)?_c\d+", k)]
    if alone:
        beside = {k: r for k, r in runs.items() if re.fullmatch(r"login_c\d+", k)}
        out["targets"]["logins"] = {
            "target_per_s": 40,
            "target_limited_within_ms": 2_000,
            "alone_per_s": [round(r["ok_per_s"], 1) for r in alone],
            # With a submission storm alongside, the one core is shared: this
            # is what each side gets, shown, not judged.
            "with_submissions_per_s": [round(r["ok_per_s"], 1) for r in beside.values()],
            "submissions_alongside_per_s": [
                round(runs[k + "_submit"]["ok_per_s"]) for k in beside if k + "_submit" in runs
            ],
            # A refused login is answered once the pool's queue timeout passes;
            # allow the response's own time on top.
            "met": all(r["ok_per_s"] >= 40 for r in alone)
            and all(r["max_ms"] <= 2_500 and failures(r) == 0 for r in storms),
        }
    # The target is the memory at 1,000 connections: the peak reached by the
    # end of that run, which follows every results run. The whole run's peak,
    # login storm included, is reported beside it.
    at_1000 = rss_after(directory).get("submit_c1000")
    if at_1000 is not None:
        out["server_peak_rss_kib_at_c1000"] = at_1000
        out["targets"]["server_rss_at_c1000"] = {
            "target_mib": 256,
            "met": at_1000 <= 256 * 1024,
        }
    # Judged for one client asking again and again, as a dashboard being
    # watched does; 64 clients that ask again the moment an answer arrives
    # measure how many answers the core has to spare (their wait is 64 ÷
    # that rate), shown beside it.
    for level, limit in (("township", 10), ("village", 50)):
        one = runs.get(f"results_{level}_load_c1")
        if one:
            out["targets"][f"results_{level}_under_load_p99"] = {
                "target_p99_ms": limit,
                "p99_ms_by_clients": {
                    k.rsplit("_c", 1)[1]: r["p99_ms"]
                    for k, r in runs.items()
                    if re.fullmatch(rf"results_{level}_load_c\d+", k)
                },
                "met": one["p99_ms"] <= limit and failures(one) == 0 and one["ok"] > 0,
            }
    return out


def scenario_rows(backend, summary):
    rows = []
    runs = summary["runs"]

    def order(key):
        kinds = ["submit", "results_county_idle", "results_county_load",
                 "results_township_idle", "results_township_load",
                 "results_village_idle", "results_village_load",
                 "opinions_city_idle", "opinions_county_idle", "opinions_township_idle",
                 "results_township_hot", "results_village_hot", "login_alone", "login",
                 "baseline_group", "baseline_per_request"]
        m = re.fullmatch(r"(.*)_c(\d+)(_submit)?", key)
        base, c, sub = m.group(1), int(m.group(2)), bool(m.group(3))
        return (kinds.index(base) if base in kinds else 99, c, sub)

    for key in sorted(runs, key=order):
        run = runs[key]
        m = re.fullmatch(r"(.*)_c(\d+)(_submit)?", key)
        scenario, conns, sub = m.group(1), m.group(2), m.group(3)
        if sub:
            scenario += " (submissions alongside)"
        if "_hot" in scenario:
            scenario += ", to the topic being read"
        note = ""
        if run["ok"] == 0 and failures(run) == 0:
            note = f"no response completed within the {run['duration_s']:.0f} s run"
        if "new_opinions" in run:
            note = f"{run['new_opinions']} new, {run['changed_opinions']} changed"
        if run.get("limited"):
            note += ("; " if note else "") + f"{run['limited']} answered RATE_LIMITED"
        if run["error_sample"]:
            note += ("; " if note else "") + "first error: " + run["error_sample"][:120].replace("|", "\\|")
        def ms(v):
            return f"{v:.1f}" if run["requests"] > 0 else f"> {run['duration_s'] * 1000:.0f}"

        rows.append(
            f"| {backend} | {scenario} | {conns} | {run['ok_per_s']:.0f} | "
            f"{ms(run['p50_ms'])} | {ms(run['p99_ms'])} | {ms(run['max_ms'])} | "
            f"{run['ok']} | {failures(run)} | {note} |"
        )
    return rows


def main():
    out_dir = sys.argv[1]
    backends = {}
    for backend in ("sqlite", "postgres"):
        directory = os.path.join(out_dir, backend)
        if os.path.exists(os.path.join(directory, "seed.json")):
            backends[backend] = backend_summary(directory, backend)
    summary = {
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "config": {
            "seconds": int(os.environ.get("BENCH_SECONDS", "0")),
            "results_seconds": int(os.environ.get("BENCH_RESULTS_SECONDS", "0")),
            "residents": int(os.environ.get("BENCH_RESIDENTS", "0")),
            "tokens": int(os.environ.get("BENCH_TOKENS", "0")),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "load_generator": "wrk (Debian) with bench/wrk.lua, -t1, pinned with taskset",
        },
        "backends": backends,
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    cfg = summary["config"]
    lines = [
        "# Yishi benchmark",
        "",
        f"{cfg['residents']:,} residents, {cfg['seconds']} s per submission run, "
        f"{cfg['results_seconds']} s per results run; {cfg['cpu']} ({cfg['cores']} cores); "
        "server on one core, wrk on the other. A 200 with `errors` counts as a failure; "
        "wrk counts only responses completed within the run (its timeout is the run length), "
        "so a run where none completed shows `> run length` latencies.",
        "",
        "| backend | scenario | conns | ok/s | p50 ms | p99 ms | max ms | ok | failures | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for backend, s in backends.items():
        lines += scenario_rows(backend, s)
    lines.append("")
    for backend, s in backends.items():
        rss = s["server_peak_rss_kib"]
        lines.append(f"## {backend}")
        lines.append("")
        seed = s["seed"]
        lines.append(
            f"- seed: {seed['residents']:,} residents over {seed['villages']:,} villages in "
            f"{seed['seconds']['total']:.1f} s"
        )
        if rss:
            lines.append(f"- yishi serve peak RSS over the whole run (VmHWM): {rss / 1024:.0f} MiB")
        at_1000 = s.get("server_peak_rss_kib_at_c1000")
        if at_1000:
            lines.append(f"- yishi serve peak RSS by the end of the 1,000-connection run: {at_1000 / 1024:.0f} MiB")
        for mode in ("group", "per_request"):
            b = s.get(f"baseline_{mode}_peak_rss_kib")
            if b:
                lines.append(f"- baseline ({mode}) peak RSS: {b / 1024:.0f} MiB")
        for k, v in s["ratios"].items():
            lines.append(f"- {k}: {v}")
        for k, v in s["targets"].items():
            lines.append(f"- target {k}: {'met' if v['met'] else 'NOT met'} ({json.dumps({x: y for x, y in v.items() if x != 'met'})})")
        lines.append("")
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
