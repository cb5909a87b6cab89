"""Renders the benchmark's results.json as RESULTS.md (one table per measurement, the targets of issue 7 checked
against the figures) and the CPU/RSS chart (gnuplot). Hand-written analysis between the markers in an existing
RESULTS.md is kept across renders."""
import json
import os
import subprocess
import tempfile

BEGIN, END = "<!-- analysis:begin -->", "<!-- analysis:end -->"
KINDS = (("livegate", "livegate"), ("nginx", "nginx-rtmp"))


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def ratio(a, b):
    return f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "–"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def kept_analysis(path):
    if os.path.exists(path):
        text = open(path).read()
        if BEGIN in text and END in text:
            return text[text.index(BEGIN): text.index(END) + len(END)]
    return f"{BEGIN}\n_No analysis written yet._\n{END}"


def meta_lines(part):
    m = part.get("meta", {})
    return (f"\nMeasured {m.get('date', '?')}; load average before: {m.get('loadavg_before', '?')}; "
            f"livegate `{m.get('livegate', '?')}`.  \nCommand: `{m.get('command', '?')}`\n")


def param(part, key, default="?"):
    return part.get("meta", {}).get("params", {}).get(key, default)


def runs_by_n(results, kind):
    runs = results.get("ingest", {}).get("runs", {}).get(kind, {})
    return {int(n): r for n, r in runs.items()}


