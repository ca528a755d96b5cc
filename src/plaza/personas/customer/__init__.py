"""Customer personas: a customer's profile, the personas they shop for ("me", "my son"),
and how a persona filters and ranks products (``matching``)."""
