-- Rarity of what each process is and what it reached, two ways.
--
-- rarity: -log2 of the share of processes that share the rarest of the process's
-- destination IPs, DNS names, image, parent image and lineage (parent image > image), a
-- feature of the isolation forest.
--
-- lineage_surprise and network_surprise: evidence the flag adds up, each in [0, 1].
-- For one attribute (the lineage; the destination IPs; the DNS names), a value shared by
-- c of the n processes that have the attribute has the log-scale rarity
-- 1 - ln(c) / ln(n): 1 for a value seen once, 0 for one that every process shares, the
-- same scale on a recording of minutes and on weeks of a network. Three corrections:
-- - the rarest of k values is rarer by chance (a service host reaching hundreds of
--   addresses reaches a rare one): c is multiplied by k, the values the process has;
-- - it is discounted by the attribute's Good-Turing novelty, the share of values seen
--   only once: where nearly every value is new (a recording of minutes), a new one says
--   little;
-- - paths are counted normalised (normalize_path: one spelling for the user folder of a
--   per-user install, version numbers, GUIDs and random names), so the copies of one
--   program count as one.
-- network_surprise is the larger of the destination and DNS surprises.
WITH total AS (SELECT CAST(count(*) AS DOUBLE) AS n FROM pa_processes),
touched AS (
  SELECT processguid, host, 'image' AS kind, normalize_path(image) AS value
  FROM pa_processes WHERE image <> ''
  UNION ALL
  SELECT processguid, host, 'parent', normalize_path(parent_image)
  FROM pa_processes WHERE parent_image <> ''
  UNION ALL
  SELECT processguid, host, 'lineage', normalize_path(parent_image) || ' > ' || normalize_path(image)
  FROM pa_processes WHERE parent_image <> '' AND image <> ''
  UNION ALL
  SELECT processguid, host, 'destination', unnest(destinations) FROM pa_processes
  UNION ALL
  SELECT processguid, host, 'dns', unnest(dns_names) FROM pa_processes
),
frequency AS (
  SELECT kind, value, count(DISTINCT processguid) AS processes, count(DISTINCT host) AS hosts
  FROM touched GROUP BY 1, 2
),
population AS (
  SELECT
    t.kind,
    CAST(count(DISTINCT t.processguid) AS DOUBLE) AS n,
    CAST(count(*) FILTER (WHERE f.processes = 1) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS novel_share
  FROM touched t
  JOIN frequency f ON f.kind = t.kind AND f.value = t.value
  GROUP BY t.kind
),
per_kind AS (
  SELECT
    t.processguid,
    t.kind,
    max(-log2(CAST(f.processes AS DOUBLE) / total.n)) AS rarity,
    min(f.processes)                                  AS processes,
    max(f.hosts)                                      AS hosts,
    count(*)                                          AS values_touched,
    max(p.n)                                          AS n,
    max(p.novel_share)                                AS novel_share
  FROM touched t
  JOIN frequency f ON f.kind = t.kind AND f.value = t.value
  JOIN population p ON p.kind = t.kind
  CROSS JOIN total
  GROUP BY t.processguid, t.kind
),
surprise AS (
  SELECT
    *,
    (1.0 - novel_share) * greatest(0.0, 1.0
      - ln(CAST(processes AS DOUBLE) * CAST(values_touched AS DOUBLE)) / ln(greatest(n, 2.0)))
      AS surprise
  FROM per_kind
)
SELECT
  processguid,
  max(rarity)                                                     AS rarity,
  max(CASE WHEN kind = 'lineage' THEN surprise END)               AS lineage_surprise,
  max(CASE WHEN kind IN ('destination', 'dns') THEN surprise END) AS network_surprise,
  max(CASE WHEN kind = 'lineage' THEN processes END)              AS lineage_processes,
  max(CASE WHEN kind = 'lineage' THEN hosts END)                  AS lineage_hosts
FROM surprise
GROUP BY processguid
