"""Readers: accounts, what they follow, their library, and recommendations for them."""
