-- The sequence model's score of each distinct event sequence, computed once, with how
-- many processes have it and its length class.
--
-- Many processes share a sequence (a service host's start, its image loads, its first
-- connection), so seq_score sees each distinct sequence once instead of once per
-- process; within a batch it also computes each shared prefix once. seq_loss is the mean
-- next-event cross-entropy in nats; NULL for an empty sequence. length_class is
-- floor(log2(events)), the power of two of its length: 10_findings.sql compares a loss
-- with the losses of its class.
SELECT
  sequence,
  processes,
  floor(log2(CAST(greatest(cardinality(sequence), 1) AS DOUBLE))) AS length_class,
  seq_score(sequence, ${SEQUENCE_MODEL}) AS seq_loss
FROM (SELECT sequence, count(*) AS processes FROM pa_features GROUP BY sequence)
