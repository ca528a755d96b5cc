"""Digital screens (narrowcasting): screens in store zones, content, scheduled playlists,
what to show now (preferring content for the personas present), and a tiny HTML player."""
