SELECT scaler_fit(context, 'standard') FROM c2_features
