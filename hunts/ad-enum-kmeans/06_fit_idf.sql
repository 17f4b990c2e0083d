SELECT idf_fit(tf) FROM ad_user_weeks
