-- Evidence: each (account, week)'s most frequent LDAP queries, most frequent first.
WITH counted AS (
  SELECT
    winlog_user_name                                                  AS user,
    (event_created - ${EARLIEST_NS}) / (${AD_WEEK_BUCKET_SIZE_DAYS} * 86400000000000) AS week,
    winlog_event_data_param2                                          AS query,
    count(*)                                                          AS n
  FROM events
  WHERE (event_code = '1644' OR winlog_event_id = 1644)
    AND winlog_user_name IS NOT NULL AND winlog_event_data_param2 IS NOT NULL
  GROUP BY 1, 2, 3
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY user, week ORDER BY n DESC, query) AS r
  FROM counted
)
SELECT user, week, array_agg(query || ' (' || CAST(n AS VARCHAR) || ')' ORDER BY r) AS top_queries
FROM ranked
WHERE r <= 5
GROUP BY 1, 2
