"""O2O (online to offline): stores, find in store, beacons and visits, proximity offers,
digital screens, fitting rooms and GS1 Digital Link. One sub-package per area, each in
the usual models / schemas / service / api layout."""
