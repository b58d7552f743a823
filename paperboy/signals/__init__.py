"""Signals that rank papers: reader upvotes, Hugging Face upvotes, GitHub stars over time."""
