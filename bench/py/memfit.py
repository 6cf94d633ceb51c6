"""bench/py/memfit.py CSV WARM_SECONDS — the memory of a soak (bench/soak.sh,
bench/serve-soak.sh): for each of the columns rss_kb, heap_alloc, heap_inuse
and heap_objects present in CSV (with unix_seconds), first / peak / last and
the slope of a least-squares line through the samples taken more than
WARM_SECONDS after the first (per hour): about zero when memory is flat."""
import csv
import sys

rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("rss_kb")]
warm = float(sys.argv[2])
if not rows:
    sys.exit("memfit: no samples in " + sys.argv[1])
t0 = int(rows[0]["unix_seconds"])
for col, div, unit in (("rss_kb", 1024, "MB"), ("heap_alloc", 1 << 20, "MB"), ("heap_inuse", 1 << 20, "MB"), ("heap_objects", 1, "objects")):
    pts = [(int(r["unix_seconds"]) - t0, int(r[col]) / div) for r in rows if r.get(col)]
    if len(pts) < 2:
        continue
    vals = [v for _, v in pts]
    fit = [(t, v) for t, v in pts if t > warm] or pts
    n = len(fit)
    mt = sum(t for t, _ in fit) / n
    mv = sum(v for _, v in fit) / n
    var = sum((t - mt) ** 2 for t, _ in fit)
    slope = sum((t - mt) * (v - mv) for t, v in fit) / var * 3600 if var else 0.0
    kb = f" ({slope * 1024:+.0f} KB/h)" if unit == "MB" else ""
    print(f"{col:12s} first {vals[0]:10.1f}  peak {max(vals):10.1f}  last {vals[-1]:10.1f} {unit:7s}  slope {slope:+9.2f} {unit}/h{kb} (fit after {warm:.0f}s, {n} samples)")
