-- Scoring: reconstruction MSE per (account, week), times the baseline modifier
-- 1 - AD_ROUTINE_WEIGHT x (1 - novel_share) from 05_novelty.sql, bounded in
-- [1 - AD_ROUTINE_WEIGHT, 1]: the autoencoder cannot tell an enumerator from an account
-- whose searching is odd every day (an audit script, a busy service account), and an
-- account doing what it did on its first day keeps a quarter of its error. Flagged above
-- AD_DL_ANOMALY_THRESHOLD.
WITH scored AS (
  SELECT
    f.user, f.week, f.queries, f.distinct_queries, f.first_seen_ns, f.last_seen_ns,
    autoencoder_score(scale(f.vec, ${SCALER_MODEL}), ${AUTOENCODER_MODEL}) AS model_mse,
    n.new_shapes,
    n.novel_share,
    1.0 - ${AD_ROUTINE_WEIGHT} * (1.0 - coalesce(n.novel_share, 1.0))    AS routine_modifier
  FROM ad_features f
  LEFT JOIN ad_novelty n ON n.user = f.user AND n.week = f.week
),
adjusted AS (
  SELECT *, model_mse * routine_modifier AS mse FROM scored
)
SELECT
  a.*,
  a.mse > ${AD_DL_ANOMALY_THRESHOLD} AS flagged,
  q.top_queries
FROM adjusted a
LEFT JOIN ad_top_queries q ON q.user = a.user AND q.week = a.week
ORDER BY a.mse DESC, a.user, a.week
