"""Video providers: Luma through its SDK, and a Luma-compatible emulator."""