def ingest_section(results, chart_name):
    lg, ng = runs_by_n(results, "livegate"), runs_by_n(results, "nginx")
    ns = sorted(set(lg) | set(ng))
    if not ns:
        return ""
    s = ["## Ingest: N publishers of the same 3.15 Mbit/s stream\n", meta_lines(results["ingest"])]
    ing = results["ingest"]
    s.append(f"\nEach point is a fresh server, the two servers taking turns at each N; the generator's publishers "
             "start spread over 2 s; after a "
             f"{param(ing, 'warmup_s')} s warm-up the CPU (utime + stime from /proc, all of the server's processes: "
             f"livegate is one process, nginx counts its master, worker and cache manager) and RSS are taken over a "
             f"{param(ing, 'window_s')} s window; then the sampled playlists are polled for "
             f"{param(ing, 'latency_s')} s for the latency. A server that fell behind at some N is not run at "
             "larger N.\n\n")

    def cell(r, key, digits=1):
        if r is None:
            return "–"
        if "error" in r and key not in r:
            return "failed"
        return fmt(r.get(key), digits)

    rows = []
    for n in ns:
        a, b = lg.get(n), ng.get(n)
        ca, cb = (a or {}).get("cpu_pct"), (b or {}).get("cpu_pct")
        def per(c, r):
            # A server that fell behind did less than N streams' work: its per-stream figure is not comparable.
            return fmt(c / n, 2) + ("" if r.get("kept_up") else " (behind)") if c is not None else "–"

        def each(r):
            return ", ".join(fmt(c) for c in (r or {}).get("cpu_pct_runs", [])) or "–"

        rows.append([n, cell(a, "cpu_pct"), cell(b, "cpu_pct"), ratio(ca, cb), per(ca, a or {}), per(cb, b or {}),
                     each(a), each(b)])
    s.append("### CPU (% of one core)\n\n")
    if ing.get("repeat_ns"):
        s.append(f"At N = {', '.join(str(x) for x in ing['repeat_ns'])} each server ran "
                 f"{param(ing, 'repeat')} times, taking turns; the figure is the median run (its RSS, latency and "
                 "other figures below are that run's), and every run's CPU is listed.\n\n")
    s.append(table(["N", "livegate", "nginx-rtmp", "ratio lg/nginx", "livegate per stream", "nginx per stream",
                    "livegate runs", "nginx runs"], rows))
    s.append(f"\n![CPU and RSS against N]({chart_name})\n\n")

    rows = []
    for n in ns:
        a, b = lg.get(n), ng.get(n)
        ra, rb = (a or {}).get("rss_mib"), (b or {}).get("rss_mib")
        per = (ra - a["idle_rss_mib"]) / n if ra is not None else None
        held_a, held_b = (a or {}).get("held_mib"), (b or {}).get("held_mib")
        own = (ra - a["idle_rss_mib"] - held_a) / n if ra is not None and held_a is not None else None
        with_files = (rb + held_b) / n if rb is not None and held_b is not None else None
        rows.append([n, cell(a, "rss_mib", 0), cell(b, "rss_mib", 0), ratio(ra, rb), fmt(per, 2),
                     fmt(held_a / n if held_a is not None else None, 2), fmt(own, 2),
                     fmt(held_b / n if held_b is not None else None, 2), fmt(with_files, 2),
                     cell(a, "idle_rss_mib", 0), cell(b, "idle_rss_mib", 0)])
    s.append("### RSS (MiB, at the end of the window)\n\n")
    s.append(table(["N", "livegate", "nginx-rtmp", "ratio lg/nginx", "livegate per stream above idle",
                    "of which segments held", "of which its own", "nginx files per stream (page cache)",
                    "nginx RSS + files per stream", "livegate idle", "nginx idle"], rows))
    s.append("\nlivegate keeps every segment of the window and the grace period in its own memory (that is its "
             "design: no disk on the path); nginx-rtmp writes its fragments to files, so they sit in the page "
             "cache, not in its RSS. Segments held: `livegate_hls_bytes_held` from `/metrics`, and the size of the "
             "files under nginx-rtmp's `hls_path`, both read at the end of the window; \"its own\" is the rest of "
             "livegate's RSS above idle.\n\n")

    rows = []
    for n in ns:
        row = [n]
        for kind in ("livegate", "nginx"):
            r = (lg if kind == "livegate" else ng).get(n)
            if r is None:
                row += ["–", "–", "–", "–"]
            elif "streams_on_schedule" not in r:
                row += ["failed: " + r.get("error", "?")[:60].replace("|", "/"), "", "", ""]
            else:
                # No exit time: killed after 10 s, or already gone when the stop signal was due.
                stop = fmt(r.get("stop_s"), 2) if r.get("stop_s") is not None or "stop_s" not in r else (
                    "killed" if r.get("server_survived") else "died earlier")
                row += [f"{r['streams_on_schedule']}/{n}", f"{r['loadgen_kept_real_time']}/{n}",
                        "yes" if r["kept_up"] else "**no**", stop]
        rows.append(row)
    s.append("### Keeping up with real time\n\n")
    s.append("On schedule: the stream's playlist listed at least (window / 2 s) − 1 new segments during the CPU "
             "window (checked on every stream). Generator: the publisher's send queue never held a frame back "
             "more than 500 ms after the warm-up. Exit: seconds from the stop signal (livegate SIGTERM, nginx "
             "SIGQUIT, both graceful) to the process gone, sent after the generator stopped; killed: not gone "
             "within 10 s.\n\n")
    s.append(table(["N", "livegate on schedule", "livegate generator real time", "livegate kept up", "livegate exit s",
                    "nginx on schedule", "nginx generator real time", "nginx kept up", "nginx exit s"], rows))

    rows = []
    for n in ns:
        a, b = lg.get(n) or {}, ng.get(n) or {}
        rows.append([n, fmt(a.get("latency_p50_ms")), fmt(a.get("latency_p99_ms")), fmt(a.get("latency_max_ms")),
                     fmt(b.get("latency_p50_ms")), fmt(b.get("latency_p99_ms")), fmt(b.get("latency_max_ms")),
                     ratio(a.get("latency_p99_ms"), b.get("latency_p99_ms")),
                     f"{a.get('latency_samples', '–')} / {b.get('latency_samples', '–')}",
                     f"{a.get('latency_mismatches', '–')} / {b.get('latency_mismatches', '–')}",
                     f"{fmt(a.get('poll_round_ms'))} / {fmt(b.get('poll_round_ms'))}"])
    s.append("\n### Publish-to-playlist latency (ms)\n\n")
    s.append("From the keyframe that closes a segment being handed to the socket by the generator to that segment "
             f"first seen listed. Up to {param(ing, 'sample')} streams sampled; each of their playlists is read "
             f"every {param(ing, 'poll_ms')} ms or as fast as one round over them completes (the round column; "
             "livegate over one HTTP keep-alive connection, nginx-rtmp's m3u8 file on disk), so figures carry up to "
             "one round of poll delay. With a few dozen samples per point, p99 is close to the max. Mismatches: "
             "segments whose EXTINF was not one GOP, so the closing keyframe is unknown; not counted.\n\n")
    s.append(table(["N", "livegate p50", "livegate p99", "livegate max", "nginx p50", "nginx p99", "nginx max",
                    "ratio p99", "samples lg / nginx", "mismatches lg / nginx", "poll round ms lg / nginx"], rows))

    rows = []
    for n in ns:
        a, b = lg.get(n) or {}, ng.get(n) or {}
        lag = a.get("warmup_loop_lag") or {}
        worst = lag.get("worst_le_s")
        rows.append([n, fmt(a.get("warmup_cpu_pct")), fmt(b.get("warmup_cpu_pct")),
                     ratio(a.get("warmup_cpu_pct"), b.get("warmup_cpu_pct")),
                     fmt(lag.get("late_s"), 2), "–" if not lag else (f"≤ {worst:g}" if worst is not None else "> 5")])
    if any("warmup_cpu_pct" in (lg.get(n) or {}) for n in ns):
        s.append(f"\n### While the windows fill: the {param(ing, 'warmup_s')} s warm-up\n\n")
        s.append("CPU (% of one core) from starting the publishers to the start of the window above: the segments of "
                 "the first window and grace period are all fresh memory. livegate's loop lag comes from its "
                 "`livegate_loop_lag_seconds` histogram (a timer due every 100 ms): the seconds it ran late in all, "
                 "and the histogram bucket that bounds the worst single delay.\n\n")
        s.append(table(["N", "livegate CPU", "nginx CPU", "ratio lg/nginx", "livegate loop late (s in all)",
                        "livegate worst loop delay (s)"], rows))

    rows = []
    for n in ns:
        a, b = lg.get(n) or {}, ng.get(n) or {}
        ga, gb = a.get("loadgen_cpu_pct"), b.get("loadgen_cpu_pct")
        rows.append([n, fmt(ga), fmt(a.get("loadgen_sys_pct")), fmt(gb), fmt(b.get("loadgen_sys_pct")),
                     ratio(ga, a.get("cpu_pct")), ratio(gb, b.get("cpu_pct")),
                     fmt(a.get("loadgen_max_lag_ms")), fmt(b.get("loadgen_max_lag_ms"))])
    s.append("\n### The load generator's own cost (% of one core, same window)\n\n")
    s.append(f"Pacing tick {param(ing, 'tick_ms', 10)} ms. "
             "One process, one thread, every connection sharing the file's tag bytes (only chunk headers are "
             "written per connection). Its CPU includes the kernel's loopback TCP work done in its send calls "
             "(on loopback the receiving side's TCP processing also runs in the sender's system calls).\n\n")
    s.append(table(["N", "loadgen (livegate run)", "of which kernel", "loadgen (nginx run)", "of which kernel",
                    "loadgen / livegate", "loadgen / nginx", "max lag lg run (ms)", "max lag nginx run (ms)"], rows))

    rows = []
    for n in ns:
        row = [n]
        for r in (lg.get(n) or {}, ng.get(n) or {}):
            rq = r.get("server_runqueue") or {}
            row += [fmt(rq.get("busiest_thread_cpu_pct")), fmt(rq.get("busiest_thread_wait_pct")),
                    fmt((r.get("loadgen_runqueue") or {}).get("busiest_thread_wait_pct")), r.get("loadavg", "–")]
        rows.append(row)
    if any((lg.get(n) or {}).get("server_runqueue") or (ng.get(n) or {}).get("server_runqueue") for n in ns):
        s.append("\n### Starved or slow? CPU of the server's busiest thread and its run-queue wait\n\n")
        s.append("From /proc/PID/task/TID/schedstat over the CPU window: the time the busiest thread (livegate's "
                 "RTMP loop, nginx's worker) ran, and the time it was runnable but waited for a core, as % of the "
                 "window; the same wait for the generator; the load average at the end. A thread that waits a "
                 "large share of the time is starved by other work on the machine, not out of capacity.\n\n")
        s.append(table(["N", "livegate thread CPU", "livegate thread wait", "loadgen wait", "load avg",
                        "nginx worker CPU", "nginx worker wait", "loadgen wait", "load avg"], rows))
    return "".join(s)


