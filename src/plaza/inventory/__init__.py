"""Locations, stock levels per variant and location, and reservations with expiry."""
