-- One isolation forest over the whole data set (the original fitted one per batch).
SELECT iforest_fit(vec, ${PROCESS_IF_N_ESTIMATORS}, 256, ${PROCESS_IF_RANDOM_STATE}, ${PROCESS_IF_CONTAMINATION})
FROM pa_features
