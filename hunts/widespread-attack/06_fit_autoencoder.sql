-- An autoencoder over the sparse TF-IDF vectors (embedding-bag first layer), trained on
-- the sample to reconstruct its own input (the original compared the decoder's output
-- with the encoder's).
SELECT autoencoder_fit(
  tfidf(hash_tf(tokenize(text), ${WS_TFIDF_NUM_FEATURES}), ${IDF_MODEL}),
  '{"hidden": [${WS_AUTOENCODER_LATENT_DIM}], "activation": "relu", "output": "linear",
    "epochs": 1000, "max_batches": ${WS_AUTOENCODER_MAX_BATCHES},
    "batch_size": ${WS_AUTOENCODER_BATCH_SIZE},
    "learning_rate": ${WS_AUTOENCODER_LEARNING_RATE}, "seed": 42}'
)
FROM ws_actions
WHERE sample_key < ${SAMPLE_CUT}
