-- Deep model: a small dense autoencoder over the standardised context vectors.
SELECT autoencoder_fit(
  scale(context, ${CONTEXT_SCALER}),
  '{"hidden": [${C2_AUTOENCODER_HIDDEN_DIM}, ${C2_AUTOENCODER_LATENT_DIM}],
    "activation": "relu", "output": "linear",
    "epochs": ${C2_AUTOENCODER_NUM_EPOCHS}, "batch_size": ${C2_AUTOENCODER_BATCH_SIZE},
    "learning_rate": ${C2_AUTOENCODER_LEARNING_RATE}, "seed": ${C2_KMEANS_SEED}}'
)
FROM c2_features
