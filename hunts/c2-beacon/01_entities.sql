-- C2 beaconing, phase 1: one row per (process, destination) with its timing features.
--
-- Hypothesis: an implant calls home at regular intervals. Connections are Sysmon 3 events
-- the host initiated; the unit is (process GUID, destination IP, port), so one chatty
-- browser cannot hide a beacon inside its other traffic. Process context (image, parent,
-- command lines) comes from the process's Sysmon 1 event when the data has it, and from
-- the connection events otherwise.
WITH process AS (
  SELECT
    winlog_event_data_processguid               AS processguid,
    max(winlog_event_data_image)                AS image,
    max(winlog_event_data_parentimage)          AS parent_image,
    max(winlog_event_data_commandline)          AS commandline,
    max(winlog_event_data_parentcommandline)    AS parent_commandline
  FROM events
  WHERE winlog_event_id = 1 AND winlog_event_data_processguid IS NOT NULL
  GROUP BY 1
),
connection AS (
  SELECT
    winlog_event_data_processguid               AS processguid,
    winlog_event_data_destinationip             AS destinationip,
    coalesce(winlog_event_data_destinationport, '') AS destinationport,
    max(winlog_computer_name)                   AS host,
    max(winlog_event_data_image)                AS connection_image,
    max(winlog_event_data_destinationportname)  AS portname,
    max(winlog_event_data_destinationhostname)  AS destination_hostname,
    min(event_created)                          AS first_seen_ns,
    max(event_created)                          AS last_seen_ns,
    inter_arrival_stats(event_created)          AS t
  FROM events
  WHERE winlog_event_id = 3
    AND lower(winlog_event_data_initiated) = 'true'
    AND winlog_event_data_destinationip IS NOT NULL
    AND winlog_event_data_processguid IS NOT NULL
  GROUP BY 1, 2, 3
)
SELECT
  c.processguid,
  c.destinationip,
  c.destinationport,
  c.host,
  coalesce(p.image, c.connection_image, '')     AS image,
  coalesce(p.parent_image, '')                  AS parent_image,
  coalesce(p.commandline, '')                   AS commandline,
  coalesce(p.parent_commandline, '')            AS parent_commandline,
  coalesce(c.portname, '')                      AS portname,
  c.destination_hostname,
  NOT is_private_ip(c.destinationip)            AS external,
  c.first_seen_ns,
  c.last_seen_ns,
  CAST(c.t['count'] AS DOUBLE)                  AS connections,
  c.t['duration_s']                             AS duration_s,
  c.t['mean_s']                                 AS mean_s,
  coalesce(c.t['stddev_s'], 0.0)                AS stddev_s,
  coalesce(c.t['cv'], 0.0)                      AS cv,
  c.t['median_s']                               AS median_s,
  c.t['mad_s']                                  AS mad_s
FROM connection c
LEFT JOIN process p ON p.processguid = c.processguid
WHERE c.t['count'] >= ${C2_MIN_CONNECTIONS}
  AND c.t['mean_s'] > 0
  AND c.t['duration_s'] > 0
  AND (NOT ${C2_INTERVAL_FILTER}
       OR c.t['mean_s'] BETWEEN ${C2_BEACON_THRESHOLD_LOW} AND ${C2_BEACON_THRESHOLD_HIGH})
