-- Features: TF-IDF of the week's query terms plus its query volume and distinct-query
-- count (log scale), standardised in the next phase.
SELECT
  *,
  array_concat(
    to_dense(tfidf(tf, ${IDF_MODEL})),
    make_array(ln(1 + CAST(queries AS DOUBLE)), ln(1 + CAST(distinct_queries AS DOUBLE)))
  ) AS vec
FROM ad_user_weeks
