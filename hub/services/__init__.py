"""Application services: authorization, validation and orchestration over the ports."""
