-- Attribution: each anomalous action is attributed to the internal source whose
-- connection to the action's host most recently preceded it, at most
-- WS_ATTRIBUTION_MINUTES earlier: remote execution (WMI, service creation, a copied
-- payload started) acts within seconds to minutes of the connection, so a deployment
-- server that touched the host half an hour earlier does not inherit an attacker's
-- actions, nor the attacker host's own commands.
WITH links AS (
  SELECT
    winlog_event_data_sourceip AS sourceip,
    h.host                     AS host,
    event_created              AS connected_ns,
    event_created / (${WS_ATTRIBUTION_MINUTES} * 60000000000) AS bucket
  FROM events
  JOIN ws_hosts h ON h.ip = winlog_event_data_destinationip
  WHERE winlog_event_id = 3
    AND is_private_ip(winlog_event_data_sourceip)
    AND winlog_event_data_sourceip <> winlog_event_data_destinationip
    AND h.host IN (SELECT DISTINCT host FROM ws_anomalous)
),
-- Each action looks in its own time bucket and the one before (buckets are one
-- attribution interval long), so the join is an equi-join on (host, bucket) instead of
-- every connection to the host.
actions AS (
  SELECT
    host, event_created, event_id, processguid, text, error,
    unnest(make_array(
      event_created / (${WS_ATTRIBUTION_MINUTES} * 60000000000),
      event_created / (${WS_ATTRIBUTION_MINUTES} * 60000000000) - 1)) AS bucket
  FROM ws_anomalous
),
candidates AS (
  SELECT
    a.host, a.event_created, a.event_id, a.processguid, a.text, a.error, l.sourceip, l.connected_ns,
    row_number() OVER (
      PARTITION BY a.host, a.event_created, a.processguid, a.text
      ORDER BY l.connected_ns DESC, l.sourceip
    ) AS r
  FROM actions a
  JOIN links l
    ON l.host = a.host
   AND l.bucket = a.bucket
   AND l.connected_ns <= a.event_created
   AND l.connected_ns > a.event_created - ${WS_ATTRIBUTION_MINUTES} * 60000000000
)
SELECT host, event_created, event_id, processguid, text, error, sourceip, connected_ns
FROM candidates
WHERE r = 1
