"""Screens hold no personal data: what a screen shows is chosen from counts of the
customers present, computed per request and never stored."""

from __future__ import annotations

from plaza.privacy import registry

registry.no_personal_data(
    "o2o-screens",
    {
        "screens": "`name` names a display in a store",
        "screen_playlists": "`name` names a playlist",
    },
)
