-- Fusion, as the original: final = w_seq * seq_norm + w_if * iforest + w_rarity *
-- rarity_boost with rarity_boost = 1 / (1 + 0.0001 * instances of the image), plus the
-- per-image z-score of the combined score (computed but dropped by the original).
-- Per-image and global statistics are grouped aggregates joined back (not window
-- functions), so the plan distributes cleanly however the table is partitioned.
WITH scored AS (
  SELECT
    *,
    seq_score(sequence, ${SEQUENCE_MODEL}) AS seq_loss,
    iforest_score(vec, ${IFOREST_MODEL})   AS iforest
  FROM pa_features
),
instances AS (
  SELECT image, count(*) AS image_instances FROM pa_features GROUP BY image
),
span AS (
  SELECT min(seq_loss) AS lo, max(seq_loss) AS hi FROM scored
),
fused AS (
  SELECT
    s.*,
    i.image_instances,
    coalesce((s.seq_loss - span.lo) / nullif(span.hi - span.lo, 0), 0.0)   AS seq_norm,
    1.0 / (1.0 + 0.0001 * CAST(i.image_instances AS DOUBLE))               AS rarity_boost,
    ${PROCESS_SEQ_WEIGHT}
      * coalesce((s.seq_loss - span.lo) / nullif(span.hi - span.lo, 0), 0.0)
      + ${PROCESS_IFOREST_WEIGHT} * coalesce(s.iforest, 0.0)
      + ${PROCESS_RARITY_WEIGHT} / (1.0 + 0.0001 * CAST(i.image_instances AS DOUBLE))
                                                                           AS final_score
  FROM scored s
  JOIN instances i ON i.image = s.image
  CROSS JOIN span
),
per_image AS (
  SELECT image, avg(final_score) AS mean_score, stddev_pop(final_score) AS sd_score
  FROM fused
  GROUP BY image
)
SELECT
  f.processguid, f.host, f.image, f.commandline, f.parent_image, f.parent_commandline,
  f.first_seen_ns, f.events, f.network_events, f.dns_events, f.file_events,
  array_to_string(f.sequence, ' ') AS event_sequence,
  f.destinations, f.dns_names, f.rarity, f.image_instances, f.seq_loss, f.seq_norm,
  f.iforest, f.rarity_boost, f.final_score,
  coalesce((f.final_score - p.mean_score) / nullif(p.sd_score, 0), 0.0) AS image_zscore,
  f.final_score > ${PROCESS_FINAL_ANOMALY_THRESHOLD} AS flagged
FROM fused f
JOIN per_image p ON p.image = f.image
ORDER BY f.final_score DESC, f.processguid
