-- k cannot exceed the number of entities on small data sets.
SELECT least(${C2_KMEANS_K}, count(*)) FROM c2_features
