-- Phase 3, the actions to judge: process creations and file creations (Sysmon 1, 11)
-- on hosts that were some source's victim in some window, each scored once. The text of
-- an action is parent command line + command line + target file name; the parent's GUID
-- and image trace a process's ancestry for attribution; sample_key, a
-- deterministic hash of the process GUID and time in [0, 1000000), draws the
-- normal-activity training sample (the next phase sets its size).
WITH victim_hosts AS (
  SELECT DISTINCT h.host
  FROM (SELECT unnest(victim_ips) AS ip FROM ws_windows) v
  JOIN ws_hosts h ON h.ip = v.ip
)
SELECT
  e.winlog_computer_name                     AS host,
  e.event_created,
  e.winlog_event_id                          AS event_id,
  e.winlog_event_data_processguid            AS processguid,
  e.winlog_event_data_image                  AS image,
  e.winlog_event_data_parentprocessguid      AS parent_guid,
  e.winlog_event_data_parentimage            AS parent_image,
  concat_ws(' ',
    coalesce(e.winlog_event_data_parentcommandline, ''),
    coalesce(e.winlog_event_data_commandline, ''),
    coalesce(e.winlog_event_data_targetfilename, ''))  AS text,
  hash_tf(make_array(concat(coalesce(e.winlog_event_data_processguid, ''),
    CAST(e.event_created AS VARCHAR))), 1000000)['indices'][1] AS sample_key
FROM events e
JOIN victim_hosts v ON v.host = e.winlog_computer_name
WHERE e.winlog_event_id IN (1, 11)
