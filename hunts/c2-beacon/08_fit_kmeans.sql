-- Shallow model: k-means over the standardised timing vectors.
SELECT kmeans_fit(scale(timing, ${TIMING_SCALER}), ${EFFECTIVE_K}, ${C2_KMEANS_SEED})
FROM c2_features
