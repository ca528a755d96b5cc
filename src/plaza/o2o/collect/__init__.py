"""Click & collect (pickup codes at the counter) and the endless aisle."""
