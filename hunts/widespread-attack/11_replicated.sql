-- Replication, the sources: a credited edge S -> B on command C counts when it lies on a
-- path of two edges on C, S reached with C (an edge into S) or B passing C on (an edge
-- out of B). Software deployment does not replicate: the deploying host does not run
-- what it installs, and the installed hosts do not pass it on.
SELECT e.sourceip, e.source_host, e.target_host, e.cmd, e.first_ns
FROM ws_replication_edges e
JOIN ws_replication_edges i ON i.target_host = e.source_host AND i.cmd = e.cmd
WHERE e.credited
UNION
SELECT e.sourceip, e.source_host, e.target_host, e.cmd, e.first_ns
FROM ws_replication_edges e
JOIN ws_replication_edges o ON o.source_host = e.target_host AND o.cmd = e.cmd
WHERE e.credited
