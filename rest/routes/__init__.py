"""REST blueprints, one module per capability."""
