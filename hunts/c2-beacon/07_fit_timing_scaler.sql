-- Standardise the timing vector (mean 0, unit variance per feature).
SELECT scaler_fit(timing, 'standard') FROM c2_features
