-- Scoring: reconstruction MSE per (account, week); flagged above AD_DL_ANOMALY_THRESHOLD.
SELECT
  f.user, f.week, f.queries, f.distinct_queries, f.first_seen_ns, f.last_seen_ns,
  autoencoder_score(scale(f.vec, ${SCALER_MODEL}), ${AUTOENCODER_MODEL})  AS mse,
  autoencoder_score(scale(f.vec, ${SCALER_MODEL}), ${AUTOENCODER_MODEL})
    > ${AD_DL_ANOMALY_THRESHOLD}                                         AS flagged,
  q.top_queries
FROM ad_features f
LEFT JOIN ad_top_queries q ON q.user = f.user AND q.week = f.week
ORDER BY mse DESC, f.user, f.week
