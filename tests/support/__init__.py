"""Test support: servers, tools and builders shared by the test folders (not tests themselves)."""
