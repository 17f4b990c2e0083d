-- Replication: a worm or a self-spreading ransomware runs the same program on the host it
-- comes from and on every host it reaches, and the hosts it reaches pass it on (Ellis et
-- al., "A behavioral approach to worm detection", 2004: similar content sent from one
-- host to the next, and a host that was reached becoming one that reaches). Such a
-- payload need not look anomalous: run identically on ten hosts, it is frequent, and the
-- action autoencoder reconstructs it well.
--
-- An edge S -> B on command C: host B ran C (normalised: user folders, GUIDs, versions
-- and long numbers replaced) for the first time at most WS_ATTRIBUTION_MINUTES after S
-- connected to it, and S's host had first run C within the window before
-- (WS_WINDOW_DURATION). Of several such sources, a connection made by C's own program,
-- new on S within that window (the payload spreading itself, as a worm's process opens
-- the SMB or RPC connection to its next victim), is taken first, then the one that
-- connected last, as attribution does.
--
-- Hubs make coincidences: every workstation talks to the domain controller and the file
-- server all day, so "S connected to B just before B first ran C" says nothing when B is
-- a hub and other hosts that ran C connected to it too. An edge is credited to S when it
-- is informative, S's connections to B falling in at most WS_REPLICATION_MAX_PAIR_RATE
-- of the data's attribution intervals (the chance that the connection came just before
-- by coincidence; a workstation reached by another workstation is far below it, a hub
-- far above), or when the connection was made by C's own program, new on S. Which
-- credited edges make a source is decided in 11_replicated.sql.
WITH shared AS (
  SELECT host, cmd, first_ns, image, image_first_ns,
         first_ns / (${WS_ATTRIBUTION_MINUTES} * 60000000000) AS bucket
  FROM ws_first_runs
  WHERE cmd IN (SELECT cmd FROM ws_first_runs GROUP BY cmd HAVING count(*) > 1)
),
links AS (
  SELECT
    winlog_event_data_sourceip AS sourceip,
    h.host                     AS host,
    event_created              AS connected_ns,
    winlog_event_data_image    AS image,
    event_created / (${WS_ATTRIBUTION_MINUTES} * 60000000000) AS bucket
  FROM events
  JOIN ws_hosts h ON h.ip = winlog_event_data_destinationip
  WHERE winlog_event_id = 3
    AND is_private_ip(winlog_event_data_sourceip)
    AND winlog_event_data_sourceip <> winlog_event_data_destinationip
),
span AS (
  SELECT CAST(max(bucket) - min(bucket) + 1 AS DOUBLE) AS intervals FROM links
),
pair_rate AS (
  SELECT l.sourceip, l.host, count(DISTINCT l.bucket) / max(p.intervals) AS rate
  FROM links l CROSS JOIN span p
  GROUP BY l.sourceip, l.host
),
-- Each first run looks in its own attribution bucket and the one before, as attribution
-- does, so the join is an equi-join on (host, bucket).
reached AS (
  SELECT host, cmd, first_ns,
         unnest(make_array(bucket, bucket - 1)) AS bucket
  FROM shared
),
contacts AS (
  SELECT l.sourceip, src.host AS source_host, r.host AS target_host, r.cmd, r.first_ns,
         l.connected_ns,
         coalesce(normalize_path(l.image) = s.image
                  AND s.image_first_ns >= r.first_ns - ${WS_WINDOW_DURATION} * 60000000000,
                  false) AS by_program
  FROM reached r
  JOIN links l
    ON l.host = r.host
   AND l.bucket = r.bucket
   AND l.connected_ns <= r.first_ns
   AND l.connected_ns > r.first_ns - ${WS_ATTRIBUTION_MINUTES} * 60000000000
  JOIN ws_hosts src ON src.ip = l.sourceip
  JOIN shared s
    ON s.host = src.host AND s.cmd = r.cmd
   AND s.first_ns < r.first_ns
   AND s.first_ns >= r.first_ns - ${WS_WINDOW_DURATION} * 60000000000
  WHERE src.host <> r.host
),
candidates AS (
  SELECT *,
         row_number() OVER (
           PARTITION BY target_host, cmd
           ORDER BY by_program DESC, connected_ns DESC, sourceip, source_host
         ) AS n
  FROM contacts
)
SELECT c.sourceip, c.source_host, c.target_host, c.cmd, c.first_ns,
       q.rate <= ${WS_REPLICATION_MAX_PAIR_RATE} OR c.by_program AS credited
FROM candidates c
JOIN pair_rate q ON q.sourceip = c.sourceip AND q.host = c.target_host
WHERE c.n = 1
