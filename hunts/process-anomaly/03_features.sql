-- Isolation-forest features: activity counts and command-line lengths (log scale),
-- rarity, and the first 30 event ids (zero-padded), as the original used them.
--
-- novel_share: the Good-Turing estimate of the chance that a process's lineage has not
-- been seen before, the share of processes whose lineage is seen once. On a recording of
-- minutes nearly every lineage is new and a new one says little; over weeks of a network
-- almost none is.
SELECT
  p.*,
  coalesce(r.rarity, 0.0) AS rarity,
  r.lineage_processes,
  r.lineage_hosts,
  u.novel_share,
  array_concat(
    make_array(
      ln(1 + CAST(p.events AS DOUBLE)), ln(1 + CAST(p.network_events AS DOUBLE)),
      ln(1 + CAST(p.dns_events AS DOUBLE)), ln(1 + CAST(p.file_events AS DOUBLE)),
      ln(1 + CAST(character_length(p.commandline) AS DOUBLE)),
      ln(1 + CAST(character_length(p.parent_commandline) AS DOUBLE)),
      coalesce(r.rarity, 0.0)
    ),
    arrow_cast(array_resize(array_slice(p.sequence, 1, 30), 30, 0), 'List(Float64)')
  ) AS vec
FROM pa_processes p
LEFT JOIN pa_rarity r ON r.processguid = p.processguid
CROSS JOIN (
  SELECT coalesce(
    CAST(count(*) FILTER (WHERE lineage_processes = 1) AS DOUBLE)
      / nullif(CAST(count(lineage_processes) AS DOUBLE), 0), 0.0) AS novel_share
  FROM pa_rarity
) u
