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
-- - paths are counted normalised (02_touched.sql), so the copies of one program count
--   as one.
-- network_surprise is the larger of the destination and DNS surprises.
WITH total AS (SELECT CAST(count(*) AS DOUBLE) AS n FROM pa_processes),
frequency AS (
  SELECT kind, value, count(DISTINCT processguid) AS processes, count(DISTINCT host) AS hosts
  FROM pa_touched GROUP BY 1, 2
),
weights AS (
  -- Per attribute: n, the processes that have it, and its Good-Turing novelty, the share
  -- of (process, value) pairs whose value is seen once.
  SELECT
    max(c.lineage)                                                     AS lineage_n,
    CAST(sum(f.processes) FILTER (WHERE f.kind = 'lineage' AND f.processes = 1) AS DOUBLE)
      / CAST(sum(f.processes) FILTER (WHERE f.kind = 'lineage') AS DOUBLE) AS lineage_novel,
    max(c.destination)                                                 AS destination_n,
    CAST(sum(f.processes) FILTER (WHERE f.kind = 'destination' AND f.processes = 1) AS DOUBLE)
      / CAST(sum(f.processes) FILTER (WHERE f.kind = 'destination') AS DOUBLE)
                                                                       AS destination_novel,
    max(c.dns)                                                         AS dns_n,
    CAST(sum(f.processes) FILTER (WHERE f.kind = 'dns' AND f.processes = 1) AS DOUBLE)
      / CAST(sum(f.processes) FILTER (WHERE f.kind = 'dns') AS DOUBLE) AS dns_novel
  FROM frequency f
  CROSS JOIN (
    SELECT
      CAST(count(*) FILTER (WHERE parent_image <> '' AND image <> '') AS DOUBLE) AS lineage,
      CAST(count(*) FILTER (WHERE cardinality(destinations) > 0) AS DOUBLE)      AS destination,
      CAST(count(*) FILTER (WHERE cardinality(dns_names) > 0) AS DOUBLE)         AS dns
    FROM pa_processes
  ) c
),
per_process AS (
  -- One pass: per kind, the rarest value's count and how many values the process has.
  SELECT
    t.processguid,
    max(-log2(CAST(f.processes AS DOUBLE) / total.n))              AS rarity,
    min(f.processes) FILTER (WHERE t.kind = 'lineage')             AS lineage_processes,
    max(f.hosts) FILTER (WHERE t.kind = 'lineage')                 AS lineage_hosts,
    min(f.processes) FILTER (WHERE t.kind = 'destination')         AS destination_processes,
    count(*) FILTER (WHERE t.kind = 'destination')                 AS destination_values,
    min(f.processes) FILTER (WHERE t.kind = 'dns')                 AS dns_processes,
    count(*) FILTER (WHERE t.kind = 'dns')                         AS dns_values
  FROM pa_touched t
  JOIN frequency f ON f.kind = t.kind AND f.value = t.value
  CROSS JOIN total
  GROUP BY t.processguid
)
SELECT
  p.processguid,
  p.rarity,
  (1.0 - w.lineage_novel) * greatest(0.0,
    1.0 - ln(CAST(p.lineage_processes AS DOUBLE)) / ln(greatest(w.lineage_n, 2.0)))
    AS lineage_surprise,
  greatest(
    (1.0 - w.destination_novel) * greatest(0.0, 1.0
      - ln(CAST(p.destination_processes AS DOUBLE) * CAST(p.destination_values AS DOUBLE))
        / ln(greatest(w.destination_n, 2.0))),
    (1.0 - w.dns_novel) * greatest(0.0, 1.0
      - ln(CAST(p.dns_processes AS DOUBLE) * CAST(p.dns_values AS DOUBLE))
        / ln(greatest(w.dns_n, 2.0))))
    AS network_surprise,
  p.lineage_processes,
  p.lineage_hosts
FROM per_process p
CROSS JOIN weights w
