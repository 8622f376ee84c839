"""pixelmotion."""
