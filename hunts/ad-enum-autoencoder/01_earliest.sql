-- Weeks are counted from the earliest event of the data set (AD_WEEK_BUCKET_SIZE_DAYS).
SELECT min(event_created) FROM events
