-- Isolation-forest features: activity counts and command-line lengths (log scale),
-- rarity, and the first 30 event ids (zero-padded), as the original used them.
SELECT
  p.*,
  coalesce(r.rarity, 0.0) AS rarity,
  r.lineage_processes,
  r.lineage_hosts,
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
