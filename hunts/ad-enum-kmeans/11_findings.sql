-- Scoring: every (account, week) gets its cluster, its distance to the centroid, and its
-- cluster-based outlier score (kmeans_outlier, unweighted CBLOF): the distance to its
-- centroid in a large cluster, to the nearest large centroid in a small one. A slow
-- enumerator's weeks often form a small cluster of their own, where the plain distance
-- is near zero; the outlier score measures how far they are from the bulk instead.
--
-- outlier_z is the robust z-score of the outlier score, (score - median) / (1.4826 *
-- MAD), a property of this data's own score distribution (3.5 is Iglewicz and Hoaglin's
-- usual outlier cut). The model cannot tell an enumerator from an account whose
-- searching is odd every day (an audit script, a busy service account): ad_score is a
-- positive z-score times the baseline modifier 1 - AD_ROUTINE_WEIGHT x (1 - novel_share),
-- bounded in [1 - AD_ROUTINE_WEIGHT, 1], from 05_novelty.sql: an account doing what it
-- did on its first day keeps a quarter of its score. Flagged when ad_score > AD_OUTLIER_Z.
-- The original's anomaly cluster (the smallest) is kept as evidence
-- (in_smallest_cluster); accounts flagged in AD_PERSISTENT_MIN_WEEKS weeks or more are
-- persistent.
WITH scored AS (
  SELECT
    user, week, queries, distinct_queries, first_seen_ns, last_seen_ns,
    kmeans_assign(scale(vec, ${SCALER_MODEL}), ${KMEANS_MODEL})   AS cluster,
    kmeans_distance(scale(vec, ${SCALER_MODEL}), ${KMEANS_MODEL}) AS distance,
    kmeans_outlier(scale(vec, ${SCALER_MODEL}), ${KMEANS_MODEL})  AS outlier
  FROM ad_features
),
baseline AS (
  SELECT user, week, new_shapes, novel_share,
         1.0 - ${AD_ROUTINE_WEIGHT} * (1.0 - novel_share) AS routine_modifier
  FROM ad_novelty
),
sized AS (
  SELECT *, count(*) OVER (PARTITION BY cluster) AS cluster_size FROM scored
),
smallest AS (
  SELECT cluster AS anomaly_cluster FROM sized
  GROUP BY cluster, cluster_size ORDER BY cluster_size, cluster LIMIT 1
),
centre AS (SELECT median(outlier) AS med FROM scored),
spread AS (
  SELECT median(abs(s.outlier - c.med)) AS mad FROM scored s CROSS JOIN centre c
),
standardised AS (
  SELECT
    s.*,
    s.cluster = a.anomaly_cluster                                          AS in_smallest_cluster,
    coalesce((s.outlier - c.med) / nullif(1.4826 * p.mad, 0), 0.0)        AS outlier_z
  FROM sized s CROSS JOIN smallest a CROSS JOIN centre c CROSS JOIN spread p
),
flagged AS (
  SELECT
    z.*,
    b.new_shapes,
    b.novel_share,
    -- routine lowers a score: a week below the median keeps its z-score
    CASE WHEN z.outlier_z > 0 THEN z.outlier_z * coalesce(b.routine_modifier, 1.0)
         ELSE z.outlier_z END                                              AS ad_score
  FROM standardised z
  LEFT JOIN baseline b ON b.user = z.user AND b.week = z.week
)
SELECT
  f.*,
  f.ad_score > ${AD_OUTLIER_Z}                                             AS flagged,
  sum(CASE WHEN f.ad_score > ${AD_OUTLIER_Z} THEN 1 ELSE 0 END) OVER (PARTITION BY f.user)
    >= ${AD_PERSISTENT_MIN_WEEKS}                                          AS persistent,
  q.top_queries
FROM flagged f
LEFT JOIN ad_top_queries q ON q.user = f.user AND q.week = f.week
ORDER BY f.ad_score DESC, f.user, f.week
