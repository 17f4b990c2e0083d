-- Isolation-forest features: activity counts and command-line lengths (log scale),
-- rarity, and the first 30 event ids (zero-padded), as the original used them.
--
-- The family's surprise. A process's story includes its parent and its children: the
-- shell a document spawned reached nothing itself, the downloader it started did; the
-- tool a loader started inherits the loader's callback. Each surprise of 03 is the
-- largest of the process's own, its children's and its parent's, and a relative's share
-- is corrected for how many there are to choose from, as 03 corrects for many values:
-- the rarest of m children, or one of a parent's m children, loses ln(m) / ln(processes)
-- (services.exe starts hundreds of children; one of them is rare by chance, and its
-- rare connection says nothing about any one of them). A process whose creation was
-- not logged gets the lineage surprise of what it started.
--
-- What reached the process from outside is the larger of its network surprise (03) and
-- its delivery (04, 05: a file written on its host and run there), so a payload that came
-- through a proxy, where every process reaches one address, still counts; the family's
-- network evidence is made of it.
WITH total AS (SELECT ln(greatest(CAST(count(*) AS DOUBLE), 2.0)) AS ln_n FROM pa_processes),
own AS (
  SELECT
    p.processguid,
    p.parent_processguid,
    coalesce(r.lineage_surprise, 0.0) AS lineage_surprise,
    coalesce(r.network_surprise, 0.0) AS network_surprise,
    coalesce(d.delivered, 0.0) AS delivered,
    greatest(coalesce(r.network_surprise, 0.0), coalesce(d.delivered, 0.0)) AS reached
  FROM pa_processes p
  LEFT JOIN pa_rarity r ON r.processguid = p.processguid
  LEFT JOIN pa_delivered d ON d.processguid = p.processguid
),
children AS (
  -- Per parent: how many children it has, and the rarest child's surprises, corrected.
  SELECT
    parent_processguid AS processguid,
    count(*)           AS children,
    greatest(0.0, max(lineage_surprise) - ln(CAST(count(*) AS DOUBLE)) / max(total.ln_n))
      AS lineage_surprise,
    greatest(0.0, max(reached) - ln(CAST(count(*) AS DOUBLE)) / max(total.ln_n))
      AS reached
  FROM own CROSS JOIN total
  WHERE parent_processguid IS NOT NULL
  GROUP BY parent_processguid
)
SELECT
  p.*,
  coalesce(r.rarity, 0.0) AS rarity,
  r.lineage_processes,
  r.lineage_hosts,
  o.lineage_surprise,
  o.network_surprise,
  o.delivered,
  greatest(o.lineage_surprise, coalesce(down.lineage_surprise, 0.0),
    coalesce(up.lineage_surprise - ln(CAST(siblings.children AS DOUBLE)) / t.ln_n, 0.0))
    AS family_lineage,
  greatest(o.reached, coalesce(down.reached, 0.0),
    coalesce(up.reached - ln(CAST(siblings.children AS DOUBLE)) / t.ln_n, 0.0))
    AS family_network,
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
JOIN own o ON o.processguid = p.processguid
LEFT JOIN own up ON up.processguid = p.parent_processguid
LEFT JOIN children siblings ON siblings.processguid = p.parent_processguid
LEFT JOIN children down ON down.processguid = p.processguid
CROSS JOIN total t
