-- One isolation forest over every triple: up to 256 samples per tree.
SELECT iforest_fit(vec, ${{{PREFIX}}_TREES}, 256, ${{{PREFIX}}_SEED})
FROM {{TABLE}}_rhythms
