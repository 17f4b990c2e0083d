-- The sequence model's score of each distinct event sequence, computed once.
--
-- Many processes share a sequence (a service host's start, its image loads, its first
-- connection), so seq_score sees each distinct sequence once instead of once per
-- process; within a batch it also computes each shared prefix once. seq_loss is the mean
-- next-event cross-entropy in nats; NULL for an empty sequence.
SELECT
  sequence,
  seq_score(sequence, ${SEQUENCE_MODEL}) AS seq_loss
FROM (SELECT DISTINCT sequence FROM pa_features)
