-- Rarity: -log2 of the share of processes that share the rarest of the process's
-- destination IPs, DNS names, image and parent image.
WITH total AS (SELECT CAST(count(*) AS DOUBLE) AS n FROM pa_processes),
touched AS (
  SELECT processguid, 'image' AS kind, image AS value FROM pa_processes WHERE image <> ''
  UNION ALL
  SELECT processguid, 'parent', parent_image FROM pa_processes WHERE parent_image <> ''
  UNION ALL
  SELECT processguid, 'destination', unnest(destinations) FROM pa_processes
  UNION ALL
  SELECT processguid, 'dns', unnest(dns_names) FROM pa_processes
),
frequency AS (
  SELECT kind, value, count(DISTINCT processguid) AS processes FROM touched GROUP BY 1, 2
)
SELECT t.processguid, max(-log2(CAST(f.processes AS DOUBLE) / total.n)) AS rarity
FROM touched t
JOIN frequency f ON f.kind = t.kind AND f.value = t.value
CROSS JOIN total
GROUP BY t.processguid
