-- LSTM next-event model over the time-ordered event ids (teacher forcing on the true
-- previous events; the original's decoder was fed its own target and learned to copy).
-- At most PROCESS_MAX_SEQUENCES distinct sequences (a seeded, partition-independent
-- subset) are kept, and each epoch draws that many in proportion to how many processes
-- share each one: the training time is bounded however large the data.
SELECT seq_fit(sequence,
  '{"vocab_size": ${PROCESS_VOCAB_SIZE}, "embedding_dim": ${PROCESS_EMBEDDING_DIM},
    "hidden_dim": ${PROCESS_HIDDEN_DIM}, "num_layers": ${PROCESS_NUM_LAYERS},
    "epochs": ${PROCESS_NUM_EPOCHS}, "batch_size": ${PROCESS_AUTOENCODER_BATCH_SIZE},
    "max_seq_len": ${PROCESS_MAX_SEQ_LEN}, "max_sequences": ${PROCESS_MAX_SEQUENCES},
    "seed": ${PROCESS_IF_RANDOM_STATE}}')
FROM pa_features
