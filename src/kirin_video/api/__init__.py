"""The HTTP API: app factory, routes, authentication and error rendering."""
