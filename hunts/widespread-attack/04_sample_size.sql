-- The normal-activity training sample: WS_NORMAL_SAMPLE_FRACTION of the actions, but at
-- least WS_MIN_TRAINING_ACTIONS of them (all of them in a small data set, such as a
-- recording of minutes), as a cut on sample_key in [0, 1000000).
SELECT CAST(ceil(1000000 * greatest(${WS_NORMAL_SAMPLE_FRACTION},
         least(1.0, ${WS_MIN_TRAINING_ACTIONS} / CAST(count(*) AS DOUBLE)))) AS BIGINT)
FROM ws_actions
