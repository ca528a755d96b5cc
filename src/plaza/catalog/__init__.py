"""Products, variants, options, prices, categories, media and search."""
