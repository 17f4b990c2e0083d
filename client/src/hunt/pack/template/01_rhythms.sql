-- One row per (host, image, destination): the gaps between its outbound connections,
-- summarised by inter_arrival_stats, and how many hosts call the same destination.
-- A parameter of hunt.toml appears as a placeholder, as in the WHERE clause below;
-- `huntsman hunt --show-sql` prints the SQL with the values filled in.
WITH pairs AS (
  SELECT
    winlog_computer_name            AS host,
    winlog_event_data_image         AS image,
    winlog_event_data_destinationip AS destination,
    inter_arrival_stats(event_created) AS s
  FROM events
  WHERE winlog_event_id = 3
    AND winlog_event_data_initiated = 'true'
    AND winlog_event_data_destinationip IS NOT NULL
  GROUP BY 1, 2, 3
),
spread AS (
  SELECT destination, count(DISTINCT host) AS hosts FROM pairs GROUP BY destination
)
SELECT
  p.host,
  p.image,
  p.destination,
  p.s['count']    AS connections,
  p.s['median_s'] AS median_gap_s,
  p.s['cv']       AS cv,
  coalesce(p.s['mad_s'] / nullif(p.s['median_s'], 0), 0.0) AS mad_ratio,
  d.hosts,
  make_array(
    ln(1 + CAST(p.s['count'] AS DOUBLE)),
    ln(1 + coalesce(p.s['median_s'], 0.0)),
    coalesce(p.s['cv'], 0.0),
    coalesce(p.s['mad_s'] / nullif(p.s['median_s'], 0), 0.0),
    ln(1 + CAST(d.hosts AS DOUBLE))
  ) AS vec
FROM pairs p
JOIN spread d ON d.destination = p.destination
WHERE p.s['count'] >= ${{{PREFIX}}_MIN_CONNECTIONS}
