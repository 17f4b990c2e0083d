SELECT scaler_fit(vec, 'minmax') FROM ad_features
