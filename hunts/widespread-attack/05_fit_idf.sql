-- Phase 4: IDF of the action text's hashed terms, on the normal-activity sample.
SELECT idf_fit(hash_tf(tokenize(text), ${WS_TFIDF_NUM_FEATURES}))
FROM ws_actions
WHERE sample_key < ${SAMPLE_CUT}
