"""The public site: blueprints for the home page, regions, lists, complaints, notices, feeds and
search, with the web plumbing they share (security headers and rate limits, caching, template
helpers, malformed-input handling). Views validate, call the domain, and render or redirect."""
