"""Console pages of the content app, one module per area; public link redirects in `public`."""
