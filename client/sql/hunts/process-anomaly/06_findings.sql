-- Fusion, as the original: final = w_seq * seq_norm + w_if * iforest + w_rarity *
-- rarity_boost with rarity_boost = 1 / (1 + 0.0001 * instances of the image), plus the
-- per-image z-score of the combined score (computed but dropped by the original).
WITH scored AS (
  SELECT
    *,
    seq_score(sequence, ${SEQUENCE_MODEL}) AS seq_loss,
    iforest_score(vec, ${IFOREST_MODEL})   AS iforest,
    count(*) OVER (PARTITION BY image)     AS image_instances
  FROM pa_features
),
normalised AS (
  SELECT
    *,
    coalesce((seq_loss - min(seq_loss) OVER ()) / nullif(max(seq_loss) OVER () - min(seq_loss) OVER (), 0), 0.0) AS seq_norm,
    1.0 / (1.0 + 0.0001 * CAST(image_instances AS DOUBLE)) AS rarity_boost
  FROM scored
),
fused AS (
  SELECT
    *,
    ${PROCESS_SEQ_WEIGHT} * seq_norm + ${PROCESS_IFOREST_WEIGHT} * coalesce(iforest, 0.0)
      + ${PROCESS_RARITY_WEIGHT} * rarity_boost AS final_score
  FROM normalised
)
SELECT
  processguid, host, image, commandline, parent_image, parent_commandline, first_seen_ns,
  events, network_events, dns_events, file_events,
  array_to_string(sequence, ' ') AS event_sequence,
  destinations, dns_names, rarity, image_instances, seq_loss, seq_norm, iforest,
  rarity_boost, final_score,
  coalesce((final_score - avg(final_score) OVER (PARTITION BY image))
    / nullif(stddev_pop(final_score) OVER (PARTITION BY image), 0), 0.0) AS image_zscore,
  final_score > ${PROCESS_FINAL_ANOMALY_THRESHOLD} AS flagged
FROM fused
ORDER BY final_score DESC, processguid
