-- Delivery, first half: a file written on a host by one process (Sysmon 11) and run there
-- later by another, as the second process's image or as a path in its command line: a
-- payload downloaded and started, a DLL dropped and handed to rundll32, a tool copied
-- over SMB and started as a service. Behind an explicit proxy every process reaches the
-- same address and the network evidence of 03 is gone; this is the delivery that is
-- left. Only executables, libraries, scripts and packages count, compared lower-cased
-- and whole (a command-line path with spaces in it is not split out; an image is). One
-- row per (runner, writer, host, program), the program's path normalised; 05 weighs
-- them. A table of its own: DataFusion evaluates a CTE at each reference, and the
-- command lines' words are the costly part. Loads (Sysmon 7) are not counted: the events
-- schema has no ImageLoaded column.
WITH written AS (
  SELECT winlog_computer_name AS host, winlog_event_data_processguid AS writer,
         lower(winlog_event_data_targetfilename) AS path, min(event_created) AS written_ns
  FROM events
  WHERE winlog_channel = 'Microsoft-Windows-Sysmon/Operational' AND winlog_event_id = 11
    AND winlog_event_data_processguid IS NOT NULL
    AND winlog_event_data_targetfilename IS NOT NULL
    AND regexp_like(lower(winlog_event_data_targetfilename),
                    '\.(exe|dll|scr|com|ps1|bat|cmd|vbs|vbe|js|jse|wsf|hta|msi)$')
  GROUP BY 1, 2, 3
),
named AS (
  SELECT processguid, host, first_seen_ns, trim(token, '"''') AS path FROM (
    SELECT processguid, host, first_seen_ns,
           unnest(string_to_array(replace(lower(commandline), ',', ' '), ' ')) AS token
    FROM pa_processes WHERE commandline <> '')
  UNION ALL
  SELECT processguid, host, first_seen_ns, lower(image) FROM pa_processes WHERE image <> ''
),
runs AS (
  SELECT DISTINCT n.processguid AS runner, w.writer, n.host, normalize_path(w.path) AS program
  FROM named n JOIN written w ON w.host = n.host AND w.path = n.path
  WHERE w.written_ns < n.first_seen_ns AND w.writer <> n.processguid
)
SELECT runner, writer, host, program FROM runs
