-- Every triple with its anomaly score (0..1, higher is stranger). The flag is a property
-- of the score's own distribution: more than {{PREFIX}}_OUTLIER_Z robust standard
-- deviations (1.4826 x the median absolute deviation) above the median.
WITH scored AS (
  SELECT r.*, iforest_score(r.vec, ${FOREST_MODEL}) AS score
  FROM {{TABLE}}_rhythms r
),
centre AS (
  SELECT median(score) AS med FROM scored
),
spread AS (
  SELECT median(abs(s.score - c.med)) AS mad FROM scored s CROSS JOIN centre c
)
SELECT
  s.host,
  s.image,
  s.destination,
  s.connections,
  s.median_gap_s,
  s.cv,
  s.mad_ratio,
  s.hosts,
  s.score,
  s.score > c.med + ${{{PREFIX}}_OUTLIER_Z} * 1.4826 * greatest(p.mad, 1e-9) AS flagged
FROM scored s
CROSS JOIN centre c
CROSS JOIN spread p
