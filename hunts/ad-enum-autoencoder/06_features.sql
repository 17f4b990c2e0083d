-- Features: the week's hashed term counts as a dense vector, min-max scaled next.
SELECT *, to_dense(tf) AS vec FROM ad_user_weeks
