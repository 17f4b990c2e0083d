-- Each process with each value it has of each attribute: its image, its parent image,
-- its lineage (parent image > image), each destination IP and each DNS name. Paths are
-- normalised (normalize_path: one spelling for the user folder of a per-user install,
-- version numbers, GUIDs and random names), so the copies of one program count as one.
-- A table of its own: the rarity phase reads it twice, and DataFusion evaluates a CTE
-- (and its regular expressions) at each reference.
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
