-- Every action's reconstruction error; those above WS_ANOMALY_THRESHOLD are anomalous.
SELECT * FROM (
  SELECT
    host, event_created, event_id, processguid, image, text,
    autoencoder_score(
      tfidf(hash_tf(tokenize(text), ${WS_TFIDF_NUM_FEATURES}), ${IDF_MODEL}),
      ${AUTOENCODER_MODEL}) AS error
  FROM ws_actions
)
WHERE error > ${WS_ANOMALY_THRESHOLD}
