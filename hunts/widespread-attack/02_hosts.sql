-- Which host owns which private address: the source address of its own outbound
-- connections (which side an inbound connection's source names differs between Sysmon
-- versions and shippers, so inbound ones are not used). A host seen only over IPv6, or
-- that never connects out, is still found through DNS: the private answers to a query
-- for its name (short or fully qualified, any case) are its addresses. Loopback
-- addresses name every host and are left out.
WITH own AS (
  SELECT DISTINCT
    winlog_event_data_sourceip AS ip,
    winlog_computer_name       AS host
  FROM events
  WHERE winlog_event_id = 3
    AND lower(winlog_event_data_initiated) = 'true'
    AND is_private_ip(winlog_event_data_sourceip)
),
named AS (
  SELECT DISTINCT lower(split_part(winlog_computer_name, '.', 1)) AS short,
         winlog_computer_name AS host
  FROM events
  WHERE winlog_event_id = 3 AND winlog_computer_name IS NOT NULL
),
answered AS (
  SELECT
    lower(split_part(winlog_event_data_queryname, '.', 1))                       AS short,
    regexp_replace(trim(unnest(string_to_array(winlog_event_data_queryresults, ';'))),
                   '^::ffff:', '')                                                AS ip
  FROM events
  WHERE winlog_event_id = 22
    AND winlog_event_data_queryresults IS NOT NULL
    AND lower(split_part(winlog_event_data_queryname, '.', 1)) IN (SELECT short FROM named)
),
found AS (
  SELECT ip, host FROM own
  UNION
  SELECT a.ip, n.host FROM answered a JOIN named n ON n.short = a.short
  WHERE is_private_ip(a.ip)
)
SELECT DISTINCT ip, host
FROM found
WHERE NOT (ip LIKE '127.%' OR ip IN ('::1', '0:0:0:0:0:0:0:1') OR ip LIKE '::ffff:127.%')
