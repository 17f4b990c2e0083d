-- C2 beaconing, features: the timing vector of each entity, and its context vector.
--
-- Timing (the original's five): connection count, duration, mean and standard deviation
-- of the gaps, coefficient of variation; counts and durations are heavy-tailed, so they
-- enter as ln(1 + x). Context (the original's deep features): image, parent image and
-- destination port name as category indexes, command-line and parent command-line
-- lengths. Category models are fitted in the previous phases.
SELECT
  *,
  make_array(
    ln(1 + connections), ln(1 + duration_s), ln(1 + mean_s), ln(1 + stddev_s), cv
  ) AS timing,
  make_array(
    ln(1 + connections), ln(1 + duration_s), ln(1 + mean_s), ln(1 + stddev_s), cv,
    CAST(category_index(image, ${IMAGE_INDEX}) AS DOUBLE),
    CAST(category_index(parent_image, ${PARENT_INDEX}) AS DOUBLE),
    CAST(category_index(portname, ${PORTNAME_INDEX}) AS DOUBLE),
    ln(1 + character_length(commandline)),
    ln(1 + character_length(parent_commandline))
  ) AS context
FROM c2_entities
