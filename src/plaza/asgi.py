"""ASGI entry point for uvicorn: ``uvicorn plaza.asgi:app``."""

from plaza.app import create_app

app = create_app()
