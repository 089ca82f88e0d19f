"""Small shared helpers: device selection, seeding and RNG state capture."""
