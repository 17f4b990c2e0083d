SELECT category_index_fit(portname) FROM c2_entities
