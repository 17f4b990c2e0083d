-- k is capped at one cluster per ten entities: with about as many clusters as entities
-- every entity sits on its own centroid and the distance says nothing.
SELECT least(${C2_KMEANS_K}, greatest(1, count(*) / 10)) FROM c2_features
