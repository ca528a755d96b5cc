"""Beacons (iBeacon, Eddystone-UID) in store zones, phone sightings turned into visits
(enter, dwell, exit), and proximity offers returned to the phone on entry."""
