SELECT category_index_fit(parent_image) FROM c2_entities
