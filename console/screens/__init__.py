"""Screens: the list, the detail view, confirmation and help."""
