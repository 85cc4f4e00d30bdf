"""HTTP adapter: Sanic app, middleware, error mapping, OpenAPI and route blueprints."""
