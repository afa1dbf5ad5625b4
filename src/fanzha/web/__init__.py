"""The console: server-rendered pages (Jinja2 + htmx) for the people working in the center."""
