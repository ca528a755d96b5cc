"""Carts, checkout, orders, payments and returns."""
