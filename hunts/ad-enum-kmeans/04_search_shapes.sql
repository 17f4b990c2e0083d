-- Search shapes: one row per (account, day, shape) of the LDAP searches (Directory
-- Service 1644, param2), for 05_novelty.sql. A search is compared by its shape, not its
-- text: lower-cased, with each assertion's value replaced by '?' except the values that
-- say what kind of object is sought (objectClass, objectCategory, samAccountType) and the
-- presence test '=*'. So a lookup of one user by name is one shape whoever it names (a
-- service looking up a different account every minute repeats itself), while asking for
-- SPNs, adminCount or delegation is a shape of its own. The shapes are made from each
-- account-day's distinct queries; the table is its own phase because the novelty query
-- reads it four times (a CTE would scan the events at each reference).
WITH searched AS (
  -- One row per distinct query of an account's day: the shapes are made from these.
  SELECT DISTINCT
    winlog_user_name                                   AS user,
    (event_created - ${EARLIEST_NS}) / 86400000000000  AS day,
    winlog_event_data_param2                           AS query
  FROM events
  WHERE (event_code = '1644' OR winlog_event_id = 1644)
    AND winlog_user_name IS NOT NULL
    AND winlog_event_data_param2 IS NOT NULL
    AND upper(winlog_user_name) NOT IN ('ANONYMOUS LOGON', 'SYSTEM', 'NT AUTHORITY\SYSTEM')
),
searches AS (
  SELECT
    user,
    day,
    regexp_replace(
      regexp_replace(
        regexp_replace(
          regexp_replace(
            lower(query),
            '\((objectclass|objectcategory|samaccounttype)=', '(\1#', 'g'),
          '=\*\)', '#*)', 'g'),
        '(~=|>=|<=|:=|=)[^()]*\)', '\1?)', 'g'),
      '#', '=', 'g')                                   AS shape
  FROM searched
)
SELECT DISTINCT user, day, shape FROM searches
