"""quantrac."""
