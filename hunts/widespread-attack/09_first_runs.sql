-- First runs, for replication: when each host first ran each command line (normalised:
-- user folders, GUIDs, versions and long numbers replaced), the program it runs, and
-- when the host first ran that program if the program was new on it (first run after the
-- host had been observed for a window without it: at the start of the data every
-- program is new). Kept as a table because replication reads it several times.
WITH raw_firsts AS (
  SELECT winlog_computer_name          AS host,
         winlog_event_data_commandline AS commandline,
         min(event_created)            AS first_ns,
         max(winlog_event_data_image)  AS image
  FROM events
  WHERE winlog_event_id = 1
    AND winlog_event_data_commandline IS NOT NULL
    AND winlog_event_data_commandline <> ''
    AND winlog_computer_name IS NOT NULL
  GROUP BY winlog_computer_name, winlog_event_data_commandline
),
-- A program is new on a host when the host had been observed for a window without it:
-- at the start of the data every program is new.
images AS (
  SELECT i.host, i.image, i.image_first_ns
  FROM (
    SELECT host, normalize_path(image) AS image, min(first_ns) AS image_first_ns
    FROM raw_firsts
    GROUP BY host, normalize_path(image)
  ) i
  JOIN (SELECT host, min(first_ns) AS start_ns FROM raw_firsts GROUP BY host) h
    ON h.host = i.host
  WHERE i.image_first_ns >= h.start_ns + ${WS_WINDOW_DURATION} * 60000000000
)
SELECT f.host, f.cmd, f.first_ns, f.image, i.image_first_ns
FROM (
  SELECT host, normalize_path(commandline) AS cmd, min(first_ns) AS first_ns,
         max(normalize_path(image)) AS image
  FROM raw_firsts
  GROUP BY host, normalize_path(commandline)
) f
LEFT JOIN images i ON i.host = f.host AND i.image = f.image
