"""The daily digest: composing, rendering and sending it."""
