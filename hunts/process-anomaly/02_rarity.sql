-- Rarity: -log2 of the share of processes that share the rarest of the process's
-- destination IPs, DNS names, image, parent image and lineage (parent image > image);
-- and how many processes, on how many hosts, share that lineage. Paths are counted
-- normalised (normalize_path: one spelling for the user folder of a per-user install,
-- version numbers, GUIDs and random names), so the copies of one program count as one.
-- Stacking lineages is the classic lead: a parent that starts a child almost nothing
-- else does (Word starting cmd.exe) is rare however common both images are.
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
)
SELECT
  t.processguid,
  max(-log2(CAST(f.processes AS DOUBLE) / total.n))  AS rarity,
  max(CASE WHEN t.kind = 'lineage' THEN f.processes END) AS lineage_processes,
  max(CASE WHEN t.kind = 'lineage' THEN f.hosts END)     AS lineage_hosts
FROM touched t
JOIN frequency f ON f.kind = t.kind AND f.value = t.value
CROSS JOIN total
GROUP BY t.processguid
