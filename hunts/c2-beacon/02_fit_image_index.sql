SELECT category_index_fit(image) FROM c2_entities
