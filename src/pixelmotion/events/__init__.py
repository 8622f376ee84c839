"""Job events: waking the streams that follow them."""

from pixelmotion.events.hub import EventHub, Subscription, watch_table

__all__ = ["EventHub", "Subscription", "watch_table"]