def perf_section(results):
    for n, r in sorted(runs_by_n(results, "livegate").items()):
        p = r.get("perf")
        if p and p.get("top"):
            rows = [[i + 1, f"{t['self_pct']:.2f}%", f"`{t['symbol'].replace('|', '/')}`", t["dso"]]
                    for i, t in enumerate(p["top"])]
            out = (f"\n## Profile: livegate at N={p['n']}\n\n`perf record -F 250 --call-graph dwarf -p PID` for "
                   f"{p['seconds']} s after "
                   f"the latency window, `perf report --no-children --sort dso,symbol`: the top 15 self-time "
                   f"symbols (percent of the samples in livegate's process).\n\n"
                   + table(["#", "self", "symbol", "object"], rows))
            for sym, lines in (p.get("callers") or {}).items():
                if lines:
                    out += f"\nCall chains into `{sym}` (callers, 6 frames deep, branches ≥ 2 %):\n\n```\n" + "\n".join(lines) + "\n```\n"
            return out
    return ""


def http_section(results):
    part = results.get("http")
    if not part or not part.get("results"):
        return ""
    res = part["results"]
    lg, ng = res.get("livegate", {}), res.get("nginx", {})
    s = ["\n## HTTP: wrk on a live playlist and a segment\n", meta_lines(part)]
    workers = part.get("nginx_workers", 1)
    s.append(f"\n`wrk -t1 -c{param(part, 'wrk_connections')} -d{param(part, 'wrk_s')}s --latency`, while livegate "
             f"ingests {part.get('publishers')} publishers. "
             f"livegate serves from memory; nginx ({workers} worker{'s' if workers != 1 else ''}, `sendfile on`, "
             "access log off) serves the same files from livegate's `hls.dir` mirror on disk, under the same paths. "
             "wrk shares the 2 cores with the server. The servers take turns for "
             f"{param(part, 'wrk_rounds', 1)} rounds; each figure is the median of its runs. Server CPU per request "
             "is the server's CPU time over the run divided by the requests answered: what serving costs, "
             "whichever side was the limit. wrk's own CPU shows when the client was that limit (near 100 %).\n\n")
    rows = []
    for what in ("playlist", "segment"):
        a, b = lg.get(what, {}), ng.get(what, {})
        rows.append([f"{what} requests/s", fmt(a.get("requests_per_s"), 0), fmt(b.get("requests_per_s"), 0),
                     ratio(a.get("requests_per_s"), b.get("requests_per_s"))])
        rows.append([f"{what} MiB/s", fmt(a.get("mib_per_s")), fmt(b.get("mib_per_s")),
                     ratio(a.get("mib_per_s"), b.get("mib_per_s"))])
        rows.append([f"{what} latency p50 (ms)", fmt(a.get("p50_ms"), 2), fmt(b.get("p50_ms"), 2),
                     ratio(a.get("p50_ms"), b.get("p50_ms"))])
        rows.append([f"{what} latency p99 (ms)", fmt(a.get("p99_ms"), 2), fmt(b.get("p99_ms"), 2),
                     ratio(a.get("p99_ms"), b.get("p99_ms"))])
        rows.append([f"{what} errors", fmt(a.get("errors")), fmt(b.get("errors")), ""])
        rows.append([f"{what} server CPU %", fmt(a.get("server_cpu_pct")), fmt(b.get("server_cpu_pct")), ""])
        rows.append([f"{what} server CPU per request (µs)", fmt(a.get("server_us_per_request")),
                     fmt(b.get("server_us_per_request")),
                     ratio(a.get("server_us_per_request"), b.get("server_us_per_request"))])
        rows.append([f"{what} wrk CPU %", fmt(a.get("wrk_cpu_pct")), fmt(b.get("wrk_cpu_pct")), ""])
    s.append(table(["measure", "livegate", "nginx static", "ratio lg/nginx"], rows))
    s.append(f"\nPlaylist {lg.get('playlist_bytes', '?')} bytes; segment path `{lg.get('segment', {}).get('path')}`. "
             "livegate's CPU includes its ingest of the publishers.\n")
    for what, key, unit in (("playlist", "requests_per_s", "requests/s"), ("segment", "mib_per_s", "MiB/s")):
        each = [", ".join(fmt(r.get(key), 0) for r in res.get(kind, {}).get(what, {}).get("runs", []))
                for kind in ("livegate", "nginx")]
        if all(each):
            s.append(f"\nEach {what} run in {unit}, in order: livegate {each[0]}; nginx {each[1]}.\n")
    return "".join(s)


