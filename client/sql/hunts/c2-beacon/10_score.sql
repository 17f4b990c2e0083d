-- C2 beaconing, scoring: distance to the assigned k-means centroid (shallow) and
-- reconstruction error (deep), both min-max normalised over all entities, fused as
-- beacon_score = shallow * (1 + deep), as the original did.
WITH scored AS (
  SELECT
    *,
    kmeans_distance(scale(timing, ${TIMING_SCALER}), ${KMEANS_MODEL})        AS shallow,
    autoencoder_score(scale(context, ${CONTEXT_SCALER}), ${AUTOENCODER_MODEL}) AS deep
  FROM c2_features
),
normalised AS (
  SELECT
    *,
    (shallow - min(shallow) OVER ()) / nullif(max(shallow) OVER () - min(shallow) OVER (), 0) AS shallow_n,
    (deep - min(deep) OVER ()) / nullif(max(deep) OVER () - min(deep) OVER (), 0)             AS deep_n
  FROM scored
)
SELECT
  processguid, destinationip, destinationport, host, image, parent_image, commandline,
  parent_commandline, portname, destination_hostname, external, first_seen_ns,
  last_seen_ns, connections, duration_s, mean_s, stddev_s, cv, median_s, mad_s,
  shallow, deep,
  coalesce(shallow_n, 0.0) * (1 + coalesce(deep_n, 0.0))                    AS beacon_score,
  coalesce(shallow_n, 0.0) * (1 + coalesce(deep_n, 0.0)) > ${C2_BEACON_SCORE_THRESHOLD} AS flagged
FROM normalised
