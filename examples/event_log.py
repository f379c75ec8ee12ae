"""Event log: time series with TTL, newest first, range scans.

The shape event and metrics pipelines use: a composite partition key
(source, day) so that no partition grows without bound, `CLUSTERING ORDER
BY (ts DESC)` so the latest events come first, `default_time_to_live` with
TimeWindowCompactionStrategy so old windows expire and are dropped whole,
and writes sent with `execute_async`. The script writes 3 sources x 500
events, reads the latest 10 of one source, scans an hour's range on the
clustering column, writes a few events with a 2-second TTL and shows them
vanish, checking every answer.

Run: ./scripts/serve.sh, then python examples/event_log.py
"""

import datetime
import time

from _connect import connect, keyspace

cluster, session, _ = connect(__doc__.splitlines()[0])
keyspace(session, "events")
session.execute("""
    CREATE TABLE IF NOT EXISTS events.by_source (
        source text,
        day date,
        ts timestamp,
        kind text,
        value double,
        PRIMARY KEY ((source, day), ts))
    WITH CLUSTERING ORDER BY (ts DESC)
     AND default_time_to_live = 604800
     AND compaction = {'class': 'TimeWindowCompactionStrategy',
                       'compaction_window_unit': 'HOURS', 'compaction_window_size': 1}""")

day = datetime.date(2026, 12, 1)
base = datetime.datetime(2026, 12, 1, 0, 0, tzinfo=datetime.timezone.utc)
ins = session.prepare("INSERT INTO events.by_source (source, day, ts, kind, value) "
                      "VALUES (?, ?, ?, ?, ?)")
futures = []
for s in ("api", "web", "worker"):
    for i in range(500):  # one event a minute from midnight
        ts = base + datetime.timedelta(minutes=i)
        futures.append(session.execute_async(ins, (s, day, ts, "tick", float(i))))
for f in futures:
    f.result()

latest = session.prepare("SELECT ts, value FROM events.by_source "
                         "WHERE source = ? AND day = ? LIMIT 10")
rows = list(session.execute(latest, ("web", day)))
assert [r.value for r in rows] == [float(i) for i in range(499, 489, -1)], rows
print("event_log: latest 10 of 'web': values %g .. %g" % (rows[0].value, rows[-1].value))

window = session.prepare("SELECT ts, value FROM events.by_source WHERE source = ? AND day = ? "
                         "AND ts >= ? AND ts < ?")
hour = list(session.execute(window, ("api", day, base + datetime.timedelta(hours=2),
                                     base + datetime.timedelta(hours=3))))
assert len(hour) == 60 and hour[0].value == 179.0 and hour[-1].value == 120.0, hour
print("event_log: 02:00-03:00 of 'api': %d events, newest first" % len(hour))

ttl = session.prepare("INSERT INTO events.by_source (source, day, ts, kind, value) "
                      "VALUES (?, ?, ?, ?, ?) USING TTL 2")
for i in range(5):
    session.execute(ttl, ("debug", day, base + datetime.timedelta(seconds=i), "trace", 1.0))
count = session.prepare("SELECT count(*) FROM events.by_source WHERE source = ? AND day = ?")
assert session.execute(count, ("debug", day)).one()[0] == 5
left = session.execute("SELECT TTL(kind) FROM events.by_source "
                       "WHERE source = 'debug' AND day = '2026-12-01' LIMIT 1").one()[0]
assert 0 < left <= 2, left
time.sleep(3)
assert session.execute(count, ("debug", day)).one()[0] == 0
print("event_log: 5 events written with TTL 2 s, gone after 3 s")
print("event_log: ok")
cluster.shutdown()