def players_section(results):
    part = results.get("players")
    if not part or not part.get("results"):
        return ""
    res = part["results"]
    lg, ng = res.get("livegate", {}), res.get("nginx", {})
    s = [f"\n## {part.get('players')} simulated players\n", meta_lines(part)]
    s.append(f"\n`players` (tests/bench/players.cpp, one libuv thread): {part.get('players')} players over "
             f"{part.get('streams')} live streams that each server ingests itself from the generator; each player "
             "holds one keep-alive connection, reloads the playlist every target duration, joins 3 segments from "
             "the live edge and fetches each new segment once, in order, like hls.js. Starts spread over 2 s; "
             f"playlist and segment latencies count from second 6 to the end ({param(part, 'players_s')} s), "
             "connects, first answers and errors over the whole run. nginx-rtmp's HLS is served by the same nginx "
             "(one worker) from its fragment directory. Latency: request written to last byte read. A request "
             "unanswered after 10 s is a timeout error and its connection is dropped and reopened.\n\n")
    rows = []

    def q(r, key, sub, digits=1):
        return fmt((r.get(key) or {}).get(sub), digits)

    for key, label in (("playlist_ms", "playlist"), ("segment_ms", "segment"), ("first_response_ms",
                                                                               "first playlist after start"),
                       ("connect_ms", "TCP connect")):
        for sub in ("count", "p50", "p99", "max"):
            a, b = (lg.get(key) or {}).get(sub), (ng.get(key) or {}).get(sub)
            rows.append([f"{label} {sub}" + ("" if sub == "count" else " (ms)"), q(lg, key, sub), q(ng, key, sub),
                         "" if sub == "count" else ratio(a, b)])
    for key, label in (("players_answered", "players that got a playlist"),
                       ("segments_slower_than_target", "segments slower than the target duration"),
                       ("segment_mbit_s", "segment throughput (Mbit/s)"), ("reconnects", "server-closed idle keep-alives"),
                       ("server_cpu_pct", "server CPU % (ingest included)"),
                       ("server_wait_pct", "server's busiest thread: % of the window waiting for a core"),
                       ("server_rss_mib", "server RSS MiB"),
                       ("players_cpu_pct", "player simulator CPU %")):
        rows.append([label, fmt(lg.get(key)), fmt(ng.get(key)), ratio(lg.get(key), ng.get(key))])
    rows.append(["errors", fmt_errors(lg.get("errors")), fmt_errors(ng.get("errors")), ""])
    s.append(table(["measure", "livegate", "nginx-rtmp + nginx http", "ratio lg/nginx"], rows))
    return "".join(s)


def fmt_errors(e):
    if e is None:
        return "–"
    if not e:
        return "0"
    return "; ".join(f"{k}: {v}" for k, v in sorted(e.items())).replace("|", "/")


