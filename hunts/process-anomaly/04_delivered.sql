-- Delivery: a file written on a host by one process (Sysmon 11) and run there later by
-- another, as the second process's image or as a path in its command line: a payload
-- downloaded and started, a DLL dropped and handed to rundll32, a tool copied over SMB
-- and started as a service. Behind an explicit proxy every process reaches the same
-- address and the network evidence of 03 is gone; this is the delivery that is left.
-- Only executables, libraries, scripts and packages count, compared lower-cased and
-- whole (a command-line path with spaces in it is not split out; an image is).
--
-- delivered, in [0, 1], is discounted by prevalence as c2-beacon discounts a
-- destination: a program (normalised path) run so on a share s of the hosts weighs
-- 1 - 0.75 s, so a deployment tool that every host runs weighs a quarter and a payload
-- on one host of many nearly 1. Both ends carry it, the writer and the runner, and what
-- the runner starts is part of the payload: its children and grandchildren inherit it,
-- a child among m siblings less ln(m) / ln(processes), as the family does in 05. Loads
-- (Sysmon 7) are not counted: the events schema has no ImageLoaded column.
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
),
fleet AS (SELECT CAST(count(DISTINCT host) AS DOUBLE) AS hosts FROM pa_processes),
share AS (
  SELECT program, CAST(count(DISTINCT host) AS DOUBLE) / max(fleet.hosts) AS host_share
  FROM runs CROSS JOIN fleet GROUP BY program
),
ran AS (
  -- The runner's weight, which its descendants inherit.
  SELECT r.runner AS processguid, max(1.0 - 0.75 * s.host_share) AS delivered
  FROM runs r JOIN share s ON s.program = r.program GROUP BY r.runner
),
wrote AS (
  SELECT r.writer AS processguid, max(1.0 - 0.75 * s.host_share) AS delivered
  FROM runs r JOIN share s ON s.program = r.program GROUP BY r.writer
),
total AS (SELECT ln(greatest(CAST(count(*) AS DOUBLE), 2.0)) AS ln_n FROM pa_processes),
siblings AS (
  SELECT parent_processguid, ln(CAST(count(*) AS DOUBLE)) AS ln_children
  FROM pa_processes WHERE parent_processguid IS NOT NULL GROUP BY parent_processguid
),
child AS (
  -- What a delivered program starts is part of it, two generations down.
  SELECT p.processguid, max(a.delivered - s.ln_children / t.ln_n) AS delivered
  FROM pa_processes p
  JOIN ran a ON a.processguid = p.parent_processguid
  JOIN siblings s ON s.parent_processguid = p.parent_processguid
  CROSS JOIN total t
  GROUP BY p.processguid
),
grandchild AS (
  SELECT p.processguid, max(a.delivered - s.ln_children / t.ln_n) AS delivered
  FROM pa_processes p
  JOIN child a ON a.processguid = p.parent_processguid
  JOIN siblings s ON s.parent_processguid = p.parent_processguid
  CROSS JOIN total t
  GROUP BY p.processguid
),
evidence AS (
  SELECT * FROM ran UNION ALL SELECT * FROM wrote
  UNION ALL SELECT * FROM child UNION ALL SELECT * FROM grandchild
)
SELECT processguid, greatest(0.0, max(delivered)) AS delivered
FROM evidence GROUP BY processguid
