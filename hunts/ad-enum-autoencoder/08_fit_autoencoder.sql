-- A dense autoencoder, input → hidden → latent → hidden → input, ReLU inside and a
-- sigmoid output (the inputs are min-max scaled to [0, 1]), MSE loss, Adam. A lab or a
-- small domain has a few dozen account-weeks, one mini-batch per epoch: training runs at
-- least 500 optimiser steps however few the rows.
SELECT autoencoder_fit(
  scale(vec, ${SCALER_MODEL}),
  '{"hidden": [${AD_DL_AUTOENCODER_HIDDEN_DIM}, ${AD_DL_AUTOENCODER_LATENT_DIM}],
    "activation": "relu", "output": "sigmoid",
    "epochs": ${AD_DL_AUTOENCODER_NUM_EPOCHS}, "batch_size": ${AD_DL_AUTOENCODER_BATCH_SIZE},
    "learning_rate": ${AD_DL_AUTOENCODER_LEARNING_RATE}, "seed": 42,
    "min_batches": 500}'
)
FROM ad_features
