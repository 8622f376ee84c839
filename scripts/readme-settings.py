"""Write the README's settings table again from pixelmotion.config (tests/test_config.py checks it)."""

from pathlib import Path

from pixelmotion.config_docs import readme_with_settings

README = Path(__file__).resolve().parent.parent / "README.md"
README.write_text(readme_with_settings(README.read_text()))
