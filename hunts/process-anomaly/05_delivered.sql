-- Delivery, second half: each run of a written file (04) weighs, in [0, 1], what
-- c2-beacon's prevalence modifier gives a destination: a program run so on a share s of
-- the hosts weighs 1 - PROCESS_DELIVERY_PREVALENCE_WEIGHT x s (0.75, c2-beacon's weight,
-- borrowed rather than fitted), so a deployment tool that every host runs weighs a
-- quarter and a payload on one host of many nearly 1. Both ends carry it, the writer and
-- the runner, and what the runner starts is part of the payload: its children and
-- grandchildren inherit its weight, a child among m siblings less ln(m) / ln(processes),
-- as the family does in 06. Every child of a runner is in `kids`, so siblings are
-- counted there rather than over every process.
WITH population AS (
  SELECT CAST(count(DISTINCT host) AS DOUBLE) AS hosts,
         ln(greatest(CAST(count(*) AS DOUBLE), 2.0)) AS ln_n
  FROM pa_processes
),
weight AS (
  SELECT r.program,
         1.0 - ${PROCESS_DELIVERY_PREVALENCE_WEIGHT}
           * CAST(count(DISTINCT r.host) AS DOUBLE) / max(t.hosts) AS delivered
  FROM pa_runs r CROSS JOIN population t GROUP BY r.program
),
ran AS (
  SELECT r.runner AS processguid, max(w.delivered) AS delivered
  FROM pa_runs r JOIN weight w ON w.program = r.program GROUP BY r.runner
),
wrote AS (
  SELECT r.writer AS processguid, max(w.delivered) AS delivered
  FROM pa_runs r JOIN weight w ON w.program = r.program GROUP BY r.writer
),
kids AS (
  SELECT p.processguid, p.parent_processguid, a.delivered
  FROM ran a JOIN pa_processes p ON p.parent_processguid = a.processguid
),
child AS (
  SELECT k.processguid,
         max(k.delivered - ln(CAST(c.children AS DOUBLE)) / t.ln_n) AS delivered
  FROM kids k
  JOIN (SELECT parent_processguid, count(*) AS children FROM kids GROUP BY 1) c
    ON c.parent_processguid = k.parent_processguid
  CROSS JOIN population t
  GROUP BY k.processguid
),
grandkids AS (
  SELECT p.processguid, p.parent_processguid, a.delivered
  FROM child a JOIN pa_processes p ON p.parent_processguid = a.processguid
),
grandchild AS (
  SELECT k.processguid,
         max(k.delivered - ln(CAST(c.children AS DOUBLE)) / t.ln_n) AS delivered
  FROM grandkids k
  JOIN (SELECT parent_processguid, count(*) AS children FROM grandkids GROUP BY 1) c
    ON c.parent_processguid = k.parent_processguid
  CROSS JOIN population t
  GROUP BY k.processguid
),
evidence AS (
  SELECT * FROM ran UNION ALL SELECT * FROM wrote
  UNION ALL SELECT * FROM child UNION ALL SELECT * FROM grandchild
)
SELECT processguid, greatest(0.0, max(delivered)) AS delivered
FROM evidence GROUP BY processguid
