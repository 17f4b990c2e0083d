-- Measurement, not a hunt (see docs/evaluation.md, process-anomaly behind a proxy):
-- processes that run a file another process on the same host created earlier, as their
-- image or as a path in their command line: a drop that is then executed. Paths are
-- compared lower-cased; only executable and script extensions are counted as drops. Run
-- it on a lab or an ingested recording and join the GUIDs with the labels:
--
--   huntsman --data LAB/events sql -f bench/experiments/pa-drop-executed.sql --format csv
--
-- Loads (Sysmon 7) are not counted: the events schema has no ImageLoaded column.
WITH drops AS (
  SELECT winlog_computer_name AS host, winlog_event_data_processguid AS dropper,
         lower(winlog_event_data_targetfilename) AS path, min(event_created) AS dropped_ns
  FROM events
  WHERE winlog_event_id = 11 AND winlog_event_data_targetfilename IS NOT NULL
    AND regexp_like(lower(winlog_event_data_targetfilename), '\.(exe|dll|ps1|bat|vbs|js|hta|scr)$')
  GROUP BY 1, 2, 3
),
procs AS (
  SELECT winlog_computer_name AS host, winlog_event_data_processguid AS guid, event_created AS t,
         lower(winlog_event_data_image) AS image, lower(winlog_event_data_commandline) AS cmd
  FROM events WHERE winlog_event_id = 1
),
tokens AS (
  SELECT host, guid, t, image, trim(tok, '"''') AS tok FROM (
    SELECT host, guid, t, image, unnest(string_to_array(replace(cmd, ',', ' '), ' ')) AS tok FROM procs)
  UNION ALL SELECT host, guid, t, image, image AS tok FROM procs
),
hits AS (
  SELECT DISTINCT k.host, k.guid, k.image, d.path, d.dropper
  FROM tokens k JOIN drops d ON d.host = k.host AND d.path = k.tok
  WHERE d.dropped_ns < k.t AND d.dropper <> k.guid
)
SELECT guid, host, image, path FROM hits
