-- Which processes call the same external destination at regular intervals?
--
-- A first look at C2 beaconing with plain SQL and two Huntsman functions: for each
-- (host, process, destination) the gaps between outbound connections (Sysmon event 3,
-- initiated by the host) are summarised by inter_arrival_stats; internal destinations are
-- dropped with is_private_ip. A low coefficient of variation (cv) and a small median
-- absolute deviation relative to the median gap mean a regular, machine-like rhythm.
-- The full c2-beacon hunt adds models and evidence on top of this.
SELECT
  winlog_computer_name                  AS host,
  winlog_event_data_image               AS image,
  winlog_event_data_destinationip       AS destination,
  s['count']                            AS connections,
  round(s['median_s'], 1)               AS median_gap_s,
  round(s['cv'], 3)                     AS cv,
  round(s['mad_s'] / s['median_s'], 3)  AS mad_ratio
FROM (
  SELECT
    winlog_computer_name,
    winlog_event_data_image,
    winlog_event_data_processguid,
    winlog_event_data_destinationip,
    inter_arrival_stats(event_created) AS s
  FROM events
  WHERE winlog_event_id = 3
    AND winlog_event_data_initiated = 'true'
    AND NOT is_private_ip(winlog_event_data_destinationip)
  GROUP BY 1, 2, 3, 4
)
WHERE s['count'] >= 10 AND s['median_s'] > 0
ORDER BY cv ASC, connections DESC
LIMIT 15;
