-- C2 beaconing, evidence: the DNS names each process looked up (Sysmon 22) and every
-- destination it contacted, joined onto the scored entities.
WITH dns AS (
  SELECT winlog_event_data_processguid AS processguid,
         array_agg(DISTINCT winlog_event_data_queryname) AS dns_names
  FROM events
  WHERE winlog_event_id = 22 AND winlog_event_data_processguid IS NOT NULL
    AND winlog_event_data_queryname IS NOT NULL
  GROUP BY 1
),
destinations AS (
  SELECT processguid, array_agg(DISTINCT destinationip) AS process_destinations
  FROM c2_scored GROUP BY 1
)
SELECT s.*, d.dns_names, x.process_destinations
FROM c2_scored s
LEFT JOIN dns d ON d.processguid = s.processguid
LEFT JOIN destinations x ON x.processguid = s.processguid
ORDER BY s.beacon_score DESC, s.processguid, s.destinationip