def targets_section(results):
    lg, ng = runs_by_n(results, "livegate"), runs_by_n(results, "nginx")
    rows = []

    def verdict(ok):
        return "–" if ok is None else ("met" if ok else "**not met**")

    for n in (50, 200):
        a, b = lg.get(n, {}).get("cpu_pct"), ng.get(n, {}).get("cpu_pct")
        ok = a / b <= 1 / 3 if a is not None and b else None
        behind = [name for name, r in (("livegate", lg.get(n)), ("nginx-rtmp", ng.get(n)))
                  if r is not None and not r.get("kept_up")]
        note = f"; {' and '.join(behind)} fell behind here, so its CPU is for less than N streams' work" if behind else ""
        rows.append([f"CPU per stream at N={n} ≤ 1/3 of nginx-rtmp's",
                     f"{fmt(a)}% vs {fmt(b)}% (ratio {ratio(a, b)}){note}", verdict(ok)])
    if lg:
        # The largest N livegate held: past that its window is not in steady state.
        n = max((k for k, r in lg.items() if r.get("kept_up") and r.get("segment_bytes")), default=None)
        if n is not None:
            r = lg[n]
            seg_mib = r["segment_bytes"] / 2**20
            listed_bound = r["idle_rss_mib"] + n * (6 * seg_mib + 1)
            held = r.get("held_mib")
            own = (r["rss_mib"] - r["idle_rss_mib"] - held) / n if held is not None else None
            # The window a server holds is what it lists plus what it must keep servable after listing it
            # (RFC 8216 6.2.2: the segment's own duration plus the playlist's), livegate's grace segments;
            # nginx-rtmp keeps about as many fragment files. Beyond that media, the target allows 1 MiB a stream.
            ng_n = max((k for k, x in ng.items() if x.get("kept_up") and x.get("held_mib")), default=None)
            ng_note = (f"; nginx-rtmp kept {fmt(ng[ng_n]['held_mib'] / ng_n, 2)} MiB of fragment files per stream "
                       f"at N={ng_n}") if ng_n else ""
            rows.append([f"RSS ≤ HLS window + 1 MiB per stream (N={n})",
                         f"{fmt(r['rss_mib'], 0)} MiB = idle {fmt(r['idle_rss_mib'], 0)} + segments held "
                         f"{fmt(held, 0)} ({fmt(held / n if held is not None else None, 2)} MiB per stream: 6 listed "
                         f"+ 7 kept servable after leaving the playlist, RFC 8216 6.2.2{ng_note}) + "
                         f"{fmt(own, 2)} MiB per stream of its own. Counting only the 6 listed segments as the "
                         f"window, the bound would be {fmt(listed_bound, 0)} MiB",
                         verdict(own <= 1 if own is not None else None) + " (window = listed + RFC grace)"])
    held = [n for n, r in lg.items() if r.get("kept_up")]
    top = max(held) if held else None
    rows.append(["500 publishers at ~3 Mbit/s without falling behind",
                 f"largest N held: {top}" if top else "none held", verdict(500 in held if lg else None)])
    a = lg.get(200, {})
    p99 = a.get("latency_p99_ms")
    rows.append(["publish-to-playlist latency p99 ≤ 50 ms at N=200", f"{fmt(p99)} ms (nginx-rtmp "
                 f"{fmt(ng.get(200, {}).get('latency_p99_ms'))} ms)", verdict(p99 <= 50 if p99 is not None else None)])
    http = results.get("http", {}).get("results", {})
    hl, hn = http.get("livegate", {}), http.get("nginx", {})
    pa, pb = hl.get("playlist", {}).get("requests_per_s"), hn.get("playlist", {}).get("requests_per_s")
    rows.append(["playlist requests/s ≥ nginx's", f"{fmt(pa, 0)} vs {fmt(pb, 0)} (ratio {ratio(pa, pb)})",
                 verdict(pa >= pb if pa and pb else None)])
    sa, sb = hl.get("segment", {}).get("mib_per_s"), hn.get("segment", {}).get("mib_per_s")
    rows.append(["segment throughput ≥ 80 % of nginx static", f"{fmt(sa)} vs {fmt(sb)} MiB/s (ratio {ratio(sa, sb)})",
                 verdict(sa >= 0.8 * sb if sa and sb else None)])
    pl = results.get("players", {}).get("results", {}).get("livegate", {})
    if pl:
        p99 = (pl.get("playlist_ms") or {}).get("p99")
        errors = sum((pl.get("errors") or {}).values())
        fr = (pl.get("first_response_ms") or {}).get("max")
        ok = p99 is not None and p99 < 100 and errors == 0 and pl.get("players_answered") == pl.get("players")
        rows.append([f"{pl.get('players')} players: playlist p99 < 100 ms, no player waits for a worker",
                     f"p99 {fmt(p99)} ms, {pl.get('players_answered')}/{pl.get('players')} players answered, "
                     f"slowest first answer {fmt(fr)} ms, {errors} errors", verdict(ok)])
    return "\n## Targets of issue 7\n\n" + table(["target", "figure", "verdict"], rows)


