-- Process anomaly: one row per process (Sysmon process GUID) with its event sequence in
-- time order (the original sorted the ids and lost the order; event_sequence keeps only
-- the earliest PROCESS_MAX_SEQ_LEN per process while it aggregates), its activity counts,
-- what it touched: the distinct destination IPs and DNS names, sorted; and its parent's
-- GUID from its creation event (NULL where the creation was not logged).
--
-- The destinations and names are gathered from the distinct (process, value) pairs and
-- joined back: array_agg(DISTINCT ...) beside the other aggregates keeps a hash set per
-- process and costs more than everything else in this query put together.
WITH ev AS (
  SELECT
    winlog_event_data_processguid      AS processguid,
    CAST(winlog_event_id AS BIGINT)    AS event_id,
    event_created,
    winlog_computer_name               AS host,
    winlog_event_data_image            AS image,
    winlog_event_data_commandline      AS commandline,
    winlog_event_data_parentimage      AS parent_image,
    winlog_event_data_parentcommandline AS parent_commandline,
    winlog_event_data_parentprocessguid AS parent_processguid,
    winlog_event_data_destinationip    AS destinationip,
    winlog_event_data_queryname        AS queryname
  FROM events
  WHERE winlog_channel = 'Microsoft-Windows-Sysmon/Operational'
    AND winlog_event_id IN (1, 3, 7, 11, 17, 18, 19, 20, 21, 22)
    AND winlog_event_data_processguid IS NOT NULL
),
reached AS (
  SELECT processguid, array_agg(destinationip ORDER BY destinationip) AS destinations
  FROM (SELECT DISTINCT processguid, destinationip FROM ev WHERE destinationip IS NOT NULL)
  GROUP BY processguid
),
resolved AS (
  SELECT processguid, array_agg(queryname ORDER BY queryname) AS dns_names
  FROM (SELECT DISTINCT processguid, queryname FROM ev WHERE queryname IS NOT NULL)
  GROUP BY processguid
),
process AS (
  SELECT
    processguid,
    max(host)                                                   AS host,
    coalesce(max(image), '')                                    AS image,
    coalesce(max(commandline), '')                              AS commandline,
    coalesce(max(parent_image), '')                             AS parent_image,
    coalesce(max(parent_commandline), '')                       AS parent_commandline,
    max(CASE WHEN event_id = 1 THEN parent_processguid END)     AS parent_processguid,
    min(event_created)                                          AS first_seen_ns,
    count(*)                                                    AS events,
    sum(CASE WHEN event_id = 3 THEN 1 ELSE 0 END)               AS network_events,
    sum(CASE WHEN event_id = 22 THEN 1 ELSE 0 END)              AS dns_events,
    sum(CASE WHEN event_id = 11 THEN 1 ELSE 0 END)              AS file_events,
    event_sequence(event_created, event_id, ${PROCESS_MAX_SEQ_LEN}) AS sequence
  FROM ev
  GROUP BY processguid
)
SELECT
  p.*,
  coalesce(r.destinations, []) AS destinations,
  coalesce(d.dns_names, [])    AS dns_names
FROM process p
LEFT JOIN reached r ON r.processguid = p.processguid
LEFT JOIN resolved d ON d.processguid = p.processguid
