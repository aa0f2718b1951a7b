"""late_day.py DIR SEED DAY [LATE] [WINDOW]: a test helper (not part of smelt).

Writes DIR/orders_DAY.csv.gz in the example project's orders format: 50 new
orders on DAY, plus LATE (default 40) lines re-sent from the readable files
already in DIR whose order_ts lies in the last WINDOW days before DAY
(default: any day): half late updates (newer updated_at, new quantity -- 0 or
negative ones drop the line from silver -- and status), the others stale
re-sends (an older updated_at, which must not win), some sent twice. The
same SEED gives the same bytes.
"""
import csv
import datetime
import glob
import gzip
import io
import random
import sys

d, seed, day = sys.argv[1], int(sys.argv[2]), sys.argv[3]
late = int(sys.argv[4]) if len(sys.argv) > 4 else 40
window = int(sys.argv[5]) if len(sys.argv) > 5 else 0
rnd = random.Random(seed)
first = (datetime.date.fromisoformat(day) - datetime.timedelta(days=window)).isoformat()
rows = []
for f in sorted(glob.glob(d + "/orders_*.csv.gz")):
    try:
        with gzip.open(f, "rt") as fh:
            rows += [x for x in list(csv.reader(fh))[1:] if len(x) == 10 and x[0].isdigit()]
    except (OSError, EOFError):
        pass  # the truncated file
maxid = max(int(x[0]) for x in rows)
recent = [x for x in rows if not window or x[2][:10] >= first]
out = []
for i in range(50):
    for ln in range(1, rnd.randint(1, 3) + 1):
        ts = f"{day} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00"
        out.append([maxid + 1 + i, ln, ts, ts, rnd.choice(["delivered", "cancelled", "shipped"]),
                    rnd.choice(["", str(rnd.randint(1, 900))]), rnd.randint(1, 10),
                    rnd.randint(1, 200), rnd.randint(-1, 5), f"{rnd.randint(100, 9999) / 100:.2f}"])
for x in rnd.sample(recent, min(late, len(recent))):
    y = list(x)
    if rnd.random() < 0.5:
        y[3], y[8] = f"{day} 23:00:00", str(rnd.randint(-1, 6))
        y[4] = rnd.choice(["delivered", "cancelled", "returned"])
    else:
        y[3], y[8] = "2000-01-01 00:00:00", str(rnd.randint(1, 9))
    out.append(y)
    if rnd.random() < 0.3:
        out.append(y)
s = io.StringIO()
w = csv.writer(s, lineterminator="\n")
w.writerow(["order_id", "line_no", "order_ts", "updated_at", "status", "customer_id",
            "store_id", "product_id", "quantity", "unit_price"])
w.writerows(out)
with gzip.GzipFile(f"{d}/orders_{day}.csv.gz", "wb", mtime=0) as fh:
    fh.write(s.getvalue().encode())