def packaging_section(results):
    part = results.get("packaging")
    if not part or not part.get("results"):
        return ""
    res, n = part["results"], part.get("n")
    s = [f"\n## What each packaging costs: N = {n} publishers\n", meta_lines(part)]
    s.append(f"\nlivegate with `hls.packaging` `[\"ts\"]`, `[\"cmaf\"]` (fMP4 segments, each cut into parts of "
             "333 ms, and a new LL-HLS playlist snapshot per part) and both (the default), and nginx-rtmp, each "
             "a fresh server measured as in the ingest sweep (warm-up, then the CPU window), taking turns, "
             "the median of the rounds; every round's CPU is listed.\n\n")
    rows = []
    ts_cpu = (res.get("livegate ts") or {}).get("cpu_pct")
    nginx_cpu = (res.get("nginx-rtmp") or {}).get("cpu_pct")
    for label, r in res.items():
        rows.append([label, fmt(r.get("cpu_pct")), fmt(r.get("cpu_pct") and r["cpu_pct"] / n, 3),
                     ratio(r.get("cpu_pct"), ts_cpu), ratio(r.get("cpu_pct"), nginx_cpu),
                     ", ".join(fmt(c) for c in r.get("cpu_pct_runs", [r.get("cpu_pct")])),
                     fmt(r.get("rss_mib"), 0), f"{r.get('streams_on_schedule')}/{n}",
                     fmt(r.get("latency_p99_ms"))])
    s.append(table(["server", "CPU %", "CPU % per stream", "/ livegate ts", "/ nginx-rtmp", "runs",
                    "RSS MiB", "on schedule", "publish-to-playlist p99 ms"], rows))
    return "".join(s)


def ll_players_section(results):
    part = results.get("ll_players")
    if not part or not part.get("results"):
        return ""
    res = part["results"]
    n = part.get("players")
    s = [f"\n## {n} simulated LL-HLS viewers of one stream\n", meta_lines(part)]
    s.append(f"\n`players --mode ll` (tests/bench/ll_player.cpp, one libuv thread): {n} viewers of one live "
             "stream, each like hls.js in low-latency mode: one connection for blocking playlist reloads "
             "(`ll.m3u8?_HLS_msn=M&_HLS_part=P&_HLS_skip=YES`, the next part after the newest listed) and one "
             "for parts, fetching each `EXT-X-PRELOAD-HINT` part before it exists (livegate holds it), each "
             "part once. Beside it, in fresh servers, as many TS viewers (`players`, as above) of one stream "
             "on livegate and on nginx-rtmp. Latencies count from second 6 to the end "
             f"({param(part, 'players_s')} s); CPU over the same window. *Held answer* is livegate's own "
             "`livegate_http_held_answer_seconds` histogram over the window: from the segmenter publishing a "
             "part to each held request for it (a blocking reload or a hinted part) being handed to its "
             "socket; its figures are bucket bounds (the quantile is at most this). *Spread*: per part, how "
             "much later each viewer had its last byte than the first viewer did (the simulator's view of "
             "the fan-out, its own single thread included).\n\n")
    runs = [("livegate-ll", "livegate LL-HLS"), ("livegate-ts", "livegate TS"), ("nginx-ts", "nginx-rtmp TS")]
    shown = [(k, label) for k, label in runs if k in res]

    def q(r, key, sub, digits=1):
        return fmt((r.get(key) or {}).get(sub), digits)

    def held(r, sub):
        h = r.get("held_answer") or {}
        v = h.get(sub)
        return "–" if not h.get("count") else (f"{v * 1000:.1f}" if sub == "mean_s" else f"≤ {v * 1000:g}"
                                               if v is not None else "> 1000")

    rows = [["server CPU %"] + [fmt(res[k].get("server_cpu_pct")) for k, _ in shown],
            ["simulator CPU %"] + [fmt(res[k].get("players_cpu_pct")) for k, _ in shown],
            ["server RSS MiB"] + [fmt(res[k].get("server_rss_mib"), 0) for k, _ in shown],
            ["viewers answered"] + [f"{res[k].get('players_answered')}/{res[k].get('players')}" for k, _ in shown],
            ["errors"] + [fmt_errors(res[k].get("errors")) for k, _ in shown],
            ["media delivered, Mbit/s"] + [fmt(res[k].get("part_mbit_s") or res[k].get("segment_mbit_s"), 0)
                                           for k, _ in shown],
            ["held answers (count)"] + [fmt((res[k].get("held_answer") or {}).get("count")) for k, _ in shown],
            ["held answer mean ms"] + [held(res[k], "mean_s") for k, _ in shown],
            ["held answer p50 / p99 ms"] + [f"{held(res[k], 'p50_le_s')} / {held(res[k], 'p99_le_s')}"
                                            for k, _ in shown],
            ["parts seen"] + [fmt(res[k].get("parts_seen")) for k, _ in shown],
            ["part spread p50 / p99 / max ms"] + [
                f"{q(res[k], 'part_spread_ms', 'p50')} / {q(res[k], 'part_spread_ms', 'p99')} / "
                f"{q(res[k], 'part_spread_ms', 'max')}" if res[k].get("part_spread_ms") else "–" for k, _ in shown],
            ["playlist request ms p50 / p99 (LL: blocking)"] + [
                f"{q(res[k], 'playlist_ms', 'p50')} / {q(res[k], 'playlist_ms', 'p99')}" for k, _ in shown],
            ["part or segment request ms p50 / p99"] + [
                f"{q(res[k], 'part_ms' if 'part_ms' in res[k] else 'segment_ms', 'p50')} / "
                f"{q(res[k], 'part_ms' if 'part_ms' in res[k] else 'segment_ms', 'p99')}" for k, _ in shown]]
    s.append(table([""] + [label for _, label in shown], rows))
    s.append("\nAn LL-HLS request is answered when its part exists, so its request time is mostly the wait "
             "for the part (up to one part target, 333 ms).\n")
    floor = part.get("floor")
    if floor and floor.get("handed_ms"):
        h, c = floor["handed_ms"], floor["complete_ms"]
        s.append(f"\n*The kernel's floor* (`fanout_floor`, same run, no server code): one thread hands "
                 f"{floor['bytes'] / 1024:.0f} KiB (the viewers' mean part) to each of {floor['viewers']} loopback "
                 f"sockets at once with `write()`, every {floor['interval_ms']} ms, {floor['bursts']} times, while "
                 f"another process reads them all: a socket's bytes are handed {h['p50']:.1f} ms (p50), "
                 f"{h['p99']:.1f} ms (p99) after the burst begins, the whole burst takes {c['p50']:.1f} ms (p50), "
                 f"{c['max']:.1f} ms (max); {floor['partial_writes']} writes of {floor['viewers'] * floor['bursts']} "
                 "did not fit the socket at once.\n")
    return "".join(s)


