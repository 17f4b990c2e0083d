-- Attribution: each anomalous action is attributed to the internal source whose
-- connection to the action's host most recently preceded it, at most
-- WS_ATTRIBUTION_MINUTES earlier: remote execution (WMI, service creation, a copied
-- payload started) acts within seconds to minutes of the connection, so a deployment
-- server that touched the host half an hour earlier does not inherit an attacker's
-- actions, nor the attacker host's own commands.
--
-- Only an action that can have come over the network is attributed. Remote execution
-- arrives through the service manager, WMI, WinRM, the task scheduler or a file written
-- over SMB; an action started by the logged-on user's desktop shell (explorer.exe),
-- already running when the connection was made, is the user's own, whatever connected
-- just before. The action's process is traced up to four generations through the
-- process creations on its host (kept in ws_actions); a shell whose creation was not logged started before
-- the data, and one started after the connection (a remote desktop session's shell) is
-- the network's.
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
-- Process creations on the victims (ws_actions): the parent of each process, whether it
-- is a desktop shell, and when the process started.
spawned AS (
  SELECT processguid AS guid, parent_guid, event_created AS created_ns,
         ends_with(lower(parent_image), '\explorer.exe') AS parent_is_shell
  FROM ws_actions
  WHERE event_id = 1 AND processguid IS NOT NULL
),
-- The start of the nearest desktop shell among the action's process and its four
-- ancestors: NULL when there is none, 0 (before any connection) when its creation was not
-- logged.
shells AS (
  SELECT a.processguid, min(CASE
      WHEN ends_with(lower(a.image), '\explorer.exe') THEN coalesce(p0.created_ns, 0)
      WHEN p0.parent_is_shell THEN coalesce(p1.created_ns, 0)
      WHEN p1.parent_is_shell THEN coalesce(p2.created_ns, 0)
      WHEN p2.parent_is_shell THEN coalesce(p3.created_ns, 0)
      WHEN p3.parent_is_shell THEN coalesce(p4.created_ns, 0)
    END) AS shell_ns
  FROM ws_anomalous a
  LEFT JOIN spawned p0 ON p0.guid = a.processguid
  LEFT JOIN spawned p1 ON p1.guid = p0.parent_guid
  LEFT JOIN spawned p2 ON p2.guid = p1.parent_guid
  LEFT JOIN spawned p3 ON p3.guid = p2.parent_guid
  LEFT JOIN spawned p4 ON p4.guid = p3.parent_guid
  GROUP BY a.processguid
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
  LEFT JOIN shells s ON s.processguid = a.processguid
  WHERE s.shell_ns IS NULL OR s.shell_ns > l.connected_ns
)
SELECT host, event_created, event_id, processguid, text, error, sourceip, connected_ns
FROM candidates
WHERE r = 1
