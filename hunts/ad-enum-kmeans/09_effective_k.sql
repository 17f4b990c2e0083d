SELECT least(${AD_KMEANS_K}, count(*)) FROM ad_features
