"""Stores: what a store needs beyond a stock location (hours, services, staff, zones),
the public store finder and "find in store"."""
