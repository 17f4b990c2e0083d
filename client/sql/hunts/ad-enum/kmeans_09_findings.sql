-- Scoring: every (account, week) gets its cluster and its distance to the centroid. The
-- smallest cluster is the anomaly cluster (ties broken by cluster id); accounts in it
-- for AD_PERSISTENT_MIN_WEEKS weeks or more are persistent. Ranking: the anomaly cluster
-- first, then by distance.
WITH scored AS (
  SELECT
    user, week, queries, distinct_queries, first_seen_ns, last_seen_ns,
    kmeans_assign(scale(vec, ${SCALER_MODEL}), ${KMEANS_MODEL})   AS cluster,
    kmeans_distance(scale(vec, ${SCALER_MODEL}), ${KMEANS_MODEL}) AS distance
  FROM ad_features
),
sized AS (
  SELECT *, count(*) OVER (PARTITION BY cluster) AS cluster_size FROM scored
),
anomaly AS (
  SELECT cluster AS anomaly_cluster FROM sized
  GROUP BY cluster, cluster_size ORDER BY cluster_size, cluster LIMIT 1
),
flagged AS (
  SELECT s.*, s.cluster = a.anomaly_cluster AS flagged
  FROM sized s CROSS JOIN anomaly a
)
SELECT
  f.*,
  CAST(f.flagged AS DOUBLE) + f.distance / (1 + max(f.distance) OVER ()) AS ad_score,
  sum(CAST(f.flagged AS BIGINT)) OVER (PARTITION BY f.user) >= ${AD_PERSISTENT_MIN_WEEKS} AS persistent,
  q.top_queries
FROM flagged f
LEFT JOIN ad_top_queries q ON q.user = f.user AND q.week = f.week
ORDER BY ad_score DESC, f.user, f.week
