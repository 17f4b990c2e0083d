-- Experiment, not shipped (see docs/evaluation.md, "Tried, not kept: a per-account
-- baseline of query terms"): ad-enum-kmeans's 02_user_weeks.sql with each account's first
-- day of activity as its baseline. To run it on the evaluation matrix:
--
--   mkdir -p /tmp/packs && cp -r hunts/ad-enum-kmeans /tmp/packs/
--   cp bench/experiments/ad-enum-kmeans-baseline.sql /tmp/packs/ad-enum-kmeans/02_user_weeks.sql
--   PACKS=/tmp/packs HUNTS=ad-enum-kmeans bench/matrix.sh
--
-- Baseline: an account's first day of activity in the data is its baseline, and the
-- terms it used that day are its routine. The week's term vector holds only the terms
-- that are new for the account since then (first used on a later day): a service
-- account's or a scheduled script's queries, the same every day, leave nothing, and an
-- account that starts enumerating after a day of ordinary work shows the enumeration's
-- terms alone. An account seen on one day only has no baseline and keeps all its terms,
-- so a short recording is scored on what it holds. The week's volume counts all queries.
-- A week with no new term is hashed as the single empty term '' (one shared vector for
-- all such weeks), not as an empty vector: the numbers in docs/evaluation.md are this
-- SQL's.
WITH searches AS (
  SELECT
    winlog_user_name                                                  AS user,
    (event_created - ${EARLIEST_NS}) / 86400000000000                 AS day,
    event_created,
    winlog_event_data_param2                                          AS query
  FROM events
  WHERE (event_code = '1644' OR winlog_event_id = 1644)
    AND winlog_user_name IS NOT NULL
    AND winlog_event_data_param2 IS NOT NULL
    AND upper(winlog_user_name) NOT IN ('ANONYMOUS LOGON', 'SYSTEM', 'NT AUTHORITY\SYSTEM')
),
accounts AS (
  SELECT user, min(day) AS first_day, max(day) > min(day) AS has_baseline
  FROM searches GROUP BY user
),
terms AS (
  SELECT DISTINCT user, day / ${AD_WEEK_BUCKET_SIZE_DAYS} AS week, day, term
  FROM (SELECT user, day, unnest(tokenize(query)) AS term FROM searches)
),
routine AS (
  SELECT DISTINCT t.user, t.term
  FROM terms t JOIN accounts a ON a.user = t.user
  WHERE a.has_baseline AND t.day = a.first_day
),
new_terms AS (
  SELECT t.user, t.week, array_agg(DISTINCT t.term) AS terms
  FROM terms t
  LEFT JOIN routine r ON r.user = t.user AND r.term = t.term
  WHERE r.term IS NULL
  GROUP BY t.user, t.week
),
weeks AS (
  SELECT
    user,
    day / ${AD_WEEK_BUCKET_SIZE_DAYS}                                 AS week,
    count(*)                                                          AS queries,
    count(DISTINCT query)                                             AS distinct_queries,
    min(event_created)                                                AS first_seen_ns,
    max(event_created)                                                AS last_seen_ns
  FROM searches
  GROUP BY 1, 2
)
SELECT
  w.user, w.week, w.queries, w.distinct_queries, w.first_seen_ns, w.last_seen_ns,
  coalesce(array_length(n.terms), 0)                                  AS new_terms,
  hash_tf(coalesce(n.terms, make_array('')), ${AD_TFIDF_NUM_FEATURES}) AS tf
FROM weeks w
LEFT JOIN new_terms n ON n.user = w.user AND n.week = w.week
