PRAGMA cache_size = -32768;
CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 120000)
INSERT INTO t SELECT x, printf('%08x-%s', (x * 2654435761) % 4294967296, substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26)) FROM c;
CREATE INDEX tv ON t(v);
SELECT count(*), sum(length(v)), min(v), max(v) FROM t;
SELECT k, v FROM t ORDER BY v LIMIT 5;
