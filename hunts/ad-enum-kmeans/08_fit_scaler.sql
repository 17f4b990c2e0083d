SELECT scaler_fit(vec, 'standard') FROM ad_features