def latency_section(results):
    part = results.get("latency")
    if not part or not part.get("results"):
        return ""
    res = part["results"]
    s = ["\n## Glass to glass\n", meta_lines(part)]
    s.append("\nOne encoder publishes to livegate and nginx-rtmp at once: `tests/bench/latency/clock_source.py` "
             "draws the wall clock (ms) into each 640x360 frame as it writes it, 30 fps, piped to ffmpeg "
             "(libx264 veryfast, zerolatency, GOP 2 s, 1.5 Mbit/s, AAC) and the `tee` muxer. Headless Chromium "
             "(`tests/bench/latency/probe.mjs`) plays each playlist in turn with the player page's hls.js "
             "configuration (`lowLatencyMode: true`, catching up at up to 1.1x, hls.js "
             f"{part.get('hls_js', '?')}), reads the stamp of every frame it shows (`requestVideoFrameCallback`, canvas) and "
             f"takes now minus the stamp. Each for {part.get('watch_s')} s from its first frame; *settled*: the "
             "last 30 s alone. First frame: from the page opening to the first frame shown. Defaults on both "
             "servers: 2 s segments; livegate parts of 333 ms.\n\n")
    rows = []
    for label, r in res.items():
        rows.append([label, fmt(r.get("median_ms") and r["median_ms"] / 1000, 2),
                     fmt(r.get("p90_ms") and r["p90_ms"] / 1000, 2),
                     fmt(r.get("late_median_ms") and r["late_median_ms"] / 1000, 2),
                     fmt(r.get("min_ms") and r["min_ms"] / 1000, 2), fmt(r.get("max_ms") and r["max_ms"] / 1000, 2),
                     fmt(r.get("frames")), f"{r.get('stalls')} ({fmt(r.get('stalled_ms'), 0)} ms)",
                     fmt(r.get("first_frame_ms"), 0), "; ".join(r.get("errors") or []) or "0",
                     r.get("failure") or ""])
    s.append(table(["playlist", "median s", "p90 s", "settled median s", "min s", "max s", "frames",
                    "stalls", "first frame ms", "hls.js errors", "failure"], rows))
    return "".join(s)


def machine_section(results):
    metas = [results[p]["meta"] for p in ("ingest", "packaging", "http", "players", "ll_players", "latency")
             if p in results and "meta" in results[p]]
    if not metas:
        return ""
    m = metas[-1]["machine"]
    rows = [["CPU", m["cpu"]], ["cores", m["cores"]], ["RAM", f"{m['ram_gib']} GiB"], ["kernel", m["kernel"]],
            ["Debian", m["debian"]], ["nginx", m["nginx"]], ["libnginx-mod-rtmp", m["nginx_rtmp_module"]],
            ["wrk", m["wrk"]]]
    return ("## Machine\n\n" + table(["", ""], rows) +
            "\nThe machine is shared: other engineers were building and running tests on it during these runs "
            "(see each part's load average), so absolute figures are noisy; each comparison is a ratio between "
            "servers measured in the same run, one after the other, with the same generator and media.\n")


