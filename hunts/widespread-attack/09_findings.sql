-- Campaigns per source: the windows in which it reached WS_VICTIM_MIN_COUNT or more
-- hosts, the hosts on which anomalous actions were attributed to it, and those actions.
-- A source is flagged when its attributed actions fall in more than
-- WS_CAMPAIGN_MIN_WINDOWS of its windows, on more than WS_CAMPAIGN_MIN_TARGETS hosts, and
-- hold more than WS_CAMPAIGN_MIN_ACTIONS distinct anomalous commands (process creations):
-- software deployment repeats the same one or two commands on every host, an intrusion
-- runs different ones. File creations are reported but not counted: generated names
-- (update packages, definition folders named by GUID) make nearly every file distinct.
WITH acted AS (
  SELECT a.sourceip, w.window_start, a.host, a.event_id, a.text, a.error
  FROM ws_attributed a
  JOIN ws_windows w
    ON w.sourceip = a.sourceip
   AND a.event_created >= w.window_start AND a.event_created < w.window_end
),
campaign AS (
  SELECT
    sourceip,
    count(DISTINCT window_start) AS anomalous_windows,
    count(DISTINCT host)         AS targets,
    count(DISTINCT text)         AS anomalous_actions,
    count(DISTINCT CASE WHEN event_id = 1 THEN text END) AS anomalous_commands,
    max(error)                   AS max_error,
    array_agg(DISTINCT host)     AS target_hosts
  FROM acted
  GROUP BY sourceip
),
reach AS (
  SELECT
    sourceip,
    min(window_start) AS first_window_ns,
    max(window_start) AS last_window_ns,
    count(*)          AS windows,
    max(victims)      AS max_victims
  FROM ws_windows
  GROUP BY sourceip
),
examples AS (
  SELECT sourceip, array_agg(text ORDER BY error DESC) AS actions
  FROM (
    SELECT sourceip, text, max(error) AS error,
           row_number() OVER (PARTITION BY sourceip ORDER BY max(error) DESC, text) AS r
    FROM acted GROUP BY sourceip, text
  )
  WHERE r <= 5
  GROUP BY sourceip
)
SELECT
  r.sourceip,
  src.host                                AS source_host,
  r.first_window_ns, r.last_window_ns, r.windows, r.max_victims,
  coalesce(c.anomalous_windows, 0)        AS anomalous_windows,
  coalesce(c.targets, 0)                  AS targets,
  coalesce(c.anomalous_actions, 0)        AS anomalous_actions,
  coalesce(c.anomalous_commands, 0)       AS anomalous_commands,
  c.max_error,
  c.target_hosts,
  e.actions                               AS top_actions,
  CAST(coalesce(c.targets, 0) AS DOUBLE) * ln(1 + coalesce(c.anomalous_commands, 0)) AS campaign_score,
  coalesce(c.anomalous_windows, 0) > ${WS_CAMPAIGN_MIN_WINDOWS}
    AND coalesce(c.targets, 0) > ${WS_CAMPAIGN_MIN_TARGETS}
    AND coalesce(c.anomalous_commands, 0) > ${WS_CAMPAIGN_MIN_ACTIONS} AS flagged
FROM reach r
LEFT JOIN campaign c ON c.sourceip = r.sourceip
LEFT JOIN examples e ON e.sourceip = r.sourceip
LEFT JOIN (SELECT ip, max(host) AS host FROM ws_hosts GROUP BY ip) src ON src.ip = r.sourceip
ORDER BY campaign_score DESC, r.sourceip
