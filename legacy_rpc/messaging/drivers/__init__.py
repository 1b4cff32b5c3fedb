"""Messaging drivers: the in-tree drivers and the registry that finds and loads them."""
