"""Training with lava-dl SLAYER: config schema, mixing, checkpoints, trainer and CLI."""
