-- Scores and flag: the sequence scores of 07 joined to their processes, the isolation
-- forest's score, and the fusion.
--
-- The original's fusion is kept as final_score: w_seq * seq_norm + w_if * iforest +
-- w_rarity * rarity_boost, rarity_boost = 1 / (1 + 0.0001 * instances of the image), with
-- the per-image z-score of final_score it computed and dropped, and its flag
-- (final_flag, above PROCESS_FINAL_ANOMALY_THRESHOLD). Its boost is close to 1 for any
-- image with fewer than a few hundred processes and cannot lift a common image such as
-- cmd.exe, so the flag depends on the data's size.
--
-- The hunt's score adds up three pieces of evidence, each in [0, 1]:
--   pa_score = family_lineage + family_network + behaviour
-- family_lineage: how rare the lineage (parent image > image) is in the process's
--                  family (03, 06);
-- family_network: what reached the family from outside: how rare its destinations and
--                  DNS names are (03), or a file written on its host and run (04, 05);
-- behaviour      = (seq_norm + iforest) / 2, the two models' anomaly scores.
-- seq_norm is the sequence loss min-max normalised over the data set, over a span of at
-- least PROCESS_SEQ_MIN_SPREAD nats: a model that learned nothing (too few processes or
-- steps) gives every sequence about ln(vocabulary), and stretching that noise to [0, 1]
-- would rank processes by chance.
-- A rare lineage alone is the long tail of every network (installers, scheduled tasks,
-- an administrator's one-off command); a rare destination alone is a browser's day. Each
-- piece is on a scale that means the same on every data set (log rarity over ln of the
-- population, Good-Turing discounted; the models min-max normalised), so the flag is a
-- fixed share of the evidence: pa_score above PROCESS_SCORE_THRESHOLD (2.0, two thirds of
-- the most the three can give).
--
-- Where the image runs from bounds what rarity alone can do. Lineage and network can give
-- 2.0 between them, so a process the models find ordinary can pass the threshold on
-- rarity alone. That is right for an image in a folder its user can write (the profile,
-- Temp, ProgramData, another drive): a phishing attachment or a dropped implant runs
-- from there, and behaves like any process. An image in a folder only administrators and
-- installers can write (admin_folder: the Windows folder, less the subfolders of it that
-- users can write, and Program Files) is a vendor's updater or a system tool, and is as
-- rare as an intrusion wherever a few hosts run it; it is flagged only if the models see
-- it as unusual too: its behaviour above the data set's median by more than
-- PROCESS_BEHAVIOUR_MIN_Z robust standard deviations (1.4826 * median absolute deviation;
-- behaviour_zscore). Living off the land (System32 tools driven by an intruder) is caught
-- by what the tools do; an intruder with administrator rights who writes into Program
-- Files must be caught by the models as well.
--
-- pa_zscore, (pa_score - median) / (1.4826 * median absolute deviation), says how far out
-- the score is in this data set's distribution.
--
-- Per-image and global statistics are grouped aggregates joined back (not window
-- functions), so the plan distributes cleanly.
WITH scored AS (
  SELECT
    f.*,
    q.seq_loss,
    iforest_score(f.vec, ${IFOREST_MODEL}) AS iforest
  FROM pa_features f
  LEFT JOIN pa_sequence_scores q ON q.sequence = f.sequence
),
instances AS (
  SELECT image, count(*) AS image_instances FROM pa_features GROUP BY image
),
span AS (
  SELECT min(seq_loss) AS lo, max(seq_loss) AS hi FROM pa_sequence_scores
),
normalised AS (
  SELECT
    s.*,
    i.image_instances,
    coalesce((s.seq_loss - span.lo)
      / greatest(span.hi - span.lo, ${PROCESS_SEQ_MIN_SPREAD}), 0.0)        AS seq_norm,
    1.0 / (1.0 + 0.0001 * CAST(i.image_instances AS DOUBLE))               AS rarity_boost
  FROM scored s
  JOIN instances i ON i.image = s.image
  CROSS JOIN span
),
fused AS (
  SELECT
    *,
    ${PROCESS_SEQ_WEIGHT} * seq_norm + ${PROCESS_IFOREST_WEIGHT} * coalesce(iforest, 0.0)
      + ${PROCESS_RARITY_WEIGHT} * rarity_boost                             AS final_score,
    (seq_norm + coalesce(iforest, 0.0)) / 2.0                              AS behaviour
  FROM normalised
),
evidence AS (
  SELECT
    *,
    family_lineage + family_network + behaviour AS pa_score,
    -- Windows less its user-writable subfolders, and Program Files (docs/functions.md)
    coalesce(admin_folder(image), false) AS admin_folder
  FROM fused
),
centre AS (
  SELECT median(pa_score) AS median_score, median(behaviour) AS median_behaviour
  FROM evidence
),
spread AS (
  SELECT
    max(c.median_score) AS median_score,
    1.4826 * median(abs(f.pa_score - c.median_score)) AS mad,
    max(c.median_behaviour) AS median_behaviour,
    1.4826 * median(abs(f.behaviour - c.median_behaviour)) AS mad_behaviour
  FROM evidence f CROSS JOIN centre c
),
per_image AS (
  SELECT image, avg(final_score) AS mean_score, stddev_pop(final_score) AS sd_score
  FROM evidence
  GROUP BY image
)
SELECT
  f.processguid, f.host, f.image, f.commandline, f.parent_image, f.parent_commandline,
  f.first_seen_ns, f.events, f.network_events, f.dns_events, f.file_events,
  array_to_string(f.sequence, ' ') AS event_sequence,
  f.destinations, f.dns_names, f.rarity, f.lineage_processes, f.lineage_hosts,
  f.image_instances, f.lineage_surprise, f.network_surprise, f.family_lineage,
  f.family_network, f.delivered, f.seq_loss,
  f.seq_norm, f.iforest, f.behaviour, f.rarity_boost, f.final_score,
  coalesce((f.final_score - p.mean_score) / nullif(p.sd_score, 0), 0.0) AS image_zscore,
  f.final_score > ${PROCESS_FINAL_ANOMALY_THRESHOLD}                   AS final_flag,
  f.pa_score,
  coalesce((f.pa_score - d.median_score) / nullif(d.mad, 0), 0.0)     AS pa_zscore,
  coalesce((f.behaviour - d.median_behaviour) / nullif(d.mad_behaviour, 0), 0.0)
                                                                       AS behaviour_zscore,
  f.admin_folder,
  f.pa_score > ${PROCESS_SCORE_THRESHOLD}
    AND (NOT f.admin_folder
      OR f.behaviour - d.median_behaviour > ${PROCESS_BEHAVIOUR_MIN_Z} * d.mad_behaviour)
                                                                       AS flagged
FROM evidence f
JOIN per_image p ON p.image = f.image
CROSS JOIN spread d
ORDER BY pa_score DESC, f.final_score DESC, f.processguid
