"""ASGI entry point for uvicorn workers: settings come from the environment."""

from fanzha.app import create_app

app = create_app()
