-- Which host owns which private address: the source address of its own outbound
-- connections.
SELECT DISTINCT
  winlog_event_data_sourceip AS ip,
  winlog_computer_name       AS host
FROM events
WHERE winlog_event_id = 3
  AND lower(winlog_event_data_initiated) = 'true'
  AND is_private_ip(winlog_event_data_sourceip)
