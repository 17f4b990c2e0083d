-- Novelty: how much of an (account, week)'s searching the account had not done on its
-- first day in the data, the account's own baseline.
--
-- Searches are compared by shape (04_search_shapes.sql).
--
-- A shape is new for the account when it first used it on a later day than its first
-- active day. Each shape is weighted by its rarity among the accounts, ln(accounts /
-- accounts using it) / ln(accounts), in [0, 1]: a shape every account uses (an ordinary
-- user's first printer lookup) adds little, one only this account uses counts fully.
-- novel_share is the weighted share of the week's shapes that are new, in [0, 1]: 0 for
-- a script or service account repeating what it did on its first day, near 1 for an
-- account that took up a new kind of searching; the plain share when every shape of the
-- week is used by every account (one account in the data, say), which has no rarity. An
-- account seen on a single day has no baseline: all its shapes count as new, so a short
-- recording is scored on what it holds.
WITH account_shapes AS (
  SELECT user, shape, min(day) AS first_day FROM ad_search_shapes GROUP BY 1, 2
),
accounts AS (
  SELECT user, min(day) AS first_day, max(day) > min(day) AS has_baseline
  FROM ad_search_shapes GROUP BY 1
),
population AS (SELECT CAST(count(DISTINCT user) AS DOUBLE) AS n FROM ad_search_shapes),
rarity AS (
  SELECT r.shape, greatest(ln(p.n / CAST(r.k AS DOUBLE)), 0.0) / ln(greatest(p.n, 2.0)) AS w
  FROM (SELECT shape, count(*) AS k FROM account_shapes GROUP BY 1) r CROSS JOIN population p
),
week_shapes AS (
  SELECT DISTINCT user, day / ${AD_WEEK_BUCKET_SIZE_DAYS} AS week, shape FROM ad_search_shapes
),
marked AS (
  SELECT ws.user, ws.week, r.w,
         CASE WHEN s.first_day > a.first_day OR NOT a.has_baseline THEN 1.0 ELSE 0.0 END AS is_new
  FROM week_shapes ws
  JOIN account_shapes s ON s.user = ws.user AND s.shape = ws.shape
  JOIN accounts a ON a.user = ws.user
  JOIN rarity r ON r.shape = ws.shape
)
SELECT
  user,
  week,
  count(*)                                                  AS shapes,
  CAST(sum(is_new) AS BIGINT)                               AS new_shapes,
  coalesce(
    sum(is_new * w) / nullif(sum(w), 0.0),
    -- every shape of the week is used by every account: no rarity to weigh by
    avg(is_new))                                            AS novel_share
FROM marked
GROUP BY 1, 2
