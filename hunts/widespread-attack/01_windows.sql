-- Widespread attack, phases 1 and 2: sliding windows (WS_WINDOW_DURATION minutes, every
-- WS_WINDOW_SLIDE minutes, aligned to the slide) and the blast radius of each internal
-- source in each window: the distinct private destinations it connected to (Sysmon 3,
-- private source and destination). Sources reaching at least WS_VICTIM_MIN_COUNT
-- destinations in a window are kept.
WITH links AS (
  SELECT
    winlog_event_data_sourceip      AS sourceip,
    winlog_event_data_destinationip AS destinationip,
    event_created                   AS t
  FROM events
  WHERE winlog_event_id = 3
    AND is_private_ip(winlog_event_data_sourceip)
    AND is_private_ip(winlog_event_data_destinationip)
    AND winlog_event_data_sourceip <> winlog_event_data_destinationip
),
windowed AS (
  SELECT
    sourceip, destinationip, t,
    (t / (${WS_WINDOW_SLIDE} * 60000000000)) * (${WS_WINDOW_SLIDE} * 60000000000)
      - step * (${WS_WINDOW_SLIDE} * 60000000000) AS window_start
  FROM (
    SELECT
      sourceip, destinationip, t,
      unnest(range(0, ${WS_WINDOW_DURATION} / ${WS_WINDOW_SLIDE})) AS step
    FROM links
  )
)
SELECT
  sourceip,
  window_start,
  window_start + ${WS_WINDOW_DURATION} * 60000000000 AS window_end,
  count(DISTINCT destinationip)                      AS victims,
  array_agg(DISTINCT destinationip)                  AS victim_ips,
  count(*)                                           AS connections
FROM windowed
GROUP BY sourceip, window_start
HAVING count(DISTINCT destinationip) >= ${WS_VICTIM_MIN_COUNT}
