-- C2 beaconing, scoring.
--
-- The original's models: distance to the assigned k-means centroid of the timing vector
-- (shallow) and the autoencoder's reconstruction error of the context vector (deep), both
-- min-max normalised over all entities and fused as beacon_score = shallow * (1 + deep),
-- in [0, 2]; beacon_flag keeps the original's flag (beacon_score > threshold).
--
-- Beyond the original, the hypothesis itself is scored and weighted by the models:
-- c2_score = regularity * support * prevalence_modifier * first_seen_modifier
--            * (0.5 + beacon_score / 4), where
--   regularity          = 1 - min(1, MAD / median) of the gaps (RITA's robust dispersion:
--                         1 for a metronome, 0 for gaps as spread as their median),
--   support             = max(0, 1 - 4 / gaps): a rhythm needs more than four gaps to be
--                         one (0.64 at 11 gaps, 0.99 at 500); gaps count at most once per
--                         second of the rhythm's span (duration_s), because C2 frameworks
--                         schedule check-ins in whole seconds of sleep (Cobalt Strike,
--                         Empire, Covenant, Sliver): a burst of connections a tenth of a
--                         second apart (a page or a sync client opening parallel
--                         requests) is one moment's traffic, not a schedule; and
--   prevalence_modifier = 1 - C2_PREVALENCE_WEIGHT * fleet_share, a bounded modifier (as
--                         RITA's prevalence): fleet_share is the share of the OTHER hosts
--                         that run the same program (normalised path) to the same
--                         destination and port, out of every host that made outbound
--                         connections: 0 for a pair only this host has, 1 for one that
--                         every host has (event forwarding, fleet agents). It is a share
--                         of the pair, not of the destination, so a proxy or a CDN that
--                         every host reaches does not hide the one program that beacons
--                         to it, and an implant family on a few hosts keeps most of its
--                         score. With one host it is 0: prevalence says nothing there.
--                         When the destination is itself one of the hosts (the address
--                         its own outbound connections come from), that host cannot
--                         reach it over the network and is not counted among those that
--                         could: a collector that every other host forwards to is a pair
--                         of every host that can have it.
--   first_seen_modifier = 1 - C2_ESTABLISHED_WEIGHT when the pair is established: the
--                         fleet already ran the program to the destination and port in
--                         the data's first C2_BASELINE_HOURS (first seen, as RITA's
--                         first-seen modifier, from the entities' first connections).
--                         Software installed before the data began polls its vendor from
--                         the first hour; an intrusion starts somewhere inside the data.
--                         It applies only when the data has connections in at least two
--                         baselines' worth of distinct hours: a recording of minutes or
--                         hours has no history and keeps 1, even when a stray event
--                         stamped days earlier stretches its time span (a clock that
--                         was wrong, a cached event). Its cost: an implant that was
--                         already running when the data begins keeps half its score, so
--                         only a clear rhythm (regularity * support above 0.6 with the
--                         top model score) is still flagged.
-- A rhythm must also be one that chance does not explain: rhythm_q is the chance that
-- memoryless traffic (a Poisson process) puts as many gaps as close around their median
-- (rhythm_p_value, counting the gaps as support does), times the number of entities
-- scored (Bonferroni: among thousands of short-lived processes, a dozen connections
-- that look regular happen by chance). An entity is flagged only when rhythm_q is under
-- C2_RHYTHM_ALPHA, the family-wise error rate. An agent's dozen check-ins a few seconds
-- apart in a recording of minutes pass it by many orders of magnitude (its gaps vary by
-- milliseconds); a browser's 14 connections at gaps within 15 % of their median, one of
-- 17,664 entities (a 200-host lab), do not.
-- The models move the score by at most a factor of two and cannot veto it: min-max
-- normalisation puts some entity at exactly 0 however anomalous it is on small data.
-- An entity is flagged when c2_score > C2_SCORE_THRESHOLD and its rhythm passes the
-- test above. The default prevalence weight is derived from the threshold, not fitted:
-- at weight 0.75 a pair on every host scores at most 0.25 (a perfect metronome with the
-- highest model score), under the 0.3 threshold, so fleet-wide behaviour is never
-- flagged by its rhythm alone; a new host-unique rhythm with regularity * support above
-- 0.6 is flagged whatever the models say.
WITH scored AS (
  SELECT
    *,
    kmeans_distance(scale(timing, ${TIMING_SCALER}), ${KMEANS_MODEL})          AS shallow,
    autoencoder_score(scale(context, ${CONTEXT_SCALER}), ${AUTOENCODER_MODEL}) AS deep
  FROM c2_features
),
normalised AS (
  SELECT
    *,
    coalesce((shallow - min(shallow) OVER ())
      / nullif(max(shallow) OVER () - min(shallow) OVER (), 0), 0.0) AS shallow_n,
    coalesce((deep - min(deep) OVER ())
      / nullif(max(deep) OVER () - min(deep) OVER (), 0), 0.0)       AS deep_n,
    least(connections - 1, duration_s)                               AS counted_gaps,
    coalesce(mad_s / nullif(median_s, 0), 1.0)                       AS dispersion
  FROM scored
),
population AS (
  SELECT CAST(count(DISTINCT winlog_computer_name) AS DOUBLE) AS hosts,
         -- an hour is 3,600,000,000,000 ns
         min(event_created) + ${C2_BASELINE_HOURS} * 3600000000000 AS baseline_end_ns,
         count(DISTINCT event_created / 3600000000000)           AS active_hours
  FROM events
  WHERE winlog_event_id = 3 AND lower(winlog_event_data_initiated) = 'true'
),
host_address AS (
  -- The hosts' own addresses: the source address of their outbound connections, where
  -- exactly one host uses it (loopback and unspecified addresses name every host).
  SELECT winlog_event_data_sourceip AS ip, min(winlog_computer_name) AS owner
  FROM events
  WHERE winlog_event_id = 3 AND lower(winlog_event_data_initiated) = 'true'
    AND winlog_event_data_sourceip IS NOT NULL
    AND NOT (winlog_event_data_sourceip LIKE '127.%'
             OR winlog_event_data_sourceip LIKE '::ffff:127.%'
             OR winlog_event_data_sourceip IN ('::1', '0:0:0:0:0:0:0:1', '0.0.0.0', '::'))
  GROUP BY 1
  HAVING count(DISTINCT winlog_computer_name) = 1
),
destination AS (
  SELECT destinationip, count(DISTINCT host) AS destination_hosts
  FROM c2_entities
  GROUP BY 1
),
pair AS (
  SELECT normalize_path(image) AS program, destinationip, destinationport,
         count(DISTINCT host) AS pair_hosts, min(first_seen_ns) AS pair_first_seen_ns
  FROM c2_entities
  GROUP BY 1, 2, 3
),
fused AS (
  SELECT
    n.*,
    p.destination_hosts,
    n.shallow_n * (1 + n.deep_n)                                   AS beacon_score,
    1 - least(1.0, n.dispersion)                                   AS regularity,
    greatest(0.0, 1 - 4 / n.counted_gaps)                          AS support,
    least(1.0, rhythm_p_value(n.counted_gaps, n.dispersion) * count(*) OVER ())
                                                                   AS rhythm_q,
    q.pair_hosts,
    q.pair_first_seen_ns,
    h.active_hours >= 2 * ${C2_BASELINE_HOURS}
      AND q.pair_first_seen_ns < h.baseline_end_ns
                                                                   AS established,
    coalesce(least(1.0, CAST(q.pair_hosts - 1 AS DOUBLE)
      / nullif(h.hosts - 1 - CASE WHEN a.owner IS NOT NULL AND a.owner <> n.host
                                  THEN 1 ELSE 0 END, 0)), 0.0)    AS fleet_share
  FROM normalised n
  JOIN destination p ON p.destinationip = n.destinationip
  JOIN pair q
    ON q.program = normalize_path(n.image)
   AND q.destinationip = n.destinationip
   AND q.destinationport = n.destinationport
  CROSS JOIN population h
  LEFT JOIN host_address a ON a.ip = n.destinationip
),
modified AS (
  SELECT *,
         1 - ${C2_PREVALENCE_WEIGHT} * fleet_share                  AS prevalence_modifier,
         1 - ${C2_ESTABLISHED_WEIGHT} * CAST(established AS DOUBLE) AS first_seen_modifier
  FROM fused
),
weighed AS (
  SELECT *,
         regularity * support * prevalence_modifier * first_seen_modifier
           * (0.5 + beacon_score / 4)                               AS c2_score
  FROM modified
)
SELECT
  processguid, destinationip, destinationport, host, image, parent_image, commandline,
  parent_commandline, portname, destination_hostname, external, first_seen_ns,
  last_seen_ns, connections, duration_s, mean_s, stddev_s, cv, median_s, mad_s,
  shallow, deep, shallow_n, deep_n, beacon_score,
  beacon_score > ${C2_BEACON_SCORE_THRESHOLD}                      AS beacon_flag,
  regularity, support, destination_hosts, pair_hosts, fleet_share, pair_first_seen_ns,
  established, prevalence_modifier, first_seen_modifier,
  c2_score, rhythm_q,
  c2_score > ${C2_SCORE_THRESHOLD} AND rhythm_q < ${C2_RHYTHM_ALPHA} AS flagged
FROM weighed
