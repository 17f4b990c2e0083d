-- C2 beaconing, scoring.
--
-- The original's models: distance to the assigned k-means centroid of the timing vector
-- (shallow) and the autoencoder's reconstruction error of the context vector (deep), both
-- min-max normalised over all entities and fused as beacon_score = shallow * (1 + deep),
-- in [0, 2]; beacon_flag keeps the original's flag (beacon_score > threshold).
--
-- Beyond the original, the hypothesis itself is scored and weighted by the models:
-- c2_score = regularity * support * destination_rarity * (0.5 + beacon_score / 4), where
--   regularity         = 1 - min(1, MAD / median) of the gaps (RITA's robust dispersion:
--                        1 for a metronome, 0 for gaps as spread as their median),
--   support            = max(0, 1 - 4 / gaps): a rhythm needs more than four gaps to be
--                        one (0.64 at 11 gaps, 0.99 at 500), and
--   destination_rarity = 1 / (hosts that connected to the destination): software that
--                        beacons from every host (updaters, event forwarding) is not C2.
-- The models move the score by at most a factor of two and cannot veto it: min-max
-- normalisation puts some entity at exactly 0 however anomalous it is on small data.
-- An entity is flagged when c2_score > C2_SCORE_THRESHOLD.
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
      / nullif(max(deep) OVER () - min(deep) OVER (), 0), 0.0)       AS deep_n
  FROM scored
),
prevalence AS (
  SELECT destinationip, count(DISTINCT host) AS destination_hosts
  FROM c2_entities
  GROUP BY 1
),
fused AS (
  SELECT
    n.*,
    p.destination_hosts,
    n.shallow_n * (1 + n.deep_n)                                   AS beacon_score,
    1 - least(1.0, coalesce(n.mad_s / nullif(n.median_s, 0), 1.0)) AS regularity,
    greatest(0.0, 1 - 4 / (n.connections - 1))                    AS support,
    1.0 / CAST(greatest(p.destination_hosts, 1) AS DOUBLE)         AS destination_rarity
  FROM normalised n
  JOIN prevalence p ON p.destinationip = n.destinationip
)
SELECT
  processguid, destinationip, destinationport, host, image, parent_image, commandline,
  parent_commandline, portname, destination_hostname, external, first_seen_ns,
  last_seen_ns, connections, duration_s, mean_s, stddev_s, cv, median_s, mad_s,
  shallow, deep, shallow_n, deep_n, beacon_score,
  beacon_score > ${C2_BEACON_SCORE_THRESHOLD}                      AS beacon_flag,
  regularity, support, destination_hosts, destination_rarity,
  regularity * support * destination_rarity * (0.5 + beacon_score / 4) AS c2_score,
  regularity * support * destination_rarity * (0.5 + beacon_score / 4)
    > ${C2_SCORE_THRESHOLD}                                        AS flagged
FROM fused
