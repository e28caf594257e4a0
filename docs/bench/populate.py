#!/usr/bin/env python3
"""Fills a migrated Hookwire SQLite database with N finished messages, each with one delivery
and one attempt, for the "throughput with 10 million attempts stored" measurement.

    target/release/hookwire migrate --database-url sqlite:///tmp/big/hookwire.db
    python3 docs/bench/populate.py /tmp/big/hookwire.db 10000000

Rows belong to an application and endpoint of their own, with ids older than anything the
benchmark creates, so they sit in the same tables and indexes without being delivered.
"""
import sqlite3
import sys
import time

path, count = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
db.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;")
started = time.time()
# Ids keep the stored prefixes and sort before the benchmark's UUIDv7 ids ("0000…").
sql = """
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
INSERT INTO {table} SELECT {columns} FROM n
"""
tables = {
    "messages": "printf('msg_0000%022d', x), 'app_00000000000000000000000000', 'old.event', NULL, NULL, NULL, "
    "'{\"n\":' || x || '}', 1600000000000 + x, NULL",
    "deliveries": "printf('dlv_0000%022d', x), 'app_00000000000000000000000000', printf('msg_0000%022d', x), "
    "'ep_00000000000000000000000000', 0, 1, NULL, NULL, 0, 1600000000000 + x, 1600000000000 + x, NULL",
    "attempts": "printf('atmpt_0000%022d', x), 'app_00000000000000000000000000', printf('msg_0000%022d', x), "
    "'ep_00000000000000000000000000', printf('dlv_0000%022d', x), 'https://old.example', 0, 200, '', 5, NULL, 0, "
    "1600000000000 + x",
}
for table, columns in tables.items():
    db.execute(sql.format(table=table, columns=columns), (count,))
    db.commit()
    print(f"{table}: {count} rows, {time.time() - started:.0f} s", flush=True)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
