"""Job events: waking the streams (and workers) that follow them."""

from pixelmotion.events.hub import EventHub, Subscription, watch_table
from pixelmotion.events.listen import listen_for_events

__all__ = ["EventHub", "Subscription", "listen_for_events", "watch_table"]