def compare_section(results, other_path, title, names):
    """livegate's ingest figures in this run beside those of another livegate run kept as JSON (an earlier
    commit, or a different setting), point by point. names: what the other run and this one are called."""
    if not other_path or not os.path.exists(other_path):
        return ""
    with open(other_path) as f:
        other = json.load(f)
    lb, la = runs_by_n(other, "livegate"), runs_by_n(results, "livegate")
    b_name, a_name = names
    rows = []
    for n in sorted(set(lb) & set(la)):
        b, a = lb[n], la[n]
        rows.append([n, fmt(b.get("warmup_cpu_pct")), fmt(a.get("warmup_cpu_pct")), fmt(b.get("cpu_pct")),
                     fmt(a.get("cpu_pct")), ratio(a.get("cpu_pct"), b.get("cpu_pct")),
                     "yes" if b.get("kept_up") else "**no**", "yes" if a.get("kept_up") else "**no**",
                     fmt(b.get("latency_p99_ms")), fmt(a.get("latency_p99_ms")),
                     fmt(b.get("rss_mib"), 0), fmt(a.get("rss_mib"), 0)])
    if not rows:
        return ""
    meta_b, meta_a = other.get("ingest", {}).get("meta", {}), results.get("ingest", {}).get("meta", {})
    return (f"\n## {title}\n\n"
            f"{b_name}: livegate `{meta_b.get('livegate', '?')}`, measured {meta_b.get('date', '?')}, load average "
            f"before {meta_b.get('loadavg_before', '?')} (`{os.path.basename(other_path)}`, command "
            f"`{meta_b.get('command', '?')}`); {a_name}: livegate `{meta_a.get('livegate', '?')}`, the ingest run "
            f"above. Warm-up {param(other.get('ingest', {}), 'warmup_s')} s and "
            f"{param(results.get('ingest', {}), 'warmup_s')} s.\n\n"
            + table(["N", f"warm-up CPU % {b_name}", f"warm-up CPU % {a_name}", f"CPU % {b_name}",
                     f"CPU % {a_name}", f"{a_name} / {b_name}", f"kept up {b_name}", f"kept up {a_name}",
                     f"latency p99 ms {b_name}", f"latency p99 ms {a_name}", f"RSS MiB {b_name}",
                     f"RSS MiB {a_name}"], rows))


# Other livegate runs kept beside results.json, compared with its ingest run when present.
COMPARISONS = [
    ("results-before.json", "Before and after: livegate ingest", ("before", "after")),
    ("results-4k-pages.json", "Huge pages: the same livegate with its heap on 4 KiB pages",
     ("4 KiB pages", "huge pages")),
]


def render(results, out_path, chart_path):
    chart_name = os.path.basename(chart_path)
    parts = ["# livegate vs nginx-rtmp: benchmark results\n\n",
             "Generated by `tests/bench/bench.py` from `results.json` (see `tests/bench/README.md`); "
             "only the analysis section is written by hand.\n\n",
             "Media: 60 s of 1280x720 30 fps H.264 Main with B-frames, GOP 2 s, ~3 Mbit/s, AAC-LC 128 kbit/s "
             "48 kHz, looped by the generator with continuous timestamps. Both servers cut 2 s segments on loopback "
             "ports: livegate with its defaults (window 6, grace 7) and its connection and stream limits raised; "
             "nginx-rtmp with `hls on; hls_fragment 2s; hls_playlist_length 12s;` and one worker.\n\n",
             machine_section(results), "\n", ingest_section(results, chart_name), perf_section(results),
             packaging_section(results),
             http_section(results), players_section(results), ll_players_section(results),
             latency_section(results), targets_section(results),
             *(compare_section(results, os.path.join(os.path.dirname(out_path), name), title, names)
               for name, title, names in COMPARISONS), "\n## Analysis\n\n",
             kept_analysis(out_path), "\n"]
    with open(out_path, "w") as f:
        f.write("".join(parts))
    chart(results, chart_path)


def chart(results, path):
    lg, ng = runs_by_n(results, "livegate"), runs_by_n(results, "nginx")
    lg = {n: r for n, r in lg.items() if r.get("cpu_pct") is not None}
    ng = {n: r for n, r in ng.items() if r.get("cpu_pct") is not None}
    if not lg and not ng:
        return
    with tempfile.TemporaryDirectory() as d:
        for name, runs in (("lg", lg), ("ng", ng)):
            with open(os.path.join(d, name + ".dat"), "w") as f:
                for n in sorted(runs):
                    f.write(f"{n} {runs[n]['cpu_pct']:.2f} {runs[n]['rss_mib']:.1f}\n")
        def plot(col):
            series = [f'"{d}/{name}.dat" using 1:{col} with linespoints lw 2 title "{title}"'
                      for name, title, runs in (("lg", "livegate", lg), ("ng", "nginx-rtmp", ng)) if runs]
            return "plot " + ", ".join(series)

        script = f"""set terminal pngcairo size 1100,460 font ",10"
set output "{path}"
set multiplot layout 1,2 title "livegate vs nginx-rtmp: N publishers of a 3.15 Mbit/s stream"
set logscale x
set xlabel "publishers (N)"
set key top left
set grid
set ylabel "CPU (% of one core)"
{plot(2)}
set ylabel "RSS (MiB)"
{plot(3)}
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
