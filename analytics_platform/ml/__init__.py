"""Machine-learning datasets and models over what the platform collects (DESIGN §7)."""
