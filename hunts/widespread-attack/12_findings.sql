-- Campaigns per source: the windows in which it reached WS_VICTIM_MIN_COUNT or more
-- hosts, the hosts on which anomalous actions were attributed to it, those actions, and
-- the commands it replicated (ws_replicated). A source is flagged when it replicated a
-- command along a path of hosts, or when its attributed actions fall in more than
-- WS_CAMPAIGN_MIN_WINDOWS of its windows and one of those windows holds a burst: more
-- than WS_CAMPAIGN_MIN_TARGETS hosts acted on and more than WS_CAMPAIGN_MIN_ACTIONS
-- distinct anomalous commands (process creations). A widespread attack is a wide blast
-- radius within a window: software deployment repeats the same one or two commands on
-- every host, an intrusion runs different ones on several hosts within the hour, and an
-- administrator's remote commands spread over days of routine are not one campaign
-- because they add up over the data set. File creations are reported but not counted:
-- generated names (update packages, definition folders named by GUID) make nearly every
-- file distinct. The score counts the hosts acted on (anomalous actions and replicated
-- commands) times the log of one plus the distinct commands of both kinds.
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
    count(DISTINCT text)         AS anomalous_actions,
    count(DISTINCT CASE WHEN event_id = 1 THEN text END) AS anomalous_commands,
    max(error)                   AS max_error,
    array_agg(DISTINCT host)     AS target_hosts
  FROM acted
  GROUP BY sourceip
),
-- The busiest window: the most hosts acted on and the most distinct commands in one
-- window, and whether one window holds a burst.
bursts AS (
  SELECT sourceip,
         max(targets)  AS burst_targets,
         max(commands) AS burst_commands,
         max(CASE WHEN targets > ${WS_CAMPAIGN_MIN_TARGETS}
                   AND commands > ${WS_CAMPAIGN_MIN_ACTIONS} THEN 1 ELSE 0 END) AS burst
  FROM (
    SELECT sourceip, window_start,
           count(DISTINCT host) AS targets,
           count(DISTINCT CASE WHEN event_id = 1 THEN text END) AS commands
    FROM acted
    GROUP BY sourceip, window_start
  )
  GROUP BY sourceip
),
replicated AS (
  SELECT sourceip,
         count(DISTINCT target_host) AS replicated_to,
         count(DISTINCT cmd)         AS replicated_commands,
         array_agg(DISTINCT cmd)     AS replicated
  FROM ws_replicated
  GROUP BY sourceip
),
acted_on AS (
  SELECT sourceip, count(DISTINCT host) AS targets
  FROM (SELECT sourceip, host FROM acted
        UNION SELECT sourceip, target_host FROM ws_replicated)
  GROUP BY sourceip
),
sources AS (
  SELECT sourceip FROM ws_windows UNION SELECT sourceip FROM ws_replicated
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
  s.sourceip,
  src.host                                AS source_host,
  r.first_window_ns, r.last_window_ns,
  coalesce(r.windows, 0)                  AS windows,
  coalesce(r.max_victims, 0)              AS max_victims,
  coalesce(c.anomalous_windows, 0)        AS anomalous_windows,
  coalesce(t.targets, 0)                  AS targets,
  coalesce(c.anomalous_actions, 0)        AS anomalous_actions,
  coalesce(c.anomalous_commands, 0)       AS anomalous_commands,
  coalesce(b.burst_targets, 0)            AS burst_targets,
  coalesce(b.burst_commands, 0)           AS burst_commands,
  c.max_error,
  c.target_hosts,
  e.actions                               AS top_actions,
  coalesce(p.replicated_to, 0)            AS replicated_to,
  coalesce(p.replicated_commands, 0)      AS replicated_commands,
  p.replicated,
  CAST(coalesce(t.targets, 0) AS DOUBLE)
    * ln(1 + coalesce(c.anomalous_commands, 0) + coalesce(p.replicated_commands, 0)) AS campaign_score,
  coalesce(p.replicated_commands, 0) > 0
    OR (coalesce(c.anomalous_windows, 0) > ${WS_CAMPAIGN_MIN_WINDOWS}
        AND coalesce(b.burst, 0) = 1) AS flagged
FROM sources s
LEFT JOIN reach r ON r.sourceip = s.sourceip
LEFT JOIN campaign c ON c.sourceip = s.sourceip
LEFT JOIN bursts b ON b.sourceip = s.sourceip
LEFT JOIN acted_on t ON t.sourceip = s.sourceip
LEFT JOIN replicated p ON p.sourceip = s.sourceip
LEFT JOIN examples e ON e.sourceip = s.sourceip
LEFT JOIN (SELECT ip, max(host) AS host FROM ws_hosts GROUP BY ip) src ON src.ip = s.sourceip
ORDER BY campaign_score DESC, s.sourceip
