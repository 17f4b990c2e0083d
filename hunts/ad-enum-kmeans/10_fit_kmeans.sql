SELECT kmeans_fit(scale(vec, ${SCALER_MODEL}), ${EFFECTIVE_K}, ${AD_KMEANS_SEED})
FROM ad_features
