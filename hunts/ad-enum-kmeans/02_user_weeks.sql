-- AD enumeration: one row per (account, week) with the LDAP searches it issued.
--
-- Data: Directory Service event 1644 (expensive/inefficient LDAP searches logged by the
-- domain controller); the query filter is in param2. Machine and anonymous accounts
-- (ANONYMOUS LOGON, SYSTEM) are dropped. The week's queries are tokenised (LDAP
-- attribute names, values, operators' operands) and the week's distinct terms hashed into
-- ${AD_TFIDF_NUM_FEATURES} columns: which terms the account used, not how often. A slow enumeration
-- hides a handful of reconnaissance queries among thousands of routine ones, and raw
-- counts let the routine volume drown them (the original's weeks with few enumeration
-- queries clustered with ordinary users); volume is its own feature.
SELECT
  winlog_user_name                                                  AS user,
  (event_created - ${EARLIEST_NS}) / (${AD_WEEK_BUCKET_SIZE_DAYS} * 86400000000000) AS week,
  count(*)                                                          AS queries,
  count(DISTINCT winlog_event_data_param2)                          AS distinct_queries,
  min(event_created)                                                AS first_seen_ns,
  max(event_created)                                                AS last_seen_ns,
  hash_tf(array_distinct(flatten(array_agg(tokenize(winlog_event_data_param2)))), ${AD_TFIDF_NUM_FEATURES}) AS tf
FROM events
WHERE (event_code = '1644' OR winlog_event_id = 1644)
  AND winlog_user_name IS NOT NULL
  AND winlog_event_data_param2 IS NOT NULL
  AND upper(winlog_user_name) NOT IN ('ANONYMOUS LOGON', 'SYSTEM', 'NT AUTHORITY\SYSTEM')
GROUP BY 1, 2
