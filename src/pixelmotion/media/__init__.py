"""Video to pixel art: decode, area downscale, one palette, dithering, every output format.

Public API::

    from pixelmotion.media import pixelate_video, Animation, MediaError, render_outputs
    from pixelmotion.media import download_video
    from pixelmotion.media import load_palette   # preset, hex list or palette file → ["#rrggbb", …]
"""

from .animation import Animation
from .download import download_video
from .errors import MediaError
from .palette_files import load_palette
from .palettes import PRESETS
from .pixelate import pixelate_video
from .render import render_outputs

__all__ = [
    "PRESETS",
    "Animation",
    "MediaError",
    "download_video",
    "load_palette",
    "pixelate_video",
    "render_outputs",
]
